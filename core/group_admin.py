"""Coordinators running discussion groups from chat: `/group new|close|welcome|mute|unmute|remove`.

A school's coordinator runs their school's groups and those they created; program staff (a
coordinator with no school) run them all. Every change is audited and told to whom it concerns.
"""

from __future__ import annotations

import re

from core.admin_scope import is_coordinator
from core.context import Context
from core.groups import (
    MAX_NAME,
    find_group,
    managed_groups,
    program_of,
    tell_members,
)
from core.model import Group, Participant

_OPTION = re.compile(r"(?<!\S)(field|champ|band|ages|scope|portee)=(\S+)", re.IGNORECASE)
_BAND = re.compile(r"^(\d{1,2})-(\d{1,2})$")
MAX_WELCOME = 1500
_SUBCOMMANDS = {
    "new": "new", "nouveau": "new", "creer": "new", "close": "close", "fermer": "close",
    "welcome": "welcome", "accueil": "welcome", "mute": "mute", "sourdine": "mute",
    "unmute": "unmute", "remove": "remove", "retirer": "remove", "list": "list",
    "liste": "list",
}


def command(ctx: Context, p: Participant, args: str) -> None:
    """`/group <what> …` (coordinators only)."""
    if not is_coordinator(ctx, p):
        return
    word, _, rest = args.strip().partition(" ")
    match _SUBCOMMANDS.get(word.casefold()):
        case "new":
            create(ctx, p, rest)
        case "close":
            _with_group(ctx, p, rest, close)
        case "welcome":
            _with_group(ctx, p, rest, set_welcome)
        case "mute":
            _with_group(ctx, p, rest, lambda c, q, g, a: moderate(c, q, g, a, "mute"))
        case "unmute":
            _with_group(ctx, p, rest, lambda c, q, g, a: moderate(c, q, g, a, "unmute"))
        case "remove":
            _with_group(ctx, p, rest, lambda c, q, g, a: moderate(c, q, g, a, "remove"))
        case _:
            show(ctx, p)


def show(ctx: Context, p: Participant) -> None:
    """The groups this coordinator runs, with their numbers and sizes, and how to act."""
    lines = [ctx.t(p.language, "group.admin.line", id=g.id, name=g.name,
                   count=ctx.store.count_members(g.id or 0)) for g in managed_groups(ctx, p)]
    ctx.tell(p, "group.admin.help", groups="\n".join(lines) or "—")


def create(ctx: Context, p: Participant, args: str) -> None:
    """`/group new <name> [field=…] [band=14-17] [scope=school|program|all]`."""
    options = {k.casefold(): v for k, v in _OPTION.findall(args)}
    name = " ".join(_OPTION.sub(" ", args).split())[:MAX_NAME]
    if not name:
        ctx.tell(p, "group.admin.help_new")
        return
    group = Group(name=name, created_by=p.id)
    field = options.get("field") or options.get("champ")
    if field is not None:
        found = ctx.services.fields.find(field.replace("_", " ")) or \
            ctx.services.fields.get(field)
        if found is None:
            ctx.tell(p, "group.admin.unknown_field", field=field)
            return
        group.field = found.key
    if not _place(ctx, p, group, (options.get("scope") or options.get("portee") or "").lower()):
        return
    if not _band(ctx, p, group, options.get("band") or options.get("ages")):
        return
    ctx.store.add_group(group, ctx.now)
    ctx.audit(p, "group_create", {"group_id": group.id, "name": group.name})
    ctx.tell(p, "group.admin.created", id=group.id, name=group.name)


def _place(ctx: Context, p: Participant, group: Group, scope: str) -> bool:
    """Whose group it is: the coordinator's school by default; their program; or everyone's
    (program staff only)."""
    if scope in ("", "school", "ecole") and p.school_id is not None:
        group.school_id = p.school_id
        return True
    if scope in ("program", "programme") and p.school_id is not None:
        group.program = program_of(ctx, p)
        return True
    if scope in ("", "all", "tous") and p.school_id is None:
        return True
    ctx.tell(p, "group.admin.bad_scope")
    return False


def _band(ctx: Context, p: Participant, group: Group, band: str | None) -> bool:
    """Where the program keeps minors and adults apart, a group is for one of its bands."""
    program = group.program or program_of(ctx, p)
    bands = ctx.services.group_rules.bands_for(program)
    shown = ", ".join(f"{low}-{high}" for low, high in bands)
    parsed = _BAND.match(band or "")
    chosen = (int(parsed.group(1)), int(parsed.group(2))) if parsed else None
    if band is not None and (chosen is None or chosen[0] > chosen[1]):
        ctx.tell(p, "group.admin.bad_band", bands=shown or "14-17")
        return False
    if bands and chosen not in bands:
        ctx.tell(p, "group.admin.band_required", bands=shown)
        return False
    if chosen is not None:
        group.min_age, group.max_age = chosen
    return True


def _with_group(ctx: Context, p: Participant, args: str, then) -> None:  # type: ignore[no-untyped-def]
    """The group named first in `args` (by number), among those this coordinator runs."""
    number, _, rest = args.strip().partition(" ")
    group = find_group(number, managed_groups(ctx, p)) if number else None
    if group is None:
        ctx.tell(p, "group.admin.which", name=number[:MAX_NAME])
        return
    then(ctx, p, group, rest.strip())


def close(ctx: Context, p: Participant, group: Group, _: str) -> None:
    group.closed = True
    ctx.store.save_group(group)
    ctx.audit(p, "group_close", {"group_id": group.id})
    tell_members(ctx, group, "group.closed_notice")
    ctx.tell(p, "group.admin.closed", name=group.name)


def set_welcome(ctx: Context, p: Participant, group: Group, text: str) -> None:
    """Pin a welcome: every newcomer reads it when joining, and members now."""
    if not text or len(text) > MAX_WELCOME:
        ctx.tell(p, "group.admin.help_welcome", max=MAX_WELCOME)
        return
    group.welcome = text
    ctx.store.save_group(group)
    ctx.audit(p, "group_welcome", {"group_id": group.id})
    tell_members(ctx, group, "group.pinned", welcome=text)
    ctx.tell(p, "group.admin.welcome_set", name=group.name)


def moderate(ctx: Context, p: Participant, group: Group, pseudonym: str, what: str) -> None:
    """Mute (reads, cannot post), unmute, or remove (cannot come back by themselves)."""
    target = ctx.store.find_participant(pseudonym) if pseudonym else None
    membership = ctx.store.membership(group.id or 0, target.id or 0) if target else None
    if target is None or membership is None or (membership.removed and what != "remove"):
        ctx.tell(p, "group.admin.no_member", name=pseudonym[:MAX_NAME] or "?")
        return
    if what == "remove":
        membership.removed = True  # a removal keeps whether they were muted
    else:
        membership.muted = what == "mute"
    ctx.store.save_membership(membership)
    if what == "remove" and target.current_group_id == group.id:
        target.current_group_id = None
        ctx.store.save_participant(target)
    ctx.audit(p, f"group_{what}", {"group_id": group.id, "participant_id": target.id})
    ctx.tell(target, f"group.{what}d_notice", about_group=group.id, name=group.name)
    ctx.tell(p, f"group.admin.{what}d", name=target.pseudonym, group=group.name)
