"""Discussion groups through the real bus and database, beyond the first walk-through: leaving,
the member list, unreachable members, who may see and join which group, the pinned welcome,
coordinators' reach, closing, the text typed before choosing a group, groups beside a mentor,
and copies in each member's own language."""

from __future__ import annotations

from sqlalchemy import select

from core.model import Address, Group
from core.ports import Unreachable
from storage.tables import O
from tests.group_scenes import (
    a_group,
    coordinator,
    joined,
    mentor,
    other_coordinator,
    post,
    student,
    vetted_mentor,
    zoe_and_leo_in_a_group,
)
from tests.harness import Harness
from tests.inbox import audit_rows, news, settle, t, unheard

# leaving -----------------------------------------------------------------------------------------

def test_leave_takes_the_current_group_then_asks_which_with_buttons(world: Harness) -> None:
    w = world
    coordinator(w)
    student(w, "kid", "Zoé")
    student(w, "kid2", "Léo")
    health = a_group(w, "/group new Santé band=14-17")
    sport = a_group(w, "/group new Sport band=14-17")
    arts = a_group(w, "/group new Arts band=14-17")
    joined(w, health, "kid", "kid2")
    joined(w, sport, "kid", "kid2")
    joined(w, arts, "kid")  # Zoé writes in Arts now

    w.say("kid", "/leave")
    assert news(w, "kid")["kid"] == [t(w, "fr", "group.left", name="Arts")]
    assert [g.name for g in _groups_of(w, "Zoé")] == ["Santé", "Sport"]

    w.say("kid", "/leave")  # no current group and two of them: which one?
    (asked,) = w.inbox("kid")
    assert asked.message.text == t(w, "fr", "group.leave_which")
    assert [(b.label, b.action) for b in asked.message.buttons] == [
        ("Santé", f"gleave:{health}"), ("Sport", f"gleave:{sport}")]
    assert [g.name for g in _groups_of(w, "Zoé")] == ["Santé", "Sport"]  # nothing left yet

    w.press("kid", f"gleave:{health}")
    assert news(w, "kid")["kid"] == [t(w, "fr", "group.left", name="Santé")]
    w.press("kid", f"gleave:{health}")  # the same button again: she is no longer in it
    assert news(w, "kid")["kid"] == [t(w, "fr", "group.not_member")]

    # Léo's posts in Santé no longer reach her; in Sport they still do
    w.press("kid2", f"gsay:{health}")
    settle(w, "kid2")
    w.say("kid2", "Encore Santé")
    assert unheard(w, "kid") == {}
    w.press("kid2", f"gsay:{sport}")
    settle(w, "kid2")
    w.say("kid2", "Et le sport?")
    assert news(w, "kid")["kid"] == [post(w, "Léo", "Et le sport?", group="Sport")]

    w.say("kid", "/leave Sport")  # by its name
    assert news(w, "kid")["kid"] == [t(w, "fr", "group.left", name="Sport")]
    w.say("kid", "/leave")
    assert news(w, "kid")["kid"] == [t(w, "fr", "group.none_joined")]


def test_one_may_come_back_after_leaving(world: Harness) -> None:
    w = world
    group = zoe_and_leo_in_a_group(w)
    w.say("kid", "/leave")
    settle(w, "kid")
    w.say("kid", "Toujours là?")  # no group, no mentor: nothing goes anywhere
    assert news(w, "kid", "kid2") == {
        "kid": [t(w, "fr", "relay.no_match.student")], "kid2": []}
    w.say("kid", f"/join {group}")
    settle(w, "kid")
    w.say("kid", "Me revoilà")
    assert news(w, "kid2")["kid2"] == [post(w, "Zoé", "Me revoilà")]


