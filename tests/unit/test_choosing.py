"""A student chooses a mentor: /suggest, /mentors, /request and the "ask" buttons, what happens
when the mentor declines or never answers (the sweep), all through the real bus (the Harness).

Most people are written straight into the database (onboarding is tested elsewhere): a mentor
of several fields, a paused or unvetted one, people on Slack. Zoé ("kid") is the student.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from core.bus import sweep
from core.model import (
    Address,
    Identity,
    Match,
    MatchStatus,
    MentorKind,
    Participant,
    Platform,
    Role,
    School,
    Step,
)
from storage.tables import A
from tests.fakes import Sent
from tests.harness import Harness
from tests.inbox import t

HOUR = 3600.0
TIMEOUT = 72 * HOUR

KID = "kid"  # Zoé's platform user


# helpers ---------------------------------------------------------------------------------------

def news(w: Harness, *users: str, platform: str = "playground") -> dict[str, list[Sent]]:
    """Deliver once, then what each of `users` received since last looked at."""
    w.deliver(platform)
    got = {}
    for user in users:
        received = w.channel(platform).chat(user)
        start = w.seen.get((platform, user), 0)
        w.seen[(platform, user)] = len(received)
        got[user] = received[start:]
    return got


def settle(w: Harness, *users: str, platform: str = "playground") -> None:
    news(w, *users, platform=platform)


def unheard(w: Harness, *users: str, platform: str = "playground") -> dict[str, list[str]]:
    """What any of `users` received that they should not have: `{}` when all is quiet."""
    return {user: [s.message.text for s in got]
            for user, got in news(w, *users, platform=platform).items() if got}


def one(w: Harness, user: str, platform: str = "playground") -> Sent:
    got = w.inbox(user, platform)
    assert len(got) == 1, [s.message.text for s in got]
    return got[0]


def add_person(w: Harness, user: str, person: Participant,
               platform: Platform = "playground") -> int:
    """Someone already onboarded, reachable at `user` on `platform`."""
    person.step = Step.DONE
    person.created_at = w.clock()
    with w.store() as store:
        store.add_participant(person)
        assert person.id is not None
        store.add_identity(Identity(platform, user, person.id, Address(platform, user)))
    return person.id


def add_mentor(w: Harness, user: str, name: str, *fields: str,
               kind: MentorKind = MentorKind.PROFESSIONAL, profession: str = "infirmier",
               years: int = 8, capacity: int = 3, language: str = "fr", vetted: bool = True,
               paused: bool = False, school_id: int | None = None,
               platform: Platform = "playground") -> int:
    return add_person(w, user, Participant(
        Role.MENTOR, name, language, school_id,  # type: ignore[arg-type]
        fields=list(fields or ("health",)), mentor_kind=kind, profession=profession,
        years=years, capacity=capacity, vetted=vetted, paused=paused,
    ), platform)


def add_student(w: Harness, user: str, name: str, *fields: str, age: int = 16,
                language: str = "fr", school_id: int | None = None) -> int:
    return add_person(w, user, Participant(
        Role.STUDENT, name, language, school_id,  # type: ignore[arg-type]
        age=age, fields=list(fields or ("health",)),
    ))


def add_coordinator(w: Harness, user: str = "coord", name: str = "Mme Tremblay") -> int:
    return add_person(w, user, Participant(Role.COORDINATOR, name))


def add_school(w: Harness, name: str, region: str) -> int:
    with w.store() as store:
        school = store.add_school(School(name, region))
    assert school.id is not None
    return school.id


def edit(w: Harness, pseudonym: str, **changes: object) -> None:
    """A coordinator's edit (vetting, pausing...), straight in the database."""
    with w.store() as store:
        p = store.find_participant(pseudonym)
        assert p is not None
        for name, value in changes.items():
            setattr(p, name, value)
        store.save_participant(p)


def zoe(w: Harness, *fields: str, age: int = 16, school_id: int | None = None) -> int:
    return add_student(w, KID, "Zoé", *(fields or ("health",)), age=age, school_id=school_id)


def asks(sent: Sent) -> list[str]:
    """The ask buttons on a message, as their actions."""
    return [b.action for b in sent.message.buttons if b.action.startswith("ask:")]


def suggested(w: Harness, user: str = KID) -> list[str]:
    """/suggest, then the ask buttons of the answer (`[]` when it is not a list)."""
    w.say(user, "/suggest")
    return asks(one(w, user))


