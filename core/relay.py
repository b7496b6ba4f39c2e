"""Relaying a message between a student and a mentor, pseudonyms only.

The sender's platform identity never reaches an Outbound: the only thing about the sender that
crosses is the pseudonym (and a mentor's profession), looked up from the participant record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from core import groups, moderation
from core.context import Context
from core.model import (
    OP_DELETE,
    OP_EDIT,
    Address,
    Button,
    DeliveredRef,
    Envelope,
    Group,
    Inbound,
    Match,
    MatchStatus,
    Outbound,
    Participant,
    Role,
)
from core.names import display_name
from core.nudges import ask_end_survey
from core.safety import redact

MAX_MESSAGE_CHARS = 16_000
# Contact details shared with a platform's own button (a phone card, a map pin) never cross.
PRIVATE_MEDIA = frozenset({"contact", "location", "venue"})


def relay_text(ctx: Context, sender: Participant, inbound: Inbound) -> None:
    """A plain message from an onboarded student or mentor: pick the conversation, relay it."""
    text = inbound.text.strip()
    if inbound.media:
        if inbound.media in PRIVATE_MEDIA:
            ctx.tell(sender, "relay.media_private")
            return
        if not (ctx.services.relay_captions and text):
            ctx.tell(sender, "relay.media_not_relayed")
            return
        ctx.tell(sender, "relay.caption_only")  # the words go on, the file itself never does
    if not text:
        ctx.tell(sender, "relay.unsupported")
        return
    if len(text) > MAX_MESSAGE_CHARS:
        ctx.tell(sender, "relay.too_long", max=MAX_MESSAGE_CHARS)
        return
    assert sender.id is not None
    ref = ctx.store.delivered_ref(inbound.source, inbound.reply_to) if inbound.reply_to else None
    if ref is not None and ref.group_id is not None:  # an answer in a group, or in its thread
        groups.post_reply(ctx, sender, ref, text, inbound)
        return
    named = ref is not None and ref.match_id is not None
    # Where each conversation has its thread, where one writes says where it goes instead.
    by_choice = not named and inbound.source.platform not in ctx.services.threaded
    chosen = groups.current_group(ctx, sender) if by_choice else None
    if chosen is not None:  # the group they chose last, until they choose otherwise
        groups.post(ctx, sender, chosen, text, inbound, None)
        return
    matches = ctx.store.active_matches(sender.id)
    if not matches and not named:
        mine = ctx.store.groups_of(sender.id)
        if mine:
            _keep_pending(ctx, sender, text)
            ask_which(ctx, sender, [], "relay.which", "conv", mine)
        else:
            ctx.tell(sender, f"relay.no_match.{sender.role.value}")
        return
    if ref is not None and ref.match_id is not None and ref.match_id not in {
            m.id for m in matches}:
        # A reply to a conversation that has ended: never let it fall through to someone else.
        waiting = ctx.store.match(ref.match_id)
        requested = waiting is not None and waiting.status is MatchStatus.REQUESTED
        ctx.tell(sender, "request.answer_first" if requested else "relay.conversation_gone")
        return
    if (sender.role is Role.MENTOR and inbound.source.platform in ctx.services.threaded
            and (ref is None or ref.match_id is None)):
        # Where each conversation has its thread, a message outside them all says nothing of
        # whom it is for: ask, keep it, and point at the threads for next time.
        _keep_pending(ctx, sender, text)
        ask_which(ctx, sender, matches, "relay.use_thread", "conv",
                  ctx.store.groups_of(sender.id))
        return
    match = _match_for(ctx, sender, matches, ref.match_id if ref else None)
    if match is None:
        _keep_pending(ctx, sender, text)
        ask_which(ctx, sender, matches, "relay.which", "conv", ctx.store.groups_of(sender.id))
        return
    if sender.current_match_id != match.id or sender.current_group_id is not None:
        sender.current_match_id = match.id
        sender.current_group_id = None
        ctx.store.save_participant(sender)
    deliver(ctx, sender, match, text, inbound, replied=ref)


def _keep_pending(ctx: Context, sender: Participant, text: str) -> None:
    """Several messages may come before the person answers "which one?": keep them all."""
    sender.pending_text = f"{sender.pending_text}\n{text}" if sender.pending_text else text
    ctx.store.save_participant(sender)


def _match_for(
    ctx: Context, sender: Participant, matches: list[Match], replied_match: int | None
) -> Match | None:
    by_id = {m.id: m for m in matches}
    if replied_match in by_id:
        return by_id[replied_match]
    if len(matches) == 1:
        return matches[0]
    return by_id.get(sender.current_match_id)


def ask_which(ctx: Context, p: Participant, matches: list[Match], key: str, verb: str,
              in_groups: Sequence[Group] = ()) -> None:
    """A button per conversation (and per group, where the answer may be a group post)."""
    buttons: list[Button] = []
    for m in matches:
        other = ctx.store.participant(m.other(p.id or 0))
        if other is not None:
            buttons.append(Button(display_name(ctx, other, p.language), f"{verb}:{m.id}"))
    for g in in_groups[:groups.MAX_LISTED]:
        buttons.append(ctx.button(p.language, "group.write_button", f"gsay:{g.id}", name=g.name))
    ctx.tell(p, key, buttons=tuple(buttons))


def choose_conversation(ctx: Context, p: Participant, match_id: int, inbound: Inbound) -> None:
    """The answer to "which conversation?": remember it, and send what was waiting."""
    match = _own_active_match(ctx, p, match_id)
    if match is None:
        ctx.tell(p, "relay.conversation_gone")
        return
    p.current_match_id = match.id
    p.current_group_id = None
    pending, p.pending_text = p.pending_text, None
    ctx.store.save_participant(p)
    other = ctx.store.participant(match.other(p.id or 0))
    if pending:
        # The pending text came with an earlier message whose id was not kept: record no source
        # id, so that a reply to the relayed copy is never threaded onto the button press.
        unthreaded = replace(inbound, message_id="")
        deliver(ctx, p, match, pending, unthreaded)
    elif other is not None:
        ctx.tell(p, "relay.now_talking", name=display_name(ctx, other, p.language))


def deliver(
    ctx: Context, sender: Participant, match: Match, text: str, inbound: Inbound,
    replied: DeliveredRef | None = None, *, screened: bool = False,
) -> None:
    """Relay `text`; `replied` is the delivered copy the sender answered, if they did.

    Screened first (core.moderation), unless a coordinator already decided on it: held for
    review, redacted, flagged."""
    assert sender.id is not None and match.id is not None
    ctx.conversation = match.id
    recipient = ctx.store.participant(match.other(sender.id))
    assert recipient is not None and recipient.id is not None
    if not screened:
        screened_text = _screen(ctx, sender, recipient, match, text, inbound)
        if screened_text is None:
            return
        text = screened_text
    relayed_id = ctx.store.add_relayed(
        match.id, sender.id, text, inbound.source, inbound.message_id, ctx.now
    )
    ctx.store.record_activity(match.id, sender.id == match.student_id, ctx.now)
    address = ctx.store.address_of(recipient.id)
    if address is None:
        ctx.tell(sender, "relay.unreachable", name=display_name(ctx, recipient, sender.language))
        return
    reply_to = _counterpart_reply(ctx, replied, match.id)
    body = ctx.t(
        recipient.language, "relay.message",
        name=display_name(ctx, sender, recipient.language), text=text,
    )
    ctx.out.append(
        Envelope(
            Outbound(address, body, reply_to=reply_to),
            recipient_id=recipient.id, match_id=match.id, relayed_id=relayed_id,
            sender_id=sender.id,
        )
    )


def _screen(ctx: Context, sender: Participant, recipient: Participant, match: Match,
            text: str, inbound: Inbound) -> str | None:
    """The text that may go to `recipient` (None: held for a coordinator)."""
    student = sender if sender.role is Role.STUDENT else recipient
    return moderation.admit(
        ctx, sender, text, inbound, minors=moderation.is_minor(ctx, student),
        program=groups.program_of(ctx, student), school_of=student.school_id,
        about=f"{sender.pseudonym} → {recipient.pseudonym}", match_id=match.id)


def _counterpart_reply(ctx: Context, ref: DeliveredRef | None, match_id: int) -> str | None:
    """When the sender replied to a relayed copy, thread the relay onto the original message.

    Only within the same conversation: a message id means nothing in another person's chat.
    """
    if ref is None or ref.relayed_id is None or ref.match_id != match_id:
        return None
    source = ctx.store.relayed_source(ref.relayed_id)
    return source[1] if source else None


def end_conversation(ctx: Context, p: Participant, match_id: int | None) -> None:
    """`/end`: with one conversation end it; with several, ask which (or take the one named)."""
    assert p.id is not None
    matches = ctx.store.active_matches(p.id)
    if not matches:
        ctx.tell(p, "end.nothing")
        return
    if match_id is None and len(matches) > 1:
        ask_which(ctx, p, matches, "end.which", "end")
        return
    match = matches[0] if match_id is None else _own_active_match(ctx, p, match_id)
    if match is None:
        ctx.tell(p, "relay.conversation_gone")
        return
    end_match(ctx, match, ended_by=p)


def confirm_end(ctx: Context, p: Participant, match_id: int) -> None:
    """An "end" button sits under a conversation for weeks: one press must not end it."""
    match = _own_active_match(ctx, p, match_id)
    other = ctx.store.participant(match.other(p.id or 0)) if match else None
    if match is None or other is None:
        ctx.tell(p, "relay.conversation_gone")
        return
    yes = ctx.button(p.language, "end.confirm_button", f"end:{match.id}")
    ctx.tell(p, "end.confirm", buttons=(yes,), about_match=match.id,
             name=display_name(ctx, other, p.language))


def end_match(ctx: Context, match: Match, ended_by: Participant | None,
              told: str | None = None) -> None:
    """The end, told to both (a silence that lasted too long, when nobody ended it), and the
    end survey asked of both. A request not answered yet lapses instead (matches)."""
    if match.status is MatchStatus.REQUESTED:
        from core.matches import withdraw_request  # matches builds on relay

        withdraw_request(ctx, match, ended_by)
        return
    match.status = MatchStatus.ENDED
    match.ended_at = ctx.now
    match.ended_by = ended_by.id if ended_by else None
    ctx.store.save_match(match)
    ctx.store.audit(
        f"participant:{ended_by.id}" if ended_by else "system", "match_end",
        {"match_id": match.id}, ctx.now,
    )
    for pid in (match.student_id, match.mentor_id):
        p = ctx.store.participant(pid)
        if p is None:
            continue
        if p.current_match_id == match.id:
            p.current_match_id = None
            p.pending_text = None
            ctx.store.save_participant(p)
        other = ctx.store.participant(match.other(pid))
        name = display_name(ctx, other, p.language) if other else "?"
        key = told or ("end.timeout" if ended_by is None
                       else "end.done_by_you" if ended_by.id == pid else "end.done_by_other")
        ctx.tell(p, key, about_match=match.id, name=name)
        ask_end_survey(ctx, match, p)


def _own_active_match(ctx: Context, p: Participant, match_id: int) -> Match | None:
    match = ctx.store.match(match_id)
    if match is None or match.status is not MatchStatus.ACTIVE:
        return None
    return match if p.id in (match.student_id, match.mentor_id) else None


def edit_relayed(ctx: Context, sender: Participant, inbound: Inbound) -> None:
    """The sender edited a message we relayed: the other side's copy follows."""
    assert sender.id is not None
    found = ctx.store.find_relayed(inbound.source, inbound.message_id, sender.id)
    text = inbound.text.strip()
    if not text or len(text) > MAX_MESSAGE_CHARS:
        return
    hidden = redact(text, sender.language)
    if hidden.found:  # an edit is never held: its contact details are simply hidden
        text = hidden.text
    if found is None:  # a group post; else an edited command or onboarding answer
        groups.edit_post(ctx, sender, inbound, text)
        return
    relayed_id, match_id = found
    match = _own_active_match(ctx, sender, match_id)
    if match is None:
        return
    ctx.conversation = match_id
    ctx.store.set_relayed_body(relayed_id, text)
    recipient = ctx.store.participant(match.other(sender.id))
    address = ctx.store.address_of(match.other(sender.id))
    if recipient is None or address is None:
        return
    body = ctx.t(recipient.language, "relay.edited",
                 name=display_name(ctx, sender, recipient.language), text=text)
    ctx.out.append(Envelope(Outbound(address, body), recipient_id=recipient.id,
                            match_id=match_id, relayed_id=relayed_id, sender_id=sender.id,
                            op=OP_EDIT))


