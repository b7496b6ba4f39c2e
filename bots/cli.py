"""`passerelle`: run the service and administer it from a terminal.

Every error is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import shlex
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import click
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from bots.app import Passerelle, build_services, open_database, schema_is_current
from bots.demo import load_demo
from bots.logs import setup_logging
from bots.settings import Settings, SettingsError, load_settings
from core import admin
from core.admin_invite import new_code
from core.bus import press_button
from core.cohort import plan, propose_plan
from core.context import Context
from core.errors import DomainError
from core.matches import create_match, propose_match
from core.model import Address, Envelope, Inbound, Invite, Participant, Role, Step
from core.roster import participant_from_row
from core.scoring import MentorPool
from storage.migrate import upgrade
from storage.store import SqlStore, SqlUnitOfWork

log = logging.getLogger("passerelle.cli")
NOT_MIGRATED = "the database is not up to date: run `passerelle db upgrade`"


def now() -> datetime:
    return datetime.now(UTC)


class Env:
    """What every command needs, opened lazily so `--help` works without a database."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_database(self.settings)
        return self._engine

    @contextmanager
    def store(self) -> Iterator[SqlStore]:
        if not schema_is_current(self.engine):
            raise click.ClickException(NOT_MIGRATED)
        with SqlUnitOfWork(self.engine) as store:
            yield store


