"""The `passerelle` command as a person runs it: a real process, a real SQLite file."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSERELLE = str(Path(sys.executable).with_name("passerelle"))
COMMANDS = ["run", "db", "demo-data", "school", "invite", "match", "import", "export", "admin"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    variables["PASSERELLE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    return variables


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PASSERELLE, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=60)


def ok(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = cli(env, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no error message"
    return lines[-1]


def test_help_lists_every_command(env: dict[str, str]) -> None:
    out = ok(env, "--help")
    for command in COMMANDS:
        assert f"  {command}" in out


def test_school_invite_and_match_from_the_command_line(env: dict[str, str]) -> None:
    ok(env, "db", "upgrade")
    ok(env, "school", "add", "Polyvalente Sud", "--program", "Montréal")
    code = ok(env, "invite", "create", "--role", "student", "--school", "Polyvalente Sud").strip()
    assert len(code) == 9 and code[4] == "-"
    ok(env, "demo-data")
    assert "already has people" in ok(env, "demo-data", "--if-empty")
    error = one_line_error(cli(env, "match", "create", "Léa", "Samir"))
    assert "already matched" in error
    error = one_line_error(cli(env, "match", "create", "Personne", "Samir"))
    assert "No student" in error
    matches = list(csv.reader(io.StringIO(ok(env, "export", "matches"))))
    assert matches[0][:3] == ["id", "student", "mentor"] and matches[1][1:4] == [
        "Léa", "Samir", "active"]


def test_errors_are_one_line(env: dict[str, str], tmp_path: Path) -> None:
    assert "not up to date" in one_line_error(cli(env, "school", "add", "X"))
    ok(env, "db", "upgrade")
    assert "no school" in one_line_error(
        cli(env, "invite", "create", "--role", "mentor", "--school", "Nowhere"))
    assert "--role" in one_line_error(cli(env, "invite", "create", "--role", "janitor"))
    bad_port = {**env, "PASSERELLE_WEB__PORT": "eighty"}
    assert "PASSERELLE_WEB__PORT" in one_line_error(cli(bad_port, "run"))
    no_db = {**env, "PASSERELLE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    assert "database unavailable" in one_line_error(cli(no_db, "db", "upgrade"))


MENTORS = """pseudonym,language,kind,profession,field,years,capacity
Nadia,fr,professional,ingénieure civile,civil_eng,12,3
Tom,en,peer,nursing student,health,1,1
"""


def test_import_mentors_then_export(env: dict[str, str], tmp_path: Path) -> None:
    ok(env, "db", "upgrade")
    ok(env, "school", "add", "Cégep Nord")
    source = tmp_path / "mentors.csv"
    source.write_text(MENTORS, encoding="utf-8")
    codes = list(csv.DictReader(io.StringIO(
        ok(env, "import", "mentors", str(source), "--school", "Cégep Nord"))))
    assert [c["pseudonym"] for c in codes] == ["Nadia", "Tom"]
    assert all(len(c["invite_code"]) == 9 for c in codes)
    people = list(csv.DictReader(io.StringIO(ok(env, "export", "participants"))))
    assert {p["pseudonym"]: p["profession"] for p in people} == {
        "Nadia": "ingénieure civile", "Tom": "nursing student"}
    assert all(p["school"] == "Cégep Nord" and p["vetted"] == "0" for p in people)
    assert "platform_user_id" not in people[0]


def test_a_file_with_a_bad_row_imports_nothing(env: dict[str, str], tmp_path: Path) -> None:
    ok(env, "db", "upgrade")
    source = tmp_path / "students.csv"
    source.write_text(
        "pseudonym,language,age,fields\n"
        "Zoé,fr,15,health;arts\n"
        "Bob,fr,12,health\n"
        "call me 514 555 1234,fr,16,health\n"
        "Zoé,en,17,science\n", encoding="utf-8")
    result = cli(env, "import", "students", str(source))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "line 3: age" in result.stderr
    assert "line 4: pseudonym" in result.stderr
    assert "line 5: pseudonym 'Zoé' is already taken" in result.stderr
    assert "nothing imported" in result.stderr
    people = list(csv.DictReader(io.StringIO(ok(env, "export", "participants"))))
    assert people == []


MENTORS_CSV = """pseudonym,language,kind,profession,field,years,capacity,vetted
Marc,fr,professional,soudeur,trades,12,1,yes
Anne,fr,professional,infirmière,health,8,2,oui
Paul,fr,professional,avocat,law,5,3,no
"""
STUDENTS_CSV = """pseudonym,language,age,fields
Zoé,fr,16,health
Noé,fr,17,health;social
Léo,fr,15,trades
Ema,fr,16,law
"""


def test_match_auto_proposes_an_optimal_plan_and_dry_run_sends_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    ok(env, "db", "upgrade")
    ok(env, "school", "add", "Polyvalente Sud")
    for kind, text in (("mentors", MENTORS_CSV), ("students", STUDENTS_CSV)):
        path = tmp_path / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        ok(env, "import", kind, str(path), "--school", "Polyvalente Sud")

    dry = cli(env, "match", "auto", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    rows = list(csv.reader(io.StringIO(dry.stdout)))
    assert rows[0] == ["student", "mentor", "score"]
    plan = {student: mentor for student, mentor, _ in rows[1:]}
    # Anne (2 places) takes both health students, Marc the welder-to-be; Paul is not vetted
    assert plan == {"Zoé": "Anne", "Noé": "Anne", "Léo": "Marc"}
    assert "would propose 3 of 4 waiting students" in dry.stderr
    matches = list(csv.reader(io.StringIO(ok(env, "export", "matches"))))
    assert len(matches) == 1  # the header only: nothing was sent

    out = ok(env, "match", "auto", "--school", "Polyvalente Sud")
    assert "proposed 3 of 4 waiting students" in out
    matches = list(csv.reader(io.StringIO(ok(env, "export", "matches"))))
    assert sorted(row[3] for row in matches[1:]) == ["requested"] * 3
    again = ok(env, "match", "auto")  # everyone proposed is waiting for their mentor now
    assert "proposed 0 of 1 waiting students" in again
    error = one_line_error(cli(env, "match", "auto", "--school", "Nowhere"))
    assert "no school" in error


# `passerelle admin --as COORDINATOR …`: the chat commands, from a terminal ---------------------

COORDINATOR = "Mme Tremblay"  # the demo data's coordinator (of the demo school)


def audit_log(env: dict[str, str]) -> list[tuple[str, str, dict[str, object]]]:
    import json
    import sqlite3

    path = env["PASSERELLE_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT actor, action, detail FROM audit_log ORDER BY id").fetchall()
    return [(actor, action, json.loads(detail)) for actor, action, detail in rows]


def outbox_texts(env: dict[str, str], chat: str) -> list[str]:
    import sqlite3

    path = env["PASSERELLE_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT text FROM outbox WHERE chat_id = ? ORDER BY id", (chat,))
        return [text for (text,) in rows]


def test_admin_runs_the_chat_commands_as_a_coordinator(env: dict[str, str],
                                                       tmp_path: Path) -> None:
    from bots.app import build_services

    catalog = build_services().catalog
    ok(env, "db", "upgrade")
    ok(env, "demo-data")
    listing = ok(env, "admin", "--as", COORDINATOR, "help")
    assert catalog.t("fr", "admin.help.reveal") in listing  # the coordinator's language
    # the same answers as in chat
    assert ok(env, "admin", "--as", COORDINATOR, "reveal", "Léa").strip() == catalog.t(
        "fr", "reveal.reason_needed", name="Léa")
    assert ok(env, "admin", "--as", COORDINATOR, "pending").strip() == catalog.t(
        "fr", "pending.none")
    # an invite code, audited as typed on the command line
    out = ok(env, "admin", "--as", COORDINATOR, "invite", "mentor")
    code = next(w for w in out.split() if len(w) == 9 and w[4] == "-")
    assert catalog.t("fr", "invite.created", code=code, role="mentor", uses=1,
                     link="") in out
    actor, action, detail = audit_log(env)[-1]
    assert action == "invite_create" and detail["platform"] == "cli"
    assert actor.startswith("participant:")
    # a file is written where asked
    out = ok(env, "admin", "--as", COORDINATOR, "export", "--out", str(tmp_path / "files"))
    (written,) = (tmp_path / "files").iterdir()
    assert f"file: {written}" in out and written.read_text(encoding="utf-8").strip()


def test_admin_confirms_with_press_and_queues_what_others_receive(env: dict[str, str]) -> None:
    from bots.app import build_services

    catalog = build_services().catalog
    ok(env, "db", "upgrade")
    ok(env, "demo-data")
    preview = ok(env, "admin", "--as", COORDINATOR, "broadcast", "school", "Bonne", "semaine!")
    presses = [line.split(" → ", 1)[1] for line in preview.splitlines() if " → " in line]
    assert presses[0].startswith("passerelle admin --as 'Mme Tremblay' press bcast:")
    assert outbox_texts(env, "student") == []  # nothing sent before the count is confirmed
    action = presses[0].rsplit(" ", 1)[1]
    sent = ok(env, "admin", "--as", COORDINATOR, "press", action)
    assert sent.strip() == catalog.t("fr", "broadcast.sent", count=1)
    (copy,) = outbox_texts(env, "student")  # Léa's, for the running service to deliver
    assert "Bonne semaine!" in copy
    assert outbox_texts(env, "cli") == []  # the coordinator's own answers were printed
    assert [d["platform"] for _, a, d in audit_log(env) if a.startswith("broadcast")] == [
        "cli", "cli"]


def test_admin_refuses_anyone_but_a_coordinator(env: dict[str, str]) -> None:
    ok(env, "db", "upgrade")
    ok(env, "demo-data")
    assert "no coordinator called 'Léa'" in one_line_error(
        cli(env, "admin", "--as", "Léa", "pending"))
    assert "no coordinator" in one_line_error(cli(env, "admin", "--as", "Personne", "stats"))
