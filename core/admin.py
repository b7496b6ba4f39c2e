"""`/admin <command> [args]`: every coordinator command behind one word, on every platform (on
Slack, `/passerelle admin …`) and from the command line (`passerelle admin --as PSEUDONYM …`,
which runs these very handlers).

The table names each command in English and French; `/admin` or `/admin help` lists them, one
line each, in the caller's language. Each handler checks role and scope itself (a school's
coordinator: their school's students and every mentor; program staff: everyone), so the short
forms kept for habit (`/pending`, `/unmatch`, `/stats`, `/vet`, `/matchauto`, `/group`) are just
as safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core import admin_flags, admin_invite, admin_people, figures, group_admin
from core import broadcast as broadcasts
from core.admin_scope import is_coordinator
from core.context import Context
from core.model import Participant
from core.text import fold

Handler = Callable[[Context, Participant, str], None]


@dataclass(frozen=True, slots=True)
class Sub:
    name: str  # English; `admin.help.<name>` is its line in /admin help
    french: str
    run: Handler
    aliases: tuple[str, ...] = ()


def _help(ctx: Context, p: Participant, _: str) -> None:
    show_help(ctx, p)


SUBCOMMANDS: tuple[Sub, ...] = (
    Sub("help", "aide", _help),
    Sub("pending", "attente", admin_people.pending),
    Sub("approve", "approuver", admin_people.approve, ("vet", "verifier")),
    Sub("reject", "refuser", admin_people.reject),
    Sub("match", "jumeler", admin_people.match),
    Sub("unmatch", "dejumeler", admin_people.unmatch),
    Sub("flags", "signalements", admin_flags.flags),
    Sub("reveal", "reveler", admin_people.reveal),
    Sub("broadcast", "diffuser", broadcasts.command),
    Sub("invite", "inviter", admin_invite.invite),
    Sub("stats", "chiffres", figures.stats),
    Sub("export", "exporter", figures.export),
    Sub("group", "groupe", group_admin.command, ("groups", "groupes")),
)
_BY_WORD: dict[str, Sub] = {
    word: sub for sub in SUBCOMMANDS for word in (sub.name, sub.french, *sub.aliases)
}


def command(ctx: Context, p: Participant, args: str) -> None:
    """`/admin <command> [args]`."""
    if not is_coordinator(ctx, p):
        return
    word, _, rest = args.strip().partition(" ")
    if not word:
        show_help(ctx, p)
        return
    sub = _BY_WORD.get(fold(word).lstrip("/"))
    if sub is None:
        ctx.tell(p, "admin.unknown", command=word[:32], commands=_lines(ctx, p))
        return
    sub.run(ctx, p, rest.strip())


def show_help(ctx: Context, p: Participant) -> None:
    ctx.tell(p, "admin.help", commands=_lines(ctx, p))


def _lines(ctx: Context, p: Participant) -> str:
    return "\n".join(ctx.t(p.language, f"admin.help.{sub.name}") for sub in SUBCOMMANDS)
