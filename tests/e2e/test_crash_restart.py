"""Kill `passerelle run` while Telegram refuses to take messages; what was accepted is delivered by
the next process (the service as a real subprocess, Telegram as the fake Bot API on 127.0.0.1)."""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # before telegram is imported

import asyncio  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import aiohttp  # noqa: E402

from tests.adapters.fake_telegram import FakeTelegram  # noqa: E402

PASSERELLE = str(Path(sys.executable).with_name("passerelle"))
TOKEN = "123:ABC"
ZOE = 777


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def cli(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        PASSERELLE, *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, error = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, error
    return out.decode()


async def start(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        PASSERELLE, "run", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("a"))
    url = f"http://127.0.0.1:{env['PASSERELLE_WEB__PORT']}/healthz"
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url) as response:
                    if (await response.json())["database"]:
                        return process
            except (aiohttp.ClientError, json.JSONDecodeError):
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("passerelle run did not come up")


async def say(env: dict[str, str], user: str, text: str, client_id: str,
              action: str | None = None) -> None:
    url = f"http://127.0.0.1:{env['PASSERELLE_WEB__PORT']}/api/playground/{user}/messages"
    body = {"text": text, "client_id": client_id, "action": action}
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        assert response.status == 202


async def test_a_killed_service_delivers_what_it_had_accepted_after_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with FakeTelegram(token=TOKEN) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
        env |= {
            "PASSERELLE_DATABASE_URL": f"sqlite:///{tmp_path / 'crash.db'}",
            "PASSERELLE_WEB__PORT": str(free_port()),
            "PASSERELLE_PLAYGROUND__ENABLED": "on",
            "PASSERELLE_TELEGRAM__TOKEN": TOKEN,
            "PASSERELLE_TELEGRAM__BASE_URL": fake.url,
            "PASSERELLE_TELEGRAM__POLL_TIMEOUT": "1",
            "PTB_TIMEDELTA": "true",
        }
        await cli(env, "db", "upgrade")
        await cli(env, "demo-data")
        first = await start(env, tmp_path / 'first.log')
        try:
            # Zoé enrols on Telegram and is matched with the demo mentor
            fake.user_sends(ZOE, "/start DEMO-ELEVE")
            for answer in ("fr", "Zozo", "16", "1", "ok"):
                await fake.wait_consumed(timeout=10)
                fake.user_sends(ZOE, answer)
            await fake.wait_consumed(timeout=10)
            await fake.wait_sent(7, chat_id=ZOE, timeout=10)
            created = await cli(env, "match", "create", "Zozo", "Samir", "--accepted")
            match_id = created.split()[1].rstrip(":")
            await fake.wait_sent(8, chat_id=ZOE, timeout=10)  # the introduction
            # Samir now has two students (the demo's Léa and Zozo): he picks Zozo's conversation
            await say(env, "mentor", "", "pick", action=f"conv:{match_id}")

            # Telegram stops taking messages; the mentor writes; the service is killed
            fake.fail_next("sendMessage", 502, "Bad Gateway", times=None)
            await say(env, "mentor", "Zozo, tu es là?", "m1")
            await say(env, "mentor", "Je t'explique mon horaire demain.", "m2")
            await asyncio.sleep(1.0)  # tried and refused at least once
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        assert fake.texts(ZOE)[-1].startswith("Bonne nouvelle")  # nothing got through

        fake.clear_failures()
        second = await start(env, tmp_path / 'second.log')
        try:
            try:
                await fake.wait_sent(10, chat_id=ZOE, timeout=30)
            except TimeoutError:
                print((tmp_path / "first.log").read_text()[-3000:])
                print((tmp_path / "second.log").read_text()[-3000:])
                raise
        finally:
            second.send_signal(signal.SIGTERM)
            await second.wait()
        relayed = [t for t in fake.texts(ZOE) if t.startswith("Samir")]
        assert relayed == [
            "Samir (infirmier en urgence) :\nZozo, tu es là?",
            "Samir (infirmier en urgence) :\nJe t'explique mon horaire demain.",
        ]
