"""The whole service as `passerelle run`, with a student on Telegram, a mentor on Slack, a mentor
on Discord and a coordinator on Slack, each on a fake platform server on 127.0.0.1 (issue 11).

Enrolment by invite codes made with the CLI, vetting by the coordinator in chat, a request and
an accepted match on each side, a conversation both ways with a reply and an edit, a group post,
a nudge (the service restarted with its clock 49 hours ahead: `PASSERELLE_CLOCK_OFFSET_HOURS`),
`/end` and the end survey. The assertions are on what each fake server received: the texts, where
they went, and that nothing of anyone's platform self crossed to the others.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

from bots.catalogs import load_catalog
from tests.e2e.platforms import Platforms, Service, wait_for

ZOE, ZOE_NAME, ZOE_HANDLE = 7_770_001, "Zoé", "zoe_tremblay_qc"
MARC, MARC_NAME, MARC_REAL = "U0MARC", "marc.dupont", "Marc Dupont"
COCO = "U0COCO"
NADIA, NADIA_NAME, NADIA_GLOBAL = 310_000_000_000_000_077, "nadia_r42", "Nadia Roy-Tremblay"
SCHOOL = "École des Métiers"
WAIT = 15.0
T = load_catalog().t


class Scene:
    """The people of the scene and what each saw, over the three fakes."""

    def __init__(self, platforms: Platforms, service: Service) -> None:
        self.p, self.service = platforms, service
        self.tg, self.slack, self.dc = platforms.telegram, platforms.slack, platforms.discord
        self.marc_dm = self.slack.dm_channel(MARC)
        self.coco_dm = self.slack.dm_channel(COCO)
        self.nadia_dm = self.dc.dm_channel_id(NADIA)

    # what each one received ------------------------------------------------------------------
    def zoe_got(self) -> list[dict]:
        return self.tg.sent(ZOE)

    def marc_got(self) -> list[dict]:
        return self.slack.posted(self.marc_dm)

    def coco_got(self) -> list[str]:
        posted = [m["text"] for m in self.slack.posted(self.coco_dm)]
        return posted + [e["text"] for e in self.slack.ephemerals(self.coco_dm)]

    def nadia_got(self) -> list[dict]:
        return self.dc.sent(self.nadia_dm)

    async def more(self, seen: list[Any] | int, got: Any, count: int = 1) -> list[Any]:
        """The `count` new things `got()` returns after the first `seen` (waiting for them)."""
        start = seen if isinstance(seen, int) else len(seen)
        await wait_for(lambda: len(got()) >= start + count, WAIT,
                       f"{count} new message(s) from {got.__name__}")
        return got()[start:]

    # what each one does ----------------------------------------------------------------------
    async def zoe(self, text: str, *, reply_to: int | None = None, count: int = 1) -> list[dict]:
        seen = len(self.zoe_got())
        sent = self.tg.user_sends(ZOE, text, first_name=ZOE_NAME, username=ZOE_HANDLE,
                                  reply_to=reply_to)
        self.last_zoe = sent
        return await self.more(seen, self.zoe_got, count) if count else []

    async def zoe_presses(self, message: dict, data: str, count: int = 1) -> list[dict]:
        seen = len(self.zoe_got())
        self.tg.user_presses(ZOE, message["message_id"], data)
        return await self.more(seen, self.zoe_got, count) if count else []

    async def slack_user(self, user: str, text: str, *, thread_ts: str | None = None) -> dict:
        event = self.slack.dm_message(user, text, thread_ts=thread_ts)
        envelope = await self.p.slack_redelivery.push(event)
        await self.slack.wait_ack(envelope, timeout=WAIT)  # acknowledged once committed
        return event

    async def slack_command(self, user: str, text: str) -> None:
        command = self.slack.slash_command(user, text=text)
        await self.slack.wait_ack(await self.slack.push_slash_command(command), timeout=WAIT)

    async def slack_presses(self, user: str, message: dict, value: str) -> None:
        button = next(e for b in message["blocks"] if b["type"] == "actions"
                      for e in b["elements"] if e.get("value") == value)
        action = self.slack.block_action(user, message["ts"], self.slack.dm_channel(user),
                                         button["action_id"])
        await self.slack.wait_ack(await self.slack.push_interactive(action), timeout=WAIT)

    async def nadia(self, text: str, *, reply_to: int | None = None, count: int = 1
                    ) -> list[dict]:
        seen = len(self.nadia_got())
        await self.dc.user_dm(NADIA, text, reply_to=reply_to)
        return await self.more(seen, self.nadia_got, count) if count else []

    async def nadia_presses(self, message: dict, action: str) -> None:
        custom_id = f"passerelle:{action}"
        ids = [c["custom_id"] for row in message["components"] for c in row["components"]]
        assert custom_id in ids, ids
        await self.dc.user_presses(NADIA, int(message["id"]), custom_id)


def slack_text(message: dict) -> str:
    """What a Slack reader sees: the sections of the blocks (the `text` is the fallback)."""
    sections = [b["text"]["text"] for b in message.get("blocks") or [] if b["type"] == "section"]
    return "\n".join(sections) or message["text"]


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def buttons_of(message: dict) -> list[str]:
    """Telegram: every button's callback data."""
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def slack_values(message: dict) -> list[str]:
    return [e.get("value", "") for b in message.get("blocks") or [] if b["type"] == "actions"
            for e in b["elements"]]


