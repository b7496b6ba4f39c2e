"""Discussion groups: peers and mentors of a field, a school or a program, pseudonyms only.

A post is written once (group_posts) and fanned out through the outbox, one copy per member on
their own platform, never to its author, in the same transaction as the post: a group of 500
costs one statement to read and one to write, and the delivery workers pace the copies. A
member who cannot be reached is skipped; nobody is told about anybody else's delivery.

On a platform with threads (Slack, Discord's mentors' channel) the message that says "you
joined" opens the group's thread for that member; everything the group says to them goes into
it, and what they write in it is a post. Elsewhere (Telegram, Discord DMs) each copy's header
names the group, a reply to a copy answers in that group, and plain text goes to the group the
person chose last.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from core.admin_scope import covers
from core.context import Context
from core.model import (
    OP_DELETE,
    OP_EDIT,
    Address,
    Button,
    DeliveredRef,
    Envelope,
    Group,
    GroupPost,
    Inbound,
    Membership,
    Outbound,
    Participant,
    Role,
)
from core.names import display_name

MAX_LISTED = 20  # groups shown with buttons at once (Discord allows 25 buttons a message)
QUOTE_CHARS = 80  # how much of the post a reply answers is quoted
MAX_NAME = 80


# Who may be in a group --------------------------------------------------------------------------

def may_join(ctx: Context, p: Participant, group: Group) -> bool:
    """What a group is about decides who may read it.

    Students: their school or program, a field they chose, their age band. Mentors: vetted
    ones only (many members are minors), in any group of a field of theirs or of no field; a
    school's group takes the mentors who serve it, whatever their own school. Coordinators run
    groups, they are not in them."""
    if group.closed:
        return False
    if p.role is Role.MENTOR:
        return p.vetted and (group.field is None or group.field in p.fields)
    if p.role is not Role.STUDENT:
        return False
    if group.field is not None and group.field not in p.fields:
        return False
    if group.school_id is not None and group.school_id != p.school_id:
        return False
    if group.program is not None and group.program != program_of(ctx, p):
        return False
    if group.min_age is not None and (p.age is None or p.age < group.min_age):
        return False
    return not (group.max_age is not None and (p.age is None or p.age > group.max_age))


def program_of(ctx: Context, p: Participant) -> str | None:
    school = ctx.store.school(p.school_id) if p.school_id else None
    return school.program if school else None


def joinable(ctx: Context, p: Participant) -> list[Group]:
    """The open groups this person may be in. Mentors serve every school and program: only
    their fields (and vetting) bind them."""
    if p.role is Role.MENTOR:
        groups = ctx.store.open_groups(None, None, everywhere=True)
    else:
        groups = ctx.store.open_groups(p.school_id, program_of(ctx, p))
    return [g for g in groups if may_join(ctx, p, g)]


# Commands ---------------------------------------------------------------------------------------

def list_groups(ctx: Context, p: Participant) -> None:
    """`/groups`: the groups one is in (to write there) and those one may join."""
    assert p.id is not None
    mine = ctx.store.groups_of(p.id)
    mine_ids = {g.id for g in mine}
    others = [g for g in joinable(ctx, p) if g.id not in mine_ids
              and not _removed(ctx, g, p)]
    if not mine and not others:
        ctx.tell(p, "group.none")
        return
    lang = p.language
    buttons = [ctx.button(lang, "group.write_button", f"gsay:{g.id}", name=g.name)
               for g in mine[:MAX_LISTED]]
    buttons += [ctx.button(lang, "group.join_button", f"gjoin:{g.id}", name=g.name)
                for g in others[:MAX_LISTED - len(buttons)]]
    lines = [ctx.t(lang, "group.line_mine", name=g.name, id=g.id) for g in mine]
    lines += [ctx.t(lang, "group.line_other", name=g.name, id=g.id)
              for g in others[:MAX_LISTED * 5]]
    ctx.tell(p, "group.list", buttons=tuple(buttons), groups="\n".join(lines))


def _removed(ctx: Context, group: Group, p: Participant) -> bool:
    membership = ctx.store.membership(group.id or 0, p.id or 0)
    return membership is not None and membership.removed


def find_group(words: str, among: Iterable[Group]) -> Group | None:
    """A group named by its number (`/join 12`, `/join #12`) or its name."""
    words = words.strip().lstrip("#")
    candidates = list(among)
    if words.isascii() and words.isdigit():
        return next((g for g in candidates if g.id == int(words)), None)
    folded = words.casefold()
    return next((g for g in candidates if g.name.casefold() == folded), None)


def join_command(ctx: Context, p: Participant, args: str) -> None:
    if not args.strip():
        list_groups(ctx, p)
        return
    group = find_group(args, joinable(ctx, p))
    if group is None:
        ctx.tell(p, "group.unknown", name=args.strip()[:MAX_NAME])
        return
    join(ctx, p, group.id or 0)


def join(ctx: Context, p: Participant, group_id: int) -> None:
    """Become a member (again): the welcome is the first thing the group says to them."""
    assert p.id is not None
    group = ctx.store.group(group_id)
    if group is None or not may_join(ctx, p, group):
        ctx.tell(p, "group.cannot_join")
        return
    membership = ctx.store.membership(group_id, p.id)
    if membership is not None and membership.removed:
        ctx.tell(p, "group.cannot_join")
        return
    joining = membership is None
    if joining:
        ctx.store.save_membership(Membership(group_id, p.id, joined_at=ctx.now))
    elif p.current_group_id == group_id:
        ctx.tell(p, "group.already", name=group.name)
        return
    _write_in(ctx, p, group_id)
    address = ctx.store.address_of(p.id)
    threaded = address is not None and address.platform in ctx.services.threaded
    how = ctx.t(p.language, "group.how.thread" if threaded else "group.how.chat")
    welcome = ctx.t(p.language, "group.welcome_quote", welcome=group.welcome) if group.welcome \
        else ""
    # Only a newcomer's "you joined" roots a thread: a member choosing the group again reads it
    # in the thread they already have (a root posted inside it would be a reply's ts).
    ctx.tell(p, "group.joined", about_group=group_id, opens_thread=joining, name=group.name,
             how=how, welcome=welcome, count=ctx.store.count_members(group_id))


def choose(ctx: Context, p: Participant, group_id: int, inbound: Inbound) -> None:
    """The "write here" button: plain text now goes to this group (and what was waiting for
    an answer to "which conversation?" goes there now)."""
    group = _own_group(ctx, p, group_id)
    if group is None:
        ctx.tell(p, "group.not_member")
        return
    _write_in(ctx, p, group_id)
    pending, p.pending_text = p.pending_text, None
    ctx.store.save_participant(p)
    if pending:
        # No source id: a reply to a copy must not be threaded onto the button press.
        post(ctx, p, group, pending, replace(inbound, message_id=""), None)
    else:
        ctx.tell(p, "group.now_writing", name=group.name)


def _write_in(ctx: Context, p: Participant, group_id: int) -> None:
    if p.current_group_id != group_id or p.current_match_id is not None:
        p.current_group_id = group_id
        p.current_match_id = None
        ctx.store.save_participant(p)


def leave_command(ctx: Context, p: Participant, args: str) -> None:
    assert p.id is not None
    mine = ctx.store.groups_of(p.id)
    group = _named_or_only(ctx, p, args, mine, "gleave", "group.leave_which")
    if group is not None:
        leave(ctx, p, group.id or 0)


def leave(ctx: Context, p: Participant, group_id: int) -> None:
    assert p.id is not None
    group = ctx.store.group(group_id)
    if group is None or not ctx.store.leave_group(group_id, p.id):
        ctx.tell(p, "group.not_member")
        return
    if p.current_group_id == group_id:
        p.current_group_id = None
        ctx.store.save_participant(p)
    ctx.tell(p, "group.left", about_group=group_id, name=group.name)


def members_command(ctx: Context, p: Participant, args: str) -> None:
    """`/members`: pseudonyms and roles, nothing else (no platform, no muting)."""
    assert p.id is not None
    among = ctx.store.groups_of(p.id) if p.role is not Role.COORDINATOR \
        else managed_groups(ctx, p)
    group = _named_or_only(ctx, p, args, among, "gmembers", "group.members_which")
    if group is not None:
        show_members(ctx, p, group.id or 0)


def show_members(ctx: Context, p: Participant, group_id: int) -> None:
    group = ctx.store.group(group_id)
    if group is None or not (_own_group(ctx, p, group_id) or manages(ctx, p, group)):
        ctx.tell(p, "group.not_member")
        return
    lang = p.language
    lines = [ctx.t(lang, "group.member_line", name=m.pseudonym,
                   role=ctx.t(lang, f"group.role.{m.role.value}"))
             for m in ctx.store.members(group_id)]
    ctx.tell(p, "group.members", name=group.name, count=len(lines), members="\n".join(lines))


def _named_or_only(
    ctx: Context, p: Participant, args: str, among: list[Group], verb: str, ask_key: str,
) -> Group | None:
    """The group named in `args`; else the current or only one; else ask with buttons."""
    if args.strip():
        group = find_group(args, among)
        if group is None:
            ctx.tell(p, "group.unknown", name=args.strip()[:MAX_NAME])
        return group
    if not among:
        ctx.tell(p, "group.none_joined")
        return None
    current = next((g for g in among if g.id == p.current_group_id), None)
    if current is not None or len(among) == 1:
        return current or among[0]
    buttons = tuple(Button(g.name, f"{verb}:{g.id}") for g in among[:MAX_LISTED])
    ctx.tell(p, ask_key, buttons=buttons)
    return None


def _own_group(ctx: Context, p: Participant, group_id: int) -> Group | None:
    """The open group if `p` is a member (not removed)."""
    membership = ctx.store.membership(group_id, p.id or 0)
    if membership is None or membership.removed:
        return None
    group = ctx.store.group(group_id)
    return group if group is not None and not group.closed else None


# Posting ----------------------------------------------------------------------------------------

def current_group(ctx: Context, p: Participant) -> Group | None:
    """Where plain text goes, if the person chose a group last (and still may write there)."""
    if p.current_group_id is None:
        return None
    return _own_group(ctx, p, p.current_group_id)


def post_reply(ctx: Context, p: Participant, ref: DeliveredRef, text: str, inbound: Inbound
               ) -> None:
    """A reply to a group's message (a post's copy, or the "you joined" that opened the
    group's thread): a post in that group, quoting the post it answers if it was one."""
    assert ref.group_id is not None
    group = _own_group(ctx, p, ref.group_id)
    if group is None:
        known = ctx.store.group(ref.group_id)
        ctx.tell(p, "group.closed" if known and known.closed else "group.not_member")
        return
    replied = ctx.store.post(ref.post_id) if ref.post_id is not None else None
    if p.current_group_id != group.id or p.current_match_id is not None:
        _write_in(ctx, p, group.id or 0)
    post(ctx, p, group, text, inbound, replied)