def match_of(w: Harness, student_id: int, mentor_id: int) -> Match:
    with w.store() as store:
        found = [m for m in store.matches()
                 if (m.student_id, m.mentor_id) == (student_id, mentor_id)]
    assert len(found) == 1
    return found[0]


def status(w: Harness, match_id: int) -> MatchStatus:
    with w.store() as store:
        match = store.match(match_id)
    assert match is not None
    return match.status


def audit_actions(w: Harness) -> list[tuple[str, str, dict[str, object]]]:
    with w.sql().conn as conn:
        rows = conn.execute(select(A.c.actor, A.c.action, A.c.detail).order_by(A.c.id)).all()
    return [(r.actor, r.action, json.loads(r.detail)) for r in rows if r.action.startswith("match")]


def request_text(w: Harness, lang: str, question: str | None, name: str = "Zoé",
                 fields: str = "Santé et soins", age: int = 16) -> str:
    return t(w, lang, "request.to_mentor", name=name, age=age, fields=fields,
             question=question if question is not None else t(w, lang, "request.no_question"))


def run_sweep(w: Harness) -> int:
    return sweep(w.bus, w.clock())


# /suggest --------------------------------------------------------------------------------------

def cast(w: Harness) -> dict[str, int]:
    """Zoé (health and computing) and mentors who fit her or not, for a reason each."""
    ids = {"Zoé": zoe(w, "health", "computing")}
    ids["Ana"] = add_mentor(w, "m-ana", "Ana", "health", "computing", profession="infirmière")
    ids["Marc"] = add_mentor(w, "m-marc", "Marc", "health")
    ids["Léa"] = add_mentor(w, "m-lea", "Léa", "social", profession="éducatrice")
    ids["Hugo"] = add_mentor(w, "m-hugo", "Hugo", "science", profession="chimiste")
    ids["Noa"] = add_mentor(w, "m-noa", "Noa", "arts", profession="graphiste")  # unrelated
    ids["Tom"] = add_mentor(w, "m-tom", "Tom", "health", language="en")  # another language
    ids["Eve"] = add_mentor(w, "m-eve", "Eve", "health", vetted=False)
    ids["Bob"] = add_mentor(w, "m-bob", "Bob", "health", paused=True)
    ids["Max"] = add_mentor(w, "m-max", "Max", "health", capacity=1)
    add_student(w, "kid2", "Noé", "arts")
    w.match("Noé", "Max")  # Max is full
    settle(w, "kid2", "m-max")
    return ids


def test_suggest_lists_the_best_mentors_with_their_reasons_in_french(any_world: Harness) -> None:
    w = any_world
    ids = cast(w)
    w.say(KID, "/suggest")
    got = one(w, KID)
    assert got.message.text == (
        "Voici des mentors pour toi :\n"
        "1. Ana (infirmière) — même domaine : Santé et soins · parle français"
        " · 2 intérêts en commun\n"
        "2. Marc (infirmier) — même domaine : Santé et soins · parle français\n"
        "3. Léa (éducatrice) — domaine voisin : Services sociaux et éducation · parle français\n"
        "4. Hugo (chimiste) — domaine voisin : Sciences et recherche · parle français\n\n"
        "Touche un nom pour lui envoyer une demande, ou écris /request suivi de son pseudonyme"
        " et de ta première question."
    )
    assert [(b.label, b.action) for b in got.message.buttons] == [
        (f"Demander à {name}", f"ask:{ids[name]}") for name in ("Ana", "Marc", "Léa", "Hugo")
    ]
    assert got.message.to == Address("playground", KID)
    assert unheard(w, *(f"m-{n}" for n in ("ana", "marc", "lea", "hugo", "max"))) == {}
    assert audit_actions(w) == [("test", "match_create", {"match_id": 1})]  # nothing asked


def test_suggest_in_english(world: Harness) -> None:
    w = world
    add_student(w, KID, "Sam", "health", language="en")
    kim = add_mentor(w, "m-kim", "Kim", "health", profession="nurse", language="en")
    lee = add_mentor(w, "m-lee", "Lee", "social", profession="teacher", language="en")
    add_mentor(w, "m-marc", "Marc", "health")  # French only
    w.say(KID, "/suggest")
    got = one(w, KID)
    assert got.message.text == (
        "Here are mentors for you:\n"
        "1. Kim (nurse) — same field: Health and care · speaks English\n"
        "2. Lee (teacher) — related field: Social services and education · speaks English\n\n"
        "Tap a name to send them a request, or type /request followed by their pseudonym and"
        " your first question."
    )
    assert [(b.label, b.action) for b in got.message.buttons] == [
        ("Ask Kim", f"ask:{kim}"), ("Ask Lee", f"ask:{lee}"),
    ]


