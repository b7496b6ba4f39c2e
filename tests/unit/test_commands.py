"""Telling a command from a plain message."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import Command, parse_command

NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,31}", fullmatch=True)
BOTS = st.from_regex(r"[A-Za-z0-9_]{1,32}", fullmatch=True)
ARGS = st.text(alphabet=string.ascii_letters + string.digits + " \n-éà@/", max_size=40)


@pytest.mark.parametrize(("text", "expected"), [
    ("/start", Command("start")),
    ("/start ABCD-2345", Command("start", "ABCD-2345")),
    ("/start@PasserelleBot ABCD-2345", Command("start", "ABCD-2345")),
    ("/Help", Command("help")),
    ("  /end  ", Command("end")),
    ("/match   Zoé   Marc ", Command("match", "Zoé   Marc")),
    ("/note first line\nsecond line", Command("note", "first line\nsecond line")),
    ("/a", Command("a")),
    ("/x_1", Command("x_1")),
    ("/" + "a" * 32, Command("a" * 32)),
])
def test_commands_are_parsed(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", [
    "", " ", "hello", "start", "a /start", "/", "/ start", "//start", "/1start", "/_start",
    "/start-now", "/é", "/" + "a" * 33, "/start@", "/start@bot-name", "\\start", "／start",
])
def test_other_texts_are_not_commands(text: str) -> None:
    assert parse_command(text) is None


@settings(max_examples=100)
@given(st.text())
def test_parsing_never_raises(text: str) -> None:
    result = parse_command(text)
    assert result is None or isinstance(result, Command)


@settings(max_examples=100)
@given(st.text())
def test_a_text_not_starting_with_a_slash_is_never_a_command(text: str) -> None:
    if not text.strip().startswith("/"):
        assert parse_command(text) is None


@settings(max_examples=100)
@given(st.text())
def test_a_parsed_command_is_lower_case_and_trimmed(text: str) -> None:
    result = parse_command(text)
    if result is not None:
        assert result.name == result.name.lower()
        assert result.args == result.args.strip()
        assert text.strip().lower().startswith("/" + result.name)


@settings(max_examples=100)
@given(name=NAMES, bot=st.none() | BOTS, args=ARGS)
def test_name_bot_and_args_parse(name: str, bot: str | None, args: str) -> None:
    text = f"/{name}" + (f"@{bot}" if bot else "") + (f" {args}" if args else "")
    assert parse_command(text) == Command(name.lower(), args.strip())