def test_on_slack_choosing_a_group_again_stays_in_its_thread_and_leaving_ends_it(
        slack_world: Harness) -> None:
    """A thread's root must be a message at the top of the DM: choosing a group one is in
    again says so inside its thread, and coming back after leaving opens a new thread."""
    w = slack_world
    coordinator(w)
    student(w, "kid", "Zoé")
    mentor(w, "pro", "Marc", platform="slack")
    health = a_group(w, "/group new Santé band=14-17")
    sport = a_group(w, "/group new Sport band=14-17")
    joined(w, health, "kid")
    w.say("pro", f"/join {health}", platform="slack")
    w.say("pro", f"/join {sport}", platform="slack")
    first, _ = w.inbox("pro", "slack")
    assert first.message.to == Address("slack", "pro")

    w.say("pro", f"/join {health}", platform="slack")  # Santé again: in its own thread
    (again,) = w.inbox("pro", "slack")
    assert again.message.to == Address("slack", "pro", first.id)
    w.say("kid", "Allô")
    (copy,) = w.inbox("pro", "slack")
    assert copy.message.to == Address("slack", "pro", first.id)  # the root is still the first

    w.say("pro", f"/leave {health}", platform="slack")
    (left,) = w.inbox("pro", "slack")
    assert left.message.text == t(w, "fr", "group.left", name="Santé")
    w.say("pro", f"/join {health}", platform="slack")
    (back,) = w.inbox("pro", "slack")
    assert back.message.to == Address("slack", "pro")  # a new thread, at the top
    w.say("kid", "Re-allô")
    (copy,) = w.inbox("pro", "slack")
    assert copy.message.to == Address("slack", "pro", back.id)
    w.say("pro", "Me revoilà", platform="slack", thread=back.id)
    assert news(w, "kid")["kid"] == [post(w, "Marc (infirmière)", "Me revoilà")]


def _groups_of(w: Harness, pseudonym: str) -> list[Group]:
    p = w.participant(pseudonym)
    assert p.id is not None
    with w.store() as store:
        return store.groups_of(p.id)


# the member list ---------------------------------------------------------------------------------

def test_members_shows_pseudonyms_and_roles_and_only_to_members(world: Harness) -> None:
    w = world
    coordinator(w)
    student(w, "kid", "Zoé")
    student(w, "outsider", "Max")
    mentor(w, "tg-4242", "Marc", platform="telegram")
    group = a_group(w)
    joined(w, group, "kid")
    w.say("tg-4242", f"/join {group}", platform="telegram")
    settle(w, "tg-4242", platform="telegram")

    w.say("kid", "/members")
    (listing,) = news(w, "kid")["kid"]
    assert listing == t(w, "fr", "group.members", name="Santé", count=2, members="\n".join([
        t(w, "fr", "group.member_line", name="Marc", role=t(w, "fr", "group.role.mentor")),
        t(w, "fr", "group.member_line", name="Zoé", role=t(w, "fr", "group.role.student")),
    ]))
    assert "tg-4242" not in listing and "telegram" not in listing
    assert "infirmière" not in listing  # not even a mentor's trade: pseudonyms and roles

    w.say("outsider", "/members")
    w.say("outsider", f"/members {group}")
    w.press("outsider", f"gmembers:{group}")
    assert news(w, "outsider")["outsider"] == [
        t(w, "fr", "group.none_joined"), t(w, "fr", "group.unknown", name=str(group)),
        t(w, "fr", "group.not_member")]

    w.say("coord", f"/members {group}")  # the coordinator who runs it may look
    assert news(w, "coord")["coord"] == [listing]


# unreachable members -----------------------------------------------------------------------------

