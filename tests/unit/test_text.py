"""Cutting long messages for platforms that refuse them: nothing lost, nothing empty."""

from __future__ import annotations

import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.text import split_text

# words separated by the whitespace split_text cuts on: spaces and newlines
WORDY = st.text(alphabet=string.ascii_letters + string.digits + "éà.,!?'" + " " * 6 + "\n" * 2,
                max_size=400)
LIMITS = st.integers(min_value=1, max_value=60)


def tokens(parts: list[str]) -> list[str]:
    return [word for part in parts for word in part.split()]


@pytest.mark.parametrize("limit", [0, -5])
def test_the_limit_must_be_positive(limit: int) -> None:
    with pytest.raises(ValueError):
        split_text("hello", limit)


def test_examples() -> None:
    assert split_text("", 10) == [""]
    assert split_text("hello world", 11) == ["hello world"]
    assert split_text("hello world", 10) == ["hello", "world"]
    assert split_text("one two\nthree four", 14) == ["one two", "three four"]
    assert split_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_lines_are_preferred_to_words() -> None:
    assert split_text("aaa bbb\ncc dd ee", 12) == ["aaa bbb", "cc dd ee"]
    # ...unless the line break comes so early that the part would be a stub
    assert split_text("aa bb\ncc dd ee", 12) == ["aa bb\ncc dd", "ee"]


@settings(max_examples=100)
@given(text=st.text(max_size=400), limit=LIMITS)
def test_every_part_fits_and_none_is_blank(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert parts
    assert all(len(p) <= limit for p in parts)
    if len(text) > limit:
        # a blank part is refused by the platforms ("message text is empty")
        assert all(p.strip() for p in parts)


@settings(max_examples=100)
@given(text=st.text(max_size=60), limit=st.integers(min_value=1, max_value=80))
def test_a_text_within_the_limit_is_returned_whole(text: str, limit: int) -> None:
    if len(text) <= limit:
        assert split_text(text, limit) == [text]


@settings(max_examples=100)
@given(text=WORDY, limit=LIMITS)
@example(text=" ab", limit=2)
@example(text="abc \n", limit=3)
@example(text="aaaa\n\n\n\nbb cc", limit=4)
def test_words_are_kept_in_order(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    if all(len(word) <= limit for word in text.split()):
        assert tokens(parts) == text.split()
        assert " ".join(parts).split() == text.split()
    else:  # only a word longer than the limit is cut, and no character is lost
        assert "".join(tokens(parts)) == "".join(text.split())
    assert all(p.strip() for p in parts) or not text.strip()


@settings(max_examples=100)
@given(text=st.text(max_size=400), limit=LIMITS)
def test_no_visible_character_is_lost(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert "".join("".join(parts).split()) == "".join(text.split())


@settings(max_examples=50)
@given(words=st.lists(st.text(alphabet=string.ascii_letters, min_size=1, max_size=10),
                      min_size=1, max_size=80), limit=st.integers(min_value=10, max_value=50))
def test_short_words_are_never_cut(words: list[str], limit: int) -> None:
    parts = split_text(" ".join(words), limit)
    assert tokens(parts) == words


def test_a_relayed_header_does_not_go_out_alone() -> None:
    header, body = "Zoé :", " ".join(["mot"] * 300)
    parts = split_text(f"{header}\n{body}", 500)
    assert parts[0].startswith("Zoé :\nmot mot")
    assert all(len(p) <= 500 for p in parts)


def test_a_late_line_break_is_preferred_to_a_space() -> None:
    text = "a " * 200 + "\n" + "b " * 100
    assert split_text(text, 450)[0] == ("a " * 200).strip()


@settings(max_examples=100)
@given(
    words=st.lists(st.text(alphabet="ab😀é", min_size=1, max_size=12), min_size=1, max_size=80),
    limit=st.integers(min_value=4, max_value=60),
)
def test_parts_fit_when_length_is_counted_in_utf16(words: list[str], limit: int) -> None:
    from core.text import utf16_length

    text = " ".join(words)
    parts = split_text(text, limit, utf16_length)
    assert all(utf16_length(p) <= limit for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())  # nothing lost