async def enrol(scene: Scene, codes: dict[str, str]) -> None:
    """Four people type their invite code and answer the onboarding, each on their platform
    (at the same time: each chat is paced on its own)."""
    await asyncio.gather(enrol_zoe(scene, codes["student"]), enrol_marc(scene, codes["mentor"]),
                         enrol_nadia(scene, codes["mentor"]),
                         enrol_coco(scene, codes["coordinator"]))


async def enrol_zoe(scene: Scene, code: str) -> None:
    await scene.zoe(f"/start {code}")
    for answer in ("fr", "Zozo", "19", "1", "ok"):
        await scene.zoe(answer)
    done = T("fr", "onboarding.done.student", name="Zozo")
    await wait_for(lambda: done in [m["text"] for m in scene.zoe_got()], WAIT,
                   f"Zozo's onboarding to end; she got {[m['text'] for m in scene.zoe_got()]}")


async def enrol_marc(scene: Scene, code: str) -> None:
    for answer in (code, "fr", "Marc", "1", "soudeur", "4", "12", "3"):
        seen = len(scene.marc_got())
        await scene.slack_user(MARC, answer)
        await scene.more(seen, scene.marc_got)
    done = T("fr", "onboarding.done.mentor", name="Marc")
    await wait_for(lambda: done in [unescape(m["text"]) for m in scene.marc_got()], WAIT,
                   f"Marc's onboarding to end; he got {[m['text'] for m in scene.marc_got()]}")


async def enrol_nadia(scene: Scene, code: str) -> None:
    for answer in (code, "fr", "Nadia", "1", "infirmière", "1", "8", "3"):
        await scene.nadia(answer)
    done = T("fr", "onboarding.done.mentor", name="Nadia")
    await wait_for(lambda: done in [m["content"] for m in scene.nadia_got()], WAIT,
                   f"Nadia's onboarding to end; {[m['content'] for m in scene.nadia_got()]}")


async def enrol_coco(scene: Scene, code: str) -> None:
    for answer in (code, "fr", "Coco"):
        seen = len(scene.slack.posted(scene.coco_dm))
        await scene.slack_user(COCO, answer)
        await wait_for(lambda s=seen: len(scene.slack.posted(scene.coco_dm)) > s, WAIT,
                       "the coordinator's next step")


