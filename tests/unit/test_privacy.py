"""Privacy rights (Quebec's Law 25) through the real bus and database: /mydata tells a person
what is held on them; /forgetme, once confirmed, leaves no trace of them in any table (the
statistics keep their counts); message bodies past the retention period are purged daily; the
audit log never keeps a message body."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import String, Text, func, select

from core.bus import sweep
from core.context import Context
from core.model import MatchStatus, Role, School, Step
from core.privacy import purge_due
from storage.tables import ErasureRow, GroupPostRow, M, O, R, RetentionPurgeRow, metadata
from tests.harness import Harness
from tests.inbox import audit_rows, news, settle, t

DAY = 24 * 3600.0
STUDENT, MENTOR, OTHER_MENTOR = "zs-user-4417", "km-user-5521", "lp-user-6630"
NAME = "Zephyrine"
WRITTEN = ("secret-alpha du matin", "secret-beta encore", "post-gamma pour le groupe",
           "question-delta sur le métier")


# The scene ---------------------------------------------------------------------------------------

def _school(w: Harness) -> int:
    with w.store() as store:
        school = store.find_school("École Test") or store.add_school(School("École Test"))
    assert school.id is not None
    return school.id


def coordinator(w: Harness, user: str = "coord") -> None:
    w.invite(f"C-{user}".upper(), Role.COORDINATOR, _school(w))
    for text in (f"/start C-{user}", "fr", "Coordo"):
        w.say(user, text)


def student(w: Harness, user: str, pseudonym: str, age: str = "16") -> None:
    w.invite(f"S-{user}".upper()[:32], Role.STUDENT, _school(w))
    for text in (f"/start S-{user}", "fr", pseudonym, age, "1", "ok"):
        w.say(user, text)


def mentor(w: Harness, user: str, pseudonym: str, profession: str = "soudeuse") -> None:
    w.enrol_mentor(user, pseudonym, profession=profession)
    with w.store() as store:
        found = store.find_participant(pseudonym)
        assert found is not None
        found.vetted = True
        store.save_participant(found)


def scene(w: Harness) -> int:
    """Zephyrine (a student, 16) talks with Kestrel (a mentor), has asked Lupin too, posts in
    a group Lupin is in (where her plain text now goes), answered a survey; everyone's news is
    read. The match's id."""
    coordinator(w)
    student(w, STUDENT, NAME)
    mentor(w, MENTOR, "Kestrel")
    mentor(w, OTHER_MENTOR, "Lupin", profession="infirmier")
    match_id = w.match(NAME, "Kestrel")
    w.propose(NAME, "Lupin", question=WRITTEN[3])
    w.say(STUDENT, WRITTEN[0])
    w.say(MENTOR, "Bonjour Zephyrine, ravie de te lire")
    w.say(STUDENT, WRITTEN[1])
    w.say("coord", "/group new Santé band=14-17")
    with w.store() as store:
        group = max(g.id or 0 for g in store.open_groups(None, None, everywhere=True))
    for user in (STUDENT, OTHER_MENTOR):
        w.say(user, f"/join {group}")
    w.say(STUDENT, WRITTEN[2])
    w.press(STUDENT, f"survey:{match_id}:quality:4")
    w.say(STUDENT, "/nudges off")
    settle(w, STUDENT, MENTOR, OTHER_MENTOR, "coord")
    return match_id


def participant_id(w: Harness, pseudonym: str = NAME) -> int:
    found = w.participant(pseudonym).id
    assert found is not None
    return found


def traces(w: Harness, needles: list[str]) -> list[str]:
    """Every text cell of every row of every table that holds one of `needles`."""
    found = []
    folded = [n.casefold() for n in needles]
    with w.sql().conn as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            for row in conn.execute(select(*columns)) if columns else ():
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str) and any(n in value.casefold() for n in folded):
                        found.append(f"{table.name}.{column.name}: {value[:120]!r}")
    return found


def count(w: Harness, table: object) -> int:
    with w.sql().conn as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# /mydata -----------------------------------------------------------------------------------------

def exported(w: Harness, user: str) -> tuple[str, dict]:
    """/mydata's one message to `user`: its text, and its JSON file decoded."""
    [sent] = w.inbox(user)
    file = sent.message.attachment
    assert file is not None and file.mime == "application/json"
    return sent.message.text, json.loads(file.data.decode("utf-8"))


