"""The delivery workers against a misbehaving platform, on SQLite and PostgreSQL.

Real bus, real outbox, real DeliveryWorker; only the platform is fake, and the clock is moved by
the test instead of waiting.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import Row

from core.delivery import MAX_ATTEMPTS, MAX_DELAY
from core.ports import PermanentFailure, RetryLater, Unreachable
from tests.fakes import FakeChannel
from tests.harness import Harness
from tests.storage.delivery_support import (
    MENTOR_PLATFORM,
    STUDENT_PLATFORM,
    conversation,
    drain,
    drain_one,
    fail_first,
    failing,
    identity_reachable,
    last_id,
    outbox,
    settle_setup,
    worker_on,
)


def relayed_row(w: Harness, after: int) -> Row:
    """The one outbox row written to the mentor after `after`."""
    rows = [r for r in outbox(w, platform=MENTOR_PLATFORM, chat="pro") if r.id > after]
    assert len(rows) == 1, rows
    return rows[0]


def test_429_waits_for_retry_after_then_delivers_once(any_world: Harness) -> None:
    w = any_world
    conversation(w)
    slack = w.channel(MENTOR_PLATFORM)
    fail_first(slack, RetryLater("429", retry_after=7))
    mark = last_id(w)
    w.say("kid", "Bonjour, tu as une minute?", platform=STUDENT_PLATFORM)
    worker = w.worker(MENTOR_PLATFORM, rng=random.Random(1))

    assert drain(worker) == 1
    row = relayed_row(w, mark)
    # a wait the platform asked for is not counted as a failed attempt (429s never give up)
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, "429")
    assert w.clock() + timedelta(seconds=7) <= row.next_attempt_at
    assert row.next_attempt_at <= w.clock() + timedelta(seconds=7.7)
    assert w.texts("pro", MENTOR_PLATFORM) == []

    w.clock.advance(6)
    calls = slack.calls
    assert drain(worker) == 0
    assert slack.calls == calls, "retried before retry_after"

    w.clock.advance(1.8)
    assert drain(worker) == 1
    assert drain(worker) == 0
    received = [s.message.text for s in slack.chat("pro")][-1:]
    assert received == ["Zoé :\nBonjour, tu as une minute?"]
    assert [s.message.text for s in slack.chat("pro")].count(received[0]) == 1
    row = relayed_row(w, mark)
    assert (row.status, row.attempts) == ("delivered", 1)


def test_a_long_run_of_429s_never_drops_the_message(any_world: Harness) -> None:
    w = any_world
    conversation(w)
    slack = w.channel(MENTOR_PLATFORM)
    base = slack.calls
    slack.script = lambda n, _m: RetryLater("429", retry_after=2) if n - base <= 25 else None
    mark = last_id(w)
    w.say("kid", "Message patient", platform=STUDENT_PLATFORM)
    worker = w.worker(MENTOR_PLATFORM, rng=random.Random(3))
    for _ in range(40):
        drain(worker)
        w.clock.advance(3)
    row = relayed_row(w, mark)
    assert row.status == "delivered"
    assert [s.message.text for s in slack.chat("pro")].count("Zoé :\nMessage patient") == 1
    assert w.texts("kid", STUDENT_PLATFORM) == []  # nobody was told it failed
    assert row.platform_message_id == slack.chat("pro")[-1].id


@pytest.mark.parametrize(
    "errors",
    [
        [RetryLater("503"), RetryLater("502"), RetryLater("500"), RetryLater("503")],
        [ConnectionError("reset"), ConnectionError("reset"), ConnectionError("refused")],
        [RetryLater("503"), ConnectionError("reset"), OSError("unreachable"), RetryLater("500")],
    ],
    ids=["5xx", "connection", "mixed"],
)
def test_transient_failures_back_off_further_each_time_then_deliver_once(
    any_world: Harness, errors: list[BaseException]
) -> None:
    w = any_world
    conversation(w)
    slack = w.channel(MENTOR_PLATFORM)
    base = slack.calls
    fail_first(slack, *errors)
    mark = last_id(w)
    w.say("kid", "Comment as-tu choisi ton métier?", platform=STUDENT_PLATFORM)
    worker = w.worker(MENTOR_PLATFORM, rng=random.Random(3))

    gaps: list[float] = []
    for attempt in range(1, len(errors) + 1):
        assert drain(worker) == 1
        row = relayed_row(w, mark)
        assert (row.status, row.attempts) == ("pending", attempt)
        gap = (row.next_attempt_at - w.clock()).total_seconds()
        gaps.append(gap)
        # not a moment early ...
        w.clock.advance(gap - 0.01)
        calls = slack.calls
        assert drain(worker) == 0
        assert slack.calls == calls
        w.clock.advance(0.01)

    assert all(later > earlier for earlier, later in zip(gaps, gaps[1:], strict=False)), gaps
    assert drain(worker) == 1
    row = relayed_row(w, mark)
    assert (row.status, row.attempts) == ("delivered", len(errors) + 1)
    texts = [s.message.text for s in slack.chat("pro")]
    assert texts.count("Zoé :\nComment as-tu choisi ton métier?") == 1
    assert slack.calls - base == len(errors) + 1


def test_a_send_slower_than_send_timeout_is_retried_and_never_lost(any_world: Harness) -> None:
    w = any_world
    conversation(w)
    slow = FakeChannel(platform=MENTOR_PLATFORM, delays=(5.0, 5.0))
    worker = worker_on(w, slow, send_timeout=0.05)
    mark = last_id(w)
    w.say("kid", "Tu es là?", platform=STUDENT_PLATFORM)

    assert drain(worker) == 1
    row = relayed_row(w, mark)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "TimeoutError")
    assert slow.sent == []

    for attempt in (2, 3):
        w.clock.advance((row.next_attempt_at - w.clock()).total_seconds())
        assert drain(worker) == 1
        row = relayed_row(w, mark)
        assert row.attempts == attempt

    assert row.status == "delivered"
    assert slow.calls == 3
    assert [s.message.text for s in slow.sent] == ["Zoé :\nTu es là?"]


def test_permanent_failure_marks_the_row_failed_and_tells_the_sender(any_world: Harness) -> None:
    w = any_world
    conversation(w)
    w.press("kid", "lang:en", platform=STUDENT_PLATFORM)  # the sender reads English now
    assert w.texts("kid", STUDENT_PLATFORM) == [w.services.catalog.t("en", "language.set")]
    slack = w.channel(MENTOR_PLATFORM)
    base, received = slack.calls, len(slack.sent)
    failing(slack, lambda _n, _m: PermanentFailure("400 chat not found"))
    mark = last_id(w)
    w.say("kid", "Salut Marc", platform=STUDENT_PLATFORM)

    assert drain(w.worker(MENTOR_PLATFORM)) == 1
    row = relayed_row(w, mark)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("permanent: 400")
    assert (slack.calls - base, len(slack.sent) - received) == (1, 0)

    told = w.texts("kid", STUDENT_PLATFORM)
    assert told == [w.services.catalog.t("en", "delivery.failed", name="Marc")]
    assert told != [w.services.catalog.t("fr", "delivery.failed", name="Marc")]
    # said once: draining again neither re-sends nor re-tells
    w.clock.advance(3600)
    assert drain(w.worker(MENTOR_PLATFORM)) == 0
    assert w.texts("kid", STUDENT_PLATFORM) == []


def test_gives_up_after_max_attempts_then_tells_the_sender_once(any_world: Harness) -> None:
    w = any_world
    conversation(w)
    slack = w.channel(MENTOR_PLATFORM)
    base = slack.calls
    failing(slack, lambda _n, _m: RetryLater("503 service unavailable"))
    mark = last_id(w)
    w.say("kid", "Message qui ne passera pas", platform=STUDENT_PLATFORM)
    worker = w.worker(MENTOR_PLATFORM, rng=random.Random(5))

    for _ in range(MAX_ATTEMPTS + 5):
        drain(worker)
        w.clock.advance(MAX_DELAY * 1.25)

    assert slack.calls - base == MAX_ATTEMPTS
    row = relayed_row(w, mark)
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert row.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    assert w.texts("kid", STUDENT_PLATFORM) == [
        w.services.catalog.t("fr", "delivery.failed", name="Marc")
    ]
    assert w.texts("kid", STUDENT_PLATFORM) == []


def test_blocked_user_is_marked_unreachable_other_side_told_once_worker_not_stalled(
    any_world: Harness,
) -> None:
    w = any_world
    conversation(w)
    conversation(w, "kid2", "pro2", "Léa", "Anne")
    slack = w.channel(MENTOR_PLATFORM)
    blocked = {"pro"}
    failing(
        slack,
        lambda _n, m: Unreachable("403 bot blocked") if m.to.chat_id in blocked else None,
    )
    mark = last_id(w)
    w.say("kid", "Premier message", platform=STUDENT_PLATFORM)
    w.say("kid", "Deuxième message", platform=STUDENT_PLATFORM)
    w.say("kid2", "Bonjour Anne", platform=STUDENT_PLATFORM)
    worker = w.worker(MENTOR_PLATFORM)

    # one batch holds the head of each chat: the blocked one does not hold up the other
    assert drain_one(worker) == 2
    assert [s.message.text for s in slack.chat("pro2")][-1] == "Léa :\nBonjour Anne"
    assert identity_reachable(w, MENTOR_PLATFORM, "pro") is False
    assert drain(worker) == 0  # the second message to the blocked user failed with the first
    rows = [r for r in outbox(w, platform=MENTOR_PLATFORM, chat="pro") if r.id > mark]
    assert [r.status for r in rows] == ["failed", "failed"]
    assert all(r.last_error.startswith("unreachable: 403") for r in rows)

    unreachable = w.services.catalog.t("fr", "delivery.unreachable", name="Marc")
    assert w.texts("kid", STUDENT_PLATFORM) == [unreachable]
    assert w.texts("kid2", STUDENT_PLATFORM) == []

    # while blocked nothing more is queued for them; the sender hears why
    before = last_id(w)
    w.say("kid", "Tu m'entends?", platform=STUDENT_PLATFORM)
    assert [r for r in outbox(w, platform=MENTOR_PLATFORM) if r.id > before] == []
    assert len(w.texts("kid", STUDENT_PLATFORM)) == 1

    # the mentor unblocks the bot and writes: reachable again, both ways
    blocked.clear()
    w.say("pro", "Désolé, j'étais absent", platform=MENTOR_PLATFORM)
    assert identity_reachable(w, MENTOR_PLATFORM, "pro") is True
    assert w.texts("kid", STUDENT_PLATFORM) == ["Marc (infirmière) :\nDésolé, j'étais absent"]
    w.say("kid", "Content de te revoir", platform=STUDENT_PLATFORM)
    assert w.texts("pro", MENTOR_PLATFORM)[-1] == "Zoé :\nContent de te revoir"
    assert w.texts("kid", STUDENT_PLATFORM) == []


def test_every_sender_whose_message_hit_a_blocked_user_is_told(any_world: Harness) -> None:
    """A mentor with two students blocks the bot: both students' messages fail, both must hear."""
    w = any_world
    conversation(w)
    w.enrol_student("kid2", "Léa", platform=STUDENT_PLATFORM)
    w.match("Léa", "Marc")
    settle_setup(w)
    failing(w.channel(MENTOR_PLATFORM), lambda _n, _m: Unreachable("403 bot blocked"))
    w.say("kid", "Bonjour Marc", platform=STUDENT_PLATFORM)
    w.say("kid2", "Bonjour Marc, c'est Léa", platform=STUDENT_PLATFORM)
    drain(w.worker(MENTOR_PLATFORM))

    unreachable = w.services.catalog.t("fr", "delivery.unreachable", name="Marc")
    assert w.texts("kid", STUDENT_PLATFORM) == [unreachable]
    assert w.texts("kid2", STUDENT_PLATFORM) == [unreachable]


def test_a_429_holds_the_chat_in_the_pacer_too(any_world: Harness) -> None:
    """The row waits for its retry in the database; the worker's pacer also holds the chat, so
    another part or row for it is not sent into the same refusal meanwhile."""
    from bots.ratelimit import RateLimiter

    w = any_world
    conversation(w)
    slack = w.channel(MENTOR_PLATFORM)
    fail_first(slack, RetryLater("429", retry_after=7))
    w.say("kid", "Bonjour, tu as une minute?", platform=STUDENT_PLATFORM)
    worker = w.worker(MENTOR_PLATFORM, rng=random.Random(1))
    now = [50.0]
    worker.limiter = RateLimiter(per_chat_interval=0.5, clock=lambda: now[0])
    assert drain(worker) == 1
    assert worker.limiter._next_chat["pro"] == pytest.approx(57.0)