def test_suggest_says_same_region_and_shows_at_most_five(world: Harness) -> None:
    w = world
    north = add_school(w, "École du Nord", "Laurentides")
    other_north = add_school(w, "Cégep du Nord", "Laurentides")
    south = add_school(w, "École du Sud", "Montérégie")
    zoe(w, school_id=north)
    far = [add_mentor(w, f"m{i}", f"Loin{i}", school_id=south) for i in range(1, 6)]
    near = add_mentor(w, "m-near", "Proche", school_id=other_north)
    w.say(KID, "/suggest")
    got = one(w, KID)
    lines = got.message.text.split("\n")[1:6]
    assert lines[0] == (
        "1. Proche (infirmier) — même domaine : Santé et soins · parle français · même région"
    )
    assert lines[1] == "2. Loin1 (infirmier) — même domaine : Santé et soins · parle français"
    assert asks(got) == [f"ask:{i}" for i in (near, *far[:4])]  # five, ties by id


def test_pressing_ask_sends_the_request_and_the_mentor_is_not_suggested_again(
    any_world: Harness,
) -> None:
    w = any_world
    ids = cast(w)
    w.press(KID, f"ask:{ids['Marc']}")
    assert [s.message.text for s in w.inbox(KID)] == [
        "Ta demande est envoyée à Marc. Tu auras sa réponse ici."
    ]
    request = one(w, "m-marc")
    fields = "Santé et soins, Informatique et numérique"
    assert request.message.text == request_text(w, "fr", None, fields=fields)
    match = match_of(w, ids["Zoé"], ids["Marc"])
    assert (match.status, match.requested_by, match.question) == (
        MatchStatus.REQUESTED, ids["Zoé"], None)
    assert [(b.label, b.action) for b in request.message.buttons] == [
        ("Accepter", f"accept:{match.id}"), ("Décliner", f"decline:{match.id}"),
        ("Mettre en pause", "pause:on"),
    ]
    assert audit_actions(w)[-1] == (
        f"participant:{ids['Zoé']}", "match_request", {"match_id": match.id})

    assert suggested(w) == [f"ask:{ids[n]}" for n in ("Ana", "Léa", "Hugo")]  # asked: not again
    w.press("m-marc", f"accept:{match.id}")
    settle(w, KID, "m-marc")
    assert suggested(w) == [f"ask:{ids[n]}" for n in ("Ana", "Léa", "Hugo")]  # matched: neither


def test_suggest_none_when_nobody_fits(world: Harness) -> None:
    w = world
    zoe(w, "arts")
    add_mentor(w, "m-marc", "Marc", "health")
    add_mentor(w, "m-tom", "Tom", "arts", language="en")
    add_mentor(w, "m-eve", "Eve", "arts", vetted=False)
    w.say(KID, "/suggest")
    assert w.texts(KID) == [t(w, "fr", "suggest.none")]
    assert w.texts(KID) == []
    assert t(w, "fr", "suggest.none").startswith("Je n'ai pas trouvé de mentor disponible")


def test_suggest_none_once_every_fitting_mentor_was_asked(world: Harness) -> None:
    w = world
    zoe(w)
    marc = add_mentor(w, "m-marc", "Marc")
    assert suggested(w) == [f"ask:{marc}"]
    w.press(KID, f"ask:{marc}")
    settle(w, KID)
    w.say(KID, "/suggestions")
    assert w.texts(KID) == [t(w, "fr", "suggest.none")]


def test_a_peer_mentor_is_suggested_to_16_year_olds_only(world: Harness) -> None:
    w = world
    zoe(w, age=15)
    add_student(w, "kid16", "Noé", age=16)
    peer = add_mentor(w, "m-pia", "Pia", kind=MentorKind.PEER, profession="étudiante")
    pro = add_mentor(w, "m-marc", "Marc")
    assert suggested(w) == [f"ask:{pro}"]
    assert suggested(w, "kid16") == [f"ask:{peer}", f"ask:{pro}"]


