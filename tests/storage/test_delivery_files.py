"""Files through the outbox (an export, a chart, a CSV), on SQLite and PostgreSQL: stored with
the row, given to exactly one send (the last part), uploaded once even across a crash, refused
over the platform's limit, and their bytes dropped once the row is settled."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, Row, select

from bots.delivery import plan_parts
from core.model import Address, Attachment, Button, Envelope, Outbound
from core.ports import PermanentFailure
from storage.engine import make_engine
from storage.outbox import OutboxQueue
from storage.tables import O
from tests.fakes import FakeChannel
from tests.harness import Harness
from tests.storage.delivery_support import drain, failing, worker_on

LEASE = 60
EVERY_BYTE = bytes(range(256)) * 40  # 10 KiB, NUL and high bytes included
FILE = Attachment("passerelle-Zoé-2026-09-01.json", "application/json", EVERY_BYTE)
TO = Address("playground", "kid")


class ProcessDied(BaseException):
    """The process is killed mid-send: nothing after it runs, nothing is recorded."""


@pytest.fixture
def second_engine(any_world: Harness) -> Iterator[Callable[[], Engine]]:
    engines: list[Engine] = []

    def make() -> Engine:
        engines.append(make_engine(any_world.engine.url.render_as_string(hide_password=False)))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


def enqueue(w: Harness, text: str, file: Attachment | None = FILE,
            buttons: tuple[Button, ...] = ()) -> int:
    with w.store() as store:
        store.enqueue([Envelope(Outbound(TO, text, buttons, attachment=file))], w.clock())
    with w.engine.connect() as conn:
        return int(conn.execute(select(O.c.id).order_by(O.c.id.desc()).limit(1)).scalar_one())


def row(w: Harness, row_id: int) -> Row:
    with w.engine.connect() as conn:
        return conn.execute(select(O).where(O.c.id == row_id)).one()


def channel(w: Harness, **limits: int) -> FakeChannel:
    found = w.channel("playground")
    for name, value in limits.items():
        setattr(found, name, value)
    return found


# Storage -----------------------------------------------------------------------------------------

def test_a_file_round_trips_through_enqueue_and_claim_byte_for_byte(any_world: Harness) -> None:
    w = any_world
    enqueue(w, "Voici tes données")
    enqueue(w, "sans fichier", file=None)
    items = OutboxQueue(w.engine).claim("playground", w.clock(), 10, LEASE)
    assert [i.envelope.message.attachment for i in items] == [FILE]  # one head per chat
    assert items[0].envelope.message.attachment.data == EVERY_BYTE  # type: ignore[union-attr]
    w.clock.advance(LEASE + 1)
    drain(w.worker("playground"))
    items = OutboxQueue(w.engine).claim("playground", w.clock(), 10, LEASE)
    assert items == []


def test_delivered_file_bytes_are_dropped_its_name_and_type_kept(any_world: Harness) -> None:
    w = any_world
    platform = channel(w)
    row_id = enqueue(w, "Voici tes données")
    assert row(w, row_id).file_data == EVERY_BYTE
    drain(w.worker("playground"))
    [sent] = platform.chat("kid")
    assert sent.message.text == "Voici tes données" and sent.message.attachment == FILE
    settled = row(w, row_id)
    assert (settled.status, settled.file_data, settled.file_name, settled.file_type) == (
        "delivered", None, FILE.name, FILE.mime)
    assert drain(w.worker("playground")) == 0 and len(platform.chat("kid")) == 1


def test_a_file_refused_for_good_has_its_bytes_dropped_too(any_world: Harness) -> None:
    w = any_world
    platform = channel(w)
    failing(platform, lambda _n, _m: PermanentFailure("bad request"))
    row_id = enqueue(w, "Voici")
    drain(w.worker("playground"))
    settled = row(w, row_id)
    assert (settled.status, settled.file_data, settled.file_name) == ("failed", None, FILE.name)


def test_a_file_over_the_platforms_limit_is_refused_before_anything_is_sent(
        any_world: Harness, caplog: pytest.LogCaptureFixture) -> None:
    w = any_world
    platform = channel(w, max_file_bytes=len(EVERY_BYTE) - 1, max_caption=5)
    row_id = enqueue(w, "un texte trop long pour la légende, envoyé d'abord sinon")
    with caplog.at_level(logging.WARNING, logger="passerelle.delivery"):
        drain(w.worker("playground"))
    assert platform.chat("kid") == []  # not even the text: the message is one whole
    settled = row(w, row_id)
    assert (settled.status, settled.file_data) == ("failed", None)
    assert "file too large" in settled.last_error
    [line] = [r.getMessage() for r in caplog.records if "event=file_too_large" in r.getMessage()]
    assert f"bytes={len(EVERY_BYTE)} limit={len(EVERY_BYTE) - 1}" in line
    assert FILE.name not in line  # a file's name can name its person: not logged


def test_a_text_too_long_for_a_caption_goes_first_then_the_file_alone(any_world: Harness) -> None:
    w = any_world
    platform = channel(w, max_caption=20)
    text = "Ce texte dépasse la limite d'une légende"
    buttons = (Button("OK", "ok"),)
    row_id = enqueue(w, text, buttons=buttons)
    drain(w.worker("playground"))
    first, second = platform.chat("kid")
    assert (first.message.text, first.message.buttons, first.message.attachment) == (
        text, buttons, None)
    assert (second.message.text, second.message.buttons, second.message.attachment) == (
        "", (), FILE)
    settled = row(w, row_id)
    assert settled.parts_sent == 2
    assert settled.platform_message_ids == f"{first.id},{second.id}"


def test_a_crash_after_the_text_resumes_with_the_file_and_uploads_it_once(
        any_world: Harness, second_engine: Callable[[], Engine]) -> None:
    w = any_world
    platform = channel(w, max_text=30, max_caption=30)
    text = " ".join(f"mot{i:02d}" for i in range(12))  # 71 characters: three parts, then the file
    row_id = enqueue(w, text)
    failing(platform, lambda _n, m: ProcessDied() if m.attachment is not None else None)
    with pytest.raises(ProcessDied):
        drain(w.worker("playground", lease_seconds=LEASE))
    assert [s.message.attachment for s in platform.chat("kid")] == [None, None, None]
    assert (row(w, row_id).status, row(w, row_id).parts_sent) == ("pending", 3)

    failing(platform, lambda _n, _m: None)
    fresh = worker_on(w, platform, engine=second_engine(), lease_seconds=LEASE)
    w.clock.advance(LEASE + 1)
    assert drain(fresh) == 1
    sent = platform.chat("kid")
    assert [s.message.attachment for s in sent] == [None, None, None, FILE]  # no text twice
    assert " ".join(s.message.text for s in sent).split() == text.split()
    assert drain(fresh) == 0 and len(platform.chat("kid")) == 4  # and no file twice
    settled = row(w, row_id)
    assert (settled.status, settled.file_data, settled.parts_sent) == ("delivered", None, 4)


# The plan of parts -------------------------------------------------------------------------------

def test_buttons_go_with_the_text_where_an_upload_cannot_carry_them() -> None:
    message = Outbound(TO, "Court", (Button("OK", "ok"),), attachment=FILE)
    assert [(p.text, bool(p.buttons), p.file) for p in plan_parts(message, 100)] == [
        ("Court", True, True)]
    assert [(p.text, bool(p.buttons), p.file)
            for p in plan_parts(message, 100, file_buttons=False)] == [
        ("Court", True, False), ("", False, True)]


@given(text=st.text(max_size=300), max_text=st.integers(10, 120),
       max_caption=st.integers(1, 120), with_file=st.booleans())
def test_the_file_goes_once_with_the_last_part_and_no_word_is_lost(
        text: str, max_text: int, max_caption: int, with_file: bool) -> None:
    message = Outbound(TO, text, (Button("OK", "ok"),), attachment=FILE if with_file else None)
    parts = plan_parts(message, max_text, max_caption=max_caption)
    assert [p.file for p in parts] == [False] * (len(parts) - 1) + [with_file]
    assert sum(1 for p in parts if p.buttons) == 1
    assert all(len(p.text) <= max_text for p in parts)
    # (a word longer than a part is the only thing cut, so compare without the spaces)
    assert "".join("".join(p.text for p in parts).split()) == "".join(text.split())
    assert parts == plan_parts(message, max_text, max_caption=max_caption)  # same on every try
    if with_file and len(parts) == 1:
        assert len(text) <= max_caption
