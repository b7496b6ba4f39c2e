"""The safety policy in the relay: contact details held for a coordinator where a minor is in the
conversation (approve, pass on hidden, reject), hidden between adults; keyword flags and help
lines; /report, /block, and the vetting gate."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.context import Context
from core.errors import DomainError
from core.matches import create_match
from core.model import MatchStatus, Role, School
from storage.tables import AuditRow
from tests.harness import Harness
from tests.inbox import end_survey, news, settle, t

MARC = "Marc (soudeur)"
PHONE = "Appelle-moi au 514 555 1234"


def scene(w: Harness, age: str = "16") -> int:
    """Zoé (a student of "École Test", `age`) matched with Marc; Claire, the school's
    coordinator."""
    with w.store() as store:
        school = store.add_school(School("École Test"))
    w.invite("S-KID", Role.STUDENT, school.id)
    for text in ("/start S-KID", "fr", "Zoé", age, "1", "ok"):
        w.say("kid", text)
    w.invite("C-CLAIRE", Role.COORDINATOR, school.id)
    for text in ("/start C-CLAIRE", "fr", "Claire"):
        w.say("coord", text)
    w.enrol_mentor("pro", "Marc", profession="soudeur")
    match_id = w.match("Zoé", "Marc")
    settle(w, "kid", "pro", "coord")
    return match_id


def test_contact_details_to_a_minor_wait_for_the_coordinator(world: Harness) -> None:
    w = world
    scene(w)
    w.say("pro", PHONE)
    got = news(w, "kid", "pro")
    assert got == {"kid": [], "pro": [t(w, "fr", "safety.held")]}
    (review,) = w.inbox("coord")
    assert PHONE in review.message.text and MARC in review.message.text
    actions = [b.action for b in review.message.buttons]
    assert [a.split(":")[1] for a in actions] == ["ok", "redact", "no"]
    w.press("coord", actions[1])  # pass it on, hidden
    got = news(w, "kid", "pro", "coord")
    assert got["kid"] == [t(w, "fr", "relay.message", name=MARC,
                            text="Appelle-moi au [numéro masqué]")]
    assert got["pro"] == [t(w, "fr", "safety.released.redact")]
    assert got["coord"] == [t(w, "fr", "safety.reviewed.redact")]
    w.press("coord", actions[0])  # a second decision: the first counted
    assert news(w, "kid", "coord") == {
        "kid": [], "coord": [t(w, "fr", "safety.already_reviewed")]}


def test_a_coordinator_may_approve_or_reject(world: Harness) -> None:
    w = world
    scene(w)
    w.say("kid", "mon insta: @zoe.t")
    w.say("kid", "mon courriel zoe@example.com")
    first, second = w.inbox("coord")
    w.press("coord", first.message.buttons[0].action)
    w.press("coord", second.message.buttons[2].action)
    got = news(w, "kid", "pro")
    assert got["pro"] == [t(w, "fr", "relay.message", name="Zoé", text="mon insta: @zoe.t")]
    assert got["kid"][-2:] == [t(w, "fr", "safety.released.ok"), t(w, "fr", "safety.rejected")]
    w.press("pro", first.message.buttons[0].action)  # not a coordinator
    assert news(w, "pro")["pro"] == [t(w, "fr", "button.stale")]


def test_between_adults_contact_details_are_hidden_and_delivered(world: Harness) -> None:
    w = world
    scene(w, age="19")
    w.say("kid", "Mon numéro : 514-555-1234")
    got = news(w, "kid", "pro", "coord")
    assert got["pro"] == [t(w, "fr", "relay.message", name="Zoé",
                            text="Mon numéro : [numéro masqué]")]
    assert got["kid"] == [t(w, "fr", "safety.redacted_note")]
    assert got["coord"] == []


def test_words_of_distress_flag_and_bring_the_help_lines(world: Harness) -> None:
    w = world
    scene(w)
    w.say("kid", "Des fois j'ai envie d'en finir")
    got = news(w, "kid", "pro", "coord")
    assert got["pro"] == [t(w, "fr", "relay.message", name="Zoé",
                            text="Des fois j'ai envie d'en finir")]  # still delivered
    assert got["kid"] == [t(w, "fr", "safety.helplines")]
    (flagged,) = got["coord"]
    assert t(w, "fr", "safety.flag.self_harm") in flagged and "en finir" in flagged
    w.say("pro", "On pourrait se voir en personne?")
    got = news(w, "kid", "coord")
    assert len(got["kid"]) == 1 and t(w, "fr", "safety.flag.meeting") in got["coord"][0]
    w.say("kid", "Mourir de rire, ton histoire!")  # not a flag
    assert news(w, "coord")["coord"] == []


def test_a_report_reaches_the_coordinator_with_the_last_messages(world: Harness) -> None:
    w = world
    scene(w)
    w.say("pro", "Bonjour Zoé")
    w.say("kid", "Bonjour")
    copy = w.inbox("kid")[-1]
    w.say("kid", "/report il insiste beaucoup", reply_to=copy.id)
    got = news(w, "kid", "coord")
    assert got["kid"] == [t(w, "fr", "report.sent")]
    (report,) = got["coord"]
    assert "il insiste beaucoup" in report and "Bonjour Zoé" in report and MARC in report
    rows = w.sql().conn.execute(select(AuditRow.__table__.c.action,
                                       AuditRow.__table__.c.detail)).all()
    assert all("Bonjour" not in r.detail for r in rows)  # the audit log keeps no bodies


def test_block_ends_the_match_and_no_new_one_is_possible(world: Harness) -> None:
    w = world
    match_id = scene(w)
    w.say("kid", "/block")
    got = news(w, "kid", "pro")
    assert got["kid"][0] == t(w, "fr", "end.done_by_you", name=MARC)
    assert got["kid"][-1] == t(w, "fr", "block.done")
    assert got["pro"] == [t(w, "fr", "end.done_by_other", name="Zoé"),
                          *end_survey(w, "mentor", "Zoé")]
    with w.store() as store:
        match = store.match(match_id)
        assert match is not None and match.status is MatchStatus.ENDED
        ctx = Context(store, w.services, w.clock())
        with pytest.raises(DomainError) as refused:
            create_match(ctx, "Zoé", "Marc", actor="test")
    assert refused.value.key == "match.blocked"


def test_an_unvetted_mentor_is_matched_with_no_minor_until_vetted(world: Harness) -> None:
    w = world
    scene(w)
    w.enrol_mentor("eng", "Léa", profession="ingénieure")
    settle(w, "eng")
    with w.store() as store:
        ctx = Context(store, w.services, w.clock())
        with pytest.raises(DomainError) as refused:
            create_match(ctx, "Zoé", "Léa", actor="test")
    assert refused.value.key == "match.unvetted"
    w.say("kid", "/vet Léa")  # students may not vet
    assert news(w, "kid")["kid"] == [t(w, "fr", "command.coordinators_only")]
    w.say("coord", "/vet Léa")
    got = news(w, "coord", "eng")
    assert got == {"coord": [t(w, "fr", "vet.done", name="Léa")],
                   "eng": [t(w, "fr", "vet.mentor_told")]}
    rows = w.sql().conn.execute(select(AuditRow.__table__.c.action,
                                       AuditRow.__table__.c.actor)).all()
    claire = w.participant("Claire").id
    assert ("mentor_vetted", f"participant:{claire}") in [(r.action, r.actor) for r in rows]
    with w.store() as store:
        ctx = Context(store, w.services, w.clock())
        assert create_match(ctx, "Zoé", "Léa", actor="test").id is not None