def post(ctx: Context, author: Participant, group: Group, text: str, inbound: Inbound,
         replied: GroupPost | None, *, screened: bool = False) -> None:
    """One post, one copy per reachable member but its author, in this transaction; screened
    like a 1:1 message first (unless a coordinator already decided on it)."""
    assert author.id is not None and group.id is not None
    membership = ctx.store.membership(group.id, author.id)
    if membership is None or membership.removed:
        ctx.tell(author, "group.not_member")
        return
    if membership.muted:
        ctx.tell(author, "group.muted", name=group.name)
        return
    if not screened:
        checked = _screen(ctx, author, group, text, inbound, replied)
        if checked is None:
            return
        text = checked
    saved = ctx.store.add_post(
        GroupPost(group.id, author.id, text, replied.id if replied else None),
        inbound.source.home, inbound.message_id, ctx.now,
    )
    copies = ctx.store.post_copies(replied.id) if replied and replied.id else {}
    quoted = ctx.store.participant(replied.author_id) if replied else None
    bodies: dict[str, str] = {}
    for member in ctx.store.members(group.id):
        if member.participant_id == author.id or member.address is None:
            continue
        lang = member.language
        if lang not in bodies:
            bodies[lang] = _copy_text(ctx, lang, group, author, text, replied, quoted)
        ctx.out.append(Envelope(
            Outbound(member.address, bodies[lang], reply_to=copies.get(member.participant_id)),
            recipient_id=member.participant_id, group_id=group.id, post_id=saved.id,
        ))


