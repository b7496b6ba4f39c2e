"""What happens when a message could not be delivered, and when to try again.

Pure decisions: the workers in bots/ call these with the time and a random draw passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.context import Context
from core.model import OP_DELETE, Envelope

BASE_DELAY = 1.0
MAX_DELAY = 15 * 60.0
MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An outbox row as the delivery workers see it."""

    id: int
    envelope: Envelope
    attempts: int = 0
    parts_sent: int = 0
    platform_message_ids: tuple[str, ...] = ()
    # Every part of the delivered copy a removal acts on (a long message went out in several).
    copy_parts: tuple[str, ...] = ()


def next_attempt(
    now: datetime, attempts: int, retry_after: float | None, jitter: float
) -> datetime | None:
    """When to try again after `attempts` failures (None: give up).

    Exponential backoff with ±20 % jitter (so that a crowd of retries does not hit the platform
    in step). A platform that says when to come back (429 retry_after) is alive and only pacing
    us: it gets exactly what it asked (plus a little jitter), however often, and is never given
    up on.
    """
    if retry_after is not None:
        return now + timedelta(seconds=retry_after * (1.0 + 0.1 * min(max(jitter, 0.0), 1.0)))
    if attempts >= MAX_ATTEMPTS:
        return None
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1))
    delay *= 0.8 + 0.4 * min(max(jitter, 0.0), 1.0)
    return now + timedelta(seconds=delay)


def delivery_failed(ctx: Context, failed: Sequence[OutboxItem]) -> None:
    """Messages finally failed: each sender learns theirs did not arrive."""
    for item in failed:
        _tell_failed(ctx, item)


def _tell_failed(ctx: Context, item: OutboxItem) -> None:
    env = item.envelope
    if env.sender_id is None:
        return
    sender = ctx.store.participant(env.sender_id)
    recipient = ctx.store.participant(env.recipient_id) if env.recipient_id else None
    if sender is None:
        return
    name = recipient.pseudonym if recipient and recipient.pseudonym else "?"
    ctx.tell(sender, "unsend.failed" if env.op == OP_DELETE else "delivery.failed", name=name)


def recipient_unreachable(ctx: Context, failed: Sequence[OutboxItem]) -> None:
    """The recipient blocked the bot: stop writing there, and tell each sender of what failed.

    `failed` is every message that was waiting for that chat; they fail together, so each
    person who wrote one hears it once, and later messages are refused at once by the relay
    (the recipient has no reachable address until they write again).
    """
    if not failed:
        return
    ctx.store.mark_unreachable(failed[0].envelope.message.to)
    told: set[int] = set()
    for item in failed:
        env = item.envelope
        if env.sender_id is None or env.sender_id in told:
            continue
        told.add(env.sender_id)
        sender = ctx.store.participant(env.sender_id)
        recipient = ctx.store.participant(env.recipient_id) if env.recipient_id else None
        if sender is not None:
            name = recipient.pseudonym if recipient and recipient.pseudonym else "?"
            ctx.tell(sender, "delivery.unreachable", name=name)
