"""The one entry point for everything people do: identify the sender, route, write the outbox.

Each inbound event is handled in one transaction with its dedup key, so that a retried webhook,
a crash or a second instance never applies it twice, and what it produced is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from core import (
    admin,
    admin_people,
    broadcast,
    choosing,
    cohort,
    figures,
    group_admin,
    groups,
    matches,
    mentoring,
    moderation,
    nudges,
    onboarding,
    privacy,
    relay,
)
from core.commands import Command, parse_command, row_id
from core.context import Context, Services
from core.model import LANGUAGES, Identity, Inbound, Match, Participant, Role, Step
from core.ports import UnitOfWorkFactory
from core.profile import profile_lines

log = logging.getLogger("passerelle.bus")


class Bus:
    def __init__(self, uow: UnitOfWorkFactory, services: Services) -> None:
        self.uow = uow
        self.services = services

    def handle(self, inbound: Inbound, now: datetime) -> bool:
        """Apply one event; False when it had already been handled (nothing changes then)."""
        return self.handle_many([inbound], now)[0]

    def handle_many(self, inbounds: Sequence[Inbound], now: datetime) -> list[bool]:
        """Apply several events in one transaction (group commit), in order; all or none.

        Under load, committing a batch costs little more than committing one event. If any
        event fails, the whole batch is rolled back and the caller retries them one by one, so
        one bad event never takes the others with it.
        """
        accepted: list[bool] = []
        handled: list[tuple[Inbound, Context]] = []
        with self.uow() as store:
            fresh = store.claim_events([i.event_key for i in inbounds], now)
            outbox = []
            for inbound in inbounds:
                if inbound.event_key not in fresh:  # a repeat, or twice in this batch
                    accepted.append(False)
                    continue
                fresh.discard(inbound.event_key)
                ctx = Context(store, self.services, now, platform=inbound.source.platform)
                route(ctx, inbound)
                outbox.extend(ctx.out)
                accepted.append(True)
                handled.append((inbound, ctx))
            store.enqueue(outbox, now)
        for inbound, ctx in handled:
            log.info(
                "event=handled platform=%s conversation=%s outbound=%d",
                inbound.source.platform, ctx.conversation, len(ctx.out),
            )
        duplicates = len(inbounds) - len(handled)
        if duplicates:
            log.info("event=duplicate count=%d", duplicates)
        return accepted


EVENT_KEYS_KEPT = timedelta(days=7)


def sweep(bus: Bus, now: datetime) -> int:
    """What time alone brings about: requests nobody answered in time are closed kindly, and
    the nudges, check-ins and surveys that are due go out (core.nudges); the copies about
    people erased by /forgetme are blanked once delivered, and once a day the message bodies
    older than the retention period are (core.privacy).

    Idempotent and safe on several instances: each expiry changes the request's status in the
    same transaction as the messages it writes, so a second sweep finds nothing to do.
    """
    with bus.uow() as store:
        ctx = Context(store, bus.services, now)
        hours = bus.services.rules.request_timeout_hours
        expired = matches.expire_requests(ctx, timedelta(hours=hours))
        nudged = nudges.sweep_nudges(ctx)
        store.enqueue(ctx.out, now)
        settled = privacy.settle(ctx)  # copies about erased people, once delivered
        purged = privacy.purge_due(ctx)  # the first sweep of each day
        # Platforms retry for minutes (Slack), resume within a session (Discord) and keep
        # updates a day (Telegram): a week of dedup keys covers them all, and no more grows.
        forgotten = store.forget_events(now - EVENT_KEYS_KEPT)
    if expired:
        log.info("event=requests_expired count=%d", expired)
    if nudged:
        log.info("event=nudges_sent count=%d", nudged)
    if forgotten:
        log.info("event=event_keys_forgotten count=%d", forgotten)
    if settled:
        log.info("event=erased_copies_blanked count=%d", settled)
    if purged:
        log.info("event=retention_purge count=%d days=%d", purged, bus.services.retention_days)
    return expired + nudged


# Control characters other than line breaks and tabs carry nothing a person meant to say, and
# NUL is refused by PostgreSQL: one such message would otherwise fail again at every retry.
_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\n\t") | {127: None}


def route(ctx: Context, inbound: Inbound) -> None:
    if not inbound.text.isprintable():
        inbound = replace(inbound, text=inbound.text.translate(_CONTROL))
    command = parse_command(inbound.text) if not inbound.action else None
    identity = ctx.store.identity(inbound.source.platform, inbound.platform_user_id)
    if identity is None:
        # Nothing new from someone unknown; a second "erase me" from someone just erased has
        # nothing left to erase (and an answer would put their chat back in the outbox).
        if not (inbound.edited or inbound.deleted or privacy.is_forget_button(inbound.action)):
            onboarding.welcome_stranger(ctx, inbound, command)
        return
    _refresh_address(ctx, identity, inbound)
    participant = ctx.store.participant(identity.participant_id)
    if participant is None:  # identity of an erased person: start over
        onboarding.welcome_stranger(ctx, inbound, command)
        return
    ctx.sender_id = participant.id
    if inbound.source != inbound.source.home:  # typed in a thread, or answered privately
        ctx.reply_address = inbound.source
    relaying = participant.step is Step.DONE and participant.role is not Role.COORDINATOR
    if inbound.deleted:
        if relaying:
            relay.retract(ctx, participant, inbound)
    elif inbound.edited:
        if relaying:
            relay.edit_relayed(ctx, participant, inbound)
    elif command is not None:
        run_command(ctx, participant, command, inbound)
    elif privacy.is_forget_button(inbound.action):  # at any step: onboarding included
        privacy.answer(ctx, participant, inbound.action or "")
    elif participant.step is not Step.DONE:
        onboarding.answer(ctx, participant, inbound)
    elif inbound.action:
        press_button(ctx, participant, inbound)
    elif participant.role is Role.COORDINATOR:
        ctx.tell(participant, "coordinator.no_relay")
    else:
        relay.relay_text(ctx, participant, inbound)


def _refresh_address(ctx: Context, identity: Identity, inbound: Inbound) -> None:
    """People move (a chat migrates, a DM reopens, a blocked bot is unblocked): follow them.

    Only to the chat itself: a thread or a private view is where one answer goes, not where
    everything else should. A private view (a slash command's) never moves anyone."""
    if inbound.source.private_to is not None:
        return
    home = inbound.source.home
    if identity.address != home or not identity.reachable:
        identity.address = home
        identity.reachable = True
        identity.last_seen_at = ctx.now
        ctx.store.save_identity(identity)


def run_command(ctx: Context, p: Participant, command: Command, inbound: Inbound) -> None:
    onboarding_done = p.step is Step.DONE
    match command.name:
        case "help":
            key = f"help.{p.role.value}" if onboarding_done else "help.onboarding"
            hint = _COMMAND_HINTS.get(inbound.source.platform) if onboarding_done else None
            ctx.tell(p, key, hint=ctx.t(p.language, hint) if hint else "")
        case "start":
            if onboarding_done:
                ctx.tell(p, "welcome.already", name=p.pseudonym)
            else:
                onboarding.prompt(ctx, p)
        case "language" | "langue":
            ctx.tell(p, "language.choose", buttons=onboarding.language_buttons())
        case "mydata" | "mesdonnees":  # privacy rights hold at every step
            privacy.show_data(ctx, p)
        case "forgetme" | "oublier":
            privacy.ask_forget(ctx, p)
        case "profile" | "profil" if onboarding_done:
            show_profile(ctx, p)
        case "end" | "fin" if onboarding_done:
            relay.end_conversation(ctx, p, None)
        case "unsend" | "retirer" if onboarding_done:
            relay.unsend(ctx, p, inbound)
        case "pause" if onboarding_done:
            mentoring.set_paused(ctx, p, True)
        case "resume" | "reprendre" if onboarding_done:
            mentoring.set_paused(ctx, p, False)
        case "capacity" | "capacite" if onboarding_done:
            mentoring.capacity(ctx, p, command.args)
        case "kit" if onboarding_done:
            mentoring.kit(ctx, p)
        case "bio" if onboarding_done:
            mentoring.bio(ctx, p, command.args)
        case "matchauto" | "jumelage" if onboarding_done:
            cohort.coordinator_plan(ctx, p, command.args.strip())
        case "suggest" | "suggestions" if onboarding_done:
            choosing.suggest(ctx, p)
        case "mentors" if onboarding_done:
            choosing.browse(ctx, p, command.args)
        case "request" | "demande" if onboarding_done:
            choosing.request(ctx, p, command.args)
        case "groups" | "groupes" if onboarding_done:
            if p.role is Role.COORDINATOR:
                group_admin.show(ctx, p)
            else:
                groups.list_groups(ctx, p)
        case "join" | "rejoindre" if onboarding_done:
            groups.join_command(ctx, p, command.args)
        case "leave" | "quitter" if onboarding_done:
            groups.leave_command(ctx, p, command.args)
        case "members" | "membres" if onboarding_done:
            groups.members_command(ctx, p, command.args)
        case "snooze" | "silence" if onboarding_done:
            nudges.snooze(ctx, p, command.args)
        case "timezone" | "fuseau" if onboarding_done:
            nudges.set_timezone(ctx, p, command.args)
        case "nudges" | "rappels" if onboarding_done:
            nudges.set_nudges(ctx, p, command.args)
        case "report" | "signaler" if onboarding_done:
            moderation.report(ctx, p, _conversation(ctx, p, inbound), command.args)
        case "block" | "bloquer" if onboarding_done:
            moderation.block(ctx, p, _conversation(ctx, p, inbound))
        case "admin" if onboarding_done:
            admin.command(ctx, p, command.args)
        case "pending" | "attente" if onboarding_done:
            admin_people.pending(ctx, p)
        case "unmatch" | "dejumeler" if onboarding_done:
            admin_people.unmatch(ctx, p, command.args)
        case "stats" | "chiffres" if onboarding_done:
            figures.stats(ctx, p, command.args)
        case "export" | "exporter" if onboarding_done:
            figures.export(ctx, p, command.args)
        case "broadcast" | "diffuser" if onboarding_done:
            broadcast.command(ctx, p, command.args)
        case "vet" | "verifier" if onboarding_done:
            moderation.vet(ctx, p, command.args)
        case "group" | "groupe" if onboarding_done:
            group_admin.command(ctx, p, command.args)
        case _ if not onboarding_done:
            ctx.tell(p, "onboarding.finish_first")
            onboarding.prompt(ctx, p)
        case _:
            log.info("event=unknown_command")
            ctx.tell(p, "command.unknown", command=command.name)


# Where commands are typed differently (Slack has one slash command, `/passerelle pause`).
_COMMAND_HINTS = {"slack": "help.hint.slack"}


# Buttons whose value is a row id (a match, a group, a mentor): checked once, here.
_BY_ID: dict[str, Callable[[Context, Participant, int, Inbound], None]] = {
    "conv": relay.choose_conversation,
    "end": lambda ctx, p, n, _: relay.end_conversation(ctx, p, n),
    "endask": lambda ctx, p, n, _: relay.confirm_end(ctx, p, n),
    "accept": lambda ctx, p, n, _: matches.accept_request(ctx, p, n),
    "decline": lambda ctx, p, n, _: matches.decline_request(ctx, p, n),
    "ask": lambda ctx, p, n, _: choosing.ask(ctx, p, n),
    "gjoin": lambda ctx, p, n, _: groups.join(ctx, p, n),
    "gsay": groups.choose,
    "gleave": lambda ctx, p, n, _: groups.leave(ctx, p, n),
    "gmembers": lambda ctx, p, n, _: groups.show_members(ctx, p, n),
    "vet": lambda ctx, p, n, _: admin_people.vet_button(ctx, p, n),
    "reject": lambda ctx, p, n, _: admin_people.reject_button(ctx, p, n),
    "bcast": lambda ctx, p, n, _: broadcast.confirm(ctx, p, n),
    "bcancel": lambda ctx, p, n, _: broadcast.cancel(ctx, p, n),
    "thanks": lambda ctx, p, n, _: nudges.thank(ctx, p, n),
    "today": lambda ctx, p, n, _: nudges.answer_today(ctx, p, n),
}
# Buttons whose value is their own (a page, a survey answer, a decision on a held message).
_BY_VALUE: dict[str, Callable[[Context, Participant, str], None]] = {
    "mentors": choosing.browse_page,
    "held": moderation.review,
    "flag": moderation.close_flag,
    "survey": nudges.answer,
}


def press_button(ctx: Context, p: Participant, inbound: Inbound) -> None:
    verb, _, value = (inbound.action or "").partition(":")
    number = row_id(value)
    if verb == "lang" and value in LANGUAGES:
        p.language = value  # type: ignore[assignment]
        ctx.store.save_participant(p)
        ctx.tell(p, "language.set")
    elif verb in _BY_ID and number is not None:
        _BY_ID[verb](ctx, p, number, inbound)
    elif verb in _BY_VALUE:
        _BY_VALUE[verb](ctx, p, value)
    elif verb == "matchauto" and value.partition(":")[0] == "go":
        cohort.coordinator_send(ctx, p, value)
    elif verb == "pause" and value in ("on", "off"):
        mentoring.set_paused(ctx, p, value == "on")
    else:
        log.info("event=stale_button")
        ctx.tell(p, "button.stale")


def _conversation(ctx: Context, p: Participant, inbound: Inbound) -> Match | None:
    """The match a command is about: the one replied to, else the current or only one."""
    if inbound.reply_to:
        ref = ctx.store.delivered_ref(inbound.source, inbound.reply_to)
        if ref is not None and ref.match_id is not None:
            match = ctx.store.match(ref.match_id)
            if match is not None and p.id in (match.student_id, match.mentor_id):
                return match
    active = ctx.store.active_matches(p.id or 0)
    current = [m for m in active if m.id == p.current_match_id]
    return (current or active)[0] if len(current) == 1 or len(active) == 1 else None


def show_profile(ctx: Context, p: Participant) -> None:
    ctx.tell(p, "profile.show", profile="\n".join(profile_lines(ctx, p)))
