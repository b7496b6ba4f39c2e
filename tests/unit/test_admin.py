"""Coordinators' commands in chat (`/admin …` and the short forms): who may run each one (every
command × every role, no gaps), what it does, and the audit entry of each action."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.context import Services
from core.model import MatchStatus, Role, School
from storage.engine import make_engine
from tests.group_scenes import enrol_coordinator, enrol_student
from tests.harness import Harness
from tests.inbox import audit_rows, news, settle, t

ROLES = ("student", "mentor", "claire", "bruno", "paul")  # Claire: school A; Bruno: B; Paul: all
COORDINATORS = {"claire": "Claire", "bruno": "Bruno", "paul": "Paul"}
EVERYONE = (*ROLES, "noe", "ana", "anne", "lea")


def build_scene(w: Harness) -> None:
    """School A: Zoé (16) matched with Marc, Noé (17) waiting; school B: Ana (17) waiting.
    Mentors: Marc and Anne (vetted), Léa (nobody vetted her yet). Coordinators: Claire (A),
    Bruno (B), Paul (program staff). Zoé's number held for review, one message flagged."""
    with w.store() as store:
        a = store.add_school(School("École A")).id
        b = store.add_school(School("École B")).id
    for user, name, school, age in (("student", "Zoé", a, "16"), ("noe", "Noé", a, "17"),
                                    ("ana", "Ana", b, "17")):
        enrol_student(w, user, name, school, age=age)
    for user, name, school in (("claire", "Claire", a), ("bruno", "Bruno", b),
                               ("paul", "Paul", None)):
        enrol_coordinator(w, user, name, school)
    w.enrol_mentor("mentor", "Marc", profession="soudeur")
    w.enrol_mentor("anne", "Anne", profession="infirmière")
    w.enrol_mentor("lea", "Léa", profession="ingénieure")
    w.vet("Anne")
    w.match("Zoé", "Marc")
    w.say("student", "Appelle-moi au 514-555-0199")  # held: a minor's contact details
    w.say("student", "Personne t'aime pas, loser")  # flagged (harassment), delivered
    settle(w, *EVERYONE)