pass_env = click.make_pass_decorator(Env, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Passerelle: anonymised mentoring conversations between students and people at work."""


@cli.command()
@pass_env
def run(env: Env) -> None:
    """Run the service: web server (playground, health), platforms, delivery workers."""
    setup_logging(env.settings.log_level)
    if not schema_is_current(env.engine):
        raise click.ClickException(NOT_MIGRATED)
    asyncio.run(_serve(env))


async def _serve(env: Env) -> None:
    # Built inside the loop: slack_sdk's Socket Mode client makes its aiohttp session at once.
    service = Passerelle(env.settings, env.engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.serve(stop)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_env
def db_upgrade(env: Env) -> None:
    """Apply every migration not applied yet."""
    upgrade(env.engine)
    click.echo("database is up to date")


@cli.command("demo-data")
@click.option("--if-empty", is_flag=True, help="Only when the database has nobody in it yet.")
@pass_env
def demo_data(env: Env, if_empty: bool) -> None:
    """Load the playground's demo school, people and match."""
    with env.store() as store:
        if if_empty and store.count_participants() > 0:
            click.echo("database already has people: demo data not loaded")
            return
        codes = load_demo(store, now())
    click.echo("demo data loaded; invite codes to try in a new playground pane: "
               + ", ".join(f"{code} ({role})" for code, role in codes.items()))


@cli.group()
def school() -> None:
    """Schools and programs."""


@school.command("add")
@click.argument("name")
@click.option("--program", default="default", show_default=True)
@pass_env
def school_add(env: Env, name: str, program: str) -> None:
    """Add a school to a program (created if new)."""
    from core.model import School

    with env.store() as store:
        if store.find_school(name):
            raise click.ClickException(f"school {name!r} already exists")
        created = store.add_school(School(name, program))
        store.audit("cli", "school_add", {"school_id": created.id, "program": program}, now())
    click.echo(f"school {created.id}: {name} ({program})")


@cli.group()
def invite() -> None:
    """Invite codes."""


@invite.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--school", "school_name", help="The school the person joins.")
@click.option("--uses", type=click.IntRange(min=1), help="How many people may use it "
              "(default: unlimited for students, 1 for mentors and coordinators).")
@pass_env
def invite_create(env: Env, role: str, school_name: str | None, uses: int | None) -> None:
    """Create an invite code and print it."""
    with env.store() as store:
        school_id = _school_id(store, school_name)
        max_uses = uses if uses is not None else (None if role == Role.STUDENT.value else 1)
        code = new_code()
        store.add_invite(Invite(code, Role(role), school_id, max_uses=max_uses), now())
        store.audit("cli", "invite_create", {"role": role, "school_id": school_id}, now())
    click.echo(code)


def _school_id(store: SqlStore, name: str | None) -> int | None:
    if name is None:
        return None
    found = store.find_school(name)
    if found is None:
        raise click.ClickException(
            f"no school called {name!r} (add it with `passerelle school add`)"
        )
    return found.id


@cli.group()
def match() -> None:
    """Matches between a student and a mentor."""


@match.command("create")
@click.argument("student")
@click.argument("mentor")
@click.option("--accepted", is_flag=True,
              help="The mentor already agreed: start the match now instead of asking them.")
@pass_env
def match_create(env: Env, student: str, mentor: str, accepted: bool) -> None:
    """Propose STUDENT to MENTOR (pseudonyms): the mentor accepts or declines in chat."""
    services = build_services()
    with env.store() as store:
        ctx = Context(store, services, now())
        try:
            if accepted:
                created = create_match(ctx, student, mentor, actor="cli")
            else:
                created = propose_match(ctx, student, mentor, actor="cli")
        except DomainError as error:
            message = services.catalog.t("en", error.key, **error.values)
            raise click.ClickException(message) from None
        store.enqueue(ctx.out, ctx.now)
    verb = "started" if accepted else "proposed to the mentor"
    click.echo(f"match {created.id}: {student} ↔ {mentor} ({verb})")


@match.command("auto")
@click.option("--school", "school_name", help="Only the waiting students of this school.")
@click.option("--dry-run", is_flag=True, help="Print the proposal with its scores; send nothing.")
@click.option("--pure-score", is_flag=True,
              help="Maximise the total score alone (default: first the number of students "
                   "matched, then the total score).")
@pass_env
def match_auto(env: Env, school_name: str | None, dry_run: bool, pure_score: bool) -> None:
    """Propose a mentor to every waiting student, optimally; each mentor still accepts."""
    services = build_services(env.settings)
    with env.store() as store:
        school_id = _school_id(store, school_name)
        students = store.waiting_students(school_id)
        mentors = store.mentor_cards()
        pool = MentorPool(mentors, services.fields)
        pairs = plan(students, mentors, pool, services.weights, services.rules,
                     maximise_matched=not pure_score)
        names = {m.id: m.pseudonym for m in mentors}
        if dry_run:
            click.echo("student,mentor,score")
            for pair in pairs:
                student = store.participant(pair.student_id)
                click.echo(f"{student.pseudonym if student else pair.student_id},"
                           f"{names.get(pair.mentor_id, pair.mentor_id)},{pair.score}")
        else:
            ctx = Context(store, services, now())
            propose_plan(ctx, pairs, actor="cli")
            store.enqueue(ctx.out, ctx.now)
    total = sum(p.score for p in pairs)
    verb = "would propose" if dry_run else "proposed"
    click.echo(f"{verb} {len(pairs)} of {len(students)} waiting students (total score {total})",
               err=dry_run)


@cli.command("import")
@click.argument("kind", type=click.Choice(["mentors", "students"]))
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--school", "school_name", help="The school everyone in the file joins.")
@click.option("--codes", type=click.File("w"), default="-",
              help="Where to write each person's personal invite code (CSV; default stdout).")
@pass_env
def import_(env: Env, kind: str, csv_file: TextIO, school_name: str | None, codes: TextIO) -> None:
    """Import mentors or students from CSV; a file with any bad row imports nothing."""
    role = Role.MENTOR if kind == "mentors" else Role.STUDENT
    services = build_services()
    reader = csv.DictReader(csv_file)
    with env.store() as store:
        school_id = _school_id(store, school_name)
        people, errors, seen = [], [], set()
        for line, row in enumerate(reader, start=2):
            try:
                person = participant_from_row(role, row, services.fields, school_id, now())
                key = (person.pseudonym or "").casefold()
                if key in seen or store.pseudonym_taken(person.pseudonym or ""):
                    raise ValueError(f"pseudonym {person.pseudonym!r} is already taken")
                seen.add(key)
                people.append(person)
            except ValueError as error:
                errors.append(f"line {line}: {error}")
        if errors:
            for message in errors:
                click.echo(message, err=True)
            raise click.ClickException(f"{len(errors)} bad row(s): nothing imported")
        writer = csv.writer(codes)
        writer.writerow(["pseudonym", "invite_code"])
        for person in people:
            saved = store.add_participant(person)
            code = new_code()
            store.add_invite(Invite(code, role, school_id, saved.id, max_uses=1), now())
            writer.writerow([person.pseudonym, code])
        store.audit("cli", "import", {"role": role.value, "count": len(people)}, now())
    click.echo(f"imported {len(people)} {kind}", err=True)


@cli.command("export")
@click.argument("what", type=click.Choice(["participants", "matches"]))
@click.option("--out", type=click.File("w"), default="-", help="Default: stdout.")
@pass_env
def export(env: Env, what: str, out: TextIO) -> None:
    """Export participants or matches as CSV (pseudonyms only, never platform identities)."""
    with env.store() as store:
        rows = _participant_rows(store) if what == "participants" else _match_rows(store)
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(row)


def _participant_rows(store: SqlStore) -> list[list[object]]:
    rows: list[list[object]] = [["id", "role", "pseudonym", "language", "school", "age", "fields",
                                 "kind", "profession", "years", "capacity", "vetted", "step",
                                 "created_at"]]
    schools: dict[int, str] = {}
    for p in store.participants():
        if p.school_id and p.school_id not in schools:
            found = store.school(p.school_id)
            schools[p.school_id] = found.name if found else ""
        rows.append([p.id, p.role.value, p.pseudonym or "", p.language,
                     schools.get(p.school_id or 0, ""), p.age or "", ";".join(p.fields),
                     p.mentor_kind.value if p.mentor_kind else "", p.profession or "",
                     "" if p.years is None else p.years, p.capacity or "", int(p.vetted),
                     p.step.value, p.created_at.isoformat() if p.created_at else ""])
    return rows


def _match_rows(store: SqlStore) -> list[list[object]]:
    names = {p.id: p.pseudonym or "" for p in store.participants()}
    rows: list[list[object]] = [["id", "student", "mentor", "status", "created_at", "ended_at"]]
    for m in store.matches():
        rows.append([m.id, names.get(m.student_id, ""), names.get(m.mentor_id, ""), m.status.value,
                     m.created_at.isoformat() if m.created_at else "",
                     m.ended_at.isoformat() if m.ended_at else ""])
    return rows


@cli.command("admin", context_settings={"ignore_unknown_options": True,
                                        "allow_interspersed_args": False})
@click.option("--as", "as_", required=True, metavar="PSEUDONYM",
              help="The coordinator acting (their role and scope apply).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=".", show_default=True, help="Where files (exports, charts) are written.")
@click.argument("words", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_env
def admin_(env: Env, as_: str, out_dir: Path, words: tuple[str, ...]) -> None:
    """Run a coordinator's chat command as them: `admin --as Claire pending`, `… match Zoé
    Marc`, `… press ACTION` (a button). What they would be told is printed; what goes to others
    is queued for the running service to deliver."""
    if len(words) > 2 and words[-2] == "--out":  # also accepted after the command
        words, out_dir = words[:-2], Path(words[-1])
    services = build_services(env.settings)
    with env.store() as store:
        coordinator = _coordinator(store, as_)
        here = cli_address(coordinator)
        ctx = Context(store, services, now(), platform="cli", sender_id=coordinator.id,
                      reply_address=here)
        if words[0] == "press":
            if len(words) != 2:
                raise click.UsageError("press takes one ACTION (as printed after a button)")
            press_button(ctx, coordinator, Inbound(f"cli:{words[1]}", here, "",
                                                   action=words[1]))
        else:
            admin.command(ctx, coordinator, " ".join(words))
        mine = [e for e in ctx.out if e.message.to == here]
        store.enqueue([e for e in ctx.out if e.message.to != here], ctx.now)
    for envelope in mine:
        _print_answer(envelope, as_, out_dir)


def cli_address(p: Participant) -> Address:
    """Where the core's answers to a coordinator on the command line go: nowhere but here
    (taken out of the transaction's messages before the rest is queued)."""
    return Address("cli", f"coordinator:{p.id}")  # type: ignore[arg-type]


def _coordinator(store: SqlStore, pseudonym: str) -> Participant:
    found = store.find_participant(pseudonym)
    if found is None or found.role is not Role.COORDINATOR or found.step is not Step.DONE:
        raise click.ClickException(f"no coordinator called {pseudonym!r}")
    return found


def _print_answer(envelope: Envelope, pseudonym: str, out_dir: Path) -> None:
    message = envelope.message
    click.echo(message.text)
    for button in message.buttons:
        click.echo(f"[{button.label}] → passerelle admin --as {shlex.quote(pseudonym)} press "
                   f"{shlex.quote(button.action)}")
    if message.attachment is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / Path(message.attachment.name).name
        path.write_bytes(message.attachment.data)
        click.echo(f"file: {path}")
    click.echo("")


def _first_line(error: object) -> str:
    return (str(error).strip().splitlines() or ["?"])[0][:200]


def main(argv: list[str] | None = None) -> None:
    """Entry point: click's own errors are already one line; ours are made so here."""
    one_line: Callable[[str], None] = lambda message: click.echo(f"error: {message}", err=True)  # noqa: E731
    try:
        cli.main(args=argv, prog_name="passerelle", standalone_mode=False)
    except click.exceptions.Abort:
        one_line("aborted")
        sys.exit(130)
    except click.ClickException as error:
        one_line(error.format_message())
        sys.exit(error.exit_code)
    except SettingsError as error:
        one_line(str(error))
        sys.exit(2)
    except OperationalError as error:
        one_line(f"database unavailable: {_first_line(error.orig)}")
        sys.exit(3)
    except IntegrityError as error:
        one_line(f"database refused the change: {_first_line(error.orig)}")
        sys.exit(3)
    except SQLAlchemyError as error:
        one_line(f"database error: {_first_line(getattr(error, 'orig', None) or error)}")
        sys.exit(3)
    except UnicodeDecodeError:
        one_line("the file is not UTF-8 text (save it as \"CSV UTF-8\" and try again)")
        sys.exit(2)
    except csv.Error as error:
        one_line(f"the CSV file cannot be read: {error}")
        sys.exit(2)
    except OSError as error:
        one_line(f"{error.strerror or error}" + (f": {error.filename}" if error.filename else ""))
        sys.exit(4)
    except ModuleNotFoundError as error:
        one_line(f"a database driver is missing: {error.name}")
        sys.exit(3)
    except KeyboardInterrupt:
        sys.exit(130)


