"""A coordinator plans their school's cohort in chat; a mentor writes the bio students see."""

from __future__ import annotations

from core.model import Role, School
from tests.harness import Harness
from tests.inbox import t


def school_with_people(w: Harness) -> None:
    """Two students of one school waiting, one of another school, two vetted mentors."""
    with w.store() as store:
        south = store.add_school(School("Polyvalente Sud"))
        north = store.add_school(School("École Nord"))
    assert south.id is not None and north.id is not None
    w.invite("C-SUD1", Role.COORDINATOR, school_id=south.id)
    for text in ("/start C-SUD1", "fr", "Mme Roy"):
        w.say("coord", text)
    for user, name, school in (("kid1", "Zoé", south), ("kid2", "Noé", south),
                               ("kid3", "Ana", north)):
        w.invite(f"S-{user}".upper(), Role.STUDENT, school_id=school.id)
        for text in (f"/start S-{user}".upper(), "fr", name, "16", "1", "ok"):
            w.say(user, text)
    w.enrol_mentor("pro1", "Marc")
    w.enrol_mentor("pro2", "Anne")
    with w.store() as store:
        for name in ("Marc", "Anne"):
            mentor = store.find_participant(name)
            assert mentor is not None
            mentor.vetted = True
            store.save_participant(mentor)
    for user in ("coord", "kid1", "kid2", "kid3", "pro1", "pro2"):
        w.texts(user)


def test_matchauto_shows_the_plan_then_sends_it_for_the_school_only(world: Harness) -> None:
    school_with_people(world)
    world.say("coord", "/matchauto")
    plan = world.last("coord")
    assert plan.message.text.startswith(t(world, "fr", "cohort.plan", count=2, list="")[:20])
    assert "Zoé →" in plan.message.text and "Noé →" in plan.message.text
    assert "Ana" not in plan.message.text  # another school's student
    assert [b.action for b in plan.message.buttons] == ["matchauto:go"]
    assert world.texts("pro1") == [] and world.texts("pro2") == []  # nothing sent yet

    world.press("coord", "matchauto:go")
    assert world.texts("coord") == [t(world, "fr", "cohort.sent", count=2)]
    requests = world.texts("pro1") + world.texts("pro2")
    assert len(requests) == 2 and all("Demande de mentorat" in r for r in requests)
    world.say("coord", "/matchauto")  # both are waiting for their mentor now
    assert world.texts("coord") == [t(world, "fr", "cohort.nothing")]
    with world.store() as store:
        audit = store.conn.exec_driver_sql(
            "SELECT count(*) FROM audit_log WHERE action = 'cohort_proposed'").scalar()
    assert audit == 1


def test_matchauto_is_for_coordinators_of_a_school(world: Harness) -> None:
    school_with_people(world)
    world.say("kid1", "/matchauto")
    assert world.texts("kid1") == [t(world, "fr", "command.coordinators_only")]
    world.press("pro1", "matchauto:go")
    assert world.texts("pro1") == [t(world, "fr", "command.coordinators_only")]
    world.invite("C-NOWHERE", Role.COORDINATOR)
    for text in ("/start C-NOWHERE", "en", "Ms Lee"):
        world.say("coord2", text)
    world.texts("coord2")
    world.say("coord2", "/matchauto")
    assert world.texts("coord2") == [t(world, "en", "cohort.no_school")]


def test_a_mentor_writes_the_bio_students_see(world: Harness) -> None:
    school_with_people(world)
    world.say("pro1", "/bio")
    assert world.texts("pro1") == [t(world, "fr", "bio.none", bio="")]
    world.say("pro1", "/bio Infirmier depuis 8 ans, urgences de nuit.")
    assert world.texts("pro1") == [t(world, "fr", "bio.set",
                                     bio="Infirmier depuis 8 ans, urgences de nuit.")]
    for refused in ("/bio écris-moi au 514-555-0199", "/bio " + "x" * 281):
        world.say("pro1", refused)
        assert world.texts("pro1") == [t(world, "fr", "bio.invalid", max=280)]
    world.say("kid1", "/mentors")
    assert "« Infirmier depuis 8 ans, urgences de nuit. »" in world.texts("kid1")[0]
    world.say("kid1", "/bio rien")
    assert world.texts("kid1") == [t(world, "fr", "command.mentors_only")]
