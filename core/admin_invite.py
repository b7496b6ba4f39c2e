"""`/admin invite student|mentor|coordinator [uses] [school]`: an invite code from chat.

A school's coordinator invites their school's students and mentors (who serve every school);
program staff invite students of a school they name, mentors, and coordinators (of a school
they name, or program staff like them). Students join on Telegram: when the bot's username is
known, the code comes with its deep link.
"""

from __future__ import annotations

import secrets

from core.admin_scope import is_coordinator, school_in_scope
from core.context import Context
from core.model import Invite, Participant, Role
from core.text import fold

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud
MAX_USES = 100_000
_ROLE_WORDS = {
    "student": Role.STUDENT, "students": Role.STUDENT, "eleve": Role.STUDENT,
    "eleves": Role.STUDENT, "jeune": Role.STUDENT, "jeunes": Role.STUDENT,
    "etudiant": Role.STUDENT, "mentor": Role.MENTOR, "mentors": Role.MENTOR,
    "mentore": Role.MENTOR, "coordinator": Role.COORDINATOR, "coordinators": Role.COORDINATOR,
    "coordination": Role.COORDINATOR, "coordonnateur": Role.COORDINATOR,
    "coordonnatrice": Role.COORDINATOR, "coordinateur": Role.COORDINATOR,
    "coordinatrice": Role.COORDINATOR,
}


def new_code() -> str:
    """Eight characters from an alphabet without look-alikes, as ABCD-EF23 (the dash also
    tells onboarding it is a code, not a greeting)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def unused_code(ctx: Context) -> str:
    while True:
        code = new_code()
        if ctx.store.invite(code) is None:
            return code


def invite(ctx: Context, p: Participant, args: str) -> None:
    if not is_coordinator(ctx, p):
        return
    words = args.split()
    invited = _ROLE_WORDS.get(fold(words[0])) if words else None
    if invited is None:
        ctx.tell(p, "invite.how")
        return
    rest = words[1:]
    uses: int | None = None
    if rest and rest[0].isascii() and rest[0].isdigit():
        uses = min(max(int(rest[0]), 1), MAX_USES)
        rest = rest[1:]
    role = invited
    allowed, school_id = _school_for(ctx, p, role, " ".join(rest))
    if not allowed:
        return
    max_uses = uses if uses is not None else (None if role is Role.STUDENT else 1)
    code = unused_code(ctx)
    ctx.store.add_invite(Invite(code, role, school_id, max_uses=max_uses), ctx.now)
    ctx.audit(p, "invite_create", {"role": role.value, "school_id": school_id,
                                   "max_uses": max_uses})
    lang = p.language
    username = ctx.services.telegram_username
    link = (ctx.t(lang, "invite.link", link=f"https://t.me/{username}?start={code}")
            if username else "")
    ctx.tell(p, "invite.created", code=code, role=ctx.t(lang, f"invite.role.{invited.value}"),
             uses=max_uses if max_uses is not None else "∞", link=link)


def _school_for(ctx: Context, p: Participant, role: Role, name: str
                ) -> tuple[bool, int | None]:
    """Whether this invite may be made, and the school the invited person joins (None:
    program-wide); the refusal is told."""
    if role is Role.COORDINATOR and p.school_id is not None:
        ctx.tell(p, "admin.program_only")
        return False, None
    if role is Role.MENTOR:
        return True, None  # mentors serve every school
    if not name:
        if role is Role.STUDENT and p.school_id is None:
            ctx.tell(p, "invite.which_school")
            return False, None
        return True, p.school_id
    school = school_in_scope(ctx, p, name)
    return (True, school.id) if school is not None else (False, None)