def test_ask_buttons_that_no_longer_lead_anywhere(world: Harness) -> None:
    w = world
    zoe(w)
    eve = add_mentor(w, "m-eve", "Eve", vetted=False)
    other_kid = add_student(w, "kid2", "Noé")
    for action in ("ask:9999", f"ask:{other_kid}", "ask:", "ask:x"):
        w.press(KID, action)
        assert w.texts(KID) == [t(w, "fr", "button.stale")], action
    w.press(KID, f"ask:{eve}")
    assert w.texts(KID) == [t(w, "fr", "request.unknown_mentor", name="Eve")]
    assert unheard(w, "m-eve", "kid2") == {}


# /mentors --------------------------------------------------------------------------------------

def line(w: Harness, lang: str, name: str, kind: str = "professional",
         profession: str = "infirmier", years: int = 8, language: str = "fr") -> str:
    return t(w, lang, "mentors.line", name=name, kind=t(w, lang, f"kind.{kind}"),
             profession=profession, years=years, language=t(w, lang, f"language.name.{language}"))


def test_mentors_lists_five_a_page_with_next_and_previous(any_world: Harness) -> None:
    w = any_world
    zoe(w)
    names = ["Ana", "Ben", "Cy", "Dan", "Eli", "Fay", "Gus"]
    ids = [add_mentor(w, f"m{i}", name, "arts" if name == "Cy" else "health")
           for i, name in enumerate(names)]
    add_mentor(w, "m-eve", "Eve", vetted=False)
    add_mentor(w, "m-bob", "Bob", paused=True)
    add_mentor(w, "m-tom", "Tom", language="en")

    w.say(KID, "/mentors")
    first = one(w, KID)
    assert first.message.text == t(w, "fr", "mentors.list", page=1, pages=2, list="\n".join(
        line(w, "fr", n) for n in names[:5]))
    assert first.message.text.split("\n")[:2] == [
        "Mentors disponibles (1/2) :",
        "• Ana — Professionnel·le, infirmier, 8 ans d'expérience, français",
    ]
    assert [(b.label, b.action) for b in first.message.buttons] == [
        *((f"Demander à {n}", f"ask:{i}") for n, i in zip(names[:5], ids[:5], strict=True)),
        ("Suivants ›", "mentors:1::"),
    ]

    w.press(KID, "mentors:1::")
    second = one(w, KID)
    assert second.message.text == t(w, "fr", "mentors.list", page=2, pages=2, list="\n".join(
        line(w, "fr", n) for n in names[5:]))
    assert [(b.label, b.action) for b in second.message.buttons] == [
        ("Demander à Fay", f"ask:{ids[5]}"), ("Demander à Gus", f"ask:{ids[6]}"),
        ("‹ Précédents", "mentors:0::"),
    ]

    w.press(KID, "mentors:0::")
    assert one(w, KID).message == first.message
    w.press(KID, "mentors:99::")  # past the end: the last page
    assert one(w, KID).message == second.message
    w.press(KID, "mentors:x::")
    assert w.texts(KID) == [t(w, "fr", "button.stale")]


def test_mentors_in_english(world: Harness) -> None:
    w = world
    add_student(w, KID, "Sam", language="en")
    add_mentor(w, "m-kim", "Kim", profession="nurse", years=3, language="en",
               kind=MentorKind.REPRESENTATIVE)
    w.say(KID, "/mentors")
    got = one(w, KID)
    assert got.message.text == (
        "Available mentors (1/1):\n"
        "• Kim — School or company representative, nurse, 3 years of experience, English"
    )
    assert [b.label for b in got.message.buttons] == ["Ask Kim"]


def shown(w: Harness, command: str) -> list[str]:
    """The names /mentors shows, from its ask buttons; `[]` after mentors.none."""
    w.say(KID, command)
    got = one(w, KID)
    if got.message.text == t(w, "fr", "mentors.none"):
        return []
    assert got.message.text.startswith("Mentors disponibles"), got.message.text
    return [b.label.removeprefix("Demander à ") for b in got.message.buttons
            if b.action.startswith("ask:")]


