"""Coordinators' broadcasts: `/broadcast school|group N|mentors|all TEXT` (`/diffuser ecole|
groupe N|mentors|tous TEXTE`).

Two steps, so that a message to thousands never leaves by mistake: the command writes a draft
and shows its author what will be read and how many people it reaches (those who can be reached
now); a button sends it. Sending is a conditional draft → sent in storage, so a double press or
a second instance sends it once; the audience is read again then (people join and leave), and
every copy is one outbox row of this transaction, framed in its recipient's language and naming
the author by pseudonym (and school) only, never by any platform identity. The words are the
coordinator's own: they go as written.

Who may reach whom: a school's coordinator reaches their school's onboarded students, a group
they run (core.groups.manages), and the vetted mentors (who serve the whole program); program
staff (a coordinator with no school) name the school, and `all` reaches every onboarded student
and vetted mentor. A broadcast is not a nudge: `/nudges off` does not stop it; but nobody
blocked with the author, erased, or without a reachable address gets a copy.
"""

from __future__ import annotations

import re
from datetime import timedelta

from core.admin_scope import covers, is_coordinator
from core.context import Context
from core.groups import find_group, managed_groups, manages
from core.model import Address, Broadcast, Envelope, Outbound, Participant, Role, School
from core.text import fold

MAX_TEXT = 2000  # characters of the coordinator's words
DRAFT_TTL = timedelta(hours=1)  # a preview older than this is not sent: the count is stale
SCHOOL, GROUP, MENTORS, ALL = "school", "group", "mentors", "all"
DRAFT, SENT, CANCELLED = "draft", "sent", "cancelled"
_SCOPES = {
    "school": SCHOOL, "ecole": SCHOOL, "group": GROUP, "groupe": GROUP, "mentors": MENTORS,
    "mentor": MENTORS, "all": ALL, "tous": ALL, "toutes": ALL, "program": ALL,
    "programme": ALL,
}
_AUDIENCES = {
    SCHOOL: "broadcast.audience.school", GROUP: "broadcast.audience.group",
    MENTORS: "broadcast.audience.mentors", ALL: "broadcast.audience.all",
}
_FIRST_WORD = re.compile(r"\s*(\S*)\s*(.*)", re.DOTALL)
_WORD = re.compile(r"\S+")
_QUOTES = "\"'«»“”:"

Audience = list[tuple[Participant, Address]]


# The command ------------------------------------------------------------------------------------

def command(ctx: Context, p: Participant, args: str) -> None:
    """Write a draft and show it with its count and two buttons; nothing is sent yet."""
    assert p.id is not None
    if not is_coordinator(ctx, p):
        return
    word, rest = _split(args)
    scope = _SCOPES.get(fold(word))
    if scope is None:
        ctx.tell(p, "broadcast.usage", max=MAX_TEXT)
        return
    aimed = _aim(ctx, p, scope, rest)
    if aimed is None:
        return
    target_id, text = aimed[0], aimed[1].strip()
    if not text:
        ctx.tell(p, "broadcast.usage", max=MAX_TEXT)
        return
    if len(text) > MAX_TEXT:
        ctx.tell(p, "broadcast.too_long", max=MAX_TEXT, length=len(text))
        return
    audience = _audience(ctx, p, scope, target_id)
    if not audience:
        ctx.tell(p, "broadcast.nobody")
        return
    draft = ctx.store.add_broadcast(Broadcast(
        author_id=p.id, scope=scope, body=text, target_id=target_id,
        recipients=len(audience), created_at=ctx.now))
    _audit(ctx, p, "broadcast_drafted", draft, len(audience))
    count = len(audience)
    buttons = (ctx.button(p.language, "broadcast.send_button", f"bcast:{draft.id}", count=count),
               ctx.button(p.language, "broadcast.cancel_button", f"bcancel:{draft.id}"))
    ctx.tell(p, "broadcast.preview", buttons=buttons, count=count,
             audience=_describe(ctx, p.language, scope, target_id),
             text=_framed(ctx, p, p.language, text))


