"""Translating between table rows and the core's dataclasses."""

from __future__ import annotations

import json
from typing import Any

from core.model import (
    Address,
    Attachment,
    Button,
    Identity,
    Invite,
    Match,
    MatchStatus,
    MentorKind,
    Participant,
    Role,
    Step,
)

# Enum members by value: a dict lookup is several times cheaper than calling the Enum, and a
# participant is read several times per relayed message.
ROLES = {member.value: member for member in Role}
_STEPS = {member.value: member for member in Step}
_KINDS = {member.value: member for member in MentorKind}


def participant_from(row: Any) -> Participant:
    return Participant(
        id=row.id, role=ROLES[row.role], pseudonym=row.pseudonym, language=row.language,
        school_id=row.school_id, step=_STEPS[row.step], age=row.age,
        fields=row.fields.split(",") if row.fields else [],
        mentor_kind=_KINDS[row.mentor_kind] if row.mentor_kind else None,
        profession=row.profession,
        years=row.years, capacity=row.capacity, vetted=bool(row.vetted),
        paused=bool(row.paused), bio=row.bio,
        current_match_id=row.current_match_id, current_group_id=row.current_group_id,
        timezone=row.timezone, nudges_off=bool(row.nudges_off), snoozed_until=row.snoozed_until,
        pending_text=row.pending_text,
        created_at=row.created_at,
        rejected_at=row.rejected_at, rejected_reason=row.rejected_reason,
    )


def participant_values(p: Participant) -> dict[str, Any]:
    return {
        "role": p.role.value, "pseudonym": p.pseudonym,
        "pseudonym_key": p.pseudonym.casefold() if p.pseudonym else None,
        "language": p.language, "school_id": p.school_id, "step": p.step.value, "age": p.age,
        "fields": ",".join(p.fields), "mentor_kind": p.mentor_kind.value if p.mentor_kind else None,
        "profession": p.profession, "years": p.years, "capacity": p.capacity,
        "vetted": p.vetted, "paused": p.paused, "bio": p.bio,
        "current_match_id": p.current_match_id, "current_group_id": p.current_group_id,
        "timezone": p.timezone, "nudges_off": p.nudges_off, "snoozed_until": p.snoozed_until,
        "pending_text": p.pending_text,
        "rejected_at": p.rejected_at, "rejected_reason": p.rejected_reason,
    }


def identity_from(row: Any) -> Identity:
    return Identity(
        id=row.id, platform=row.platform, platform_user_id=row.platform_user_id,
        participant_id=row.participant_id,
        address=Address(row.platform, row.chat_id, row.thread_id), reachable=bool(row.reachable),
        last_seen_at=row.last_seen_at,
    )


def invite_from(row: Any) -> Invite:
    return Invite(
        code=row.code, role=Role(row.role), school_id=row.school_id,
        participant_id=row.participant_id, max_uses=row.max_uses, uses=row.uses,
    )


def match_from(row: Any) -> Match:
    return Match(
        id=row.id, student_id=row.student_id, mentor_id=row.mentor_id,
        status=MatchStatus(row.status), created_at=row.created_at, ended_at=row.ended_at,
        ended_by=row.ended_by, question=row.question, requested_by=row.requested_by,
    )


def buttons_to_json(buttons: tuple[Button, ...]) -> str:
    return json.dumps([[b.label, b.action] for b in buttons], ensure_ascii=False) if buttons else ""


def buttons_from_json(text: str) -> tuple[Button, ...]:
    return tuple(Button(label, action) for label, action in json.loads(text)) if text else ()


def attachment_values(attachment: Attachment | None) -> dict[str, Any]:
    """An outbox row's file columns (all None without a file: a batch insert needs every key)."""
    if attachment is None:
        return {"file_name": None, "file_type": None, "file_data": None}
    return {"file_name": attachment.name[:200], "file_type": attachment.mime[:100],
            "file_data": attachment.data}


def attachment_from(row: Any) -> Attachment | None:
    """The file of an outbox row still to deliver; None once its bytes were dropped."""
    data = getattr(row, "file_data", None)
    if data is None or not row.file_name:
        return None
    return Attachment(row.file_name, row.file_type or "application/octet-stream", bytes(data))
