"""The playground served by the real web server, and a relay round trip through its HTTP API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import Engine

from bots.app import Passerelle
from bots.delivery import utc_now
from bots.demo import load_demo
from bots.settings import load_settings
from core.context import Services
from storage.store import SqlUnitOfWork


@pytest.fixture
async def service(sqlite_db: Engine, services: Services) -> AsyncIterator[Passerelle]:
    with SqlUnitOfWork(sqlite_db) as store:
        # Today: the running service sweeps on the real clock, and a demo match made months
        # ago would be (rightly) nudged for its silence.
        load_demo(store, utc_now())
    settings = load_settings(web={"host": "127.0.0.1", "port": 0},
                             delivery={"poll_seconds": 0.05})
    app = Passerelle(settings, sqlite_db, services)
    stop = asyncio.Event()
    task = asyncio.create_task(app.serve(stop))
    for _ in range(200):
        if getattr(app, "port", None):
            break
        await asyncio.sleep(0.01)
    yield app
    stop.set()
    await task


def url(app: Passerelle, path: str) -> str:
    return f"http://127.0.0.1:{app.port}{path}"


async def wait_for(session: aiohttp.ClientSession, app: Passerelle, user: str, count: int,
                   after: int = 0) -> list[dict]:
    got: list[dict] = []
    for _ in range(40):
        async with session.get(url(app, f"/api/playground/{user}/messages"),
                               params={"after": after + len(got), "wait": "0.5"}) as r:
            got += (await r.json())["messages"]
        if len([m for m in got if m["from"] == "bot"]) >= count:
            return got
    raise AssertionError(f"{user} got {got}")


async def test_page_and_health_are_served(service: Passerelle) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(url(service, "/")) as r:
            assert r.status == 200
            assert "playground" in await r.text()
        async with session.get(url(service, "/healthz")) as r:
            assert r.status == 200
            assert await r.json() == {"ok": True, "database": True,
                                      "workers": {"playground": True}}


async def test_student_and_mentor_round_trip(service: Passerelle) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(url(service, "/api/playground/student/messages"),
                                json={"text": "Tu fais des nuits?", "client_id": "a1"}) as r:
            assert r.status == 202
            assert (await r.json())["accepted"] is True
        mentor_view = await wait_for(session, service, "mentor", 1)
        relayed = [m for m in mentor_view if m["from"] == "bot"][-1]
        assert relayed["text"] == "Léa :\nTu fais des nuits?"
        # the mentor replies to that message; the student sees it threaded on her own
        async with session.post(url(service, "/api/playground/mentor/messages"),
                                json={"text": "Une semaine sur trois.", "client_id": "b1",
                                      "reply_to": relayed["id"]}) as r:
            assert r.status == 202
        student_view = await wait_for(session, service, "student", 1)
        answer = [m for m in student_view if m["from"] == "bot"][-1]
        assert answer["text"] == "Samir (infirmier en urgence) :\nUne semaine sur trois."
        own = [m for m in student_view if m["from"] == "me"][0]
        assert answer["reply_to"] == own["id"]


async def test_a_retried_request_changes_nothing(service: Passerelle) -> None:
    async with aiohttp.ClientSession() as session:
        body = {"text": "Allô?", "client_id": "same"}
        for expected in (True, False):
            async with session.post(url(service, "/api/playground/student/messages"),
                                    json=body) as r:
                assert (await r.json())["accepted"] is expected
        await wait_for(session, service, "mentor", 1)
        await asyncio.sleep(0.3)
        async with session.get(url(service, "/api/playground/mentor/messages")) as r:
            bot = [m for m in (await r.json())["messages"] if m["from"] == "bot"]
        assert len(bot) == 1


async def test_newcomer_enrols_with_a_demo_code(service: Passerelle) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(url(service, "/api/playground/newkid/messages"),
                                json={"text": "/start DEMO-ELEVE", "client_id": "1",
                                      "locale": "en-CA"}) as r:
            assert r.status == 202
        got = await wait_for(session, service, "newkid", 2)
        language_question = [m for m in got if m["buttons"]][-1]
        assert {b["action"] for b in language_question["buttons"]} == {"lang:fr", "lang:en"}
        async with session.post(url(service, "/api/playground/newkid/messages"),
                                json={"action": "lang:en", "client_id": "2"}) as r:
            assert r.status == 202
        more = await wait_for(session, service, "newkid", 1, after=len(got))
        assert "nickname" in more[-1]["text"]


@pytest.mark.parametrize(
    ("user", "body", "problem"),
    [
        ("bad user!", {"text": "x", "client_id": "1"}, "bad user"),
        ("student", {"text": "x"}, "client_id"),
        ("student", {"text": "x" * 20_001, "client_id": "1"}, "at most"),
        ("student", {"text": "   ", "client_id": "1"}, "required"),
        ("student", ["not", "an", "object"], "JSON object"),
        ("student", {"text": "x", "client_id": "1", "reply_to": {"x": 1}}, "reply_to"),
        ("student", {"text": "x", "client_id": "1", "locale": ["fr"]}, "locale"),
        ("student", {"text": "x", "client_id": "c" * 300}, "client_id"),
        ("student", {"text": "\ud800", "client_id": "1"}, "Unicode"),
    ],
)
async def test_bad_requests_are_refused_clearly(
    service: Passerelle, user: str, body: object, problem: str
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url(service, f"/api/playground/{user}/messages"), json=body) as r,
    ):
        assert r.status == 400
        assert problem in (await r.json())["error"]


def test_health_says_503_when_the_database_is_gone(services: Services) -> None:
    from storage.engine import make_engine

    dead = make_engine("postgresql://nobody@127.0.0.1:1/none")
    app = Passerelle(load_settings(), dead, services)
    assert app.healthy() == {"ok": False, "database": False, "workers": {"playground": False}}
