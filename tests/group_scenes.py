"""The people and groups tests set up, through the real bus: students, mentors and coordinators
onboarded by invite code (the coordinators' tests build their scenes from these), and for the
discussion-group tests a school's coordinator, program staff, a group and its members."""

from __future__ import annotations

from core.model import Role, School
from tests.harness import Harness
from tests.inbox import news, settle, t

SCHOOL = "École Test"


# Onboarding through the bus (each test module's scene is built from these) ------------------

def school_id(w: Harness, name: str) -> int:
    """The school of that name, created if new."""
    with w.store() as store:
        found = store.find_school(name) or store.add_school(School(name))
    assert found.id is not None
    return found.id


def enrol_student(w: Harness, user: str, pseudonym: str, school: int | None, *,
                  lang: str = "fr", age: str = "16", fields: str = "1",
                  platform: str = "playground") -> None:
    """A student of school id `school`, onboarded by invite code (what they were told is left
    unread); `fields` answers "which fields?" (1: Santé et soins, 3: Génie civil)."""
    code = f"S-{user}".upper()
    w.invite(code, Role.STUDENT, school)
    for text in (f"/start {code}", lang, pseudonym, age, fields, "ok"):
        w.say(user, text, platform=platform)


def enrol_mentor(w: Harness, user: str, pseudonym: str, *, lang: str = "fr",
                 profession: str = "infirmière", field: str = "1",
                 platform: str = "playground") -> None:
    """A professional mentor of `field`, onboarded by invite code, not vetted yet."""
    code = f"M-{user}".upper()
    w.invite(code, Role.MENTOR)
    for text in (f"/start {code}", lang, pseudonym, "1", profession, field, "8", "3"):
        w.say(user, text, platform=platform)


def enrol_coordinator(w: Harness, user: str, pseudonym: str, school: int | None, *,
                      lang: str = "fr") -> None:
    """A coordinator of school id `school`, or program staff when it is None."""
    code = f"C-{user}".upper()
    w.invite(code, Role.COORDINATOR, school)
    for text in (f"/start {code}", lang, pseudonym):
        w.say(user, text)


# The discussion-group scenes ------------------------------------------------------------------

def student(w: Harness, user: str, pseudonym: str, *, lang: str = "fr", age: str = "16",
            fields: str = "1", school: str = SCHOOL, platform: str = "playground") -> None:
    """A student of `school` (created if new), onboarded, their news read."""
    enrol_student(w, user, pseudonym, school_id(w, school), lang=lang, age=age, fields=fields,
                  platform=platform)
    settle(w, user, platform=platform)


def mentor(w: Harness, user: str, pseudonym: str, *, lang: str = "fr", field: str = "1",
           vetted: bool = True, platform: str = "playground") -> None:
    """A professional mentor ("infirmière") of `field`, vetted by the program unless not."""
    enrol_mentor(w, user, pseudonym, lang=lang, field=field, platform=platform)
    with w.store() as store:
        found = store.find_participant(pseudonym)
        assert found is not None and found.language == lang
        found.vetted = vetted
        store.save_participant(found)
    settle(w, user, platform=platform)


def other_coordinator(w: Harness, user: str, school: str | None) -> None:
    """A coordinator of another school, or program staff (no school) when `school` is None."""
    enrol_coordinator(w, user, user.capitalize(),
                      school_id(w, school) if school is not None else None)
    settle(w, user)


def joined(w: Harness, group: int, *users: str) -> None:
    for user in users:
        w.say(user, f"/join {group}")
    settle(w, *users)


def post(w: Harness, name: str, text: str, group: str = "Santé", lang: str = "fr") -> str:
    return t(w, lang, "group.post", group=group, name=name, text=text)


def coordinator(w: Harness, user: str = "coord") -> None:
    """A coordinator of the school of the scenes (SCHOOL), onboarded."""
    other_coordinator(w, user, SCHOOL)


def vetted_mentor(w: Harness, user: str, pseudonym: str) -> None:
    mentor(w, user, pseudonym)


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