async def vet_both(scene: Scene) -> None:
    """The coordinator vets the two mentors with `/passerelle vet NAME`: both are told."""
    for name, told in (("Marc", scene.marc_got), ("Nadia", scene.nadia_got)):
        seen = len(told())
        await scene.slack_command(COCO, f"vet {name}")
        await wait_for(lambda n=name: T("fr", "vet.done", name=n) in scene.coco_got(), WAIT,
                       f"the coordinator told {name} is vetted")
        await scene.more(seen, told)


async def request_and_accept(scene: Scene) -> tuple[dict, dict, str]:
    """Zozo asks Marc then Nadia; each accepts with the button. The introductions Zozo got
    (Marc's, Nadia's) and the root of Marc's thread on Slack."""
    listed = (await scene.zoe("/mentors"))[0]["text"]
    assert "Marc" in listed and "Nadia" in listed

    seen_marc = len(scene.marc_got())
    await scene.zoe("/request Marc Comment devenir soudeur?")
    (request,) = await scene.more(seen_marc, scene.marc_got)
    assert "Zozo" in slack_text(request) and "Comment devenir soudeur?" in slack_text(request)
    accept = next(v for v in slack_values(request) if v.startswith("accept:"))
    seen_zoe = len(scene.zoe_got())
    await scene.slack_presses(MARC, request, accept)
    (intro_marc,) = await scene.more(seen_zoe, scene.zoe_got)
    assert "Marc" in intro_marc["text"]

    seen_nadia = len(scene.nadia_got())
    await scene.zoe("/request Nadia Est-ce dur, les urgences?")
    (request_n,) = await scene.more(seen_nadia, scene.nadia_got)
    assert "Est-ce dur, les urgences?" in request_n["content"]
    accept_n = re.search(r"accept:\d+", str(request_n["components"]))
    assert accept_n is not None
    seen_zoe = len(scene.zoe_got())
    await scene.nadia_presses(request_n, accept_n.group(0))
    (intro_nadia,) = await scene.more(seen_zoe, scene.zoe_got)
    assert "Nadia" in intro_nadia["text"]
    return intro_marc, intro_nadia, request["ts"]


async def converse(scene: Scene, intro_marc: dict, intro_nadia: dict, thread: str) -> dict:
    """Both ways on both sides, a reply and an edit; the last message from Marc Zozo got."""
    seen = len(scene.marc_got())
    await scene.zoe("Bonjour Marc, tu soudes quoi?", reply_to=intro_marc["message_id"], count=0)
    (copy,) = await scene.more(seen, scene.marc_got)
    assert copy["thread_ts"] == thread and "Bonjour Marc, tu soudes quoi?" in slack_text(copy)
    assert slack_text(copy).startswith("Zozo")

    seen_zoe = len(scene.zoe_got())
    await scene.slack_user(MARC, "Surtout de l'acier, au chantier naval.", thread_ts=thread)
    (answer,) = await scene.more(seen_zoe, scene.zoe_got)
    assert answer["text"].startswith("Marc") and answer["text"].endswith(
        "Surtout de l'acier, au chantier naval.")

    # a Telegram reply to Marc's answer, then its edit: the Slack copy is edited in place
    seen = len(scene.marc_got())
    await scene.zoe("Et c'est payant?", reply_to=answer["message_id"], count=0)
    asked = scene.last_zoe
    (question,) = await scene.more(seen, scene.marc_got)
    assert question["thread_ts"] == thread and "Et c'est payant?" in slack_text(question)
    scene.tg.user_edits(ZOE, asked["message_id"], "Et ça paie bien?")
    edited = await wait_for(
        lambda: (m := scene.slack.message(scene.marc_dm, question["ts"])) is not None
        and "Et ça paie bien?" in slack_text(m) and m, WAIT, "the Slack copy edited")
    assert edited["edited"] is not None and len(scene.marc_got()) == seen + 1
    assert scene.slack.calls_of("chat.update")

    # with Nadia on Discord: a reply on Discord is a reply on Telegram too
    seen = len(scene.nadia_got())
    await scene.zoe("Salut Nadia!", reply_to=intro_nadia["message_id"], count=0)
    hello = scene.last_zoe
    (copy_n,) = await scene.more(seen, scene.nadia_got)
    assert copy_n["content"].startswith("Zozo") and "Salut Nadia!" in copy_n["content"]
    seen_zoe = len(scene.zoe_got())
    await scene.nadia("Salut Zozo, pose tes questions.", reply_to=int(copy_n["id"]), count=0)
    (reply,) = await scene.more(seen_zoe, scene.zoe_got)
    assert reply["text"].endswith("Salut Zozo, pose tes questions.")
    assert reply["reply_to_message"]["message_id"] == hello["message_id"]
    return answer


