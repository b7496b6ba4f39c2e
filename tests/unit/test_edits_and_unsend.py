"""Edits follow the relayed copy, /unsend takes it back, media get a clear answer."""

from __future__ import annotations

import pytest

from core.ports import PermanentFailure
from storage.tables import R
from tests.harness import Harness


def t(w: Harness, key: str, **values: object) -> str:
    return w.services.catalog.t("fr", key, **values)


@pytest.fixture
def pair(any_world: Harness) -> Harness:
    w = any_world
    w.enrol_student("kid", "Zoé")
    w.enrol_mentor("pro", "Marc", profession="soudeur")
    w.match("Zoé", "Marc")
    w.texts("kid"), w.texts("pro")
    return w


def test_an_edit_updates_the_delivered_copy(pair: Harness) -> None:
    w = pair
    w.say("kid", "Tu travailes la nuit?", message_id="kid-1")
    copy = w.last("pro")
    w.say("kid", "Tu travailles la nuit?", edited=True, message_id="kid-1")
    w.deliver()
    edits = w.channel().edits
    assert [(e.edit_of, e.text) for e in edits] == [
        (copy.id, t(w, "relay.edited", name="Zoé", text="Tu travailles la nuit?"))
    ]
    assert w.texts("kid") == []  # nothing to say to the author


def test_an_edit_the_platform_refuses_arrives_as_a_marked_correction(pair: Harness) -> None:
    w = pair
    w.say("pro", "Je commence à 7h", message_id="pro-1")
    w.last("kid")
    w.channel().script = lambda _n, m: PermanentFailure("too old") if m.edit_of else None
    w.say("pro", "Je commence à 6h", edited=True, message_id="pro-1")
    got = w.texts("kid")
    assert got == [t(w, "relay.edited", name="Marc (soudeur)", text="Je commence à 6h")]


def test_an_edit_of_something_never_relayed_changes_nothing(pair: Harness) -> None:
    w = pair
    w.say("kid", "/help", message_id="kid-help")
    w.texts("kid")
    w.say("kid", "/profile", edited=True, message_id="kid-help")
    w.say("stranger", "hello there everyone", edited=True, message_id="x")
    w.deliver()
    assert w.channel().edits == [] and w.texts("kid") == [] and w.texts("stranger") == []


def test_unsend_as_a_reply_removes_the_copy(pair: Harness) -> None:
    w = pair
    w.say("kid", "Oups, mauvais message", message_id="kid-oops")
    copy = w.last("pro")
    w.say("kid", "/unsend", reply_to="kid-oops")
    assert w.texts("kid") == [t(w, "unsend.done")]
    assert [d.delete_of for d in w.channel().deletions] == [copy.id]
    with w.sql().conn as conn:
        row = conn.execute(R.select().where(R.c.source_message_id == "kid-oops")).first()
    assert row.body == ""


def test_unsend_needs_a_reply_to_ones_own_relayed_message(pair: Harness) -> None:
    w = pair
    w.say("kid", "/unsend")
    assert w.texts("kid") == [t(w, "unsend.how")]
    w.say("pro", "Salut!", message_id="pro-hi")
    from_marc = w.last("kid")
    w.say("kid", "/unsend", reply_to=from_marc.id)  # not hers to take back
    assert w.texts("kid") == [t(w, "unsend.not_found")]
    assert w.channel().deletions == []


def test_unsend_that_the_platform_refuses_tells_the_sender(pair: Harness) -> None:
    w = pair
    w.say("kid", "Message", message_id="kid-1")
    w.last("pro")
    w.channel().script = lambda _n, m: PermanentFailure("too old") if m.delete_of else None
    w.say("kid", "/unsend", reply_to="kid-1")
    assert w.texts("kid") == [t(w, "unsend.done"), t(w, "unsend.failed")]


@pytest.mark.parametrize(("media", "key"), [
    ("sticker", "relay.media_not_relayed"), ("photo", "relay.media_not_relayed"),
    ("contact", "relay.media_private"), ("location", "relay.media_private"),
])
def test_media_are_not_relayed_and_the_sender_is_told(pair: Harness, media: str, key: str):
    w = pair
    w.say("kid", "", media=media)
    assert w.texts("kid") == [t(w, key)]
    assert w.texts("pro") == []


def test_captions_are_relayed_only_when_the_policy_says_so(any_db, services) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    for captions, relayed in ((False, []), (True, ["Zoé :\nMon atelier"])):
        w = Harness(any_db, replace(services, relay_captions=captions))
        suffix = "on" if captions else "off"
        w.enrol_student(f"kid{suffix}", f"Zoé{suffix}")
        w.enrol_mentor(f"pro{suffix}", f"Marc{suffix}")
        w.match(f"Zoé{suffix}", f"Marc{suffix}")
        w.texts(f"kid{suffix}"), w.texts(f"pro{suffix}")
        w.say(f"kid{suffix}", "Mon atelier", media="photo")
        got = w.texts(f"pro{suffix}")
        assert got == [r.replace("Zoé", f"Zoé{suffix}") for r in relayed]
        key = "relay.caption_only" if captions else "relay.media_not_relayed"
        assert w.texts(f"kid{suffix}") == [t(w, key)]
