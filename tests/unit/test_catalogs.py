"""The catalogs are complete: both languages, same placeholders, every key the core uses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from core.context import Services
from core.model import LANGUAGES, MentorKind, Role

CORE = Path(__file__).resolve().parents[2] / "core"
KEY = re.compile(r"[a-z_]+(\.[a-z_]+)+")
ROLES = tuple(r.value for r in Role)
KINDS = tuple(k.value for k in MentorKind)
# What each expression inside an f-string key can be. A new f-string key fails the test below
# until its values are listed here.
EXPANSIONS: dict[str, tuple[str, ...]] = {
    "p.role.value": ROLES,
    "participant.role.value": ROLES,
    "sender.role.value": ("student", "mentor"),  # only students and mentors reach the relay
    "role.value": ("student", "mentor"),  # matches: a match is between those two
    "kind.value": KINDS,
    "p.mentor_kind.value": KINDS,
    "(p.mentor_kind or MentorKind.PROFESSIONAL).value": KINDS,
    "lang": LANGUAGES,
    "problem": ("contact", "invalid"),  # what onboarding.pseudonym_problem returns
    "match.status.value": ("active", "declined", "ended", "expired"),  # an answered request
    "m.kind": KINDS,
    "m.mentor_kind.value": KINDS,  # admin.pending
    "m.language": LANGUAGES,
    "m.role.value": ROLES,  # a group's member list
    "what": ("mute", "unmute", "remove"),  # group_admin.moderate
    "r": ("done", "no_time", "not_useful", "other"),  # nudges.REASONS
    "a": ("yes", "somewhat", "no"),  # nudges.INFLUENCE
    "last_month.month": tuple(str(n) for n in range(1, 13)),
    "f": ("self_harm", "harassment", "sexual", "meeting", "contact"),  # safety flags
    "decision": ("ok", "redact", "no"),  # moderation.review
    "sub.name": ("help", "pending", "approve", "reject", "match", "unmatch", "flags", "reveal",
                 "broadcast", "invite", "stats", "export", "group"),  # admin.SUBCOMMANDS
    "invited.value": ROLES,  # admin_invite.invite
}


def _logger_names(tree: ast.AST) -> set[int]:
    return {
        id(arg) for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr == "getLogger"
        for arg in node.args
    }


def _expand(node: ast.JoinedStr, where: str) -> list[str]:
    keys = [""]
    for value in node.values:
        if isinstance(value, ast.Constant):
            keys = [k + str(value.value) for k in keys]
            continue
        assert isinstance(value, ast.FormattedValue)
        expression = ast.unparse(value.value)
        assert expression in EXPANSIONS, f"{where}: list the values of {{{expression}}}"
        keys = [k + v for k in keys for v in EXPANSIONS[expression]]
    return keys


def keys_used_in_core() -> dict[str, str]:
    """Every catalog key written in core/*.py, f-string keys expanded; key → where."""
    found: dict[str, str] = {}
    for path in sorted(CORE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _logger_names(tree)
        inside_fstrings = {
            id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
            for v in node.values
        }
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if id(node) in skip or id(node) in inside_fstrings:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if KEY.fullmatch(node.value):
                    found.setdefault(node.value, where)
            elif isinstance(node, ast.JoinedStr):
                template = "".join(
                    str(v.value) if isinstance(v, ast.Constant) else "x" for v in node.values
                )
                if KEY.fullmatch(template):
                    for key in _expand(node, where):
                        found.setdefault(key, where)
    return found


def test_both_languages_have_every_key_with_the_same_placeholders(services: Services) -> None:
    assert services.catalog.problems() == []
    assert services.catalog.languages() == set(LANGUAGES)


def test_the_scan_finds_the_keys_it_should() -> None:
    used = keys_used_in_core()
    for key in ("welcome.need_code", "relay.message", "help.coordinator", "kind.peer",
                "onboarding.profession.representative", "pseudonym.contact", "age.too_old",
                "relay.no_match.mentor", "language.name.en", "match.no_student"):
        assert key in used
    assert "relay.no_match.coordinator" not in used
    assert not any(key.startswith("passerelle.") for key in used)  # logger names


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_the_core_uses_is_in_the_catalog(services: Services, lang: str) -> None:
    known = services.catalog.keys(lang)
    missing = {key: where for key, where in keys_used_in_core().items() if key not in known}
    assert missing == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_catalog_text_formats(services: Services, lang: str) -> None:
    """No stray brace: each text formats once its placeholders are given."""
    from core.i18n import placeholders

    for key in services.catalog.keys(lang):
        template = services.catalog.t(lang, key)
        text = services.catalog.t(lang, key, **dict.fromkeys(placeholders(template), "X"))
        assert "{" not in text and "}" not in text, key


def test_each_career_field_has_both_labels(services: Services) -> None:
    keys = [f.key for f in services.fields]
    assert len(keys) == len(set(keys))
    assert all(f.fr.strip() and f.en.strip() for f in services.fields)