def _split(text: str) -> tuple[str, str]:
    """The first word, and the rest as typed (its line breaks kept)."""
    found = _FIRST_WORD.match(text)
    assert found is not None  # the pattern matches any text
    return found.group(1), found.group(2)


def _aim(ctx: Context, p: Participant, scope: str, rest: str) -> tuple[int | None, str] | None:
    """The school or group the broadcast is for, and its text; None when refused (told)."""
    if scope == SCHOOL:
        return _aim_school(ctx, p, rest)
    if scope == GROUP:
        number, text = _split(rest)
        group = find_group(number, managed_groups(ctx, p)) \
            if number.lstrip("#").isascii() and number.lstrip("#").isdigit() else None
        if group is None:
            ctx.tell(p, "broadcast.not_your_group", name=number[:20] or "?")
            return None
        return group.id, text
    if scope == ALL and p.school_id is not None:
        ctx.tell(p, "broadcast.staff_only")
        return None
    return None, rest


def _aim_school(ctx: Context, p: Participant, rest: str) -> tuple[int | None, str] | None:
    """A school's coordinator: their school (naming it is allowed, naming another is not);
    program staff: the school they name first."""
    schools = ctx.store.school_list()
    named, text = _school_named(schools, rest)
    if p.school_id is not None:
        if named is not None and not covers(p, named.id):
            ctx.tell(p, "broadcast.not_your_school", name=named.name)
            return None
        return p.school_id, text
    if named is None:
        ctx.tell(p, "broadcast.which_school", schools=", ".join(s.name for s in schools) or "—")
        return None
    return named.id, text


def _school_named(schools: list[School], text: str) -> tuple[School | None, str]:
    """The school whose name the text starts with (case, accents and quotes aside; the longest
    name wins), and the text after it."""
    words = list(_WORD.finditer(text))
    best: tuple[School | None, str] = (None, text)
    longest = 0
    for school in schools:
        name = [fold(w) for w in school.name.split()]
        if not name or len(name) > len(words) or len(name) <= longest:
            continue
        typed = [fold(m.group(0)) for m in words[:len(name)]]
        typed[0], typed[-1] = typed[0].lstrip(_QUOTES), typed[-1].rstrip(_QUOTES)
        if typed == name:
            longest = len(name)
            best = (school, text[words[len(name) - 1].end():])
    return best


def _audience(ctx: Context, p: Participant, scope: str, target_id: int | None) -> Audience:
    """Who would get it now: reachable and onboarded (storage sees to that), not blocked with
    the author."""
    store = ctx.store
    if scope == SCHOOL and target_id is not None:
        found = store.school_students(target_id)
    elif scope == GROUP and target_id is not None:
        found = store.group_recipients(target_id)
    elif scope == MENTORS:
        found = store.vetted_mentors()
    elif scope == ALL:
        found = store.program_recipients()
    else:
        found = []
    blocked = store.blocked_with(p.id or 0)
    return [(r, a) for r, a in found if r.id not in blocked and r.id != p.id]


def _still_allowed(ctx: Context, p: Participant, draft: Broadcast) -> bool:
    """At send time, the author still may reach that audience (a group may have closed, a
    coordinator may have changed school)."""
    if p.role is not Role.COORDINATOR:
        return False
    if draft.scope == SCHOOL:
        return covers(p, draft.target_id)
    if draft.scope == GROUP:
        group = ctx.store.group(draft.target_id or 0)
        return group is not None and not group.closed and manages(ctx, p, group)
    if draft.scope == ALL:
        return p.school_id is None
    return draft.scope == MENTORS


def _describe(ctx: Context, lang: str, scope: str, target_id: int | None) -> str:
    name = ""
    if scope == SCHOOL and target_id is not None:
        school = ctx.store.school(target_id)
        name = school.name if school else "?"
    elif scope == GROUP and target_id is not None:
        group = ctx.store.group(target_id)
        name = group.name if group else "?"
    return ctx.t(lang, _AUDIENCES[scope], school=name, group=name)


