"""Enrolment and onboarding through the real bus: every path, and every refusal."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from core.model import MentorKind, Participant, Role, Step
from core.onboarding import MAX_AGE, MAX_CAPACITY, MAX_STUDENT_FIELDS, MAX_YEARS, MIN_AGE
from storage.tables import A
from tests.harness import Harness


def t(w: Harness, lang: str, key: str, **values: object) -> str:
    return w.services.catalog.t(lang, key, **values)


def person(w: Harness, user: str, platform: str = "playground") -> Participant:
    """The participant behind a platform user, wherever they stand in onboarding."""
    with w.store() as store:
        identity = store.identity(platform, user)  # type: ignore[arg-type]
        assert identity is not None, f"{user} is not enrolled"
        found = store.participant(identity.participant_id)
    assert found is not None
    return found


def enrolled(w: Harness, user: str, platform: str = "playground") -> bool:
    with w.store() as store:
        return store.identity(platform, user) is not None  # type: ignore[arg-type]


def audit(w: Harness) -> list[tuple[str, str, dict[str, object]]]:
    with w.sql().conn as conn:  # closed at once: an open SQLite read would hold the write lock
        rows = conn.execute(select(A.c.actor, A.c.action, A.c.detail).order_by(A.c.id)).all()
    return [(r.actor, r.action, json.loads(r.detail)) for r in rows]


def start_student(w: Harness, user: str = "kid", lang: str = "fr") -> None:
    """Enrolled with a student invite, language chosen: the pseudonym question is next."""
    w.invite(f"S-{user}", Role.STUDENT)
    w.say(user, f"/start S-{user}")
    w.say(user, lang)
    w.texts(user)
    assert person(w, user).step is Step.PSEUDONYM


def student_at_age(w: Harness, user: str = "kid", lang: str = "fr") -> None:
    start_student(w, user, lang)
    w.say(user, "Zoé")
    w.texts(user)
    assert person(w, user).step is Step.AGE


def student_at_fields(w: Harness, user: str = "kid", lang: str = "fr") -> None:
    student_at_age(w, user, lang)
    w.say(user, "16")
    w.texts(user)
    assert person(w, user).step is Step.FIELDS


def mentor_at(w: Harness, step: Step, user: str = "pro") -> None:
    """A mentor walked through onboarding up to `step` (Marc, soudeur, field 3, 4 years)."""
    w.invite(f"M-{user}", Role.MENTOR)
    for text in (f"/start M-{user}", "fr", "Marc", "1", "soudeur", "3", "4"):
        w.say(user, text)
        if person(w, user).step is step:
            break
    w.texts(user)
    assert person(w, user).step is step


# strangers -----------------------------------------------------------------------------------

def test_a_stranger_without_a_code_is_asked_for_one_in_french_by_default(world: Harness) -> None:
    world.say("u", "Bonjour, comment est-ce que ça marche?")
    assert world.texts("u") == [t(world, "fr", "welcome.need_code")]
    assert not enrolled(world, "u")


def test_a_stranger_writing_english_is_asked_in_english(world: Harness) -> None:
    world.say("u", "Hello, how does this work?")
    assert world.texts("u") == [t(world, "en", "welcome.need_code")]


def test_a_stranger_with_an_english_locale_is_asked_in_english(world: Harness) -> None:
    world.say("u", "hi!", locale="en-US")
    assert world.texts("u") == [t(world, "en", "welcome.need_code")]


def test_french_words_beat_an_english_locale(world: Harness) -> None:
    world.say("u", "Bonjour, je voudrais parler avec une infirmière", locale="en-US")
    assert world.texts("u") == [t(world, "fr", "welcome.need_code")]


def test_start_without_a_code_asks_for_one(world: Harness) -> None:
    world.say("u", "/start")
    assert world.texts("u") == [t(world, "fr", "welcome.need_code")]
    assert not enrolled(world, "u")


def test_a_stranger_sending_a_button_press_is_asked_for_a_code(world: Harness) -> None:
    world.press("u", "lang:en")
    assert world.texts("u") == [t(world, "fr", "welcome.need_code")]


def test_an_unknown_code_is_refused(world: Harness) -> None:
    world.invite("GOOD1234", Role.STUDENT)
    for text in ("/start NOPE-1234", "NOPE1234", "/start GOOD12345"):
        world.say("u", text)
        assert world.texts("u") == [t(world, "fr", "welcome.bad_code")], text
    assert not enrolled(world, "u")


def test_a_single_use_code_works_once(world: Harness) -> None:
    world.invite("ONCE1234", Role.STUDENT, max_uses=1)
    world.say("first", "/start ONCE1234")
    assert world.texts("first")[0] == t(world, "fr", "welcome.student")
    world.say("second", "/start ONCE1234")
    assert world.texts("second") == [t(world, "fr", "welcome.bad_code")]
    assert enrolled(world, "first") and not enrolled(world, "second")


@pytest.mark.parametrize("text", ["/start abcd-2345", "/start ABCD-2345 extra words", "abcd-2345",
                                  "  ABCD-2345  ", "/start@PasserelleBot ABCD-2345"])
def test_a_code_is_accepted_typed_or_after_start(world: Harness, text: str) -> None:
    world.invite("ABCD-2345", Role.STUDENT)
    world.say("u", text)
    assert world.texts("u") == [
        t(world, "fr", "welcome.student"), t(world, "fr", "onboarding.language"),
    ]
    got = person(world, "u")
    assert (got.role, got.step) == (Role.STUDENT, Step.LANGUAGE)


def test_the_language_question_offers_both_languages_as_buttons(world: Harness) -> None:
    world.invite("ABCD-2345", Role.STUDENT)
    world.say("u", "/start ABCD-2345")
    question = world.inbox("u")[-1].message
    assert {b.action for b in question.buttons} == {"lang:fr", "lang:en"}


def test_enrolling_is_audited(world: Harness) -> None:
    world.invite("ABCD-2345", Role.MENTOR)
    world.say("u", "/start ABCD-2345")
    pid = person(world, "u").id
    assert audit(world) == [
        (f"participant:{pid}", "enrol",
         {"role": "mentor", "school_id": None, "platform": "playground"}),
    ]


def test_a_claim_invite_attaches_the_identity_to_the_imported_person(world: Harness) -> None:
    with world.store() as store:
        imported = store.add_participant(Participant(
            role=Role.STUDENT, pseudonym="Léa", language="en", step=Step.DONE, age=17,
            fields=["health"], created_at=world.clock(),
        ))
    world.invite("CLAIM-2345", Role.STUDENT, participant_id=imported.id, max_uses=1)
    world.say("lea-on-telegram", "/start CLAIM-2345", platform="telegram")
    welcome = t(world, "en", "welcome.back", name="Léa")
    assert world.texts("lea-on-telegram", "telegram") == [welcome]
    assert person(world, "lea-on-telegram", "telegram").id == imported.id
    world.say("someone-else", "/start CLAIM-2345")
    assert world.texts("someone-else") == [t(world, "fr", "welcome.bad_code")]


# language -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("answer", "action", "lang"), [
    ("", "lang:en", "en"), ("", "lang:fr", "fr"), ("english", None, "en"), ("English", None, "en"),
    ("fr", None, "fr"), ("anglais", None, "en"), ("Français", None, "fr"), ("2", None, "en"),
])
def test_the_language_is_chosen_by_button_or_text(
    world: Harness, answer: str, action: str | None, lang: str
) -> None:
    world.invite("ABCD-2345", Role.STUDENT)
    world.say("u", "/start ABCD-2345")
    world.texts("u")
    world.say("u", answer, action=action)
    assert world.texts("u") == [t(world, lang, "onboarding.pseudonym")]
    got = person(world, "u")
    assert (got.language, got.step) == (lang, Step.PSEUDONYM)


def test_an_invalid_language_answer_asks_again(world: Harness) -> None:
    world.invite("ABCD-2345", Role.STUDENT)
    world.say("u", "/start ABCD-2345")
    world.texts("u")
    for answer, action in (("deutsch", None), ("", "lang:de"), ("", "x"), ("3", None)):
        world.say("u", answer, action=action)
        again = world.inbox("u")
        assert [s.message.text for s in again] == [t(world, "fr", "onboarding.language_again")]
        assert {b.action for b in again[0].message.buttons} == {"lang:fr", "lang:en"}
        assert person(world, "u").step is Step.LANGUAGE


# pseudonym ------------------------------------------------------------------------------------

def test_a_pseudonym_with_contact_details_is_refused(world: Harness) -> None:
    start_student(world)
    for name in ("514 555 1234", "zoe 514-555-1234", "zoe@example.com", "@zoe_22", "zoe.com",
                 "https://zoe", "www.zoe", "Zoé#1234"):
        world.say("kid", name)
        assert world.texts("kid") == [t(world, "fr", "pseudonym.contact")], name
        got = person(world, "kid")
        assert (got.pseudonym, got.step) == (None, Step.PSEUDONYM)


def test_an_invalid_pseudonym_is_refused(world: Harness) -> None:
    start_student(world)
    for name in ("Z", "12345", "12 34", "-zoe", ".zoe", "_zoe", "'zoe", "zoé!", "a" * 25,
                 "Zoé 🙂"):
        world.say("kid", name)
        assert world.texts("kid") == [t(world, "fr", "pseudonym.invalid")], name
        got = person(world, "kid")
        assert (got.pseudonym, got.step) == (None, Step.PSEUDONYM)


@pytest.mark.parametrize("name", ["Zo", "Zoé", "Jean-Marc", "Marie Ève", "d'Artagnan", "K2",
                                  "a" * 24])
def test_a_valid_pseudonym_is_accepted(world: Harness, name: str) -> None:
    start_student(world)
    world.say("kid", name)
    assert world.texts("kid") == [t(world, "fr", "onboarding.age", min=MIN_AGE, max=MAX_AGE)]
    assert person(world, "kid").pseudonym == name


def test_spaces_in_a_pseudonym_are_tidied(world: Harness) -> None:
    start_student(world)
    world.say("kid", "  Marie    Ève ")
    assert person(world, "kid").pseudonym == "Marie Ève"


def test_a_pseudonym_already_taken_is_refused_whatever_its_case(world: Harness) -> None:
    world.enrol_student("first", "Zoé")
    start_student(world)
    for taken in ("zoé", "ZOÉ", "Zoé", " zoé "):
        world.say("kid", taken)
        assert world.texts("kid") == [t(world, "fr", "pseudonym.taken", name=taken.strip())]
        assert person(world, "kid").pseudonym is None
    world.say("kid", "Zoé 2")
    assert person(world, "kid").pseudonym == "Zoé 2"


def test_a_button_at_the_pseudonym_step_asks_the_question_again(world: Harness) -> None:
    start_student(world)
    world.press("kid", "kind:peer")
    assert world.texts("kid") == [t(world, "fr", "onboarding.pseudonym")]
    got = person(world, "kid")
    assert (got.pseudonym, got.step) == (None, Step.PSEUDONYM)


# student age ----------------------------------------------------------------------------------

def test_an_age_that_is_not_a_number_is_asked_again(world: Harness) -> None:
    student_at_age(world)
    again = t(world, "fr", "onboarding.age_again", min=MIN_AGE, max=MAX_AGE)
    for answer in ("seize", "16 ans", "-16", "1.5", "", "1600"):
        world.say("kid", answer)
        assert world.texts("kid") == [again], answer
        got = person(world, "kid")
        assert (got.age, got.step) == (None, Step.AGE)


@pytest.mark.parametrize("age", [MIN_AGE, MAX_AGE, 16])
def test_ages_in_range_are_accepted(world: Harness, age: int) -> None:
    student_at_age(world)
    world.say("kid", str(age))
    texts = world.texts("kid")
    assert texts == [t(world, "fr", "onboarding.fields", chosen="—", max=MAX_STUDENT_FIELDS)]
    got = person(world, "kid")
    assert (got.age, got.step) == (age, Step.FIELDS)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_child_under_fourteen_is_refused_kindly_and_stays_refused(
    world: Harness, lang: str
) -> None:
    student_at_age(world, lang=lang)
    world.say("kid", "13")
    refusal = t(world, lang, "age.too_young", min=MIN_AGE, max=MAX_AGE)
    assert world.texts("kid") == [refusal]
    assert ("adulte" if lang == "fr" else "adult") in refusal
    got = person(world, "kid")
    assert (got.age, got.step) == (13, Step.REFUSED)
    assert ("refused_age", {"age": 13}) in [(a, d) for _, a, d in audit(world)]
    for later in ("16", "j'ai 16 ans en fait", "/start"):
        world.say("kid", later)
        assert world.texts("kid")[-1] == refusal
    assert person(world, "kid").step is Step.REFUSED


def test_a_student_over_thirty_is_refused(world: Harness) -> None:
    student_at_age(world)
    world.say("kid", "31")
    too_old = t(world, "fr", "age.too_old", min=MIN_AGE, max=MAX_AGE)
    assert world.texts("kid") == [too_old]
    assert person(world, "kid").step is Step.REFUSED
    world.say("kid", "bonjour")
    assert world.texts("kid") == [too_old]


# student fields -------------------------------------------------------------------------------

def test_fields_are_toggled_by_buttons(world: Harness) -> None:
    student_at_fields(world)
    world.press("kid", "field:health")
    world.press("kid", "field:law")
    assert person(world, "kid").fields == ["health", "law"]
    world.press("kid", "field:health")
    assert person(world, "kid").fields == ["law"]
    last = world.inbox("kid")[-1].message
    assert last.text == t(world, "fr", "onboarding.fields", chosen="Droit et sécurité publique",
                          max=MAX_STUDENT_FIELDS)
    marked = [b for b in last.buttons if b.label.startswith("✓ ")]
    assert [b.action for b in marked] == ["field:law"]
    assert last.buttons[-1].action == "fields:done"


def test_the_field_buttons_list_every_field_then_done(world: Harness) -> None:
    student_at_age(world)
    world.say("kid", "16")
    question = world.inbox("kid")[-1].message
    keys = [f.key for f in world.services.fields]
    assert [b.action for b in question.buttons] == [f"field:{k}" for k in keys] + ["fields:done"]


def test_an_unknown_field_button_changes_nothing(world: Harness) -> None:
    student_at_fields(world)
    world.press("kid", "field:astronaut")
    assert person(world, "kid").fields == []
    assert person(world, "kid").step is Step.FIELDS


@pytest.mark.parametrize(("answer", "expected"), [
    ("1, 3", ["health", "civil_eng"]),
    ("1;3\n5", ["health", "civil_eng", "computing"]),
    ("informatique", ["computing"]),
    ("Droit et informatique", ["law", "computing"]),
    ("law and computing", ["law", "computing"]),
    ("Santé et soins", ["health"]),
    ("sante", ["health"]),
    ("1, 2, 3, 4, 5, 6, 7", ["health", "social", "civil_eng", "trades", "computing"]),
])
def test_fields_are_chosen_by_numbers_or_names(
    world: Harness, answer: str, expected: list[str]
) -> None:
    student_at_fields(world)
    world.say("kid", answer)
    assert person(world, "kid").fields == expected
    labels = world.services.fields.labels(expected, "fr")
    assert world.texts("kid") == [
        t(world, "fr", "onboarding.fields", chosen=labels, max=MAX_STUDENT_FIELDS)
    ]


def test_typed_fields_add_but_never_remove(world: Harness) -> None:
    student_at_fields(world)
    world.say("kid", "1")
    world.say("kid", "1, 2")
    assert person(world, "kid").fields == ["health", "social"]


def test_an_unknown_field_is_refused(world: Harness) -> None:
    student_at_fields(world)
    for answer in ("astronaute", "99", "0x", "et"):
        world.say("kid", answer)
        got = world.inbox("kid")
        assert [s.message.text for s in got] == [t(world, "fr", "onboarding.fields_unknown")]
        assert got[0].message.buttons[-1].action == "fields:done"
        assert person(world, "kid").fields == [], answer


def test_finishing_with_no_field_is_refused(world: Harness) -> None:
    student_at_fields(world)
    for answer, action in (("Terminé", None), ("terminé", None), ("ok", None),
                           ("", "fields:done")):
        world.say("kid", answer, action=action)
        assert world.texts("kid") == [t(world, "fr", "onboarding.fields_none")], answer
        assert person(world, "kid").step is Step.FIELDS
    world.press("kid", "field:health")
    world.press("kid", "field:health")
    world.press("kid", "fields:done")
    assert world.texts("kid")[-1] == t(world, "fr", "onboarding.fields_none")


@pytest.mark.parametrize(("answer", "action"), [
    ("Terminé", None), ("fini", None), ("Done", None), ("", "fields:done"),
])
def test_finishing_with_fields_completes_the_student(
    world: Harness, answer: str, action: str | None
) -> None:
    student_at_fields(world)
    world.press("kid", "field:arts")
    world.texts("kid")
    world.say("kid", answer, action=action)
    assert world.texts("kid") == [t(world, "fr", "onboarding.done.student", name="Zoé")]
    got = person(world, "kid")
    assert (got.step, got.fields, got.age) == (Step.DONE, ["arts"], 16)
    pid = got.id
    assert (f"participant:{pid}", "onboarded", {"role": "student"}) in audit(world)


def test_a_whole_student_onboarding_in_english(world: Harness) -> None:
    world.invite("ABCD-2345", Role.STUDENT)
    answers = [("/start ABCD-2345", None), ("", "lang:en"), ("Sam", None), ("15", None),
               ("computing", None), ("", "fields:done")]
    for text, action in answers:
        world.say("u", text, action=action)
    assert world.texts("u")[-1] == t(world, "en", "onboarding.done.student", name="Sam")
    got = person(world, "u")
    assert (got.language, got.step, got.age, got.fields) == ("en", Step.DONE, 15, ["computing"])


# mentors --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("answer", "action", "kind"), [
    ("1", None, MentorKind.PROFESSIONAL), ("2", None, MentorKind.PEER),
    ("3", None, MentorKind.REPRESENTATIVE), ("", "kind:peer", MentorKind.PEER),
    ("", "kind:representative", MentorKind.REPRESENTATIVE),
])
def test_the_mentor_kind_is_chosen_by_button_or_number(
    world: Harness, answer: str, action: str | None, kind: MentorKind
) -> None:
    mentor_at(world, Step.MENTOR_KIND)
    world.say("pro", answer, action=action)
    assert world.texts("pro") == [t(world, "fr", f"onboarding.profession.{kind.value}")]
    got = person(world, "pro")
    assert (got.mentor_kind, got.step) == (kind, Step.PROFESSION)


def test_the_mentor_kind_question_has_a_button_per_kind(world: Harness) -> None:
    world.invite("M-PRO", Role.MENTOR)
    for text in ("/start M-PRO", "fr", "Marc"):
        world.say("pro", text)
    question = world.inbox("pro")[-1].message
    assert question.text == t(world, "fr", "onboarding.mentor_kind")
    assert [b.action for b in question.buttons] == [f"kind:{k.value}" for k in MentorKind]


def test_an_unknown_mentor_kind_asks_again(world: Harness) -> None:
    mentor_at(world, Step.MENTOR_KIND)
    for answer, action in (("4", None), ("prof", None), ("", "kind:boss"), ("", "field:law")):
        world.say("pro", answer, action=action)
        assert world.texts("pro") == [t(world, "fr", "onboarding.mentor_kind")], answer
        assert person(world, "pro").step is Step.MENTOR_KIND


def test_a_profession_with_contact_details_is_refused(world: Harness) -> None:
    mentor_at(world, Step.PROFESSION)
    for profession in ("soudeur 514 555 1234", "infirmière, écrivez à x@y.ca", "voir www.monsite",
                       "soudeur @marc_soude"):
        world.say("pro", profession)
        assert world.texts("pro") == [t(world, "fr", "pseudonym.contact")], profession
        got = person(world, "pro")
        assert (got.profession, got.step) == (None, Step.PROFESSION)


def test_a_profession_too_short_or_too_long_asks_again(world: Harness) -> None:
    mentor_at(world, Step.PROFESSION)
    for profession in ("x", "a" * 81, "   "):
        world.say("pro", profession)
        assert world.texts("pro") == [t(world, "fr", "onboarding.profession.professional")]
        assert person(world, "pro").step is Step.PROFESSION


@pytest.mark.parametrize(("answer", "action", "key"), [
    ("4", None, "trades"), ("", "field:computing", "computing"), ("Droit", None, "law"),
])
def test_the_mentor_field_is_chosen_by_button_number_or_name(
    world: Harness, answer: str, action: str | None, key: str
) -> None:
    mentor_at(world, Step.MENTOR_FIELD)
    world.say("pro", answer, action=action)
    assert world.texts("pro") == [t(world, "fr", "onboarding.years")]
    got = person(world, "pro")
    assert (got.fields, got.step) == ([key], Step.YEARS)


def test_an_unknown_mentor_field_is_refused(world: Harness) -> None:
    mentor_at(world, Step.MENTOR_FIELD)
    for answer, action in (("astronaute", None), ("", "field:nope"), ("99", None)):
        world.say("pro", answer, action=action)
        got = world.inbox("pro")
        assert [s.message.text for s in got] == [t(world, "fr", "onboarding.fields_unknown")]
        assert "fields:done" not in {b.action for b in got[0].message.buttons}
        assert person(world, "pro").step is Step.MENTOR_FIELD, answer


def test_years_must_be_a_number_up_to_sixty(world: Harness) -> None:
    mentor_at(world, Step.YEARS)
    for answer in ("beaucoup", "-1", str(MAX_YEARS + 1), "2.5", ""):
        world.say("pro", answer)
        assert world.texts("pro") == [
            t(world, "fr", "onboarding.number_again", min=0, max=MAX_YEARS)
        ], answer
        got = person(world, "pro")
        assert (got.years, got.step) == (None, Step.YEARS)


@pytest.mark.parametrize("years", [0, MAX_YEARS])
def test_years_at_the_bounds_are_accepted(world: Harness, years: int) -> None:
    mentor_at(world, Step.YEARS)
    world.say("pro", str(years))
    assert world.texts("pro") == [t(world, "fr", "onboarding.capacity", max=MAX_CAPACITY)]
    got = person(world, "pro")
    assert (got.years, got.step) == (years, Step.CAPACITY)


def test_capacity_must_be_one_to_ten(world: Harness) -> None:
    mentor_at(world, Step.CAPACITY)
    for answer in ("0", str(MAX_CAPACITY + 1), "trois", ""):
        world.say("pro", answer)
        assert world.texts("pro") == [
            t(world, "fr", "onboarding.number_again", min=1, max=MAX_CAPACITY)
        ], answer
        got = person(world, "pro")
        assert (got.capacity, got.step) == (None, Step.CAPACITY)


@pytest.mark.parametrize("capacity", [1, MAX_CAPACITY])
def test_a_mentor_with_a_capacity_is_done_and_waits_for_vetting(
    world: Harness, capacity: int
) -> None:
    mentor_at(world, Step.CAPACITY)
    world.say("pro", str(capacity))
    assert world.texts("pro") == [t(world, "fr", "onboarding.done.mentor", name="Marc")]
    got = person(world, "pro")
    assert (got.step, got.capacity, got.vetted) == (Step.DONE, capacity, False)
    assert (got.pseudonym, got.mentor_kind, got.profession, got.fields, got.years) == (
        "Marc", MentorKind.PROFESSIONAL, "soudeur", ["civil_eng"], 4,
    )
    actions = [(actor, action) for actor, action, _ in audit(world)]
    assert actions == [(f"participant:{got.id}", "enrol"), (f"participant:{got.id}", "onboarded")]


# coordinators ---------------------------------------------------------------------------------

def test_a_coordinator_is_done_after_the_pseudonym(world: Harness) -> None:
    world.invite("C-2345", Role.COORDINATOR)
    world.say("coord", "/start C-2345")
    world.say("coord", "en")
    world.say("coord", "Mme Tremblay")
    assert world.texts("coord") == [
        t(world, "fr", "welcome.coordinator"), t(world, "fr", "onboarding.language"),
        t(world, "en", "onboarding.pseudonym"),
        t(world, "en", "onboarding.done.coordinator", name="Mme Tremblay"),
    ]
    got = person(world, "coord")
    assert (got.role, got.step, got.age, got.fields) == (Role.COORDINATOR, Step.DONE, None, [])
    assert ("onboarded", {"role": "coordinator"}) in [(a, d) for _, a, d in audit(world)]


# commands and buttons while onboarding ---------------------------------------------------------

def test_a_command_during_onboarding_asks_to_finish_first(world: Harness) -> None:
    student_at_age(world)
    for command in ("/profile", "/end", "/fin", "/whatever"):
        world.say("kid", command)
        assert world.texts("kid") == [
            t(world, "fr", "onboarding.finish_first"),
            t(world, "fr", "onboarding.age", min=MIN_AGE, max=MAX_AGE),
        ], command
        assert person(world, "kid").step is Step.AGE


def test_help_and_start_during_onboarding(world: Harness) -> None:
    student_at_age(world)
    world.say("kid", "/help")
    world.say("kid", "/start")
    assert world.texts("kid") == [
        t(world, "fr", "help.onboarding"),
        t(world, "fr", "onboarding.age", min=MIN_AGE, max=MAX_AGE),
    ]


def test_the_language_can_be_changed_during_onboarding(world: Harness) -> None:
    """help.onboarding promises "/language" works while onboarding: its buttons must, too."""
    student_at_age(world)
    world.say("kid", "/language")
    assert world.texts("kid") == [t(world, "fr", "language.choose")]
    world.press("kid", "lang:en")
    got = person(world, "kid")
    assert (got.language, got.step, got.age) == ("en", Step.AGE, None)
    assert world.texts("kid") == [
        t(world, "en", "language.set"), t(world, "en", "onboarding.age", min=MIN_AGE, max=MAX_AGE),
    ]
    world.say("kid", "16")
    assert person(world, "kid").step is Step.FIELDS


def test_a_refused_child_can_read_the_refusal_in_another_language(world: Harness) -> None:
    student_at_age(world)
    world.say("kid", "13")
    world.press("kid", "lang:en")
    world.press("kid", "lang:de")
    assert world.texts("kid")[1:] == [
        t(world, "en", "language.set"), t(world, "en", "age.too_young", min=MIN_AGE, max=MAX_AGE),
        t(world, "en", "age.too_young", min=MIN_AGE, max=MAX_AGE),
    ]
    assert person(world, "kid").step is Step.REFUSED


def test_the_same_start_event_twice_enrols_once(world: Harness) -> None:
    world.invite("ONCE1234", Role.STUDENT, max_uses=1)
    assert world.say("u", "/start ONCE1234", event_key="tg:1")
    assert not world.say("u", "/start ONCE1234", event_key="tg:1")
    assert len(world.texts("u")) == 2
    with world.store() as store:
        invite = store.invite("ONCE1234")
    assert invite is not None and invite.uses == 1
    assert [a for _, a, _ in audit(world)] == ["enrol"]


def test_a_one_word_greeting_is_not_taken_for_a_code(world: Harness) -> None:
    world.say("newcomer", "Bonjour")
    assert world.texts("newcomer") == [world.services.catalog.t("fr", "welcome.need_code")]


def test_a_sentence_at_the_language_step_re_asks_in_its_language(world: Harness) -> None:
    from core.model import Role

    world.invite("S-EN", Role.STUDENT)
    world.say("newkid", "/start S-EN")
    world.texts("newkid")
    world.say("newkid", "I only speak English please")
    assert world.texts("newkid") == [world.services.catalog.t("en", "onboarding.language_again")]