def test_mentors_filters_by_field_and_kind(world: Harness) -> None:
    w = world
    zoe(w)
    add_mentor(w, "m1", "Ana", "health")
    add_mentor(w, "m2", "Ben", "health", kind=MentorKind.PEER)
    add_mentor(w, "m3", "Cy", "civil_eng")
    add_mentor(w, "m4", "Dan", "civil_eng", kind=MentorKind.PEER)
    add_mentor(w, "m5", "Eli", "civil_eng", kind=MentorKind.REPRESENTATIVE)
    add_mentor(w, "m6", "Fay", "health", "law", kind=MentorKind.REPRESENTATIVE)
    cases = {
        "/mentors": ["Ana", "Ben", "Cy", "Dan", "Eli"],  # the first page of two
        "/mentors 3": ["Cy", "Dan", "Eli"],  # field by number
        "/mentors civil_eng": ["Cy", "Dan", "Eli"],  # by key
        "/mentors Génie civil et construction": ["Cy", "Dan", "Eli"],  # by name
        "/mentors genie civil": ["Cy", "Dan", "Eli"],  # part of a name, without accents
        "/mentors Law and public safety": ["Fay"],  # in English too
        "/mentors pro": ["Ana", "Cy"],
        "/mentors professionnelle": ["Ana", "Cy"],
        "/mentors pair": ["Ben", "Dan"],
        "/mentors peer": ["Ben", "Dan"],
        "/mentors étudiant": ["Ben", "Dan"],
        "/mentors représentant": ["Eli", "Fay"],
        "/mentors pair 3": ["Dan"],
        "/mentors 3 pair": ["Dan"],
        "/mentors représentante santé": ["Fay"],
        "/mentors arts": [],
        "/mentors pair droit": [],
    }
    for command, names in cases.items():
        assert shown(w, command) == names, command


def test_mentors_none_and_the_age_rule(world: Harness) -> None:
    w = world
    zoe(w, age=15)
    add_mentor(w, "m1", "Ana", "health", kind=MentorKind.PEER)
    add_mentor(w, "m2", "Ben", "civil_eng")
    assert shown(w, "/mentors pair") == []
    assert shown(w, "/mentors") == ["Ben"]
    w.say(KID, "/mentors arts")
    assert w.texts(KID) == [
        "Aucun mentor disponible ne correspond pour l'instant. Essaie /mentors sans précision,"
        " ou /suggest."
    ]


def test_the_page_buttons_keep_the_filters(world: Harness) -> None:
    w = world
    zoe(w)
    peers = [add_mentor(w, f"p{i}", f"Pair{i}", kind=MentorKind.PEER) for i in range(6)]
    add_mentor(w, "pro", "Marc")
    add_mentor(w, "p-far", "Loin", "arts", kind=MentorKind.PEER)
    w.say(KID, "/mentors pair santé")
    first = one(w, KID)
    assert first.message.text.startswith("Mentors disponibles (1/2) :")
    assert [b.action for b in first.message.buttons] == [
        *(f"ask:{i}" for i in peers[:5]), "mentors:1:health:peer"]
    w.press(KID, "mentors:1:health:peer")
    second = one(w, KID)
    assert second.message.text == t(w, "fr", "mentors.list", page=2, pages=2,
                                    list=line(w, "fr", "Pair5", kind="peer"))
    assert [b.action for b in second.message.buttons] == [
        f"ask:{peers[5]}", "mentors:0:health:peer"]


# /request --------------------------------------------------------------------------------------

def marc_enrolled(w: Harness) -> None:
    """Zoé and Marc (soudeur) through onboarding, Marc then vetted by a coordinator."""
    w.enrol_student(KID, "Zoé")
    w.enrol_mentor("pro", "Marc", profession="soudeur")
    edit(w, "Marc", vetted=True)
    settle(w, KID, "pro")


def test_request_with_a_question_reaches_the_mentor(any_world: Harness) -> None:
    w = any_world
    marc_enrolled(w)
    w.say(KID, "/request Marc Comment es-tu devenu soudeur?")
    assert w.texts(KID) == [t(w, "fr", "request.sent", name="Marc")]
    request = one(w, "pro")
    assert request.message.text == (
        "Demande de mentorat : Zoé, 16 ans, intéressé·e par Santé et soins.\n"
        "Première question : Comment es-tu devenu soudeur?\nAcceptez-vous de l'accompagner?"
    )
    match = match_of(w, w.participant("Zoé").id or 0, w.participant("Marc").id or 0)
    assert match.question == "Comment es-tu devenu soudeur?"
    assert match.requested_by == w.participant("Zoé").id
    assert request.message.buttons[0].action == f"accept:{match.id}"

    w.press("pro", f"accept:{match.id}")
    assert w.texts(KID) == [t(w, "fr", "match.intro_student", name="Marc (soudeur)")]


def test_request_without_a_question_and_in_other_words(world: Harness) -> None:
    w = world
    zoe(w)
    add_mentor(w, "pro", "Marc")
    w.say(KID, "/demande marc")  # the French command, any case
    assert w.texts(KID) == [t(w, "fr", "request.sent", name="Marc")]
    assert w.texts("pro") == [request_text(w, "fr", None)]