def _framed(ctx: Context, author: Participant, lang: str, text: str) -> str:
    """The words as a recipient reads them: from the coordination, by pseudonym and school."""
    name = author.pseudonym or "?"
    school = ctx.store.school(author.school_id) if author.school_id is not None else None
    if school is None:
        return ctx.t(lang, "broadcast.frame.program", name=name, text=text)
    return ctx.t(lang, "broadcast.frame.school", name=name, school=school.name, text=text)


# The buttons ------------------------------------------------------------------------------------

def confirm(ctx: Context, p: Participant, broadcast_id: int) -> None:
    """Send a draft: its author only, once, while the preview is fresh."""
    draft = _own_draft(ctx, p, broadcast_id)
    if draft is None:
        return
    if ctx.now - (draft.created_at or ctx.now) > DRAFT_TTL:
        ctx.tell(p, "broadcast.expired")
        return
    if not _still_allowed(ctx, p, draft):
        ctx.tell(p, "broadcast.not_allowed")
        return
    audience = _audience(ctx, p, draft.scope, draft.target_id)
    if not ctx.store.mark_broadcast(broadcast_id, DRAFT, SENT, ctx.now,
                                    recipients=len(audience)):
        _own_draft(ctx, p, broadcast_id)  # pressed twice, or on another instance: says so
        return
    bodies: dict[str, str] = {}
    for recipient, address in audience:
        lang = recipient.language
        if lang not in bodies:
            bodies[lang] = _framed(ctx, p, lang, draft.body)
        ctx.out.append(Envelope(Outbound(address, bodies[lang]), recipient_id=recipient.id,
                                broadcast_id=broadcast_id))
    _audit(ctx, p, "broadcast_sent", draft, len(audience))
    ctx.tell(p, "broadcast.sent", count=len(audience))


def cancel(ctx: Context, p: Participant, broadcast_id: int) -> None:
    """Drop a draft: its author only; nothing was sent."""
    draft = _own_draft(ctx, p, broadcast_id)
    if draft is None:
        return
    if not ctx.store.mark_broadcast(broadcast_id, DRAFT, CANCELLED, ctx.now):
        _own_draft(ctx, p, broadcast_id)  # sent (or cancelled) meanwhile: says which
        return
    _audit(ctx, p, "broadcast_cancelled", draft, 0)
    ctx.tell(p, "broadcast.cancelled")


def _own_draft(ctx: Context, p: Participant, broadcast_id: int) -> Broadcast | None:
    """The broadcast if `p` wrote it and it is still a draft; else None (told why)."""
    draft = ctx.store.broadcast(broadcast_id)
    if p.role is not Role.COORDINATOR:
        ctx.tell(p, "button.stale")
        return None
    if draft is None or draft.author_id != p.id:
        ctx.tell(p, "broadcast.unknown")
        return None
    if draft.status == SENT:
        ctx.tell(p, "broadcast.already_sent")
        return None
    if draft.status == CANCELLED:
        ctx.tell(p, "broadcast.already_cancelled")
        return None
    return draft


def _audit(ctx: Context, p: Participant, action: str, draft: Broadcast, count: int) -> None:
    """Who, what, on whom (the school or group, never the words), when, from where."""
    detail: dict[str, object] = {"broadcast_id": draft.id, "scope": draft.scope,
                                 "recipients": count, "platform": _platform(ctx, p)}
    if draft.scope == SCHOOL:
        detail["school_id"] = draft.target_id
    elif draft.scope == GROUP:
        detail["group_id"] = draft.target_id
    ctx.audit(p, action, detail)


def _platform(ctx: Context, p: Participant) -> str | None:
    """Where the coordinator acted from: the event's platform (the bus sets it), else where
    they were last seen."""
    if ctx.platform is not None:
        return ctx.platform
    address = ctx.reply_address or ctx.store.address_of(p.id or 0)
    return address.platform if address else None