def test_mydata_tells_the_asker_everything_held_on_them_and_nobody_else(world: Harness) -> None:
    w = world
    match_id = scene(w)
    w.say(STUDENT, "/mydata")
    got = news(w, MENTOR, OTHER_MENTOR, "coord")
    assert got[MENTOR] == got[OTHER_MENTOR] == got["coord"] == []
    text, data = exported(w, STUDENT)
    # The summary, in their language: the profile, accounts, reminders, and what the file holds.
    assert text.startswith(t(w, "fr", "mydata.show.student", date="2026-09-01", sections="",
                             file="")[:40])
    for expected in (
        t(w, "fr", "profile.pseudonym", name=NAME), t(w, "fr", "profile.age", age=16),
        t(w, "fr", "profile.role.student"),
        t(w, "fr", "mydata.account", platform="playground", user=STUDENT, chat=STUDENT,
          state=t(w, "fr", "mydata.reachable")),
        t(w, "fr", "mydata.nudges", state=t(w, "fr", "nudges.state.off"), count=0),
        t(w, "fr", "mydata.counts.student", matches=2, messages=2, posts=1, answers=1),
        f"passerelle-{NAME}-2026-09-01.json",
    ):
        assert expected in text, expected
    # The file: everything, their own words included, in English keys.
    assert data["profile"] | {"pseudonym": NAME, "role": "student", "age": 16} == data["profile"]
    assert data["identities"] == [{
        "platform": "playground", "account_id": STUDENT, "chat_id": STUDENT, "thread_id": None,
        "reachable": True, "last_seen_at": data["identities"][0]["last_seen_at"]}]
    assert data["reminders"]["enabled"] is False
    matches = {m["id"]: m for m in data["matches"]}
    assert matches[match_id] | {"with": "Kestrel (soudeuse)", "status": "active",
                                "ended_at": None} == matches[match_id]
    asked = [m for m in data["matches"] if m["id"] != match_id]
    assert [(m["with"], m["first_question"]) for m in asked] == [
        ("Lupin (infirmier)", WRITTEN[3])]
    assert [(m["text"], m["match_id"], m["to"]) for m in data["messages"]] == [
        (WRITTEN[0], match_id, "Kestrel (soudeuse)"), (WRITTEN[1], match_id, "Kestrel (soudeuse)")]
    assert [(p["text"], p["group"]) for p in data["group_posts"]] == [(WRITTEN[2], "Santé")]
    assert data["survey_answers"] == [
        {"match_id": match_id, "question": "quality", "answer": "4"}]
    whole = text + json.dumps(data, ensure_ascii=False)
    assert MENTOR not in whole and "ravie de te lire" not in whole  # nobody else's ids or words
    assert (f"participant:{participant_id(w)}", "data_export", {}) in audit_rows(w)


def test_a_mentors_export_holds_their_words_not_the_students(world: Harness) -> None:
    w = world
    match_id = scene(w)
    w.say(MENTOR, "/mydata")
    text, data = exported(w, MENTOR)
    assert [m["text"] for m in data["messages"]] == ["Bonjour Zephyrine, ravie de te lire"]
    assert [(m["id"], m["first_question"]) for m in data["matches"]] == [(match_id, None)]
    whole = text + json.dumps(data, ensure_ascii=False)
    assert not any(words in whole for words in WRITTEN)


def test_a_long_history_goes_whole_in_the_file_and_the_summary_stays_short(
        world: Harness) -> None:
    w = world
    student(w, "kid", "Zoé")
    mentor(w, "pro", "Marc")
    w.match("Zoé", "Marc")
    lines = [f"message-{n:03d} " + "bla " * 20 for n in range(45)]  # 45 × ~100 characters
    for line in lines:
        w.say("kid", line)
    settle(w, "kid", "pro")
    settle(w, "kid", "pro")  # (one message per chat and round: more than a run's rounds)
    w.say("kid", "/mesdonnees")
    text, data = exported(w, "kid")
    assert len(text) < 1500 and "message-000" not in text
    assert [m["text"] for m in data["messages"]] == [line.strip() for line in lines]  # all
    assert news(w, "pro")["pro"] == []