def test_request_alone_explains_how(world: Harness) -> None:
    w = world
    zoe(w)
    for text in ("/request", "/request   "):
        w.say(KID, text)
        assert w.texts(KID) == [
            "Écris /request suivi du pseudonyme du mentor et de ta première question, par"
            " exemple : /request Marc Comment es-tu devenu soudeur?"
        ], text


def test_request_to_someone_who_is_no_mentor_we_know(world: Harness) -> None:
    w = world
    zoe(w)
    add_student(w, "kid2", "Noé")
    add_coordinator(w)
    add_mentor(w, "m-eve", "Eve", vetted=False)
    w.invite("M-HALF", Role.MENTOR)
    for text in ("/start M-HALF", "fr", "Luc"):  # a mentor still onboarding
        w.say("half", text)
    settle(w, "half")
    for name in ("Personne", "Noé", "Mme", "Eve", "Luc"):
        w.say(KID, f"/request {name} Bonjour?")
        assert w.texts(KID) == [t(w, "fr", "request.unknown_mentor", name=name)], name
    assert t(w, "fr", "request.unknown_mentor", name="Eve") == (
        "Je ne trouve pas de mentor nommé « Eve ». Écris /suggest ou /mentors pour en voir.")
    assert unheard(w, "kid2", "coord", "m-eve", "half") == {}
    assert audit_actions(w) == []


def test_request_to_a_paused_or_full_mentor_is_refused(world: Harness) -> None:
    w = world
    zoe(w)
    add_mentor(w, "m-bob", "Bob", paused=True)
    add_mentor(w, "m-max", "Max", capacity=1)
    add_student(w, "kid2", "Noé")
    w.match("Noé", "Max")
    settle(w, "kid2", "m-max")
    for name in ("Bob", "Max"):
        w.say(KID, f"/request {name} Allô?")
        assert w.texts(KID) == [t(w, "fr", "request.unavailable", name=name)], name
    assert unheard(w, "m-bob", "m-max") == {}
    assert [a for _, a, _ in audit_actions(w)] == ["match_create"]


def test_asking_twice_or_once_matched_says_so(any_world: Harness) -> None:
    w = any_world
    zoe(w)
    marc = add_mentor(w, "pro", "Marc")
    w.say(KID, "/request Marc Bonjour?")
    settle(w, KID, "pro")
    w.say(KID, "/request Marc Encore moi?")
    w.press(KID, f"ask:{marc}")
    assert w.texts(KID) == [t(w, "fr", "request.already_sent", name="Marc")] * 2
    assert w.texts("pro") == []
    match = match_of(w, w.participant("Zoé").id or 0, marc)
    w.press("pro", f"accept:{match.id}")
    settle(w, KID, "pro")
    w.say(KID, "/request Marc Et maintenant?")
    w.press(KID, f"ask:{marc}")
    assert w.texts(KID) == [t(w, "fr", "request.already_matched", name="Marc")] * 2
    assert t(w, "fr", "request.already_matched", name="Marc") == (
        "Tu es déjà jumelé·e avec Marc : écris-lui directement ici.")
    assert w.texts("pro") == []


def test_the_fourth_waiting_request_is_refused(world: Harness) -> None:
    w = world
    zoe(w)
    for i, name in enumerate(("Ana", "Ben", "Cy", "Dan", "Eli")):
        add_mentor(w, f"m{i}", name)
    w.propose("Zoé", "Eli")  # a coordinator's proposal does not count
    settle(w, "m4")
    for i, name in enumerate(("Ana", "Ben", "Cy")):
        w.say(KID, f"/request {name} Bonjour?")
        assert w.texts(KID) == [t(w, "fr", "request.sent", name=name)]
        assert len(w.texts(f"m{i}")) == 1
    w.say(KID, "/request Dan Bonjour?")
    assert w.texts(KID) == [
        "Tu as déjà 3 demandes en attente. Attends une réponse avant d'en envoyer une autre."]
    assert t(w, "fr", "request.too_many", max=w.services.rules.max_open_requests) == (
        w.channel().chat(KID)[-1].message.text)
    assert w.texts("m3") == []

    # once a mentor has answered, there is room again
    ana = match_of(w, w.participant("Zoé").id or 0, w.participant("Ana").id or 0)
    w.press("m0", f"decline:{ana.id}")
    settle(w, KID, "m0")
    w.say(KID, "/request Dan Bonjour?")
    assert w.texts(KID) == [t(w, "fr", "request.sent", name="Dan")]


