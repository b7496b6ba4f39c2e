"""Validating people imported from a spreadsheet, with the same rules as onboarding in chat."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from core.fields import FieldList
from core.model import LANGUAGES, MentorKind, Participant, Role, Step
from core.onboarding import (
    MAX_AGE,
    MAX_CAPACITY,
    MAX_STUDENT_FIELDS,
    MAX_YEARS,
    MIN_AGE,
    pseudonym_problem,
)
from core.safety import has_contact_details

MENTOR_COLUMNS = ("pseudonym", "language", "kind", "profession", "field", "years", "capacity")
STUDENT_COLUMNS = ("pseudonym", "language", "age", "fields")


def participant_from_row(
    role: Role, row: Mapping[str, str], fields: FieldList, school_id: int | None, now: datetime
) -> Participant:
    """A complete, onboarded participant from one CSV row; ValueError says what is wrong."""
    pseudonym = " ".join((row.get("pseudonym") or "").split())
    problem = pseudonym_problem(pseudonym)
    if problem:
        raise ValueError(f"pseudonym {pseudonym!r}: {problem}")
    language = (row.get("language") or "fr").strip().lower()
    if language not in LANGUAGES:
        raise ValueError(f"language must be fr or en, not {language!r}")
    p = Participant(role=role, pseudonym=pseudonym, language=language,  # type: ignore[arg-type]
                    school_id=school_id, step=Step.DONE, created_at=now)
    if role is Role.STUDENT:
        p.age = _number(row, "age", MIN_AGE, MAX_AGE)
        keys = [k.strip() for k in (row.get("fields") or "").replace(";", ",").split(",")]
        p.fields = [_field(fields, k) for k in keys if k]
        if not 1 <= len(p.fields) <= MAX_STUDENT_FIELDS:
            raise ValueError(f"fields: give 1 to {MAX_STUDENT_FIELDS} field keys")
    elif role is Role.MENTOR:
        kind = (row.get("kind") or "").strip().lower()
        if kind not in {k.value for k in MentorKind}:
            raise ValueError("kind must be professional, peer or representative")
        p.mentor_kind = MentorKind(kind)
        profession = " ".join((row.get("profession") or "").split())
        if not 2 <= len(profession) <= 80 or has_contact_details(profession):
            raise ValueError("profession: 2 to 80 characters, no contact details")
        p.profession = profession
        p.fields = [_field(fields, (row.get("field") or "").strip())]
        p.years = _number(row, "years", 0, MAX_YEARS)
        p.capacity = _number(row, "capacity", 1, MAX_CAPACITY)
        vetted = (row.get("vetted") or "no").strip().lower()
        if vetted not in _YES | _NO:
            raise ValueError("vetted must be yes or no")
        p.vetted = vetted in _YES  # the program checked them before putting them in its roster
    return p


_YES = frozenset({"yes", "oui", "true", "1"})
_NO = frozenset({"no", "non", "false", "0", ""})


def _number(row: Mapping[str, str], column: str, low: int, high: int) -> int:
    value = (row.get(column) or "").strip()
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{column} must be a whole number from {low} to {high}")
    return int(value)


def _field(fields: FieldList, key: str) -> str:
    found = fields.get(key) or fields.find(key)
    if found is None:
        raise ValueError(f"unknown field {key!r}")
    return found.key