def _screen(ctx: Context, author: Participant, group: Group, text: str, inbound: Inbound,
            replied: GroupPost | None) -> str | None:
    """A group has minors unless it is for adults only (its age band says so)."""
    from core import moderation  # moderation posts released messages through this module

    minors = group.min_age is None or group.min_age < ctx.services.safety_rules.minor_age
    return moderation.admit(
        ctx, author, text, inbound, minors=minors,
        program=group.program or program_of(ctx, author),
        school_of=group.school_id if group.school_id is not None else author.school_id,
        about=f"{author.pseudonym} → 👥 {group.name}", group_id=group.id,
        reply_to_post=replied.id if replied else None)


def edit_post(ctx: Context, author: Participant, inbound: Inbound, text: str) -> bool:
    """The author edited a post: every copy follows (False: it was no post)."""
    assert author.id is not None
    found = ctx.store.find_post(inbound.source.home, inbound.message_id, author.id)
    group = _own_group(ctx, author, found.group_id) if found else None
    if found is None or found.id is None or group is None:
        return False
    ctx.store.set_post_body(found.id, text)
    bodies: dict[str, str] = {}
    for recipient_id, address in ctx.store.post_recipients(found.id):
        member = ctx.store.participant(recipient_id)
        if member is None:
            continue
        lang = member.language
        if lang not in bodies:
            bodies[lang] = ctx.t(lang, "group.post_edited", group=group.name,
                                 name=display_name(ctx, author, lang), text=text)
        ctx.out.append(Envelope(Outbound(address, bodies[lang]), recipient_id=recipient_id,
                                group_id=group.id, post_id=found.id, op=OP_EDIT))
    return True


