"""The people and groups the discussion-group tests set up, through the real bus: a school's
coordinator, program staff, students and mentors onboarded by invite code, a group and its
members."""

from __future__ import annotations

from core.model import Role, School
from tests.harness import Harness
from tests.inbox import news, settle, t

SCHOOL = "École Test"


def student(w: Harness, user: str, pseudonym: str, *, lang: str = "fr", age: str = "16",
            fields: str = "1", school: str = SCHOOL, platform: str = "playground") -> None:
    """A student of `school` (created if new), onboarded through the bus; `fields` is the
    answer to "which fields?" (1: Santé et soins, 3: Génie civil)."""
    with w.store() as store:
        found = store.find_school(school) or store.add_school(School(school))
    code = f"S-{user}".upper()
    w.invite(code, Role.STUDENT, found.id)
    for text in (f"/start {code}", lang, pseudonym, age, fields, "ok"):
        w.say(user, text, platform=platform)
    settle(w, user, platform=platform)


def mentor(w: Harness, user: str, pseudonym: str, *, lang: str = "fr", field: str = "1",
           vetted: bool = True, platform: str = "playground") -> None:
    """A professional mentor ("infirmière") of `field`, vetted by the program unless not."""
    code = f"M-{user}".upper()
    w.invite(code, Role.MENTOR)
    for text in (f"/start {code}", lang, pseudonym, "1", "infirmière", field, "8", "3"):
        w.say(user, text, platform=platform)
    with w.store() as store:
        found = store.find_participant(pseudonym)
        assert found is not None and found.language == lang
        found.vetted = vetted
        store.save_participant(found)
    settle(w, user, platform=platform)


def other_coordinator(w: Harness, user: str, school: str | None) -> None:
    """A coordinator of another school, or program staff (no school) when `school` is None."""
    school_id = None
    if school is not None:
        with w.store() as store:
            school_id = (store.find_school(school) or store.add_school(School(school))).id
    w.invite(f"C-{user}".upper(), Role.COORDINATOR, school_id)
    for text in (f"/start C-{user}", "fr", user.capitalize()):
        w.say(user, text)
    settle(w, user)


def joined(w: Harness, group: int, *users: str) -> None:
    for user in users:
        w.say(user, f"/join {group}")
    settle(w, *users)


def post(w: Harness, name: str, text: str, group: str = "Santé", lang: str = "fr") -> str:
    return t(w, lang, "group.post", group=group, name=name, text=text)


def coordinator(w: Harness, user: str = "coord") -> None:
    """A school's coordinator (school 1), onboarded."""
    with w.store() as store:
        school = store.find_school(SCHOOL) or store.add_school(School(SCHOOL))
    w.invite(f"C-{user}".upper(), Role.COORDINATOR, school.id)
    for text in (f"/start C-{user}", "fr", user.capitalize()):
        w.say(user, text)
    settle(w, user)


def vetted_mentor(w: Harness, user: str, pseudonym: str) -> None:
    w.enrol_mentor(user, pseudonym)
    with w.store() as store:
        mentor = store.find_participant(pseudonym)
        assert mentor is not None
        mentor.vetted = True
        store.save_participant(mentor)
    settle(w, user)


def a_group(w: Harness, text: str = "/group new Santé band=14-17") -> int:
    w.say("coord", text)
    said = news(w, "coord")["coord"]
    assert len(said) == 1 and "#" in said[0], said
    with w.store() as store:
        groups = store.open_groups(None, None, everywhere=True)
    return max(g.id or 0 for g in groups)


def zoe_and_leo_in_a_group(w: Harness) -> int:
    """The usual scene: the coordinator, two students of the school (Zoé, Léo) in a new
    health group; its id."""
    coordinator(w)
    student(w, "kid", "Zoé")
    student(w, "kid2", "Léo")
    group = a_group(w)
    joined(w, group, "kid", "kid2")
    return group
