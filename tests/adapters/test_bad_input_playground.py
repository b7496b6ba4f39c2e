"""Bad input on the playground's API (issue 11): whatever the body, a 202 or a 400 that says what
is wrong, never a server error; and huge texts are split or refused.

Covered elsewhere, not repeated here: each single refusal and its sentence (a bad user name,
a missing client_id, a lone surrogate… tests/e2e/test_playground.py
::test_bad_requests_are_refused_clearly), a retried request (test_playground.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from adapters.playground_adapter import MAX_INPUT, _check, to_inbound
from bots.app import Passerelle
from bots.demo import load_demo
from bots.intake import MAX_ID, MAX_KEY
from bots.settings import load_settings
from core.context import Services
from core.model import Address, Inbound
from storage.store import SqlUnitOfWork
from storage.tables import IdentityRow, OutboxRow, ProcessedEventRow
from tests.adapters.bad_input import check_inbound, garbage, huge_text, mutated
from tests.adapters.service import TODAY, running

VALID: list[dict[str, Any]] = [
    {"text": "Bonjour", "client_id": "c-1", "reply_to": "m3", "locale": "fr"},
    {"action": "accept:1", "client_id": 7},
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(VALID).flatmap(mutated))
def test_a_body_that_passes_the_check_translates_to_a_sound_inbound(
    payload: dict[str, Any]
) -> None:
    assume(_check("student", payload) is None)  # what the check refuses never gets further
    check_inbound(to_inbound("student", payload, "m1"), "playground")


@settings(max_examples=100, deadline=None)
@given(garbage)
def test_the_check_answers_any_json_with_none_or_a_sentence(body: object) -> None:
    problem = _check("student", body)
    assert problem is None or (isinstance(problem, str) and problem)


@pytest.fixture
async def service(sqlite_db: Engine, services: Services) -> AsyncIterator[Passerelle]:
    with SqlUnitOfWork(sqlite_db) as store:
        load_demo(store, TODAY)
    app = Passerelle(load_settings(web={"host": "127.0.0.1", "port": 0},
                                   delivery={"poll_seconds": 0.05}), sqlite_db, services)
    stop, task = await running(app)
    try:
        yield app
    finally:
        stop.set()
        await task


async def post(app: Passerelle, user: str, body: bytes,
               content_type: str = "application/json") -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.post(
        f"http://127.0.0.1:{app.port}/api/playground/{user}/messages", data=body,
        headers={"Content-Type": content_type},
    ) as response:
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, {"raw": text}


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.one_of(
    st.sampled_from(VALID).flatmap(mutated).map(lambda b: json.dumps(b).encode()),
    garbage.map(lambda g: json.dumps(g).encode()),
    st.binary(max_size=64),
))
async def test_any_body_gets_a_202_or_a_clear_400(service: Passerelle, body: bytes) -> None:
    status, answer = await post(service, "fuzzer", body)
    assert status in (202, 400, 413), (status, answer)
    if status == 400:
        assert isinstance(answer.get("error"), str) and answer["error"]


async def test_after_bad_bodies_the_next_message_is_handled(service: Passerelle) -> None:
    for body in (b"{oops", b"[]", b"12", b'{"text": null, "client_id": "a"}', b"\xff\xfe"):
        status, _ = await post(service, "student", body)
        assert status == 400
    status, _ = await post(service, "student", b"x" * 300_000)
    assert status == 413
    status, answer = await post(service, "student",
                                json.dumps({"text": "Toujours là?", "client_id": "ok-1"}).encode())
    assert status == 202 and answer["accepted"] is True


def pane(app: Passerelle, user: str) -> list[dict]:
    return app.playground.chats[user]  # type: ignore[union-attr]


async def test_a_10000_character_message_reaches_the_mentor_in_parts(
    service: Passerelle
) -> None:
    words = " ".join(f"mot{i}" for i in range(2_000))[:10_000]
    status, _ = await post(service, "student",
                           json.dumps({"text": words, "client_id": "long-1"}).encode())
    assert status == 202
    got: list[dict] = []
    for _ in range(100):
        got = [m for m in pane(service, "mentor") if m["from"] == "bot"]
        if len(got) >= 3:
            break
        await asyncio.sleep(0.05)
    assert len(got) >= 3 and all(len(m["text"]) <= service.playground.max_text  # type: ignore[union-attr]
                                 for m in got)
    assert " ".join(m["text"] for m in got).split() == ["Léa", ":", *words.split()]


@given(text=huge_text(max_size=100_000).filter(lambda t: len(t) > MAX_INPUT))
@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
async def test_a_text_over_the_input_limit_is_refused_with_the_limit(
    service: Passerelle, text: str
) -> None:
    body = json.dumps({"text": text, "client_id": "huge"}).encode()
    assume(len(body) <= 256 * 1024)  # above, the server's own limit comes first (a 413)
    status, answer = await post(service, "student", body)
    assert status == 400 and str(MAX_INPUT) in answer["error"]


# Shared by every platform: what the database could never store is refused, not retried -------

def test_the_intakes_limits_are_the_tables() -> None:
    assert ProcessedEventRow.__table__.c.event_key.type.length == MAX_KEY  # type: ignore[attr-defined]
    for column in (IdentityRow.__table__.c.platform_user_id, IdentityRow.__table__.c.chat_id,  # type: ignore[attr-defined]
                   OutboxRow.__table__.c.thread_id):  # type: ignore[attr-defined]
        assert column.type.length == MAX_ID


async def test_an_unstorable_event_is_refused_and_logged_and_a_surrogate_repaired(
    service: Passerelle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="passerelle.intake")
    too_long = Inbound("k" * (MAX_KEY + 1), Address("playground", "student"), "student", "hi")
    assert await service.feed(too_long) is False
    forged = Inbound("k1", Address("playground", "x" * 65), "x" * 65, "hi")
    assert await service.feed(forged) is False
    assert caplog.text.count("event=inbound_refused") == 2
    half = Inbound("k2", Address("playground", "student"), "student", "Allô \ud800")
    assert await service.feed(half) is True  # stored and relayed, with U+FFFD in its place
