"""`passerelle run` as a real subprocess against fake Telegram, Slack and Discord on 127.0.0.1.

What the three-platform end-to-end test, the fault test and the fault bench share:

- `Platforms`: the three fakes, started in the caller's event loop on ports the OS picks;
- `Service`: the environment of one service (database file, tokens, the fakes' addresses, short
  timeouts), the CLI, and `passerelle run` started, killed (SIGKILL), stopped and restarted;
- `Cluster`: several `Service`s on one PostgreSQL schema, one of them killed at a time (the
  leader and a follower in turn) while the others run on;
- the people: `say_slack` plays Slack's redelivery of an unacknowledged Socket Mode envelope
  (`SlackRedelivery`), `wait_for` polls any fake until what a test waits for is there.

Platforms' own rules for what comes in are kept: Telegram keeps an update until a getUpdates
offset confirms it (the service confirms only what it committed); Slack sends an envelope again
while it is not acknowledged (the fake does not by itself: `SlackRedelivery` does it); Discord
keeps nothing for a bot that is not connected, and never sends a gateway event again: the
service reads the channels' history back at each start (what a mentor wrote while it was down,
or just before a kill and not committed).
"""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # before telegram is imported

import asyncio  # noqa: E402
import contextlib  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402

from tests.adapters.fake_discord import FakeDiscord  # noqa: E402
from tests.adapters.fake_slack import FakeSlack  # noqa: E402
from tests.adapters.fake_telegram import FakeTelegram  # noqa: E402
from tests.adapters.faults import Faults  # noqa: E402

PASSERELLE = str(Path(sys.executable).with_name("passerelle"))
TELEGRAM_TOKEN = "123:ABC"
SEND_TIMEOUT = 2.0  # the service gives up on a platform call after this (a "timeout" fault)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
                   every: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f}s for {what}")
        await asyncio.sleep(every)