def test_the_export_file_is_utf8_json_named_after_the_person(world: Harness) -> None:
    w = world
    student(w, "kid", "Zoé")
    settle(w, "kid")
    w.say("kid", "/mydata")
    [sent] = w.inbox("kid")
    file = sent.message.attachment
    assert file is not None and file.name == "passerelle-Zoé-2026-09-01.json"
    raw = file.data.decode("utf-8")
    assert '"pseudonym": "Zoé"' in raw and raw.startswith('{\n  "')  # not \u-escaped; indented


def test_mydata_and_forgetme_work_before_onboarding_is_finished(world: Harness) -> None:
    w = world
    young = "yg-user-8080"
    w.invite("S-YOUNG", Role.STUDENT)
    for text in ("/start S-YOUNG", "fr", "Petitpois", "12"):  # refused: too young
        w.say(young, text)
    settle(w, young)
    w.say(young, "/mydata")
    shown, data = exported(w, young)
    assert t(w, "fr", "profile.age", age=12) in shown and t(w, "fr", "mydata.onboarding") in shown
    assert data["profile"]["signed_up"] is False and data["profile"]["age"] == 12
    w.say(young, "/forgetme")
    assert w.texts(young) == [t(w, "fr", "forget.confirm.student")]
    w.press(young, "forget:yes")  # the button, though onboarding is not finished
    assert w.texts(young) == [t(w, "fr", "forget.done.student")]
    sweep(w.bus, w.clock())
    assert traces(w, ["Petitpois", young]) == []
    assert all("age" not in detail for _, _, detail in audit_rows(w))  # "refused_age" kept
    assert any(action == "refused_age" for _, action, _ in audit_rows(w))


# /forgetme ---------------------------------------------------------------------------------------

def test_forgetme_asks_first_and_no_keeps_everything(world: Harness) -> None:
    w = world
    scene(w)
    w.say(STUDENT, "/forgetme")
    [asked] = w.inbox(STUDENT)
    assert asked.message.text == t(w, "fr", "forget.confirm.student")
    assert [b.action for b in asked.message.buttons] == ["forget:yes", "forget:no"]
    before = traces(w, [NAME, *WRITTEN])
    w.press(STUDENT, "forget:no")
    assert w.texts(STUDENT) == [t(w, "fr", "forget.kept.student")]
    assert traces(w, [NAME, *WRITTEN]) == before
    w.say(STUDENT, "encore là")
    assert news(w, OTHER_MENTOR)[OTHER_MENTOR] == [
        t(w, "fr", "group.post", group="Santé", name=NAME, text="encore là")]


def test_forgetme_leaves_no_trace_of_the_person_in_any_table(any_world: Harness) -> None:
    w = any_world
    match_id = scene(w)
    pid = participant_id(w)
    matches_before = count(w, M)
    assert traces(w, [NAME, STUDENT, *WRITTEN])  # the scan does see them while they are here
    w.say(STUDENT, "/forgetme")
    assert w.texts(STUDENT) == [t(w, "fr", "forget.confirm.student")]
    w.press(STUDENT, "forget:yes")
    got = news(w, STUDENT, MENTOR, OTHER_MENTOR, "coord")
    assert got[STUDENT] == [t(w, "fr", "forget.done.student")]
    assert got[MENTOR][0] == t(w, "fr", "forget.partner_left", name=NAME)
    assert got[MENTOR][1] == t(w, "fr", "survey.end_reason")  # as after an /end
    assert got[OTHER_MENTOR] == [t(w, "fr", "forget.request_withdrawn", name=NAME)]
    assert got["coord"] == []
    sweep(w.bus, w.clock())  # the farewell and the notices went out: their copies go now
    settle(w, MENTOR, OTHER_MENTOR)  # (and it is the 1st: the mentors' monthly figures)

    assert traces(w, [NAME, STUDENT, *WRITTEN]) == []
    for actor, _, detail in audit_rows(w):
        assert actor != f"participant:{pid}"
        assert pid not in [detail.get(k) for k in ("participant_id", "blocked", "student_id")]
    # The statistics still count what happened, anonymously.
    assert count(w, M) == matches_before
    with w.store() as store:
        erased = store.participant(pid)
        assert erased is not None and erased.step is Step.ERASED and erased.role is Role.STUDENT
        assert (erased.pseudonym, erased.age, erased.fields, erased.timezone) == (None, None, [],
                                                                                   None)
        match = store.match(match_id)
        assert match is not None and match.status is MatchStatus.ENDED
        assert store.identity("playground", STUDENT) is None
    with w.sql().conn as conn:
        assert conn.execute(select(ErasureRow.__table__.c.settled_at)).scalar_one() is not None
        # The bodies are blank, the rows (and what they count) are there.
        assert conn.execute(select(func.count()).select_from(R)
                            .where(R.c.sender_id == pid)).scalar_one() == 2

    # The mentor goes on: no conversation left, and a new student reaches them.
    w.say(MENTOR, "tu es là?")
    assert news(w, MENTOR)[MENTOR] == [t(w, "fr", "relay.no_match.mentor")]
    student(w, "newkid", "Noctis")
    settle(w, "newkid")
    w.match("Noctis", "Kestrel")
    settle(w, "newkid", MENTOR)
    w.say("newkid", "bonjour!")
    assert news(w, MENTOR)[MENTOR] == [t(w, "fr", "relay.message", name="Noctis", text="bonjour!")]

    # Writing again from the same account: a stranger, asked for an invite code.
    w.say(STUDENT, "allo?")
    assert w.texts(STUDENT) == [t(w, "fr", "welcome.need_code")]