def unsend(ctx: Context, sender: Participant, inbound: Inbound) -> None:
    """`/unsend` as a reply to one's own message: remove the other side's copy."""
    assert sender.id is not None
    if not inbound.reply_to:
        ctx.tell(sender, "unsend.how")
        return
    if _remove_copy(ctx, sender, inbound.source, inbound.reply_to):
        ctx.tell(sender, "unsend.done")
    else:
        ctx.tell(sender, "unsend.not_found")


def retract(ctx: Context, sender: Participant, inbound: Inbound) -> None:
    """The sender deleted a message we relayed: the other side's copy goes too (silently: a
    deleted command or onboarding answer had nothing relayed)."""
    _remove_copy(ctx, sender, inbound.source, inbound.message_id)


def _remove_copy(ctx: Context, sender: Participant, source: Address, message_id: str) -> bool:
    assert sender.id is not None
    found = ctx.store.find_relayed(source, message_id, sender.id)
    if found is None:
        return groups.retract_post(ctx, sender, source, message_id)
    match = _own_active_match(ctx, sender, found[1]) if found else None
    address = ctx.store.address_of(match.other(sender.id)) if match else None
    if found is None or match is None or address is None:
        return False
    relayed_id, match_id = found
    ctx.conversation = match_id
    ctx.store.set_relayed_body(relayed_id, "")  # they wanted it gone: keep no copy either
    ctx.out.append(Envelope(Outbound(address, ""), recipient_id=match.other(sender.id),
                            match_id=match_id, relayed_id=relayed_id, sender_id=sender.id,
                            op=OP_DELETE))
    return True
