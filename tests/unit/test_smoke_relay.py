from tests.harness import Harness


def test_student_and_mentor_talk_through_pseudonyms(any_world: Harness) -> None:
    w = any_world
    w.enrol_student("kid", "Zoé")
    w.enrol_mentor("pro", "Marc", profession="soudeur")
    w.match("Zoé", "Marc")
    w.texts("kid"), w.texts("pro")
    w.say("kid", "Est-ce que tu travailles de nuit?")
    got = w.last("pro")
    assert got.message.text == "Zoé :\nEst-ce que tu travailles de nuit?"
    w.say("pro", "Parfois, oui!", reply_to=got.id)
    back = w.last("kid")
    assert back.message.text == "Marc (soudeur) :\nParfois, oui!"