@pytest.fixture(scope="module")
def scene_file(migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory,
               services: Services) -> Path:
    """The scene, built once: each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("admin") / "scene.db"
    shutil.copyfile(migrated_sqlite, path)
    engine = make_engine(f"sqlite:///{path}")
    build_scene(Harness(engine, services))
    engine.dispose()
    return path


@pytest.fixture
def w(scene_file: Path, tmp_path: Path, services: Services) -> Iterator[Harness]:
    path = tmp_path / "passerelle.db"
    shutil.copyfile(scene_file, path)
    engine: Engine = make_engine(f"sqlite:///{path}")
    yield Harness(engine, services)
    engine.dispose()


def match_status(w: Harness, student: str, mentor: str) -> MatchStatus | None:
    s, m = w.participant(student).id, w.participant(mentor).id
    found = [x for x in w.sql().matches() if x.student_id == s and x.mentor_id == m]
    return found[-1].status if found else None


# What each command changes, when it is allowed (None: it changes nothing but what is said).
Effect = Callable[[Harness], bool] | None
VETTED: Effect = lambda w: w.participant("Léa").vetted  # noqa: E731
REJECTED: Effect = lambda w: w.participant("Léa").rejected_at is not None  # noqa: E731
PROPOSED: Effect = lambda w: match_status(w, "Zoé", "Anne") is MatchStatus.REQUESTED  # noqa: E731
ENDED: Effect = lambda w: match_status(w, "Zoé", "Marc") is MatchStatus.ENDED  # noqa: E731

A_ONLY = {"student": False, "mentor": False, "claire": True, "bruno": False, "paul": True}
ALL = {"student": False, "mentor": False, "claire": True, "bruno": True, "paul": True}
STAFF = {"student": False, "mentor": False, "claire": False, "bruno": False, "paul": True}

# command: (who may, what it changes, the audit action it writes)
MATRIX: dict[str, tuple[dict[str, bool], Effect, str | None]] = {
    "/admin": (ALL, None, None),
    "/admin help": (ALL, None, None),
    "/admin aide": (ALL, None, None),
    "/admin pending": (ALL, None, None),
    "/admin approve Léa": (ALL, VETTED, "mentor_vetted"),
    "/admin vet Léa": (ALL, VETTED, "mentor_vetted"),
    "/admin reject Léa Profil incomplet": (ALL, REJECTED, "mentor_rejected"),
    "/admin match Zoé Anne": (A_ONLY, PROPOSED, "match_request"),
    "/admin unmatch Zoé Marc": (A_ONLY, ENDED, "unmatch"),
    "/admin match auto --dry-run École A": (A_ONLY, None, None),
    "/admin match auto": (
        {"student": False, "mentor": False, "claire": True, "bruno": True, "paul": False},
        None, None),  # program staff name a school (the whole program: the command line)
    "/admin flags": (ALL, None, None),
    "/admin reveal Zoé elle est en danger": (A_ONLY, None, "reveal"),
    "/admin reveal Marc menaces": (ALL, None, "reveal"),
    "/admin broadcast mentors Bonjour à tous": (ALL, None, "broadcast_drafted"),
    "/admin broadcast school École A Bonjour": (A_ONLY, None, "broadcast_drafted"),
    "/admin invite student École A": (A_ONLY, None, "invite_create"),
    "/admin invite mentor": (ALL, None, "invite_create"),
    "/admin invite coordinator": (STAFF, None, "invite_create"),
    "/admin stats": (ALL, None, "stats"),
    "/admin export": (ALL, None, "export"),
    "/admin export École A": (A_ONLY, None, "export"),
    "/admin group": (ALL, None, None),
    # the short forms
    "/pending": (ALL, None, None),
    "/unmatch Zoé Marc": (A_ONLY, ENDED, "unmatch"),
    "/vet Léa": (ALL, VETTED, "mentor_vetted"),
    "/stats": (ALL, None, "stats"),
    "/matchauto": ({"student": False, "mentor": False, "claire": True, "bruno": True,
                    "paul": False}, None, None),
    "/group": (ALL, None, None),
    "/broadcast mentors Bonjour": (ALL, None, "broadcast_drafted"),
    "/export": (ALL, None, "export"),
}


def refusals(w: Harness) -> set[str]:
    """Every way of saying no: not a coordinator, or out of the caller's scope."""
    return {t(w, "fr", key, **values) for key, values in (
        ("command.coordinators_only", {}), ("unmatch.not_yours", {}), ("admin.not_yours", {}),
        ("admin.program_only", {}), ("stats.not_yours", {}), ("cohort.no_school", {}),
        ("broadcast.not_your_school", {"name": "École A"}))}