def test_a_member_who_blocked_the_bot_is_skipped_and_the_others_get_the_post(
        world: Harness) -> None:
    """Léo blocked the bot on Telegram: the platform refuses his copy; Noé, on Telegram too, and
    Marc still get theirs, nobody is told about Léo, and the next post has no copy for him."""
    w = world
    coordinator(w)
    student(w, "kid", "Zoé")
    student(w, "leo", "Léo", platform="telegram")
    student(w, "noe", "Noé", platform="telegram")
    vetted_mentor(w, "pro", "Marc")
    group = a_group(w)
    joined(w, group, "kid", "pro")
    for user in ("leo", "noe"):
        w.say(user, f"/join {group}", platform="telegram")
    settle(w, "leo", "noe", platform="telegram")
    telegram = w.channel("telegram")
    telegram.script = lambda _, message: (
        Unreachable("Forbidden: bot was blocked by the user")
        if message.to.chat_id == "leo" else None)

    w.say("kid", "Premier message")
    assert news(w, "noe", "leo", platform="telegram") == {
        "noe": [post(w, "Zoé", "Premier message")], "leo": []}
    assert news(w, "kid", "pro") == {"kid": [], "pro": [post(w, "Zoé", "Premier message")]}
    with w.store() as store:
        leo = store.find_participant("Léo")
        assert leo is not None and leo.id is not None
        assert store.address_of(leo.id) is None  # marked unreachable

    w.say("pro", "Deuxième message")
    with w.sql().conn as conn:
        rows = conn.execute(select(O.c.post_id, O.c.chat_id).where(O.c.post_id.is_not(None))
                            ).all()
    first, second = sorted({r.post_id for r in rows})
    assert sorted(r.chat_id for r in rows if r.post_id == first) == ["leo", "noe", "pro"]
    assert sorted(r.chat_id for r in rows if r.post_id == second) == ["kid", "noe"]
    assert news(w, "noe", "leo", platform="telegram") == {
        "noe": [post(w, "Marc (infirmière)", "Deuxième message")], "leo": []}
    assert news(w, "kid", "pro") == {
        "kid": [post(w, "Marc (infirmière)", "Deuxième message")], "pro": []}

    # he unblocks and writes: he is back, and reads the group again
    telegram.script = None
    w.say("leo", "Je suis revenu", platform="telegram")
    assert news(w, "kid")["kid"] == [post(w, "Léo", "Je suis revenu")]
    w.say("kid", "Bon retour!")
    assert news(w, "leo", platform="telegram")["leo"] == [post(w, "Zoé", "Bon retour!")]


# who may see and join ----------------------------------------------------------------------------

def test_a_mentor_not_vetted_cannot_join(world: Harness) -> None:
    w = world
    coordinator(w)
    mentor(w, "pro", "Marc", vetted=False)
    group = a_group(w)
    w.say("pro", "/groups")
    w.say("pro", f"/join {group}")
    w.press("pro", f"gjoin:{group}")
    assert news(w, "pro")["pro"] == [
        t(w, "fr", "group.none"), t(w, "fr", "group.unknown", name=str(group)),
        t(w, "fr", "group.cannot_join")]
    assert _groups_of(w, "Marc") == []
    with w.store() as store:
        marc = store.find_participant("Marc")
        assert marc is not None
        marc.vetted = True
        store.save_participant(marc)
    w.press("pro", f"gjoin:{group}")
    assert [g.name for g in _groups_of(w, "Marc")] == ["Santé"]


def test_a_student_of_another_school_cannot_see_or_join_a_schools_group(world: Harness) -> None:
    w = world
    coordinator(w)
    student(w, "kid", "Zoé")
    student(w, "far", "Max", school="École Ailleurs")
    group = a_group(w)
    w.say("far", "/groups")
    w.say("far", f"/join {group}")
    w.press("far", f"gjoin:{group}")
    w.press("far", f"gsay:{group}")
    w.press("far", f"gmembers:{group}")
    assert news(w, "far")["far"] == [
        t(w, "fr", "group.none"), t(w, "fr", "group.unknown", name=str(group)),
        t(w, "fr", "group.cannot_join"), t(w, "fr", "group.not_member"),
        t(w, "fr", "group.not_member")]
    w.say("kid", "/groups")
    (listing,) = w.inbox("kid")
    assert "Santé" in listing.message.text
    assert [b.action for b in listing.message.buttons] == [f"gjoin:{group}"]