def retract_post(ctx: Context, author: Participant, source: Address, message_id: str) -> bool:
    """The author deleted (or /unsend) a post: every copy is taken back, even in a group
    since closed or left (they wanted it gone). False: it was no post of theirs."""
    assert author.id is not None
    found = ctx.store.find_post(source.home, message_id, author.id)
    if found is None or found.id is None:
        return False
    ctx.store.set_post_body(found.id, "")  # keep no copy either
    for recipient_id, address in ctx.store.post_recipients(found.id):
        ctx.out.append(Envelope(Outbound(address, ""), recipient_id=recipient_id,
                                group_id=found.group_id, post_id=found.id, op=OP_DELETE))
    return True


def _copy_text(ctx: Context, lang: str, group: Group, author: Participant, text: str,
               replied: GroupPost | None, quoted: Participant | None) -> str:
    name = display_name(ctx, author, lang)
    if replied is None:
        return ctx.t(lang, "group.post", group=group.name, name=name, text=text)
    quote = replied.body if len(replied.body) <= QUOTE_CHARS \
        else replied.body[:QUOTE_CHARS - 1].rstrip() + "…"
    return ctx.t(lang, "group.post_reply", group=group.name, name=name, text=text,
                 replied=quoted.pseudonym if quoted and quoted.pseudonym else "?",
                 quote=" ".join(quote.split()))


# Coordinators -----------------------------------------------------------------------------------

def managed_groups(ctx: Context, p: Participant) -> list[Group]:
    """The groups a coordinator runs: their school's and those they made; all of them, for
    program staff (a coordinator with no school)."""
    groups = ctx.store.open_groups(None, None, everywhere=True)
    return [g for g in groups if manages(ctx, p, g)]


def manages(ctx: Context, p: Participant, group: Group) -> bool:
    if p.role is not Role.COORDINATOR:
        return False
    return covers(p, group.school_id) or group.created_by == p.id


def tell_members(ctx: Context, group: Group, key: str, *, skip: int | None = None,
                 **values: object) -> None:
    """A word from the program to every member, in their thread for the group."""
    assert group.id is not None
    for member in ctx.store.members(group.id):
        if member.participant_id == skip or member.address is None:
            continue
        ctx.send_to_address(member.address, member.language, key,
                            recipient_id=member.participant_id, about_group=group.id,
                            name=group.name, **values)