@pytest.mark.parametrize("command", list(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_who_may_run_each_coordinator_command(w: Harness, command: str, role: str) -> None:
    who, effect, action = MATRIX[command]
    allowed = who[role]
    w.say(role, command)
    said = news(w, role)[role]
    assert said, f"{role} got no answer to {command}"
    assert (said[0] not in refusals(w)) == allowed, said
    if effect is not None:
        assert effect(w) == allowed
    if action is not None:
        actor = f"participant:{w.participant(COORDINATORS[role]).id}" \
            if role in COORDINATORS else None
        rows = [d for a, x, d in audit_rows(w) if a == actor and x == action]
        assert bool(rows) == allowed
        assert all(d.get("platform") == "playground" for d in rows)


def test_the_matrix_has_no_gaps() -> None:
    """Every subcommand of /admin is in the matrix, for all five roles."""
    from core.admin import SUBCOMMANDS

    tried = {c.split()[1] for c in MATRIX if c.startswith("/admin ")}
    for sub in SUBCOMMANDS:
        assert {sub.name, sub.french, *sub.aliases} & tried, sub.name
    assert all(set(who) == set(ROLES) for who, _, _ in MATRIX.values())


def test_help_lists_every_command_in_the_callers_language(w: Harness) -> None:
    from core.admin import SUBCOMMANDS

    w.say("paul", "/language")
    w.press("paul", "lang:en")
    settle(w, "paul")
    w.say("paul", "/admin")
    (text,) = news(w, "paul")["paul"]
    for sub in SUBCOMMANDS:
        assert t(w, "en", f"admin.help.{sub.name}") in text
    w.say("claire", "/admin n'importe quoi")
    (text,) = news(w, "claire")["claire"]
    assert text.startswith(t(w, "fr", "admin.unknown", command="n'importe", commands="")[:30])
    assert t(w, "fr", "admin.help.reveal") in text


# Mentors awaiting vetting ----------------------------------------------------------------------

def test_pending_lists_unvetted_mentors_with_approve_and_reject(w: Harness) -> None:
    w.say("claire", "/admin attente")
    (listing,) = w.inbox("claire")
    assert "Léa" in listing.message.text and "Anne" not in listing.message.text  # Anne: vetted
    lea = w.participant("Léa").id
    assert [b.action for b in listing.message.buttons] == [f"vet:{lea}", f"reject:{lea}"]
    w.press("claire", f"vet:{lea}")
    assert news(w, "claire", "lea") == {"claire": [t(w, "fr", "vet.done", name="Léa")],
                                        "lea": [t(w, "fr", "vet.mentor_told")]}
    claire = w.participant("Claire").id
    assert [(a, d) for a, x, d in audit_rows(w) if x == "mentor_vetted"] == [
        (f"participant:{claire}", {"mentor_id": lea, "platform": "playground"})]
    w.say("claire", "/pending")
    assert news(w, "claire")["claire"] == [t(w, "fr", "pending.none")]


def test_reject_asks_for_a_reason_then_tells_the_mentor_and_keeps_them_out(w: Harness) -> None:
    lea = w.participant("Léa").id
    w.press("bruno", f"reject:{lea}")  # the button says what to type: a reason is needed
    assert news(w, "bruno")["bruno"] == [t(w, "fr", "reject.how", name="Léa")]
    w.say("bruno", "/admin refuser Léa")
    assert news(w, "bruno")["bruno"] == [t(w, "fr", "reject.how", name="Léa")]
    assert w.participant("Léa").rejected_at is None
    w.say("bruno", "/admin refuser Léa Aucune expérience vérifiable")
    got = news(w, "lea", "bruno")
    assert got == {"lea": [t(w, "fr", "reject.mentor_told",
                             reason="Aucune expérience vérifiable")],
                   "bruno": [t(w, "fr", "reject.done", name="Léa")]}
    lea_now = w.participant("Léa")
    assert (lea_now.rejected_reason, lea_now.vetted) == ("Aucune expérience vérifiable", False)
    bruno = w.participant("Bruno").id
    assert [(a, d) for a, x, d in audit_rows(w) if x == "mentor_rejected"] == [
        (f"participant:{bruno}", {"mentor_id": lea, "reason": "Aucune expérience vérifiable",
                                  "platform": "playground"})]
    w.say("claire", "/pending")  # out of the list
    assert news(w, "claire")["claire"] == [t(w, "fr", "pending.none")]
    w.say("claire", "/admin refuser Léa encore")
    assert news(w, "claire")["claire"] == [t(w, "fr", "reject.already", name="Léa")]
    # never matched (not even with an adult), suggested, nor listed to a student
    w.say("paul", "/admin jumeler Noé Léa")
    assert news(w, "paul")["paul"] == [t(w, "fr", "match.rejected", mentor="Léa")]
    with w.store() as store:
        assert lea not in {card.id for card in store.mentor_cards()}
    w.say("noe", "/request Léa Bonjour")
    assert news(w, "noe")["noe"] == [t(w, "fr", "request.unknown_mentor", name="Léa")]


def test_a_rejected_mentor_is_suggested_to_nobody_and_let_into_no_group(w: Harness) -> None:
    """Anne was vetted and could be asked; once turned down, no student finds her (/suggest, a
    suggestion's button, /request) and no group lets her in, while Marc still joins."""
    anne = w.participant("Anne").id
    w.say("noe", "/suggest")
    (before,) = w.inbox("noe")
    assert "Anne" in before.message.text
    w.say("claire", "/group new Santé")
    assert len(news(w, "claire")["claire"]) == 1  # created
    with w.store() as store:
        group = max(g.id or 0 for g in store.open_groups(None, None, everywhere=True))
    w.say("paul", "/admin refuser Anne Plainte d'un parent")
    assert news(w, "paul")["paul"] == [t(w, "fr", "reject.done", name="Anne")]
    w.say("noe", "/suggest")
    assert "Anne" not in " ".join(news(w, "noe")["noe"])
    w.press("noe", f"ask:{anne}")  # the button of the earlier suggestion
    w.say("noe", "/request Anne Bonjour")
    assert news(w, "noe")["noe"] == [t(w, "fr", "request.unknown_mentor", name="Anne")] * 2
    w.say("anne", f"/join {group}")
    w.press("anne", f"gjoin:{group}")
    assert news(w, "anne")["anne"][-2:] == [t(w, "fr", "group.unknown", name=str(group)),
                                            t(w, "fr", "group.cannot_join")]
    w.say("mentor", f"/join {group}")  # Marc, vetted: the group itself is open to mentors
    assert news(w, "mentor")["mentor"][0].startswith(t(w, "fr", "group.joined", name="Santé",
                                                       count=1, welcome="", how="")[:30])
    with w.store() as store:
        assert store.membership(group, anne or 0) is None


# Matches ---------------------------------------------------------------------------------------

def test_match_from_chat_proposes_to_the_mentor_with_the_safety_gates(w: Harness) -> None:
    w.say("claire", "/admin jumeler Noé Anne")
    match = match_status(w, "Noé", "Anne")
    assert match is MatchStatus.REQUESTED
    got = news(w, "claire", "anne", "noe")
    assert got["claire"] == [t(w, "fr", "admin.match.proposed", student="Noé", mentor="Anne",
                               id=max(m.id or 0 for m in w.sql().matches()))]
    assert len(got["anne"]) == 1 and got["noe"] == []  # the student hears once she accepts
    w.say("claire", "/admin jumeler Noé Léa")  # a minor, an unvetted mentor
    assert news(w, "claire")["claire"] == [t(w, "fr", "match.unvetted", student="Noé",
                                             mentor="Léa")]
    w.say("claire", "/admin jumeler Ana Anne")  # another school's student
    assert news(w, "claire")["claire"] == [t(w, "fr", "admin.not_yours")]
    w.say("claire", "/admin jumeler Noé")
    assert news(w, "claire")["claire"] == [t(w, "fr", "admin.match.how")]


def test_match_auto_dry_run_then_confirm_for_a_named_school(w: Harness) -> None:
    school_a = w.participant("Noé").school_id
    w.say("paul", "/admin match auto --dry-run École A")
    (plan,) = w.inbox("paul")
    assert "Noé →" in plan.message.text and "Ana" not in plan.message.text
    assert [b.action for b in plan.message.buttons] == [f"matchauto:go:{school_a}"]
    w.press("bruno", f"matchauto:go:{school_a}")  # another school's coordinator: no
    assert news(w, "bruno")["bruno"] == [t(w, "fr", "admin.not_yours")]
    assert match_status(w, "Noé", "Anne") is None
    w.press("paul", f"matchauto:go:{school_a}")
    assert news(w, "paul")["paul"] == [t(w, "fr", "cohort.sent", count=1)]
    assert match_status(w, "Noé", "Anne") is MatchStatus.REQUESTED
    assert [d for _, x, d in audit_rows(w) if x == "cohort_proposed"] == [
        {"school_id": school_a, "proposals": 1, "platform": "playground"}]


def test_unmatch_tells_both_and_is_audited(w: Harness) -> None:
    w.say("paul", "/admin dejumeler Zoé Marc")
    got = news(w, "paul", "student", "mentor")
    assert got["paul"] == [t(w, "fr", "unmatch.done", student="Zoé", mentor="Marc")]
    assert got["student"][0] == t(w, "fr", "end.by_coordinator", name="Marc (soudeur)")
    assert got["mentor"][0] == t(w, "fr", "end.by_coordinator", name="Zoé")
    paul = w.participant("Paul").id
    assert [a for a, x, _ in audit_rows(w) if x == "unmatch"] == [f"participant:{paul}"]
    w.say("paul", "/unmatch Zoé Marc")
    assert news(w, "paul")["paul"] == [t(w, "fr", "unmatch.none", student="Zoé",
                                         mentor="Marc")]
    w.say("paul", "/unmatch Zoé")
    assert news(w, "paul")["paul"] == [t(w, "fr", "unmatch.how")]


# Flags -----------------------------------------------------------------------------------------

def test_flags_lists_the_queue_in_scope_and_seen_closes_a_flag(w: Harness) -> None:
    w.say("bruno", "/admin flags")  # nothing from school B
    assert news(w, "bruno")["bruno"] == [t(w, "fr", "flags.none")]
    w.say("claire", "/admin signalements")
    header, held, flagged = w.inbox("claire")
    assert header.message.text == t(w, "fr", "flags.header", count=2, more="")
    assert "514-555-0199" in held.message.text
    assert [b.action.rsplit(":", 1)[0] for b in held.message.buttons] == [
        "held:ok", "held:redact", "held:no"]
    assert "loser" in flagged.message.text
    (seen,) = flagged.message.buttons
    assert seen.action.startswith("flag:seen:")
    w.press("bruno", seen.action)  # not his school's
    assert news(w, "bruno")["bruno"] == [t(w, "fr", "admin.not_yours")]
    w.press("claire", seen.action)
    w.press("paul", seen.action)  # the first one counts
    assert news(w, "claire", "paul") == {"claire": [t(w, "fr", "flags.closed")],
                                         "paul": [t(w, "fr", "flags.already_seen")]}
    claire = w.participant("Claire").id
    assert [(a, d["platform"]) for a, x, d in audit_rows(w) if x == "flag_seen"] == [
        (f"participant:{claire}", "playground")]
    w.press("claire", held.message.buttons[2].action)  # reject the held one
    settle(w, "claire", "student")
    w.say("paul", "/admin flags")
    assert news(w, "paul")["paul"] == [t(w, "fr", "flags.none")]


def test_the_queue_and_reveal_on_both_databases(any_world: Harness) -> None:
    """The queries behind /admin flags (held and flagged rows by school, oldest first, a seen
    one out) and /admin reveal (every account of a person), on SQLite and on PostgreSQL."""
    w = any_world
    build_scene(w)
    w.say("claire", "/admin flags")
    header, held, flagged = w.inbox("claire")
    assert header.message.text == t(w, "fr", "flags.header", count=2, more="")
    assert "514-555-0199" in held.message.text and "loser" in flagged.message.text
    w.say("bruno", "/admin flags")
    assert news(w, "bruno")["bruno"] == [t(w, "fr", "flags.none")]
    w.press("paul", flagged.message.buttons[0].action)
    w.say("paul", "/admin flags")
    paul = news(w, "paul")["paul"]
    assert paul[0] == t(w, "fr", "flags.closed")
    assert paul[1] == t(w, "fr", "flags.header", count=1, more="") and len(paul) == 3
    w.say("paul", "/admin reveal Zoé urgence")
    line = t(w, "fr", "reveal.line", platform="playground", user="student", chat="student")
    assert news(w, "paul")["paul"] == [t(w, "fr", "reveal.show", name="Zoé", accounts=line)]


def test_a_flag_arrives_with_its_seen_button(w: Harness) -> None:
    w.say("student", "On se voit en personne?")  # meeting: flagged to school A
    (note,) = [s for s in w.inbox("claire") if s.message.buttons]
    assert note.message.buttons[0].action.startswith("flag:seen:")


# Reveal ----------------------------------------------------------------------------------------

def test_reveal_needs_a_reason_answers_and_tells_program_staff(w: Harness) -> None:
    w.say("claire", "/admin reveler Zoé")
    assert news(w, "claire")["claire"] == [t(w, "fr", "reveal.reason_needed", name="Zoé")]
    assert [x for _, x, _ in audit_rows(w) if x == "reveal"] == []
    w.say("claire", "/admin reveler Zoé Elle parle de se faire du mal")
    got = news(w, "claire", "paul", "bruno", "student")
    line = t(w, "fr", "reveal.line", platform="playground", user="student", chat="student")
    assert got["claire"] == [t(w, "fr", "reveal.show", name="Zoé", accounts=line)]
    assert got["paul"] == [t(w, "fr", "reveal.notice", who="Claire", name="Zoé",
                             reason="Elle parle de se faire du mal")]
    assert got["bruno"] == [] and got["student"] == []
    claire, zoe = w.participant("Claire").id, w.participant("Zoé").id
    assert [(a, d) for a, x, d in audit_rows(w) if x == "reveal"] == [
        (f"participant:{claire}", {"participant_id": zoe,
                                   "reason": "Elle parle de se faire du mal",
                                   "platform": "playground"})]
    w.say("bruno", "/admin reveler Zoé urgence")
    assert news(w, "bruno")["bruno"] == [t(w, "fr", "admin.not_yours")]
    w.say("claire", "/admin reveler Personne urgence")
    assert news(w, "claire")["claire"] == [t(w, "fr", "reveal.how")]


# Invites ---------------------------------------------------------------------------------------

def test_an_invite_made_in_chat_enrols_a_student_of_that_school(
        w: Harness, services: Services) -> None:
    import dataclasses

    w.services = dataclasses.replace(services, telegram_username="PasserelleBot")
    w.bus.services = w.services
    w.say("claire", "/admin inviter eleve 2")
    (text,) = news(w, "claire")["claire"]
    code = next(word for word in text.replace("\n", " ").split()
                if len(word) == 9 and word[4] == "-")
    assert text == t(w, "fr", "invite.created", code=code, role=t(w, "fr", "invite.role.student"),
                     uses=2, link=t(w, "fr", "invite.link",
                                    link=f"https://t.me/PasserelleBot?start={code}"))
    for message in (f"/start {code}", "fr", "Jade", "15", "1", "ok"):
        w.say("jade", message, platform="telegram")
    jade = w.participant("Jade")
    assert (jade.role, jade.school_id) == (Role.STUDENT, w.participant("Claire").school_id)
    claire = w.participant("Claire").id
    assert [(a, d) for a, x, d in audit_rows(w) if x == "invite_create"] == [
        (f"participant:{claire}", {"role": "student", "school_id": jade.school_id,
                                   "max_uses": 2, "platform": "playground"})]


def invites(w: Harness) -> set[tuple[str, str, int | None, int | None]]:
    with w.sql().conn as conn:
        return {tuple(r) for r in conn.exec_driver_sql(  # type: ignore[misc]
            "SELECT code, role, school_id, max_uses FROM invites")}


def test_who_invites_whom(w: Harness) -> None:
    before = invites(w)
    w.say("paul", "/admin invite student")
    assert news(w, "paul")["paul"] == [t(w, "fr", "invite.which_school")]
    w.say("paul", "/admin invite coordinator École B")
    w.say("claire", "/admin invite mentor 3")
    w.say("claire", "/admin invite janitor")
    assert news(w, "claire")["claire"][1] == t(w, "fr", "invite.how")
    made = sorted(row[1:] for row in invites(w) - before)
    school_b = w.participant("Ana").school_id
    assert made == [("coordinator", school_b, 1), ("mentor", None, 3)]


def test_a_mentor_rejected_after_vetting_leaves_their_conversations_and_groups(
        w: Harness) -> None:
    """Anne, vetted, in a conversation with Noé and in a group, is turned down: the
    conversation ends (both told it is the coordination's decision) and she leaves the group."""
    w.match("Noé", "Anne")
    w.say("claire", "/group new Santé")
    with w.store() as store:
        group = max(g.id or 0 for g in store.open_groups(None, None, everywhere=True))
    w.say("anne", f"/join {group}")
    settle(w, "noe", "anne", "claire")
    w.say("paul", "/admin refuser Anne Plainte d'un parent")
    got = news(w, "paul", "noe", "anne")
    assert got["paul"] == [t(w, "fr", "reject.done", name="Anne")]
    assert got["noe"][0] == t(w, "fr", "end.by_coordinator", name="Anne (infirmière)")
    assert got["anne"][1] == t(w, "fr", "end.by_coordinator", name="Noé")
    assert got["anne"][0] == t(w, "fr", "reject.mentor_told", reason="Plainte d'un parent")
    anne = w.participant("Anne")
    with w.store() as store:
        assert store.open_matches(anne.id or 0) == []
        assert store.membership(group, anne.id or 0) is None
        assert store.participant(anne.id or 0).current_match_id is None  # type: ignore[union-attr]


def test_a_request_waiting_for_a_rejected_mentor_lapses_without_an_end_survey(
        w: Harness) -> None:
    """A request Anne never answered is no conversation: turning her down closes it as lapsed
    (not ended, not counted as a match that took place), Noé hears it and gets other mentors,
    and nobody is asked how a conversation that never was went."""
    w.say("noe", "/request Anne Bonjour, vous aimez votre métier?")
    settle(w, "noe", "anne")
    w.say("paul", "/admin refuser Anne Plainte d'un parent")
    got = news(w, "noe", "anne")
    assert got["noe"][0] == t(w, "fr", "request.withdrawn_student", name="Anne (infirmière)")
    assert got["anne"] == [t(w, "fr", "reject.mentor_told", reason="Plainte d'un parent"),
                           t(w, "fr", "request.withdrawn_mentor", name="Noé")]
    survey = t(w, "fr", "survey.end_reason")
    assert all(survey not in text for text in got["noe"] + got["anne"])
    (match,) = [m for m in w.sql().matches() if m.mentor_id == w.participant("Anne").id]
    assert match.status is MatchStatus.EXPIRED
