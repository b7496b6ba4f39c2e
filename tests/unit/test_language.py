"""Guessing a language before anyone chose one: words first, then the locale, then French."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.language import detect_language
from core.language import from_locale, guess_language


class Detector:
    """A language detector that answers what it is told, and counts its calls."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.calls: list[str] = []

    def __call__(self, text: str) -> str | None:
        self.calls.append(text)
        return self.answer


FRENCH = "Bonjour, je voudrais parler avec une infirmière de mon quartier"
ENGLISH = "Hello, I would like to talk with a nurse about the job"


@pytest.mark.parametrize(("hint", "expected"), [
    ("en-US", "en"), ("en_CA", "en"), ("EN", "en"), ("fr-CA", "fr"), ("fr", "fr"),
    ("de-DE", None), ("", None), (None, None), ("english", None),
])
def test_from_locale(hint: str | None, expected: str | None) -> None:
    assert from_locale(hint) == expected


@pytest.mark.parametrize("text", ["ok", "salut", "hi there", "", "   "])
def test_short_messages_keep_the_current_language(text: str) -> None:
    detect = Detector("fr")
    assert guess_language(text, "fr-CA", detect, current="en") == "en"
    assert guess_language(text, "en-US", Detector("en"), current="fr") == "fr"
    assert detect.calls == []


def test_without_words_the_locale_decides_then_french() -> None:
    assert guess_language("hi", "en-US", Detector("fr")) == "en"
    assert guess_language("salut", "fr-CA", Detector("en")) == "fr"
    assert guess_language("hi", "de-DE", Detector("en")) == "fr"
    assert guess_language("hi", None, Detector("en")) == "fr"


def test_three_words_or_more_are_detected() -> None:
    assert guess_language("un deux trois", "en-US", Detector("fr")) == "fr"
    assert guess_language("one two three", "fr-CA", Detector("en"), current="fr") == "en"
    assert guess_language("one two", "fr-CA", Detector("en")) == "fr"


def test_a_detector_that_does_not_know_falls_back() -> None:
    for answer in (None, "de", "ca", ""):
        assert guess_language("eins zwei drei vier", "en-US", Detector(answer)) == "en"
        assert guess_language("eins zwei drei vier", None, Detector(answer), current="en") == "en"
        assert guess_language("eins zwei drei vier", None, Detector(answer)) == "fr"


def test_commands_are_not_detected() -> None:
    detect = Detector("en")
    assert guess_language("/start ABCD please now", None, detect) == "fr"
    assert detect.calls == []


@pytest.mark.parametrize(("text", "hint", "expected"), [
    (FRENCH, "en-US", "fr"),
    (ENGLISH, "fr-CA", "en"),
    ("Est-ce que tu travailles de nuit?", None, "fr"),
    ("Do you work at night?", None, "en"),
    ("ok", "en-US", "en"),
    ("merci", None, "fr"),
])
def test_with_the_real_detector(text: str, hint: str | None, expected: str) -> None:
    assert guess_language(text, hint, detect_language) == expected


@pytest.mark.parametrize(("text", "expected"), [
    (FRENCH, "fr"), (ENGLISH, "en"), ("", None), ("1234 5678", None), ("!!! ???", None),
])
def test_detect_language(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", [
    FRENCH, ENGLISH, "ok merci", "taxi restaurant hotel", "Montréal", "a b c", "lol",
    "je suis ok with that", "🙂 🙂 🙂",
])
def test_detect_language_is_deterministic(text: str) -> None:
    answers = {detect_language(text) for _ in range(20)}
    assert len(answers) == 1
    assert answers <= {"fr", "en", None}


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=80))
def test_detect_language_answers_only_french_english_or_none(text: str) -> None:
    answer = detect_language(text)
    assert answer in ("fr", "en", None)
    assert detect_language(text) == answer


@settings(max_examples=50, deadline=None)
@given(text=st.text(max_size=80), hint=st.none() | st.sampled_from(["en-US", "fr-CA", "de", ""]),
       current=st.none() | st.sampled_from(["fr", "en"]))
def test_guess_language_always_answers_a_supported_language(
    text: str, hint: str | None, current: str | None
) -> None:
    assert guess_language(text, hint, detect_language, current) in ("fr", "en")  # type: ignore[arg-type]