def test_a_field_group_is_for_those_of_that_field(world: Harness) -> None:
    w = world
    coordinator(w)
    student(w, "nurse", "Zoé", fields="1")  # Santé et soins
    student(w, "builder", "Léo", fields="3")  # Génie civil
    mentor(w, "pro", "Marc", field="1")
    mentor(w, "eng", "Ingrid", field="3")
    group = a_group(w, "/group new Soins field=health band=14-17")
    with w.store() as store:
        made = store.group(group)
    assert made is not None and made.field == "health"
    for user in ("nurse", "builder", "pro", "eng"):
        w.say(user, "/groups")
    seen = news(w, "nurse", "builder", "pro", "eng")
    assert "Soins" in seen["nurse"][0] and "Soins" in seen["pro"][0]
    assert seen["builder"] == [t(w, "fr", "group.none")] == seen["eng"]
    for user in ("nurse", "builder", "pro", "eng"):
        w.press(user, f"gjoin:{group}")
    seen = news(w, "nurse", "builder", "pro", "eng")
    assert seen["builder"] == [t(w, "fr", "group.cannot_join")] == seen["eng"]
    assert "Soins" in seen["nurse"][0] and "Soins" in seen["pro"][0]


# the pinned welcome ------------------------------------------------------------------------------

def test_the_welcome_is_fanned_out_to_members_and_shown_to_each_newcomer(
        slack_world: Harness) -> None:
    w = slack_world
    coordinator(w)
    student(w, "kid", "Zoé")
    student(w, "kid2", "Léo")
    mentor(w, "pro", "Marc", platform="slack")
    group = a_group(w)
    joined(w, group, "kid")
    w.say("pro", f"/join {group}", platform="slack")
    (root,) = w.inbox("pro", "slack")

    welcome = "Soyez bienveillants et posez toutes vos questions."
    w.say("coord", f"/group welcome {group} {welcome}")
    assert news(w, "coord", "kid") == {
        "coord": [t(w, "fr", "group.admin.welcome_set", name="Santé")],
        "kid": [t(w, "fr", "group.pinned", name="Santé", welcome=welcome)]}
    (pinned,) = w.inbox("pro", "slack")
    assert pinned.message.text == t(w, "fr", "group.pinned", name="Santé", welcome=welcome)
    assert pinned.message.to == Address("slack", "pro", root.id)  # in the group's thread
    coord = f"participant:{w.participant('Coord').id}"
    assert (coord, "group_welcome", {"group_id": group, "platform": "playground"}
            ) in audit_rows(w)

    w.say("kid2", f"/join {group}")  # a newcomer reads it first thing
    assert news(w, "kid2", "kid") == {"kid2": [t(
        w, "fr", "group.joined", name="Santé", count=3, how=t(w, "fr", "group.how.chat"),
        welcome=t(w, "fr", "group.welcome_quote", welcome=welcome))], "kid": []}

    w.say("coord", f"/group welcome {group}")  # an empty welcome is refused, not pinned
    assert news(w, "coord")["coord"] == [
        t(w, "fr", "group.admin.help_welcome", max=1500)]
    with w.store() as store:
        kept = store.group(group)
    assert kept is not None and kept.welcome == welcome


# coordinators ------------------------------------------------------------------------------------

def test_a_coordinator_of_another_school_cannot_run_a_schools_group(world: Harness) -> None:
    w = world
    coordinator(w)
    other_coordinator(w, "other", "École Ailleurs")
    student(w, "kid", "Zoé")
    student(w, "kid2", "Léo")
    group = a_group(w)
    joined(w, group, "kid", "kid2")
    before = audit_rows(w)
    for command in (f"mute {group} Léo", f"remove {group} Léo", f"welcome {group} Salut",
                    f"close {group}", f"unmute {group} Léo"):
        w.say("other", f"/group {command}")
    w.say("other", f"/members {group}")
    w.press("other", f"gmembers:{group}")
    said = news(w, "other", "kid", "kid2")
    assert said["other"] == [t(w, "fr", "group.admin.which", name=str(group))] * 5 + [
        t(w, "fr", "group.unknown", name=str(group)), t(w, "fr", "group.not_member")]
    assert said["kid"] == said["kid2"] == []
    assert audit_rows(w) == before
    w.say("kid2", "Toujours libre de parler")
    assert news(w, "kid")["kid"] == [post(w, "Léo", "Toujours libre de parler")]

    # program staff (a coordinator with no school) run every group
    other_coordinator(w, "staff", None)
    w.say("staff", f"/group mute {group} Léo")
    assert news(w, "staff", "kid2") == {
        "staff": [t(w, "fr", "group.admin.muted", name="Léo", group="Santé")],
        "kid2": [t(w, "fr", "group.muted_notice", name="Santé")]}