def test_an_export_sent_before_forgetme_leaves_neither_its_name_nor_its_bytes(
        any_world: Harness) -> None:
    w = any_world
    scene(w)
    w.say(STUDENT, "/mydata")
    exported(w, STUDENT)
    with w.sql().conn as conn:
        assert conn.execute(select(O.c.file_name, O.c.file_data)
                            .where(O.c.file_name.is_not(None))).all() == [
            (f"passerelle-{NAME}-2026-09-01.json", None)]  # delivered: the bytes are gone
    w.say(STUDENT, "/forgetme")
    w.press(STUDENT, "forget:yes")
    settle(w, STUDENT, MENTOR, OTHER_MENTOR, "coord")
    sweep(w.bus, w.clock())
    settle(w, MENTOR, OTHER_MENTOR)
    assert traces(w, [NAME, *WRITTEN]) == []
    with w.sql().conn as conn:
        assert conn.execute(select(func.count()).select_from(O).where(
            O.c.file_name.is_not(None) | O.c.file_data.is_not(None))).scalar_one() == 0


def test_an_erased_mentor_leaves_no_profession_or_bio_and_the_student_is_told(
        world: Harness) -> None:
    w = world
    student(w, "kid", "Zoé")
    mentor(w, "pro", "Orion", profession="Soudeuse Qx")
    w.say("pro", "/bio Vingt ans de chantiers-epsilon")
    w.match("Zoé", "Orion")
    w.say("pro", "réponse-omega")
    settle(w, "kid", "pro")
    pid = participant_id(w, "Orion")
    w.say("pro", "/oublier")
    w.press("pro", "forget:yes")
    got = news(w, "kid", "pro")
    assert got["pro"][-1] == t(w, "fr", "forget.done.mentor")
    name = t(w, "fr", "relay.name_with_profession", name="Orion", profession="Soudeuse Qx")
    assert got["kid"][0] == t(w, "fr", "forget.partner_left", name=name)
    sweep(w.bus, w.clock())
    assert traces(w, ["Orion", "Soudeuse Qx", "epsilon", "réponse-omega"]) == []
    assert all(actor != f"participant:{pid}" for actor, _, _ in audit_rows(w))
    with w.store() as store:
        erased = store.participant(pid)
        assert erased is not None and erased.role is Role.MENTOR and erased.bio is None
        assert store.mentor_cards() == []  # never suggested again


def test_a_farewell_waiting_to_go_out_keeps_its_address_until_delivered(world: Harness) -> None:
    w = world
    student(w, STUDENT, NAME)
    settle(w, STUDENT)
    w.say(STUDENT, "/forgetme")
    w.press(STUDENT, "forget:yes")
    sweep(w.bus, w.clock())  # before delivery: nothing to blank yet, the farewell waits
    with w.sql().conn as conn:
        waiting = conn.execute(select(O.c.chat_id, O.c.text).where(O.c.status == "pending")).all()
    assert [tuple(r) for r in waiting] == [(STUDENT, t(w, "fr", "forget.done.student"))]
    assert w.texts(STUDENT)[-1] == t(w, "fr", "forget.done.student")
    sweep(w.bus, w.clock())
    assert traces(w, [NAME, STUDENT]) == []
    w.press(STUDENT, "forget:yes")  # pressed twice: nothing is left to erase, nor to answer
    assert w.texts(STUDENT) == [] and traces(w, [STUDENT]) == []


