"""Nothing lost, nothing sent twice, order kept per chat, long messages split and resumed."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest
from sqlalchemy import Row, select

from bots.delivery import DeliveryWorker
from core.model import Address, Button, Envelope, Outbound
from core.ports import RetryLater
from storage.tables import R
from tests.harness import Harness
from tests.storage.delivery_support import (
    MENTOR_PLATFORM,
    STUDENT_PLATFORM,
    conversation,
    drain,
    failing,
    last_id,
    outbox,
)


def test_a_failing_first_message_holds_back_its_chat_while_other_chats_proceed(
    any_world: Harness,
) -> None:
    w = any_world
    conversation(w)
    conversation(w, "kid2", "pro2", "Léa", "Anne")
    slack = w.channel(MENTOR_PLATFORM)
    refused: list[str] = []

    def first_one_refused(_n: int, message: Outbound) -> BaseException | None:
        if message.text.endswith("un") and not refused:
            refused.append(message.text)
            return RetryLater("429", retry_after=60)
        return None

    failing(slack, first_one_refused)
    for text in ("un", "deux", "trois"):
        w.say("kid", text, platform=STUDENT_PLATFORM)
    for text in ("a", "b"):
        w.say("kid2", text, platform=STUDENT_PLATFORM)
    worker = w.worker(MENTOR_PLATFORM)

    drain(worker)
    assert w.texts("pro2", MENTOR_PLATFORM) == ["Léa :\na", "Léa :\nb"]
    assert w.texts("pro", MENTOR_PLATFORM) == []
    w.clock.advance(59)
    drain(worker)
    assert w.texts("pro", MENTOR_PLATFORM) == []
    w.clock.advance(7)  # retry_after plus its jitter (at most a tenth more)
    drain(worker)
    assert w.texts("pro", MENTOR_PLATFORM) == ["Zoé :\nun", "Zoé :\ndeux", "Zoé :\ntrois"]
    assert refused == ["Zoé :\nun"]


def chaos(rng: random.Random) -> Callable[[int, Outbound], BaseException | None]:
    """About one send in three fails, in every way a platform or an adapter can fail."""

    def decide(_n: int, _message: Outbound) -> BaseException | None:
        r = rng.random()
        if r < 0.08:
            return RetryLater("429", retry_after=rng.choice([1, 5, 30]))
        if r < 0.16:
            return RetryLater("503")
        if r < 0.22:
            return ConnectionError("connection reset")
        if r < 0.26:
            return TimeoutError()
        if r < 0.30:
            return RuntimeError("adapter bug")
        return None

    return decide


async def _round(workers: list[DeliveryWorker]) -> int:
    return sum(await asyncio.gather(*(worker.drain_once() for worker in workers)))


def settle(w: Harness, workers: list[DeliveryWorker], after: int, rounds: int = 500) -> None:
    """Drain all workers together, moving the clock to when the next chat is due, until done."""
    for _ in range(rounds):
        if asyncio.run(_round(workers)):
            continue
        # the oldest pending row of each chat is the only one of it that can be due
        heads: dict[tuple[str, str], Row] = {}
        for r in outbox(w):
            if r.id > after and r.status == "pending":
                heads.setdefault((r.platform, r.chat_id), r)
        if not heads:
            return
        due = min(r.next_attempt_at for r in heads.values())
        w.clock.advance(max((due - w.clock()).total_seconds(), 0) + 0.01)
    raise AssertionError("the outbox did not settle")


@pytest.mark.parametrize("seed", [11, 2026])
def test_random_failures_lose_nothing_send_nothing_twice_and_keep_order(
    any_world: Harness, seed: int
) -> None:
    w = any_world
    people = [("kid1", "pro1", "Zoé", "Marc"), ("kid2", "pro2", "Léa", "Anne"),
              ("kid3", "pro3", "Tom", "Paul")]
    for pair in people:
        conversation(w, *pair)
    mark = last_id(w)
    rng = random.Random(seed)
    channels = {p: w.channel(p) for p in (STUDENT_PLATFORM, MENTOR_PLATFORM)}
    before = {p: len(c.sent) for p, c in channels.items()}
    calls_before = {p: c.calls for p, c in channels.items()}
    for i, channel in enumerate(channels.values()):  # one stream each: workers run concurrently
        failing(channel, chaos(random.Random(seed * 10 + i)))
    workers = [w.worker(p, rng=random.Random(seed + i)) for i, p in enumerate(channels)]

    said: dict[str, list[str]] = {}
    counter = 0
    for _ in range(48):
        student, mentor, _, _ = rng.choice(people)
        if rng.random() < 0.5:
            user, platform, to = student, STUDENT_PLATFORM, mentor
        else:
            user, platform, to = mentor, MENTOR_PLATFORM, student
        counter += 1
        body = f"message {counter} de {user}"
        w.say(user, body, platform=platform)
        said.setdefault(to, []).append(body)
        if rng.random() < 0.3:  # deliveries happen while people keep writing
            asyncio.run(_round(workers))
            w.clock.advance(rng.uniform(0, 3))
    settle(w, workers, mark)

    rows = [r for r in outbox(w) if r.id > mark]
    assert len(rows) == counter
    assert {r.status for r in rows} == {"delivered"}
    for platform, channel in channels.items():
        sent = channel.sent[before[platform]:]
        mine = [r for r in rows if r.platform == platform]
        assert channel.calls - calls_before[platform] > len(sent) + 3  # failures did happen
        # every row went out exactly once, and everything sent is a row
        assert len({s.id for s in sent}) == len(sent)
        assert sorted(r.platform_message_ids for r in mine) == sorted(s.id for s in sent)
        by_id = {s.id: s.message for s in sent}
        for r in mine:
            assert (by_id[r.platform_message_id].to.chat_id, by_id[r.platform_message_id].text) \
                == (r.chat_id, r.text)
        # order within each chat is the order it was written in
        for chat in {r.chat_id for r in mine}:
            got = [s.message.text for s in sent if s.message.to.chat_id == chat]
            assert got == [r.text for r in mine if r.chat_id == chat]
            assert [t.split("\n", 1)[1] for t in got] == said[chat]
    assert sum(len(v) for v in said.values()) == counter


def long_text(seed: int, size: int = 10_000) -> str:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzéèà"
    words: list[str] = []
    length = -1
    while length < size:
        word = "".join(rng.choice(letters) for _ in range(rng.randint(1, 14)))
        words.append(word)
        length += len(word) + 1
    text = " ".join(words)
    while len(text) > size:  # drop whole words, then pad the last one, to land on `size`
        text = text[: text.rfind(" ")]
    return text + "z" * (size - len(text))


def test_long_relayed_message_is_split_and_a_retry_sends_only_the_remaining_parts(
    any_world: Harness,
) -> None:
    w = any_world
    conversation(w)
    slack = w.channel(MENTOR_PLATFORM)
    slack.max_text = 2000
    w.say("pro", "Raconte-moi tout", platform=MENTOR_PLATFORM)
    question = w.last("kid", STUDENT_PLATFORM)
    text = long_text(1)
    assert len(text) == 10_000

    base, first = slack.calls, len(slack.sent)
    failing(slack, lambda n, _m: ConnectionError("reset") if n == 3 else None)
    mark = last_id(w)
    w.say("kid", text, platform=STUDENT_PLATFORM, reply_to=question.id)
    worker = w.worker(MENTOR_PLATFORM)

    assert drain(worker) == 1
    [row] = [r for r in outbox(w, platform=MENTOR_PLATFORM) if r.id > mark]
    assert (row.status, row.parts_sent, row.attempts) == ("pending", 2, 1)
    assert row.platform_message_ids == ",".join(s.id for s in slack.sent[first:])

    w.clock.advance((row.next_attempt_at - w.clock()).total_seconds())
    assert drain(worker) == 1
    parts = slack.sent[first:]
    [row] = [r for r in outbox(w, platform=MENTOR_PLATFORM) if r.id > mark]
    body = row.text
    assert body == "Zoé :\n" + text

    assert len(parts) >= 6
    assert slack.calls - base == len(parts) + 1  # one refused call, no part sent twice
    assert len({p.message.text for p in parts}) == len(parts)
    assert all(0 < len(p.message.text) <= 2000 for p in parts)
    assert " ".join(p.message.text for p in parts).split() == body.split()  # no word cut
    with w.engine.connect() as conn:
        original = conn.execute(
            select(R.c.source_message_id).where(R.c.body == "Raconte-moi tout")
        ).scalar_one()
    assert [p.message.reply_to for p in parts] == [original] + [None] * (len(parts) - 1)
    assert all(p.message.buttons == () for p in parts)
    assert (row.status, row.parts_sent) == ("delivered", len(parts))
    assert row.platform_message_ids == ",".join(p.id for p in parts)
    assert row.platform_message_id == parts[-1].id
    with w.engine.connect() as conn:
        dest = conn.execute(select(R.c.dest_message_id).where(R.c.id == row.relayed_id)).scalar()
    assert dest == parts[-1].id


def test_long_message_buttons_on_last_part_reply_to_on_first_even_across_retries(
    any_world: Harness,
) -> None:
    w = any_world
    slack = w.channel(MENTOR_PLATFORM)
    slack.max_text = 2000
    buttons = (Button("Oui", "yes"), Button("Non", "no"))
    text = long_text(2)
    with w.store() as store:
        store.enqueue(
            [Envelope(Outbound(Address(MENTOR_PLATFORM, "pro"), text, buttons, "orig-9"))],
            w.clock(),
        )
    calls: list[Outbound] = []

    def refuse_some(n: int, message: Outbound) -> BaseException | None:
        calls.append(message)
        return RetryLater("429", retry_after=2) if n in (3, 6, 7) else None

    failing(slack, refuse_some)
    worker = w.worker(MENTOR_PLATFORM)
    for _ in range(10):
        drain(worker)
        w.clock.advance(30)

    parts = [s.message for s in slack.sent]
    n = len(parts)
    assert n >= 6 and len(calls) == n + 3
    assert " ".join(p.text for p in parts).split() == text.split()
    assert [p.buttons for p in parts] == [()] * (n - 1) + [buttons]
    assert [p.reply_to for p in parts] == ["orig-9"] + [None] * (n - 1)
    # the refused calls were the very parts that went out next
    for number in (3, 6, 7):
        assert calls[number - 1] in parts
    [row] = outbox(w)
    # the three 429s were waits the platform asked for, not failed attempts
    assert (row.status, row.parts_sent, row.attempts) == ("delivered", n, 1)


def test_a_reply_to_an_earlier_part_of_a_split_message_is_routed(any_world: Harness) -> None:
    """Replying to part 1 of a long message routes to its conversation and threads the relay."""
    w = any_world
    w.enrol_student("kid", "Zoé")
    w.enrol_mentor("pro", "Marc")
    w.enrol_mentor("pro2", "Anne")
    w.match("Zoé", "Marc")
    w.match("Zoé", "Anne")
    w.channel().max_text = 500
    w.texts("kid"), w.texts("pro"), w.texts("pro2")
    w.say("pro", " ".join(["mot"] * 400))
    parts = w.inbox("kid")
    assert len(parts) > 2
    w.say("kid", "Merci pour tout ça!", reply_to=parts[0].id)
    got = w.inbox("pro")
    assert [s.message.text for s in got] == ["Zoé :\nMerci pour tout ça!"]
    assert got[0].message.reply_to is not None
    assert w.inbox("pro2") == []