def test_request_a_mentor_whose_pseudonym_has_a_space(world: Harness) -> None:
    w = world
    zoe(w)
    add_mentor(w, "pro", "Marie Eve")
    w.say(KID, "/request Marie Eve Bonjour?")
    assert w.texts(KID) == [t(w, "fr", "request.sent", name="Marie Eve")]


def test_a_student_too_young_for_peers_cannot_request_one_by_name(world: Harness) -> None:
    w = world
    zoe(w, age=15)
    add_mentor(w, "pia", "Pia", kind=MentorKind.PEER, profession="étudiante")
    w.say(KID, "/request Pia Bonjour?")
    assert t(w, "fr", "request.sent", name="Pia") not in w.texts(KID)
    assert w.texts("pia") == []


def test_mentors_and_coordinators_cannot_use_the_student_commands(world: Harness) -> None:
    w = world
    zoe(w)
    marc = add_mentor(w, "pro", "Marc")
    add_mentor(w, "pro2", "Ana")
    add_coordinator(w)
    for user in ("pro", "coord"):
        for text in ("/suggest", "/mentors", "/mentors pair", "/request Ana Bonjour?",
                     "/request"):
            w.say(user, text)
        w.press(user, f"ask:{marc}")
        w.press(user, "mentors:1::")
        assert w.texts(user) == [t(w, "fr", "command.students_only")] * 7, user
    assert t(w, "fr", "command.students_only").startswith("Cette commande est réservée aux")
    assert unheard(w, KID, "pro2") == {}
    assert audit_actions(w) == []


# declining -------------------------------------------------------------------------------------

def asked_marc(w: Harness, platform: Platform = "playground") -> tuple[dict[str, int], int]:
    """Zoé asked Marc (infirmier) herself; Léa is another mentor of her field."""
    ids = {"Zoé": zoe(w), "Marc": add_mentor(w, "pro", "Marc", platform=platform),
           "Léa": add_mentor(w, "lea", "Léa", profession="sage-femme")}
    w.press(KID, f"ask:{ids['Marc']}")
    settle(w, KID)
    settle(w, "pro", platform=platform)
    return ids, match_of(w, ids["Zoé"], ids["Marc"]).id or 0


def test_a_declined_request_tells_the_student_and_suggests_others(any_world: Harness) -> None:
    w = any_world
    ids, match_id = asked_marc(w)
    w.press("pro", f"decline:{match_id}")
    assert w.texts("pro") == [t(w, "fr", "request.declined")]
    got = w.inbox(KID)
    assert [s.message.text for s in got][:1] == [
        "Marc (infirmier) ne peut pas t'accompagner pour l'instant, ce n'est pas contre toi!"]
    assert len(got) == 2
    assert got[1].message.text.startswith("Voici des mentors pour toi :\n")
    assert f"ask:{ids['Léa']}" in asks(got[1])
    assert status(w, match_id) is MatchStatus.DECLINED
    assert unheard(w, "lea") == {}


def test_the_mentor_who_declined_is_not_suggested_again(world: Harness) -> None:
    w = world
    ids, match_id = asked_marc(w)
    w.press("pro", f"decline:{match_id}")
    got = w.inbox(KID)
    assert asks(got[1]) == [f"ask:{ids['Léa']}"]


def test_a_declined_proposal_is_never_announced_to_the_student(world: Harness) -> None:
    w = world
    zoe(w)
    add_mentor(w, "pro", "Marc")
    add_mentor(w, "lea", "Léa")
    match_id = w.propose("Zoé", "Marc", question="Tu travailles de nuit?")
    settle(w, "pro")
    w.press("pro", f"decline:{match_id}")
    assert w.texts("pro") == [t(w, "fr", "request.declined")]
    assert unheard(w, KID, "lea") == {}
    assert status(w, match_id) is MatchStatus.DECLINED


# expiry ----------------------------------------------------------------------------------------