# Retention ---------------------------------------------------------------------------------------

def test_the_daily_purge_blanks_old_bodies_only_and_once(
        any_world: Harness, caplog: pytest.LogCaptureFixture) -> None:
    w = any_world
    scene(w)
    w.clock.advance(300 * DAY)
    w.say(STUDENT, "nouveau-message récent")  # in the group
    settle(w, STUDENT, MENTOR)
    w.clock.advance(70 * DAY)  # the first messages are 370 days old, the last one 70
    with caplog.at_level(logging.INFO, logger="passerelle.bus"):
        sweep(w.bus, w.clock())
    assert any("event=retention_purge" in r.getMessage() for r in caplog.records)
    with w.sql().conn as conn:
        bodies = [r.body for r in conn.execute(select(R.c.body).order_by(R.c.id))]
        gp = GroupPostRow.__table__
        posts = [r.body for r in conn.execute(select(gp.c.body).order_by(gp.c.id))]
        copies = [r.text for r in conn.execute(select(O.c.text).where(O.c.status != "pending"))]
        questions = [r.question for r in conn.execute(select(M.c.question).order_by(M.c.id))]
    assert bodies == ["", "", ""] and questions == [None, None]
    assert posts == ["", "nouveau-message récent"]
    assert not any(body in copy for copy in copies for body in WRITTEN)
    assert any("nouveau-message récent" in copy for copy in copies)
    # Once a day: the next sweeps of the day read nothing; the purge itself changes nothing twice.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="passerelle.bus"):
        sweep(w.bus, w.clock())
    assert not any("event=retention_purge" in r.getMessage() for r in caplog.records)
    with w.store() as store:
        assert store.purge_bodies(w.clock() - timedelta(days=365)) == 0
        assert purge_due(Context(store, w.services, w.clock())) == 0
    w.clock.advance(DAY)
    with w.store() as store:
        assert purge_due(Context(store, w.services, w.clock())) == 0  # a new day, nothing due
    with w.sql().conn as conn:
        days = conn.execute(select(RetentionPurgeRow.__table__)).all()
    assert [(d.day, d.bodies > 0) for d in days] == [("2027-09-06", True), ("2027-09-07", False)]


# The audit log -----------------------------------------------------------------------------------

def test_the_audit_log_keeps_no_message_body(world: Harness) -> None:
    w = world
    scene(w)
    w.say(MENTOR, "/bio Une bio-zeta bien à moi")
    w.say(STUDENT, "/end")
    w.press(STUDENT, "survey:1:reason:done")
    w.say(STUDENT, "/forgetme")
    details = [json.dumps(detail, ensure_ascii=False) for _, _, detail in audit_rows(w)]
    assert details  # there is an audit trail…
    for body in (*WRITTEN, "ravie de te lire", "bio-zeta"):
        assert not any(body in detail for detail in details), body  # …without a body


def test_a_coordinators_export_holds_their_broadcasts_and_their_copies_know_them(
        world: Harness) -> None:
    from tests.unit.test_broadcast import CLAIRE, ZOE, preview, scene

    w = world
    scene(w)
    _, actions, _ = preview(w, CLAIRE, "school Portes ouvertes jeudi")
    w.press(CLAIRE, actions[0])
    settle(w, CLAIRE, ZOE)
    broadcast_id = int(actions[0].partition(":")[2])
    with w.sql().conn as conn:
        copies = conn.execute(select(O.c.recipient_id).where(
            O.c.broadcast_id == broadcast_id)).all()
    assert len(copies) == 2  # Zoé and Liam, each copy tied to its broadcast (for /forgetme)
    w.say(CLAIRE, "/mydata")
    _, data = exported(w, CLAIRE)
    assert [(b["scope"], b["text"]) for b in data["broadcasts"]] == [
        ("school", "Portes ouvertes jeudi")]


def test_a_message_held_for_review_is_in_its_writers_export(world: Harness) -> None:
    w = world
    scene(w)
    w.say(STUDENT, "Appelle-moi au 514-555-0199")  # a minor: held for the coordinators
    settle(w, STUDENT, MENTOR, "coord")
    w.say(STUDENT, "/mydata")
    _, data = exported(w, STUDENT)
    assert [(m["status"], m["text"]) for m in data["reviewed_messages"]] == [
        ("held", "Appelle-moi au 514-555-0199")]