async def group_post(scene: Scene) -> None:
    """The coordinator opens a group; Zozo and Nadia join; Zozo's post reaches Nadia only."""
    await scene.slack_command(COCO, "group new Métiers band=18-30")
    created = await wait_for(
        lambda: next((t for t in scene.coco_got() if "Métiers" in t), None), WAIT,
        "the group created")
    number = re.search(r"\d+", created)
    assert number is not None
    group = number.group(0)
    joined = (await scene.zoe(f"/join {group}"))[0]["text"]
    assert "Métiers" in joined
    (joined_n,) = await scene.nadia(f"/join {group}")
    assert "Métiers" in joined_n["content"]

    seen_marc, seen_nadia = len(scene.marc_got()), len(scene.nadia_got())
    await scene.zoe("Qui connaît un bon DEP en santé?", count=0)
    (post,) = await scene.more(seen_nadia, scene.nadia_got)
    assert post["content"] == T("fr", "group.post", group="Métiers", name="Zozo",
                                text="Qui connaît un bon DEP en santé?")
    await asyncio.sleep(0.5)
    assert len(scene.marc_got()) == seen_marc  # not a member


async def nudge(scene: Scene, answer: dict) -> None:
    """Zozo writes to Marc, who does not answer; 49 hours later (the service restarted with its
    clock ahead) Marc is reminded, on Slack, in Zozo's thread."""
    seen = len(scene.marc_got())
    await scene.zoe("Marc, tu es là?", reply_to=answer["message_id"], count=0)
    await scene.more(seen, scene.marc_got)
    seen, seen_nadia = len(scene.marc_got()), len(scene.nadia_got())
    await scene.service.stop()
    await scene.service.start(PASSERELLE_CLOCK_OFFSET_HOURS="49")
    expected = T("fr", "nudge.unanswered", name="Zozo", hours=48)
    reminder = await wait_for(lambda: next(
        (m for m in scene.marc_got()[seen:] if unescape(slack_text(m)) == expected), None),
        WAIT, "Marc's reminder")
    assert reminder["thread_ts"] is not None  # in Zozo's thread
    assert any(v.startswith("today:") for v in slack_values(reminder))
    await asyncio.sleep(1.5)  # a sweep or two more: Nadia, who answered, is not reminded
    # (on the first of a month, both also get their monthly figures: not a nudge)
    assert not [m for m in scene.nadia_got()[seen_nadia:] if "Zozo" in m["content"]]