class Platforms:
    """Fake Telegram, Slack and Discord. `async with Platforms() as p:`."""

    def __init__(self) -> None:
        self.telegram = FakeTelegram(token=TELEGRAM_TOKEN)
        self.slack = FakeSlack()
        self.discord = FakeDiscord()
        self.slack_redelivery = SlackRedelivery(self.slack)

    async def __aenter__(self) -> Platforms:
        for fake in (self.telegram, self.slack, self.discord):
            await fake.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.set_faults(0.0)
        for fake in (self.discord, self.slack, self.telegram):
            with contextlib.suppress(Exception):
                await fake.stop()

    def set_faults(self, rate: float, seed: int = 0, *, hold_seconds: float = SEND_TIMEOUT + 1
                   ) -> None:
        """The same share of faults on the three fakes (each its own seeded draws)."""
        for offset, fake in enumerate((self.telegram, self.slack, self.discord)):
            fake.faults = Faults(rate=rate, seed=seed * 3 + offset, hold_seconds=hold_seconds)

    def fault_counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for fake in (self.telegram, self.slack, self.discord):
            for kind, n in fake.faults.counts.items():
                total[kind] = total.get(kind, 0) + n
        return total

    def env(self, database_url: str, **extra: str) -> dict[str, str]:
        """The service's environment: nothing of the caller's PASSERELLE_* leaks in."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
        env |= {
            "PASSERELLE_DATABASE_URL": database_url,
            "PASSERELLE_WEB__PORT": str(free_port()),
            "PASSERELLE_PLAYGROUND__ENABLED": "off",
            "PASSERELLE_LOG_LEVEL": "INFO",
            "PASSERELLE_TELEGRAM__TOKEN": TELEGRAM_TOKEN,
            "PASSERELLE_TELEGRAM__BASE_URL": self.telegram.url,
            "PASSERELLE_TELEGRAM__POLL_TIMEOUT": "1",
            "PASSERELLE_SLACK__BOT_TOKEN": self.slack.bot_token,
            "PASSERELLE_SLACK__APP_TOKEN": self.slack.app_token,
            "PASSERELLE_SLACK__BASE_URL": self.slack.api_url,
            "PASSERELLE_DISCORD__TOKEN": self.discord.token,
            "PASSERELLE_DISCORD__API_BASE_URL": self.discord.api_base,
            "PASSERELLE_DISCORD__GATEWAY_URL": self.discord.gateway_url,
            "PASSERELLE_DELIVERY__POLL_SECONDS": "0.1",
            "PASSERELLE_DELIVERY__SEND_TIMEOUT": str(SEND_TIMEOUT),
            "PASSERELLE_MATCHING__SWEEP_SECONDS": "1",
            # no quiet hours: a nudge due in the test's night must not wait for the morning
            "PASSERELLE_NUDGES__QUIET_FROM": "0",
            "PASSERELLE_NUDGES__QUIET_UNTIL": "0",
            "PTB_TIMEDELTA": "true",
        }
        return env | extra


@dataclass
class Service:
    """One `passerelle run` at a time, on `env`; its stderr goes to logs/run-N.log."""

    env: dict[str, str]
    logs: Path
    process: asyncio.subprocess.Process | None = None
    runs: int = 0
    kills: int = 0

    async def cli(self, *args: str, stdin: str | None = None) -> str:
        process = await asyncio.create_subprocess_exec(
            PASSERELLE, *args, env=self.env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.PIPE if stdin is not None else None)
        out, error = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), 60)
        assert process.returncode == 0, f"passerelle {' '.join(args)}: {error.decode()}"
        return out.decode()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['PASSERELLE_WEB__PORT']}"

    async def start(self, timeout: float = 30, **extra_env: str) -> None:
        """Start and wait until /healthz says every platform is connected."""
        assert self.process is None, "already running"
        self.env |= extra_env
        self.runs += 1
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"run-{self.runs}.log").open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                PASSERELLE, "run", env=self.env, stdout=asyncio.subprocess.DEVNULL, stderr=log)
        await self.wait_healthy(timeout)

    async def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not await self.healthy():
            if self.process is not None and self.process.returncode is not None:
                raise AssertionError(f"passerelle run exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"passerelle run not healthy:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    async def healthy(self) -> bool:
        """/healthz answers 200: database, workers and every platform connected."""
        try:
            timeout = aiohttp.ClientTimeout(total=2)
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
                    f"{self.url}/healthz") as response:
                return response.status == 200 and bool((await response.json())["ok"])
        except (aiohttp.ClientError, json.JSONDecodeError, TimeoutError):
            return False

    async def leading(self) -> bool | None:
        """What /metrics says of this instance's leadership (None: it does not answer)."""
        try:
            timeout = aiohttp.ClientTimeout(total=5)
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
                    f"{self.url}/metrics") as response:
                body = await response.text()
        except (aiohttp.ClientError, TimeoutError):
            return None
        found = re.search(r"^passerelle_leader (\S+)$", body, re.MULTILINE)
        return None if found is None else float(found.group(1)) == 1.0

    async def crash(self, rng: random.Random) -> str:
        """SIGKILL and start again (what the storm does once a round); who was killed."""
        await self.kill()
        await self.start()
        return "single"

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.process = None
        self.kills += 1

    async def stop(self) -> None:
        """SIGTERM: the service finishes what it holds and stops."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
        self.process = None

    def log_tail(self, chars: int = 4000) -> str:
        path = self.logs / f"run-{self.runs}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@dataclass
class Cluster:
    """Several `passerelle run` on one PostgreSQL schema (each its own web port and logs), the
    same fakes behind them all. The storm kills one instance at a time and starts it again while
    the others run on: the leader and a follower in turn, the first drawn."""

    instances: list[Service]
    killed: Counter[str] = field(default_factory=Counter)  # "leader" / "follower" → kills
    turn: int = -1  # even: the leader's turn to be killed; -1: not drawn yet

    @classmethod
    def on(cls, platforms: Platforms, database_url: str, logs: Path, size: int = 2, *,
           seed: int = 0, **extra: str) -> Cluster:
        """`size` instances of the service on `database_url`; Slack spreads its envelopes over
        their Socket Mode connections (one connection per envelope, drawn with `seed`)."""
        platforms.slack.spread = random.Random(seed)
        return cls([Service(platforms.env(database_url, **extra), logs / f"instance-{k + 1}")
                    for k in range(size)])

    @property
    def kills(self) -> int:
        return sum(s.kills for s in self.instances)

    async def cli(self, *args: str, stdin: str | None = None) -> str:
        return await self.instances[0].cli(*args, stdin=stdin)

    async def start(self, timeout: float = 30, **extra_env: str) -> None:
        await asyncio.gather(*(s.start(timeout, **extra_env) for s in self.instances))

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.instances))

    async def crash(self, rng: random.Random) -> str:
        """SIGKILL the leader or a follower (in turn, the first drawn) and start it again; which
        it was. While no single leader is known (a takeover under way), whichever is drawn."""
        if self.turn < 0:
            self.turn = rng.randrange(2)
        want = ("leader", "follower")[self.turn % 2]
        says = await asyncio.gather(*(s.leading() for s in self.instances))
        roles = {"leader": [s for s, lead in zip(self.instances, says, strict=True) if lead],
                 "follower": [s for s, lead in zip(self.instances, says, strict=True)
                              if lead is False]}
        if len(roles["leader"]) == 1 and roles[want]:
            victim, role = rng.choice(roles[want]), want
            self.turn += 1
        else:
            victim, role = rng.choice(self.instances), "either"
        await victim.kill()
        self.killed[role] += 1
        await victim.start()
        return role

    def log_tail(self, chars: int = 4000) -> str:
        return "\n".join(f"--- instance {k + 1} (run {s.runs}):\n{s.log_tail(chars // 2)}"
                         for k, s in enumerate(self.instances))


@dataclass
class SlackRedelivery:
    """Slack sends an events envelope again while the app has not acknowledged it (the app
    acks only once the event committed). The fake does not by itself: `resend_unacked` does,
    as a new envelope with `retry_attempt` + 1, which is what Slack sends."""

    fake: FakeSlack
    waiting: dict[str, float] = field(default_factory=dict)  # envelope id → when pushed
    redelivered: int = 0

    async def push(self, event: dict[str, Any], timeout: float = 60) -> str:
        envelope = await self.fake.push_event(event, timeout=timeout)
        self.waiting[envelope] = time.monotonic()
        return envelope

    def unacked(self, older_than: float = 0.0) -> list[str]:
        now = time.monotonic()
        for envelope in list(self.waiting):
            if self.fake.ack_for(envelope) is not None:
                del self.waiting[envelope]
        return [e for e, at in self.waiting.items() if now - at >= older_than]

    async def resend_unacked(self, older_than: float = 2.0, timeout: float = 60) -> int:
        resent = 0
        for envelope in self.unacked(older_than):
            del self.waiting[envelope]
            again = await self.fake.redeliver(envelope, timeout=timeout)
            self.waiting[again] = time.monotonic()
            resent += 1
        self.redelivered += resent
        return resent

    async def settle(self, timeout: float = 60) -> None:
        """Until every envelope pushed so far is acknowledged (resending as Slack would)."""
        deadline = time.monotonic() + timeout
        while self.unacked():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Slack envelopes never acknowledged: {self.unacked()}")
            await self.resend_unacked(older_than=3.0)
            await asyncio.sleep(0.2)


# The storm: a student and two mentors exchanging numbered messages through faults and kills --

STUDENT, SLACK_MENTOR, DISCORD_MENTOR = 7_770_002, "U0SAM", 310_000_000_000_000_088
STREAMS = ("sa", "sb", "as", "bs")  # student→Slack mentor, →Discord mentor, and back
_TAG = re.compile(r"\br(\d+) (sa|sb|as|bs) (\d+)\b")
STUDENTS_CSV = "pseudonym,language,age,fields\nZia,fr,19,trades\n"
MENTORS_CSV = ("pseudonym,language,kind,profession,field,years,capacity,vetted\n"
               "Sam,fr,professional,soudeur,trades,12,3,yes\n"
               "Dina,fr,professional,infirmière,health,8,3,yes\n")


@dataclass
class Tally:
    """What one receiver got of one stream in a round, in arrival order."""

    stream: str
    expected: int
    received: list[int]

    @property
    def lost(self) -> int:
        return len(set(range(1, self.expected + 1)) - set(self.received))

    @property
    def duplicated(self) -> int:
        return len(self.received) - len(set(self.received))

    @property
    def out_of_order(self) -> int:
        firsts = list(dict.fromkeys(self.received))
        return sum(1 for a, b in itertools.pairwise(firsts) if b < a)

    @property
    def stray_duplicates(self) -> int:
        """Duplicates that are not the message just before again (the one in flight)."""
        return sum(1 for i, k in enumerate(self.received)
                   if k in self.received[:i] and (i == 0 or self.received[i - 1] != k))


@dataclass
class RoundResult:
    number: int
    kills: int
    seconds: float
    tallies: list[Tally]
    faults: dict[str, int]
    killed: tuple[str, ...] = ()  # who each kill hit: "single", or "leader" / "follower"

    @property
    def lost(self) -> int:
        return sum(t.lost for t in self.tallies)

    @property
    def duplicated(self) -> int:
        return sum(t.duplicated for t in self.tallies)

    @property
    def out_of_order(self) -> int:
        return sum(t.out_of_order for t in self.tallies)

    def problems(self) -> list[str]:
        """What breaks the promise: a loss, a reordering, a duplicate that was not the
        message in flight at a kill, or more duplicates in one chat than kills."""
        found = [f"{t.stream}: lost {t.lost}" for t in self.tallies if t.lost]
        found += [f"{t.stream}: out of order {t.received}" for t in self.tallies
                  if t.out_of_order]
        found += [f"{t.stream}: stray duplicate {t.received}" for t in self.tallies
                  if t.stray_duplicates]
        student_dups = sum(t.duplicated for t in self.tallies if t.stream in ("as", "bs"))
        for chat, dups in (("student", student_dups),
                           *((t.stream, t.duplicated) for t in self.tallies
                             if t.stream in ("sa", "sb"))):
            if dups > self.kills:
                found.append(f"{chat}: {dups} duplicates for {self.kills} kill(s)")
        return found

    def line(self) -> str:
        who = "" if set(self.killed) <= {"single"} else f" ({','.join(self.killed)})"
        return (f"round {self.number:3d}: {self.seconds:5.1f}s kills={self.kills}{who} "
                f"lost={self.lost} duplicated={self.duplicated} "
                f"out_of_order={self.out_of_order} faults={self.faults}")


class Storm:
    """One student on Telegram, a mentor on Slack and one on Discord, matched; each round they
    exchange numbered messages while the fakes fail `rate` of the delivering calls and the
    service (or one instance of a `Cluster`) is SIGKILLed at a random moment and restarted.
    Seeded by `seed`."""

    def __init__(self, platforms: Platforms, service: Service | Cluster, seed: int, *,
                 messages: int = 3, rate: float = 0.2) -> None:
        self.p, self.service = platforms, service
        self.tg, self.slack, self.dc = platforms.telegram, platforms.slack, platforms.discord
        self.rng = random.Random(seed)
        self.seed, self.messages, self.rate = seed, messages, rate
        self.sam_dm = self.slack.dm_channel(SLACK_MENTOR)
        self.dina_dm = self.dc.dm_channel_id(DISCORD_MENTOR)
        self.rounds = 0
        self.killed: list[str] = []  # who each kill hit, in order

    # set-up ----------------------------------------------------------------------------------
    async def setup(self) -> None:
        """Import the three (vetted mentors), link their accounts, match the student with both
        (faults off meanwhile)."""
        self.slack.add_user(SLACK_MENTOR, name="sam.real", real_name="Samuel Réel")
        self.dc.add_user(DISCORD_MENTOR, username="dina_real", global_name="Dina Réelle")
        await self.service.cli("db", "upgrade")
        students, mentors = await asyncio.gather(
            self.service.cli("import", "students", "-", stdin=STUDENTS_CSV),
            self.service.cli("import", "mentors", "-", stdin=MENTORS_CSV))
        codes = dict(line.split(",") for line in (students + mentors).split()
                     if not line.startswith("pseudonym"))
        await self.service.start()
        self.tg.user_sends(STUDENT, f"/start {codes['Zia']}", first_name="Zia", username="zia")
        await self.slack.wait_ack(await self.p.slack_redelivery.push(
            self.slack.dm_message(SLACK_MENTOR, codes["Sam"])), timeout=30)
        await self.dc.user_dm(DISCORD_MENTOR, codes["Dina"])
        await wait_for(lambda: self.tg.sent(STUDENT) and self.slack.posted(self.sam_dm)
                       and self.dc.sent(self.dina_dm), 30, "the three welcomed")
        marks = (len(self.tg.sent(STUDENT)), len(self.slack.posted(self.sam_dm)))
        for mentor in ("Sam", "Dina"):
            await self.service.cli("match", "create", "Zia", mentor, "--accepted")
        intros = await wait_for(lambda: self._intros(marks[0]), 30, "both introductions")
        self.intro = dict(zip(("sa", "sb"), intros, strict=True))
        roots = await wait_for(
            lambda: [m for m in self.slack.posted(self.sam_dm)[marks[1]:]
                     if m["thread_ts"] is None], 30, "the Slack mentor's thread")
        self.thread = roots[0]["ts"]

    def _intros(self, seen: int) -> list[int] | None:
        got = self.tg.sent(STUDENT)[seen:]
        sam = [m["message_id"] for m in got if "Sam" in m.get("text", "")]
        dina = [m["message_id"] for m in got if "Dina" in m.get("text", "")]
        return [sam[0], dina[0]] if sam and dina else None

    # one round -------------------------------------------------------------------------------
    async def round(self, kill: bool = True, timeout: float = 90) -> RoundResult:
        self.rounds += 1
        n, started, kills_before = self.rounds, time.monotonic(), len(self.killed)
        self.p.set_faults(self.rate, seed=self.seed * 1000 + n)
        redeliver = asyncio.create_task(self._slack_retries())
        try:
            senders = [self._student(n), self._slack_mentor(n), self._discord_mentor(n)]
            if kill:
                senders.append(self._killer())
            await asyncio.wait_for(asyncio.gather(*senders), timeout)
            try:
                await asyncio.wait_for(self._all_in(n), timeout)
            except TimeoutError:  # what never came is counted as lost, and shown
                for tally in self.tallies(n):
                    if tally.lost:
                        print(f"round {n}: stream {tally.stream} got {tally.received} "
                              f"(lost {tally.lost})", flush=True)
            await asyncio.sleep(1.0)  # a late duplicate would show now
        finally:
            redeliver.cancel()
            await asyncio.gather(redeliver, return_exceptions=True)
            faults = self.p.fault_counts()
            self.p.set_faults(0.0)
        return RoundResult(n, len(self.killed) - kills_before, time.monotonic() - started,
                           self.tallies(n), faults, tuple(self.killed[kills_before:]))

    async def _pause(self) -> None:
        await asyncio.sleep(self.rng.uniform(0.0, 0.4))

    async def _student(self, n: int) -> None:
        for stream in ("sa", "sb"):
            for k in range(1, self.messages + 1):
                self.tg.user_sends(STUDENT, f"r{n} {stream} {k:02d}", first_name="Zia",
                                   username="zia", reply_to=self.intro[stream])
                await self._pause()

    async def _slack_mentor(self, n: int) -> None:
        for k in range(1, self.messages + 1):
            event = self.slack.dm_message(SLACK_MENTOR, f"r{n} as {k:02d}",
                                          thread_ts=self.thread)
            await self.p.slack_redelivery.push(event)
            await self._pause()

    async def _discord_mentor(self, n: int) -> None:
        """Discord never sends a gateway event again: what she writes while the service is
        down, or just before a kill and not yet committed, is read back from the DM's history
        by the next process."""
        for k in range(1, self.messages + 1):
            await self.dc.user_dm(DISCORD_MENTOR, f"r{n} bs {k:02d}")
            await self._pause()

    async def _killer(self) -> None:
        await asyncio.sleep(self.rng.uniform(0.2, 0.2 + 0.4 * self.messages * 2))
        self.killed.append(await self.service.crash(self.rng))

    async def _slack_retries(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await self.p.slack_redelivery.resend_unacked(older_than=3.0, timeout=5)
            await asyncio.sleep(0.5)

    async def _all_in(self, n: int) -> None:
        while any(t.lost for t in self.tallies(n)):
            await asyncio.sleep(0.2)

    # what arrived ----------------------------------------------------------------------------
    def tallies(self, n: int) -> list[Tally]:
        to_student = [m.get("text", "") for m in self.tg.sent(STUDENT)]
        to_sam = [unescape(m["text"]) for m in self.slack.posted(self.sam_dm)]
        to_dina = [m["content"] for m in self.dc.sent(self.dina_dm)]
        seen = {"sa": to_sam, "sb": to_dina, "as": to_student, "bs": to_student}
        return [Tally(s, self.messages, numbers(seen[s], n, s)) for s in STREAMS]


def numbers(texts: Iterable[str], round_number: int, stream: str) -> list[int]:
    """The numbers of a round's stream found in what a receiver got, in arrival order."""
    found = []
    for text in texts:
        for match in _TAG.finditer(text):
            if int(match.group(1)) == round_number and match.group(2) == stream:
                found.append(int(match.group(3)))
    return found


def unescape(text: str) -> str:
    """Slack's escaping of &, < and > undone (what the person reads)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
