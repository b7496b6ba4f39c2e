"""Discord and the core's types, both ways, as small pure functions.

In: what someone wrote, edited, deleted, pressed or typed as a slash command (discord.py's models,
parsed from the gateway's and interactions' payloads) → `core.model.Inbound`, or None for what
the service does not handle. Out: the core's buttons, replies and chosen labels → what Discord
shows. And discord.py's errors → what the delivery workers know how to handle (`core.ports`).
Nothing here holds state or a connection; `DiscordChannel` (adapters/discord_adapter.py) does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import aiohttp
import discord

from core.model import Address, Button, Inbound, Outbound
from core.ports import PermanentFailure, RetryLater, Unreachable

log = logging.getLogger("passerelle.discord")

MAX_TEXT = 2000
MAX_BUTTON_LABEL = 80
MAX_CUSTOM_ID = 100
MAX_BUTTONS = 25  # five rows of five
ACTION_PREFIX = "passerelle:"
# Discord error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
UNKNOWN_MESSAGE = 10008
CANNOT_EDIT_OTHERS = 50005
ALREADY_ANSWERED = 40060
UNKNOWN_CHANNEL = 10003
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
THREAD_ARCHIVED = 50083
WRONG_CHANNEL_TYPE = 50024  # "Cannot execute action on this channel type"
_MEDIA = (("image/", "photo"), ("video/", "video"), ("audio/", "audio"))
_STYLES = {"accept": discord.ButtonStyle.success, "decline": discord.ButtonStyle.danger,
           "end": discord.ButtonStyle.danger}
_T = TypeVar("_T")


# Translation, both ways -------------------------------------------------------------------------

def message_to_inbound(message: discord.Message, bot_id: int | None = None, *,
                       edited: bool = False, dm_channel_id: int | None = None
                       ) -> Inbound | None:
    """A message someone wrote → the core's Inbound; None for what the service does not handle.

    Without `dm_channel_id`, only DMs with the bot count: in a server channel a mentor's words
    would be read by everyone in it, and a channel must never become anyone's address.

    With `dm_channel_id`, the adapter has found the message in one of the match threads of the
    mentors' channel (see `in_mentor_thread`) and `dm_channel_id` is its author's DM with the
    bot: the DM stays the address, the thread is where the answer goes, and the Inbound replies
    to the thread, whatever message it quotes, since all that is said in a match's thread is
    for that match (the outbox recorded the thread's id as the match's root). A command is the
    exception: it keeps the message it quotes (`/unsend` names what to take back that way).

    Bots (ours included: Discord sends our own messages back) and system messages (pins, calls,
    someone added to a thread) are never listened to.
    """
    author = getattr(message, "author", None)  # unset when the payload had none
    if author is None:
        return None
    if dm_channel_id is None and (message.guild is not None or not is_dm(message.channel)):
        return None
    if dm_channel_id is not None and is_dm(message.channel):
        return None  # a DM is its own address: never filed under a thread
    if author.bot or author.system or author.id == bot_id:
        return None
    if message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return None
    reference = message.reference
    forwarded = reference is not None and reference.type is discord.MessageReferenceType.forward
    text = message.content if isinstance(message.content, str) else ""
    media = None if text else media_kind(message, forwarded=forwarded)
    if not text and media is None:
        return None
    quoted = (str(reference.message_id)
              if reference is not None and not forwarded and reference.message_id else None)
    if dm_channel_id is not None:
        thread = str(message.channel.id)
        source = Address("discord", str(dm_channel_id), thread_id=thread)
        reply_to = quoted if text.startswith("/") else thread
    else:
        source = Address("discord", str(message.channel.id))
        reply_to = quoted
    key = f"discord:message:{message.id}"
    if edited:
        if message.edited_at is None:  # an update that is no edit (a link preview came)
            return None
        key += f":edited:{message.edited_at.isoformat()}"  # each edit once, however replayed
    return Inbound(
        event_key=key,
        source=source,
        platform_user_id=str(author.id),
        text=text,
        message_id=str(message.id),
        reply_to=reply_to,
        edited=edited,
        media=media,
    )


def is_dm(channel: object) -> bool:
    """A DM with the bot (a guild channel whose guild is not cached has no `guild` either)."""
    return getattr(channel, "type", None) is discord.ChannelType.private


def media_kind(message: discord.Message, *, forwarded: bool = False) -> str | None:
    """What came instead of text, in the words the other adapters use."""
    if message.stickers:
        return "sticker"
    if message.attachments:
        content_type = message.attachments[0].content_type or ""
        for prefix, kind in _MEDIA:
            if content_type.startswith(prefix):
                return kind
        return "document"
    if forwarded or message.embeds or getattr(message, "poll", None):
        return "other"
    return None


def deletion_to_inbound(channel_id: int, message_id: int, author_id: int, *,
                        thread_id: int | None = None) -> Inbound:
    """Someone deleted their message in their DM with the bot (`channel_id`), or in a match's
    thread (`thread_id`; `channel_id` is then their DM): the other side's copy goes."""
    return Inbound(
        event_key=f"discord:deleted:{message_id}",  # a message is deleted once
        source=Address("discord", str(channel_id),
                       thread_id=str(thread_id) if thread_id is not None else None),
        platform_user_id=str(author_id),
        message_id=str(message_id),
        deleted=True,
    )