def test_an_unanswered_request_expires_after_72_hours(any_world: Harness) -> None:
    w = any_world
    ids, match_id = asked_marc(w)
    w.clock.advance(TIMEOUT - 1)
    assert run_sweep(w) == 0
    assert status(w, match_id) is MatchStatus.REQUESTED
    assert unheard(w, KID, "pro", "lea") == {}

    w.clock.advance(2)
    assert run_sweep(w) == 1
    assert status(w, match_id) is MatchStatus.EXPIRED
    with w.store() as store:
        match = store.match(match_id)
    assert match is not None and match.ended_at is not None
    assert w.texts("pro") == [
        "La demande de Zoé a expiré faute de réponse; elle est fermée."]
    got = w.inbox(KID)
    assert got[0].message.text == t(w, "fr", "request.expired_student", name="Marc (infirmier)")
    assert got[0].message.text == (
        "Marc (infirmier) n'a pas pu répondre à temps, alors ta demande est fermée. Ce n'est pas"
        " contre toi!")
    assert len(got) == 2 and got[1].message.text.startswith("Voici des mentors pour toi :")
    assert f"ask:{ids['Léa']}" in asks(got[1])
    assert audit_actions(w)[-1] == ("system", "match_expire", {"match_id": match_id})

    assert run_sweep(w) == 0  # a second sweep finds nothing
    w.clock.advance(TIMEOUT)
    assert run_sweep(w) == 0
    assert unheard(w, KID, "pro", "lea") == {}
    assert [a for _, a, _ in audit_actions(w)] == ["match_request", "match_expire"]

    for action in (f"accept:{match_id}", f"decline:{match_id}"):
        w.press("pro", action)
        assert w.texts("pro") == ["Cette demande a expiré."], action
    assert status(w, match_id) is MatchStatus.EXPIRED
    assert w.texts(KID) == []


def test_only_requests_older_than_the_timeout_expire(world: Harness) -> None:
    w = world
    ids, first = asked_marc(w)
    w.clock.advance(10 * HOUR)
    w.press(KID, f"ask:{ids['Léa']}")
    settle(w, KID, "lea")
    second = match_of(w, ids["Zoé"], ids["Léa"]).id or 0
    w.clock.advance(TIMEOUT - 10 * HOUR + 1)
    assert run_sweep(w) == 1
    assert (status(w, first), status(w, second)) == (MatchStatus.EXPIRED, MatchStatus.REQUESTED)
    assert w.texts("lea") == []
    assert len(w.texts("pro")) == 1
    settle(w, KID)
    w.clock.advance(10 * HOUR)
    assert run_sweep(w) == 1
    assert status(w, second) is MatchStatus.EXPIRED
    assert w.texts("lea") == [t(w, "fr", "request.expired_mentor", name="Zoé")]
    assert w.texts(KID)[0] == t(w, "fr", "request.expired_student", name="Léa (sage-femme)")


def test_an_accepted_request_never_expires(world: Harness) -> None:
    w = world
    _, match_id = asked_marc(w)
    w.press("pro", f"accept:{match_id}")
    settle(w, KID, "pro")
    w.clock.advance(4 * TIMEOUT)  # twelve days: long past the deadline, before any check-in
    assert run_sweep(w) == 0
    assert status(w, match_id) is MatchStatus.ACTIVE
    assert unheard(w, KID, "pro") == {}


def test_the_expiry_reaches_the_mentor_in_the_requests_thread(slack_world: Harness) -> None:
    w = slack_world
    _, match_id = asked_marc(w, platform="slack")
    w.deliver("slack")
    request = [s for s in w.channel("slack").chat("pro")
               if any(b.action == f"accept:{match_id}" for b in s.message.buttons)]
    assert len(request) == 1
    w.clock.advance(TIMEOUT + 1)
    assert run_sweep(w) == 1
    got = one(w, "pro", "slack")
    assert got.message.text == t(w, "fr", "request.expired_mentor", name="Zoé")
    assert got.message.to == Address("slack", "pro", request[0].id)
    assert w.texts(KID)[0] == t(w, "fr", "request.expired_student", name="Marc (infirmier)")


def test_an_expired_proposal_is_never_announced_to_the_student(world: Harness) -> None:
    w = world
    zoe(w)
    add_mentor(w, "pro", "Marc")
    match_id = w.propose("Zoé", "Marc")
    settle(w, "pro")
    w.clock.advance(TIMEOUT + 1)
    assert run_sweep(w) == 1
    assert status(w, match_id) is MatchStatus.EXPIRED
    assert w.texts("pro") == [t(w, "fr", "request.expired_mentor", name="Zoé")]
    assert w.texts(KID) == []


def test_the_mentor_who_let_a_request_expire_is_not_suggested_again(world: Harness) -> None:
    w = world
    ids, _ = asked_marc(w)
    w.clock.advance(TIMEOUT + 1)
    run_sweep(w)
    got = w.inbox(KID)
    assert asks(got[1]) == [f"ask:{ids['Léa']}"]