def test_closing_stops_posts_and_the_group_is_no_longer_listed(world: Harness) -> None:
    w = world
    group = zoe_and_leo_in_a_group(w)
    w.say("kid", "Avant la fermeture")
    (copy,) = w.inbox("kid2")
    w.say("coord", f"/group close {group}")
    assert news(w, "coord", "kid", "kid2") == {
        "coord": [t(w, "fr", "group.admin.closed", name="Santé")],
        "kid": [t(w, "fr", "group.closed_notice", name="Santé")],
        "kid2": [t(w, "fr", "group.closed_notice", name="Santé")]}
    coord = f"participant:{w.participant('Coord').id}"
    assert (coord, "group_close", {"group_id": group, "platform": "playground"}) in audit_rows(w)

    w.say("kid2", "Une réponse", reply_to=copy.id)  # a reply to a copy: not posted
    w.say("kid2", "Et sans répondre")  # plain text: no group any more, no mentor
    w.press("kid2", f"gsay:{group}")
    w.press("kid2", f"gjoin:{group}")
    w.say("kid2", "/groups")
    w.say("kid2", "/members")
    assert news(w, "kid2", "kid") == {"kid2": [
        t(w, "fr", "group.closed"), t(w, "fr", "relay.no_match.student"),
        t(w, "fr", "group.not_member"), t(w, "fr", "group.cannot_join"),
        t(w, "fr", "group.none"), t(w, "fr", "group.none_joined")], "kid": []}
    w.say("coord", "/group")
    (shown,) = news(w, "coord")["coord"]
    assert shown == t(w, "fr", "group.admin.help", groups="—")
    w.say("coord", f"/group close {group}")  # closed is closed: it is no longer theirs to run
    assert news(w, "coord")["coord"] == [t(w, "fr", "group.admin.which", name=str(group))]


# choosing where text goes ------------------------------------------------------------------------

def test_the_text_typed_before_choosing_a_group_is_posted_there(world: Harness) -> None:
    w = world
    coordinator(w)
    student(w, "kid", "Zoé")
    student(w, "kid2", "Léo")
    student(w, "kid3", "Noé")
    health = a_group(w, "/group new Santé band=14-17")
    sport = a_group(w, "/group new Sport band=14-17")
    joined(w, health, "kid", "kid2")
    joined(w, sport, "kid", "kid3")
    w.say("kid", "/leave")  # out of Sport, her current group: none is current now
    settle(w, "kid")

    w.say("kid", "Quelqu'un connaît un bon cégep?")
    w.say("kid", "Pour les soins infirmiers")
    (asked,) = w.inbox("kid")[-1:]
    assert asked.message.text == t(w, "fr", "relay.which")
    assert [b.action for b in asked.message.buttons] == [f"gsay:{health}"]
    assert unheard(w, "kid2", "kid3") == {}

    w.press("kid", f"gsay:{health}")
    text = "Quelqu'un connaît un bon cégep?\nPour les soins infirmiers"
    assert news(w, "kid", "kid2", "kid3") == {
        "kid": [], "kid2": [post(w, "Zoé", text)], "kid3": []}
    assert w.participant("Zoé").pending_text is None
    # a reply to that post quotes it, and is threaded onto nothing in Zoé's chat (her words
    # came with no message of hers that could be answered)
    (copy,) = [s for s in w.channel().chat("kid2") if s.message.text == post(w, "Zoé", text)]
    w.say("kid2", "Le cégep de ta région!", reply_to=copy.id)
    (answer,) = w.inbox("kid")
    assert answer.message.reply_to is None
    assert answer.message.text == t(w, "fr", "group.post_reply", group="Santé", name="Léo",
                                    replied="Zoé", quote=" ".join(text.split()),
                                    text="Le cégep de ta région!")
    w.say("kid", "Merci!")  # plain text now goes to the group she chose
    assert news(w, "kid2")["kid2"] == [post(w, "Zoé", "Merci!")]


