"""Hypothesis strategies for realistic-but-broken platform payloads (issue 11, "Bad input").

Each platform's test starts from payloads as the platform really sends them and lets `mutated`
break them the way a buggy proxy, an API change or a forger would: fields dropped, values of the
wrong type, unknown fields and types, nested garbage, and texts that are huge or full of astral,
right-to-left, control and NUL characters. The property the tests check is always the same:
the adapter answers with a well-typed Inbound, or with None / a documented refusal, and never
with an exception its entry point does not catch.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from core.model import Address, Inbound

# Characters that break naive code: NUL and other controls, right-to-left marks and overrides,
# zero-width joiners, a byte-order mark, astral emoji and CJK beyond the BMP, a lone surrogate.
NASTY = (
    "\x00", "\x07", "\x1b", "\x7f", "\u0085", "\u200b", "\u200d", "\u200e", "\u200f",
    "\u202e", "\u2066", "\ufeff", "\ufffd", "\U0001f600", "\U0001f469\u200d\U0001f4bb",
    "\U00020000", "\u0627\u0644\u0633\u0644\u0627\u0645", "\u05e9\u05dc\u05d5\u05dd", "\ud800",
    "é", "ß", "<!channel>", "&amp;", "@everyone", "```", "*_~`|", "\r\n", "\t",
)

nasty_text = st.lists(
    st.one_of(st.sampled_from(NASTY), st.text(max_size=8)), max_size=12
).map("".join)


@st.composite
def huge_text(draw: st.DrawFn, max_size: int = 100_000) -> str:
    """A text up to `max_size` characters: one nasty fragment repeated (cheap to draw)."""
    unit = draw(nasty_text.filter(bool) | st.sampled_from(("a", "mot ", "\U0001f600")))
    size = draw(st.sampled_from((1_000, 4_097, 10_000, 40_001, max_size)))
    return (unit * (size // len(unit) + 1))[:size]


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), nasty_text, st.just(""),
)
garbage = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(("id", "type", "text", "user", "x", "")), inner,
                      max_size=3),
    max_leaves=6,
)
# a value of the wrong kind: what a field turns into when the payload is broken
wrong_value = st.one_of(garbage, huge_text(), st.just({}), st.just([]), st.just("0"),
                        st.just(0), st.just(-1), st.just(True))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        path = (*prefix, key)
        found.append(path)
        found.extend(_paths(child, path))
    return found


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        root = root[key]
    return root


@st.composite
def mutated(draw: st.DrawFn, valid: dict[str, Any], max_mutations: int = 4) -> dict[str, Any]:
    """`valid`, broken by up to `max_mutations` changes at random places: a field dropped, a
    field given a value of the wrong type (or a huge text), or an unknown field added."""
    payload = copy.deepcopy(valid)
    for _ in range(draw(st.integers(min_value=1, max_value=max_mutations))):
        paths = _paths(payload)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(payload, path)
        how = draw(st.sampled_from(("drop", "replace", "replace", "add")))
        if how == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(garbage)
        else:
            parent[path[-1]] = draw(wrong_value)
    return payload


def check_inbound(inbound: object, platform: str) -> None:
    """What every adapter's translation owes the core: an Inbound whose fields have the types
    the core relies on (it compares, slices and stores them without checking again)."""
    if inbound is None:
        return
    assert isinstance(inbound, Inbound), type(inbound)
    assert isinstance(inbound.source, Address)
    assert inbound.source.platform == platform
    assert isinstance(inbound.source.chat_id, str) and inbound.source.chat_id
    for name in ("thread_id", "private_to"):
        assert isinstance(getattr(inbound.source, name), str | None), name
    for name in ("event_key", "platform_user_id", "text", "message_id"):
        assert isinstance(getattr(inbound, name), str), name
    assert inbound.event_key and inbound.platform_user_id
    for name in ("reply_to", "action", "locale_hint", "media"):
        assert isinstance(getattr(inbound, name), str | None), name
    assert isinstance(inbound.edited, bool) and isinstance(inbound.deleted, bool)