async def end_with_survey(scene: Scene) -> None:
    """Zozo ends her conversation with Marc (`/end`, then which one); both get the survey;
    she answers every question with the buttons."""
    (which,) = await scene.zoe("/end")
    end_marc = next(d for d in buttons_of(which) if d.startswith("end:"))
    seen_marc = len(scene.marc_got())
    got = await scene.zoe_presses(which, end_marc)
    await scene.more(seen_marc, scene.marc_got)
    answered: set[int] = set()
    while len(answered) < 2:  # why it ended, and whether it influenced her choice
        survey = await wait_for(lambda: next(
            (m for m in scene.zoe_got() if m["message_id"] not in answered
             and any(d.startswith("survey:") for d in buttons_of(m))), None), WAIT,
            f"survey question {len(answered) + 1}")
        choice = next(d for d in buttons_of(survey) if d.startswith("survey:"))
        seen = len(scene.zoe_got())
        await scene.zoe_presses(survey, choice)
        answered.add(survey["message_id"])
        await wait_for(lambda s=seen: T("fr", "survey.thanks") in [
            m["text"] for m in scene.zoe_got()[s:]], WAIT, "thanks")
    assert got
    offer = next(m for m in scene.zoe_got() if any(d.startswith("thanks:")
                                                   for d in buttons_of(m)))
    seen_marc = len(scene.marc_got())
    await scene.zoe_presses(offer, next(d for d in buttons_of(offer) if d.startswith("thanks:")))
    await wait_for(lambda: T("fr", "thanks.received", name="Zozo") in [
        unescape(slack_text(m)) for m in scene.marc_got()[seen_marc:]], WAIT, "Marc thanked")
    marc_survey = next(m for m in reversed(scene.marc_got())
                       if any(v.startswith("survey:") for v in slack_values(m)))
    await scene.slack_presses(MARC, marc_survey, next(
        v for v in slack_values(marc_survey) if v.startswith("survey:")))


def nothing_crossed(scene: Scene) -> None:
    """No platform identity of anyone reached anyone else."""
    zoe_secrets = (str(ZOE), ZOE_NAME, ZOE_HANDLE)
    mentor_secrets = (MARC, MARC_NAME, MARC_REAL, scene.marc_dm, str(NADIA), NADIA_NAME,
                      NADIA_GLOBAL, str(scene.nadia_dm), COCO, scene.coco_dm)
    to_mentors = [unescape(slack_text(m)) for m in scene.marc_got()]
    to_mentors += [m["content"] for m in scene.nadia_got()]
    to_mentors += scene.coco_got()
    to_zoe = [m["text"] for m in scene.zoe_got()]
    for secret in zoe_secrets:
        assert not [t for t in to_mentors if secret in t], secret
    for secret in mentor_secrets:
        assert not [t for t in to_zoe if secret in t], secret


async def test_a_student_on_telegram_and_mentors_on_slack_and_discord(tmp_path: Path) -> None:
    async with Platforms() as platforms:
        platforms.slack.add_user(MARC, name=MARC_NAME, real_name=MARC_REAL)
        platforms.slack.add_user(COCO, name="coco.lavoie", real_name="Coco Lavoie")
        platforms.discord.add_user(NADIA, username=NADIA_NAME, global_name=NADIA_GLOBAL)
        env = platforms.env(f"sqlite:///{tmp_path / 'three.db'}")
        service = Service(env, tmp_path / "logs")
        await service.cli("db", "upgrade")
        await service.cli("school", "add", SCHOOL)
        student, mentor, coordinator = await asyncio.gather(
            service.cli("invite", "create", "--role", "student", "--school", SCHOOL),
            service.cli("invite", "create", "--role", "mentor", "--uses", "2"),
            service.cli("invite", "create", "--role", "coordinator", "--school", SCHOOL))
        codes = {"student": student.strip(), "mentor": mentor.strip(),
                 "coordinator": coordinator.strip()}
        await service.start()
        scene = Scene(platforms, service)
        try:
            await asyncio.wait_for(play(scene, codes), 150)
        except BaseException:
            print(service.log_tail(8000))
            raise
        finally:
            await service.stop()


async def play(scene: Scene, codes: dict[str, str]) -> None:
    clock = time.monotonic()

    def lap(what: str) -> None:
        nonlocal clock
        print(f"{what}: {time.monotonic() - clock:.1f}s")
        clock = time.monotonic()

    await enrol(scene, codes)
    lap("enrolment")
    await vet_both(scene)
    lap("vetting")
    intro_marc, intro_nadia, thread = await request_and_accept(scene)
    lap("requests")
    answer = await converse(scene, intro_marc, intro_nadia, thread)
    lap("conversation")
    await group_post(scene)
    lap("group")
    await nudge(scene, answer)
    lap("nudge")
    await end_with_survey(scene)
    lap("end")
    nothing_crossed(scene)