def component_to_inbound(interaction: discord.Interaction, *, dm_channel_id: int | None = None
                         ) -> Inbound | None:
    """A press on one of our buttons (custom_id `passerelle:<action>`) → Inbound whose action is
    the core's; None for anything else (another app's component, a server channel).

    In a DM; or in a match's thread of the mentors' channel, when the adapter found it was one
    (see `in_mentor_thread`) and gives `dm_channel_id`, the presser's DM with the bot: their
    address, and the thread is where the answer goes."""
    if interaction.type is not discord.InteractionType.component:
        return None
    custom_id = _custom_id(interaction)
    if not custom_id.startswith(ACTION_PREFIX):
        return None
    action = custom_id[len(ACTION_PREFIX):]
    if (not action or interaction.message is None or interaction.channel_id is None
            or not isinstance(getattr(interaction.user, "id", None), int)):
        return None
    if interaction.guild_id is None and dm_channel_id is None:
        source = Address("discord", str(interaction.channel_id))
    elif interaction.guild_id is not None and dm_channel_id is not None:
        source = Address("discord", str(dm_channel_id), thread_id=str(interaction.channel_id))
    else:
        return None
    return Inbound(
        event_key=f"discord:interaction:{interaction.id}",
        source=source,
        platform_user_id=str(interaction.user.id),
        message_id=str(interaction.message.id),
        action=action,
        locale_hint=str(interaction.locale.value) if interaction.locale else None,
    )


def _custom_id(interaction: discord.Interaction) -> str:
    """The pressed component's custom_id; empty when the payload has none (or a broken one)."""
    data = interaction.data if isinstance(interaction.data, dict) else {}
    custom_id = data.get("custom_id")
    return custom_id if isinstance(custom_id, str) else ""


def command_to_inbound(interaction: discord.Interaction, name: str, args: str,
                       dm_channel_id: int) -> Inbound:
    """`/capacity 3` as a slash command → the same text typed, from the user's DM with the bot
    (where the answer goes, whatever channel it was typed in)."""
    return Inbound(
        event_key=f"discord:interaction:{interaction.id}",
        source=Address("discord", str(dm_channel_id)),
        platform_user_id=str(interaction.user.id),
        text=f"/{name} {args}".strip(),
        locale_hint=str(interaction.locale.value) if interaction.locale else None,
    )


def custom_id_for(action: str) -> str:
    return (ACTION_PREFIX + action)[:MAX_CUSTOM_ID]


def view_for(buttons: Sequence[Button]) -> discord.ui.View | None:
    """The core's buttons as a message component row set. The View is only a builder: it is
    stopped before sending, so discord.py never tracks it; presses arrive in on_interaction."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons[:MAX_BUTTONS]:
        verb = button.action.partition(":")[0]
        view.add_item(discord.ui.Button(
            label=button.label[:MAX_BUTTON_LABEL], custom_id=custom_id_for(button.action),
            style=_STYLES.get(verb, discord.ButtonStyle.secondary)))
    view.stop()
    return view


def reference_for(message: Outbound, channel_id: int) -> discord.MessageReference | None:
    """A reply to `message.reply_to`, sent anyway if that message is gone."""
    if not message.reply_to or not message.reply_to.isdigit():
        return None
    return discord.MessageReference(message_id=int(message.reply_to), channel_id=channel_id,
                                    fail_if_not_exists=False)


def with_choice(text: str, label: str) -> str:
    """The request's text with what was chosen under it, within Discord's 2,000 characters."""
    tail = f"\n\n✓ {label}"
    if len(text) + len(tail) > MAX_TEXT:
        text = text[:MAX_TEXT - len(tail) - 1] + "…"
    return text + tail


def _label_of(message: discord.Message, custom_id: str) -> str | None:
    for row in message.components:
        for item in getattr(row, "children", ()):
            if getattr(item, "custom_id", None) == custom_id:
                return getattr(item, "label", None)
    return None


# Errors, in the workers' terms ------------------------------------------------------------------

def translate_error(error: BaseException) -> BaseException:
    """discord.py's errors → what the delivery workers know how to handle."""
    if isinstance(error, discord.RateLimited):  # longer than max_ratelimit_timeout: come back
        return RetryLater("discord 429", error.retry_after)
    if isinstance(error, discord.HTTPException):
        status, code = error.status, error.code
        if status == 429:  # Cloudflare's answer (no Via header): discord.py does not wait
            return RetryLater("discord 429 (cloudflare)", _retry_after(error))
        if isinstance(error, discord.DiscordServerError) or status >= 500:
            return RetryLater(f"discord {status}")
        if status == 401:
            log.error("event=discord_token_refused")
            return RetryLater("discord token refused")
        if isinstance(error, discord.Forbidden):  # 50007: DMs closed, or the bot blocked
            if code == CANNOT_EDIT_OTHERS:
                return PermanentFailure(f"discord {status} {code}")
            return Unreachable(f"discord {code}")
        if isinstance(error, discord.NotFound):  # the channel or the user is gone
            if code == UNKNOWN_MESSAGE:
                return PermanentFailure(f"discord {status} {code}")
            return Unreachable(f"discord {code}")
        return PermanentFailure(f"discord {status} {code}")
    if isinstance(error, TimeoutError):
        return error
    if isinstance(error, aiohttp.ClientError | OSError):
        return RetryLater(f"discord network: {type(error).__name__}")
    return error


def _retry_after(error: discord.HTTPException) -> float | None:
    value = getattr(error.response, "headers", {}).get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def _rest(call: Awaitable[_T]) -> _T:
    """One REST call, its failure said in the workers' terms (an unknown one left as it is:
    the workers retry what they do not recognise)."""
    try:
        return await call
    except Exception as error:
        translated = translate_error(error)
        if translated is error:
            raise
        raise translated from error
