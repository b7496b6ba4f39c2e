"""Demo data for the playground: one school, a student, a mentor, a coordinator, a match."""

from __future__ import annotations

from datetime import datetime

from core.model import Address, Identity, Invite, Match, MentorKind, Participant, Role, School, Step
from storage.store import SqlStore

DEMO_SCHOOL = "École secondaire de la Passerelle"
DEMO_CODES = {"DEMO-ELEVE": Role.STUDENT, "DEMO-MENTOR": Role.MENTOR}


def load_demo(store: SqlStore, now: datetime) -> dict[str, str]:
    """Write the demo people; return the invite codes a newcomer can try in a fresh pane."""
    school = store.find_school(DEMO_SCHOOL) or store.add_school(School(DEMO_SCHOOL, "Démo"))
    people = [
        ("student", Participant(Role.STUDENT, "Léa", "fr", school.id, Step.DONE, age=16,
                                fields=["health", "science"], created_at=now)),
        ("mentor", Participant(Role.MENTOR, "Samir", "fr", school.id, Step.DONE,
                               mentor_kind=MentorKind.PROFESSIONAL,
                               profession="infirmier en urgence", fields=["health"], years=9,
                               capacity=3, vetted=True, created_at=now)),
        ("coordinator", Participant(Role.COORDINATOR, "Mme Tremblay", "fr", school.id, Step.DONE,
                                    created_at=now)),
    ]
    ids: dict[str, int] = {}
    for user, person in people:
        existing = store.find_participant(person.pseudonym or "")
        saved = existing or store.add_participant(person)
        assert saved.id is not None
        ids[user] = saved.id
        if store.identity("playground", user) is None:
            store.add_identity(Identity("playground", user, saved.id, Address("playground", user)))
    if not store.active_matches(ids["student"]):
        match = store.add_match(Match(ids["student"], ids["mentor"], created_at=now))
        for user in ("student", "mentor"):
            person = store.participant(ids[user])
            assert person is not None
            person.current_match_id = match.id
            store.save_participant(person)
    for code, role in DEMO_CODES.items():
        if store.invite(code) is None:
            store.add_invite(Invite(code, role, school.id), now)
    store.audit("cli", "demo_data", {"school_id": school.id}, now)
    return {code: role.value for code, role in DEMO_CODES.items()}