def test_a_group_beside_a_mentor_plain_text_to_the_group_a_reply_to_the_mentor(
        world: Harness) -> None:
    w = world
    coordinator(w)
    student(w, "kid", "Zoé")
    student(w, "kid2", "Léo")
    mentor(w, "pro", "Marc")
    w.match("Zoé", "Marc")
    settle(w, "kid", "pro")
    group = a_group(w)
    joined(w, group, "kid", "kid2")

    w.say("pro", "Comment vas-tu?")
    (from_marc,) = w.inbox("kid")
    w.say("kid", "Bonjour le groupe")  # plain text: the group she chose last
    assert news(w, "kid2", "pro") == {"kid2": [post(w, "Zoé", "Bonjour le groupe")], "pro": []}

    w.say("kid", "Très bien, merci!", reply_to=from_marc.id)  # to Marc
    relayed = t(w, "fr", "relay.message", name="Zoé", text="Très bien, merci!")
    assert news(w, "kid2", "pro") == {"kid2": [], "pro": [relayed]}
    assert w.participant("Zoé").current_group_id is None
    w.say("kid", "Et toi?")  # the conversation with Marc is current again
    assert news(w, "kid2", "pro") == {
        "kid2": [], "pro": [t(w, "fr", "relay.message", name="Zoé", text="Et toi?")]}

    w.say("kid2", "Qui veut étudier ensemble?")
    (copy,) = w.inbox("kid")
    w.say("kid", "Moi!", reply_to=copy.id)  # a reply to a group copy: back to the group
    w.say("kid", "Quand?")
    said = news(w, "kid2", "pro")
    assert said["pro"] == [] and len(said["kid2"]) == 2
    assert said["kid2"][1] == post(w, "Zoé", "Quand?")

    w.press("kid", f"gsay:{group}")  # already there: told so, nothing posted
    assert news(w, "kid", "kid2") == {
        "kid": [t(w, "fr", "group.now_writing", name="Santé")], "kid2": []}


# languages ---------------------------------------------------------------------------------------

def test_english_participants_get_english_copies(world: Harness) -> None:
    w = world
    coordinator(w)
    student(w, "kid", "Zoé")
    student(w, "ann", "Ann", lang="en")
    mentor(w, "bob", "Bob", lang="en")
    group = a_group(w)
    for user in ("kid", "ann", "bob"):
        w.say(user, f"/join {group}")
    said = news(w, "ann")["ann"]
    assert said == [t(w, "en", "group.joined", name="Santé", count=2,
                      how=t(w, "en", "group.how.chat"), welcome="")]
    settle(w, "kid", "bob")

    w.say("kid", "Qui travaille de nuit?")
    fr_copy = t(w, "fr", "group.post", group="Santé", name="Zoé", text="Qui travaille de nuit?")
    en_copy = t(w, "en", "group.post", group="Santé", name="Zoé", text="Qui travaille de nuit?")
    assert fr_copy != en_copy
    assert news(w, "ann", "bob") == {"ann": [en_copy], "bob": [en_copy]}
    (copy,) = [s for s in w.channel().chat("bob") if s.message.text == en_copy]
    w.say("bob", "I do, one week in three.", reply_to=copy.id)
    got = news(w, "kid", "ann")
    assert got["ann"] == [t(w, "en", "group.post_reply", group="Santé",
                            name="Bob (infirmière)", replied="Zoé",
                            quote="Qui travaille de nuit?", text="I do, one week in three.")]
    assert got["kid"] == [t(w, "fr", "group.post_reply", group="Santé",
                            name="Bob (infirmière)", replied="Zoé",
                            quote="Qui travaille de nuit?", text="I do, one week in three.")]
    w.say("ann", "/members")
    assert news(w, "ann")["ann"] == [t(w, "en", "group.members", name="Santé", count=3,
                                       members="\n".join([
        t(w, "en", "group.member_line", name="Ann", role=t(w, "en", "group.role.student")),
        t(w, "en", "group.member_line", name="Bob", role=t(w, "en", "group.role.mentor")),
        t(w, "en", "group.member_line", name="Zoé", role=t(w, "en", "group.role.student")),
    ]))]
