"""Discussion groups through the real bus and database: a coordinator creates a group, students
and mentors join it, a post reaches every other member under the author's pseudonym only."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Engine, select

from core.context import Services
from core.model import Address, GroupRules, Role
from storage.tables import O
from tests.group_scenes import a_group, coordinator, student, vetted_mentor
from tests.harness import Harness
from tests.inbox import news, settle, t, unheard


def test_a_post_reaches_every_other_member_by_pseudonym(world: Harness) -> None:
    w = world
    coordinator(w)
    student(w, "kid1", "Zoé")
    student(w, "kid2", "Léo")
    vetted_mentor(w, "pro", "Marc")
    group = a_group(w)
    for user in ("kid1", "kid2", "pro"):
        w.say(user, f"/join {group}")
    joined = news(w, "kid1", "kid2", "pro")
    assert all(len(said) == 1 and "Santé" in said[0] for said in joined.values()), joined
    w.say("kid1", "Salut tout le monde!")
    got = news(w, "kid1", "kid2", "pro")
    expected = t(w, "fr", "group.post", group="Santé", name="Zoé", text="Salut tout le monde!")
    assert got == {"kid1": [], "kid2": [expected], "pro": [expected]}
    assert "kid1" not in expected


def test_a_reply_quotes_the_post_it_answers_and_threads_onto_each_copy(world: Harness) -> None:
    w = world
    coordinator(w)
    student(w, "kid1", "Zoé")
    student(w, "kid2", "Léo")
    vetted_mentor(w, "pro", "Marc")
    group = a_group(w)
    for user in ("kid1", "kid2", "pro"):
        w.say(user, f"/join {group}")
    settle(w, "kid1", "kid2", "pro")
    w.say("kid1", "Comment devenir infirmière?", message_id="zoe-1")
    copy = w.inbox("pro")[-1]
    w.inbox("kid2")
    w.say("pro", "Un DEC en soins infirmiers.", reply_to=copy.id)
    zoe, leo = w.inbox("kid1")[-1], w.inbox("kid2")[-1]
    expected = t(w, "fr", "group.post_reply", group="Santé", name="Marc (infirmière)",
                 replied="Zoé", quote="Comment devenir infirmière?",
                 text="Un DEC en soins infirmiers.")
    assert zoe.message.text == expected == leo.message.text
    assert zoe.message.reply_to == "zoe-1"  # onto her own message
    assert leo.message.reply_to is not None  # onto his copy of it


def test_minors_do_not_see_adults_groups(world: Harness) -> None:
    w = world
    coordinator(w)
    student(w, "kid", "Zoé", age="15")
    student(w, "adult", "Max", age="19")
    minors = a_group(w, "/group new Jeunes band=14-17")
    adults = a_group(w, "/group new Adultes band=18-30")
    w.say("kid", "/groups")
    w.say("adult", "/groups")
    seen = news(w, "kid", "adult")
    assert "Jeunes" in seen["kid"][0] and "Adultes" not in seen["kid"][0]
    assert "Adultes" in seen["adult"][0] and "Jeunes" not in seen["adult"][0]
    w.say("kid", f"/join {adults}")
    assert unheard(w, "kid")["kid"] == [t(w, "fr", "group.unknown", name=str(adults))]
    w.press("kid", f"gjoin:{adults}")
    assert unheard(w, "kid")["kid"] == [t(w, "fr", "group.cannot_join")]
    w.press("kid", f"gjoin:{minors}")
    assert "Jeunes" in unheard(w, "kid")["kid"][0]


def test_a_group_needs_a_band_where_the_program_keeps_ages_apart(
        sqlite_db: Engine, services: Services) -> None:
    rules = GroupRules(age_bands=((14, 17), (18, 30)), program_age_bands={"sport": ()})
    w = Harness(sqlite_db, replace(services, group_rules=rules))
    coordinator(w)
    w.say("coord", "/group new Santé")
    assert unheard(w, "coord")["coord"] == [
        t(w, "fr", "group.admin.band_required", bands="14-17, 18-30")]


def test_mute_remove_and_close(world: Harness) -> None:
    w = world
    coordinator(w)
    student(w, "kid1", "Zoé")
    student(w, "kid2", "Léo")
    group = a_group(w)
    for user in ("kid1", "kid2"):
        w.say(user, f"/join {group}")
    settle(w, "kid1", "kid2")
    w.say("coord", f"/group mute {group} Léo")
    assert news(w, "kid2")["kid2"] == [t(w, "fr", "group.muted_notice", name="Santé")]
    w.say("kid2", "hé")
    assert news(w, "kid1", "kid2") == {
        "kid1": [], "kid2": [t(w, "fr", "group.muted", name="Santé")]}
    w.say("coord", f"/group unmute {group} Léo")
    w.say("coord", f"/group remove {group} Léo")
    settle(w, "kid2")
    w.say("kid1", "toujours là?")
    assert news(w, "kid1", "kid2") == {"kid1": [], "kid2": []}
    w.say("kid2", f"/join {group}")
    assert news(w, "kid2")["kid2"] == [t(w, "fr", "group.cannot_join")]
    w.say("coord", f"/group close {group}")
    assert news(w, "kid1")["kid1"] == [t(w, "fr", "group.closed_notice", name="Santé")]
    w.say("kid1", "allô?")
    said = news(w, "kid1")["kid1"]
    assert said == [t(w, "fr", "relay.no_match.student")]


def test_a_large_group_post_is_written_in_one_transaction(world: Harness) -> None:
    """500 members: one post is 499 outbox rows, all written with the post (or none)."""
    w = world
    coordinator(w)
    group = a_group(w, "/group new Tous band=14-17")
    with w.store() as store:
        from core.model import Address, Identity, Membership, Participant, Step

        school = store.find_school("École Test")
        assert school is not None
        for n in range(500):
            p = store.add_participant(Participant(
                Role.STUDENT, pseudonym=f"Membre{n}", school_id=school.id, step=Step.DONE,
                age=15, fields=["health"], created_at=w.clock()))
            assert p.id is not None
            store.add_identity(Identity("playground", f"m{n}", p.id,
                                        Address("playground", f"m{n}")))
            store.save_membership(Membership(group, p.id, joined_at=w.clock()))
    w.say("m0", "Bonjour à tous")  # in no conversation yet: which one? (kept meanwhile)
    assert w.sql().conn.execute(select(O.c.post_id).where(O.c.post_id.is_not(None))).all() == []
    w.press("m0", f"gsay:{group}")  # this group: what was kept goes now
    rows = w.sql().conn.execute(
        select(O.c.post_id, O.c.chat_id, O.c.sender_id).where(O.c.post_id.is_not(None))).all()
    assert len(rows) == 499 and len({r.post_id for r in rows}) == 1
    assert {r.chat_id for r in rows} == {f"m{n}" for n in range(1, 500)}
    assert {r.sender_id for r in rows} == {None}  # nobody is told of another's delivery


def test_the_program_decides_whether_ages_are_apart() -> None:
    rules = GroupRules(age_bands=((14, 17), (18, 30)), program_age_bands={"sport": ()})
    assert rules.bands_for("default") == ((14, 17), (18, 30))
    assert rules.bands_for(None) == ((14, 17), (18, 30))
    assert rules.bands_for("sport") == ()


def test_on_slack_a_group_is_a_thread_and_writing_in_it_posts(slack_world: Harness) -> None:
    """The "you joined" message opens the group's thread for a Slack mentor: copies arrive in
    it, and what the mentor writes in it is a post; outside it, nothing is posted unasked."""
    w = slack_world
    coordinator(w)
    student(w, "kid", "Zoé")
    w.enrol_mentor("pro", "Marc", platform="slack")
    with w.store() as store:
        marc = store.find_participant("Marc")
        assert marc is not None
        marc.vetted = True
        store.save_participant(marc)
    w.inbox("pro", "slack")
    group = a_group(w)
    w.say("kid", f"/join {group}")
    w.say("pro", f"/join {group}", platform="slack")
    settle(w, "kid")
    (joined,) = w.inbox("pro", "slack")
    assert joined.message.to == Address("slack", "pro")  # the root, in the DM itself
    w.say("kid", "Des conseils pour un stage?")
    (copy,) = w.inbox("pro", "slack")
    assert copy.message.to == Address("slack", "pro", joined.id)  # in the group's thread
    w.say("pro", "Demande à l'hôpital de ta région.", platform="slack", thread=joined.id)
    assert news(w, "kid")["kid"] == [t(w, "fr", "group.post", group="Santé",
                                       name="Marc (infirmière)",
                                       text="Demande à l'hôpital de ta région.")]
    w.say("pro", "Et hors du fil?", platform="slack")
    asked = w.inbox("pro", "slack")
    assert [s.message.text for s in asked] == [t(w, "fr", "relay.which")]
    assert [b.action for b in asked[0].message.buttons] == [f"gsay:{group}"]
    assert news(w, "kid")["kid"] == []


def test_a_post_can_be_edited_deleted_and_unsent(world: Harness) -> None:
    """A post's copies follow its author's edit, and go when the author deletes it or takes it
    back with /unsend (a phone number posted by mistake must be retractable)."""
    w = world
    coordinator(w)
    student(w, "kid1", "Zoé")
    student(w, "kid2", "Léo")
    vetted_mentor(w, "pro", "Marc")
    group = a_group(w)
    for user in ("kid1", "kid2", "pro"):
        w.say(user, f"/join {group}")
    settle(w, "kid1", "kid2", "pro")
    w.say("kid1", "Mon numéro: 514", message_id="z-1")
    copies = {user: w.inbox(user)[-1].id for user in ("kid2", "pro")}
    w.say("kid1", "Mon numéro: (retiré)", edited=True, message_id="z-1")
    w.deliver()
    edited = t(w, "fr", "group.post_edited", group="Santé", name="Zoé",
               text="Mon numéro: (retiré)")
    assert sorted((e.edit_of, e.text) for e in w.channel().edits) == sorted(
        (copies[u], edited) for u in ("kid2", "pro"))
    w.say("kid1", "", deleted=True, message_id="z-1")
    w.deliver()
    assert sorted(d.delete_of for d in w.channel().deletions) == sorted(copies.values())
    w.say("kid2", "Salut", message_id="l-1")
    w.inbox("kid1"), w.inbox("pro")
    w.say("kid2", "/unsend", reply_to="l-1")
    assert news(w, "kid2")["kid2"] == [t(w, "fr", "unsend.done")]
    assert len(w.channel().deletions) == 4
