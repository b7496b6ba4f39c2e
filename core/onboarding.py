"""Enrolment and onboarding, held as a conversation one step at a time.

Every step accepts both a button press and typed text, because not every platform has buttons and
people type anyway.
"""

from __future__ import annotations

import re

from core.commands import Command
from core.context import Context
from core.language import guess_language
from core.model import (
    LANGUAGES,
    Button,
    Identity,
    Inbound,
    Invite,
    MentorKind,
    Participant,
    Role,
    Step,
)
from core.safety import has_contact_details

MIN_AGE, MAX_AGE = 14, 30
MAX_YEARS = 60
MAX_CAPACITY = 10
MAX_STUDENT_FIELDS = 5
_PSEUDONYM = re.compile(r"^[^\W_][\w .'\-]{1,23}$")
# An invite code has a dash or a digit (ABCD-EF23): a lone word such as "Bonjour" is a greeting.
_DIGITS = re.compile(r"[0-9]{1,3}")  # ASCII only: "²" or "٣" are digits to str.isdigit
_CODE = re.compile(r"^(?=.*[\d-])[A-Za-z0-9\-]{4,32}$")
_LANGUAGE_WORDS = {
    "fr": "fr", "francais": "fr", "français": "fr", "french": "fr", "1": "fr",
    "en": "en", "english": "en", "anglais": "en", "2": "en",
}
KIND_WORDS = {
    "1": MentorKind.PROFESSIONAL, "2": MentorKind.PEER, "3": MentorKind.REPRESENTATIVE,
    "professionnel": MentorKind.PROFESSIONAL, "professionnelle": MentorKind.PROFESSIONAL,
    "professional": MentorKind.PROFESSIONAL, "pro": MentorKind.PROFESSIONAL,
    "pair": MentorKind.PEER, "peer": MentorKind.PEER, "étudiant": MentorKind.PEER,
    "étudiante": MentorKind.PEER, "etudiant": MentorKind.PEER, "student": MentorKind.PEER,
    "représentant": MentorKind.REPRESENTATIVE, "représentante": MentorKind.REPRESENTATIVE,
    "representant": MentorKind.REPRESENTATIVE, "representative": MentorKind.REPRESENTATIVE,
}
_DONE_WORDS = {"ok", "done", "fini", "terminé", "termine", "c'est tout", "0"}


def welcome_stranger(ctx: Context, inbound: Inbound, command: Command | None) -> None:
    """Someone we do not know yet: enrol them with an invite code, or ask for one."""
    lang = guess_language(inbound.text, inbound.locale_hint, ctx.services.detect)
    code = _code_in(inbound, command)
    if code is None:
        ctx.send_to_address(inbound.source, lang, "welcome.need_code")
        return
    invite = ctx.store.invite(code)
    if invite is None or invite.exhausted or not ctx.store.use_invite(invite.code):
        ctx.send_to_address(inbound.source, lang, "welcome.bad_code")
        return
    participant = _participant_for(ctx, invite, lang)
    assert participant.id is not None
    ctx.store.add_identity(
        Identity(inbound.source.platform, inbound.platform_user_id, participant.id,
                 inbound.source.home,
                 last_seen_at=ctx.now)
    )
    ctx.store.audit(
        f"participant:{participant.id}", "enrol",
        {"role": participant.role.value, "school_id": participant.school_id,
         "platform": inbound.source.platform},
        ctx.now,
    )
    if participant.step is Step.DONE:
        ctx.tell(participant, "welcome.back", name=participant.pseudonym)
    else:
        ctx.tell(participant, f"welcome.{participant.role.value}")
        prompt(ctx, participant)


def _code_in(inbound: Inbound, command: Command | None) -> str | None:
    if command is not None:
        return command.args.split()[0] if command.name == "start" and command.args else None
    word = inbound.text.strip()
    return word if _CODE.match(word) else None


def _participant_for(ctx: Context, invite: Invite, lang: str) -> Participant:
    if invite.participant_id is not None:
        existing = ctx.store.participant(invite.participant_id)
        if existing is not None:
            return existing
    return ctx.store.add_participant(
        Participant(role=invite.role, language=lang, school_id=invite.school_id,  # type: ignore[arg-type]
                    created_at=ctx.now)
    )


def prompt(ctx: Context, p: Participant) -> None:
    """Ask the question of the participant's current step."""
    lang = p.language
    match p.step:
        case Step.LANGUAGE:
            ctx.tell(p, "onboarding.language", buttons=language_buttons())
        case Step.PSEUDONYM:
            ctx.tell(p, "onboarding.pseudonym")
        case Step.AGE:
            ctx.tell(p, "onboarding.age", min=MIN_AGE, max=MAX_AGE)
        case Step.FIELDS:
            chosen = ctx.services.fields.labels(p.fields, lang) or "—"
            ctx.tell(p, "onboarding.fields", buttons=_field_buttons(ctx, p, done=True),
                     chosen=chosen, max=MAX_STUDENT_FIELDS)
        case Step.MENTOR_KIND:
            buttons = tuple(
                ctx.button(lang, f"kind.{kind.value}", f"kind:{kind.value}") for kind in MentorKind
            )
            ctx.tell(p, "onboarding.mentor_kind", buttons=buttons)
        case Step.PROFESSION:
            ctx.tell(p, f"onboarding.profession.{(p.mentor_kind or MentorKind.PROFESSIONAL).value}")
        case Step.MENTOR_FIELD:
            ctx.tell(p, "onboarding.mentor_field", buttons=_field_buttons(ctx, p, done=False))
        case Step.YEARS:
            ctx.tell(p, "onboarding.years")
        case Step.CAPACITY:
            ctx.tell(p, "onboarding.capacity", max=MAX_CAPACITY)
        case Step.REFUSED:
            key = "age.too_young" if (p.age or 0) < MIN_AGE else "age.too_old"
            ctx.tell(p, key, min=MIN_AGE, max=MAX_AGE)
        case Step.DONE:
            ctx.tell(p, f"onboarding.done.{p.role.value}", name=p.pseudonym)


def language_buttons() -> tuple[Button, ...]:
    return (Button("Français", "lang:fr"), Button("English", "lang:en"))


def _field_buttons(ctx: Context, p: Participant, done: bool) -> tuple[Button, ...]:
    buttons = [
        Button(("✓ " if f.key in p.fields else "") + f.label(p.language), f"field:{f.key}")
        for f in ctx.services.fields
    ]
    if done:
        buttons.append(ctx.button(p.language, "button.done", "fields:done"))
    return tuple(buttons)


def answer(ctx: Context, p: Participant, inbound: Inbound) -> None:
    """Take the participant's answer to the current step, then ask the next question."""
    handler = _STEPS.get(p.step)
    if inbound.action and inbound.action.startswith("lang:") and p.step is not Step.LANGUAGE:
        handler = _switch_language  # the /language buttons work at every step
    if handler is None:
        prompt(ctx, p)
        return
    handler(ctx, p, inbound.action, inbound.text.strip())
    ctx.store.save_participant(p)


def _language(ctx: Context, p: Participant, action: str | None, text: str) -> None:
    choice = action.split(":", 1)[1] if action and action.startswith("lang:") else None
    choice = choice or _LANGUAGE_WORDS.get(text.lower())
    if choice not in LANGUAGES:
        # "I only speak English please": not an answer, but it says which language to re-ask in.
        p.language = guess_language(text, None, ctx.services.detect, p.language)
        ctx.tell(p, "onboarding.language_again", buttons=language_buttons())
        return
    p.language = choice  # type: ignore[assignment]
    _advance(ctx, p, Step.PSEUDONYM)


def _switch_language(ctx: Context, p: Participant, action: str | None, text: str) -> None:
    choice = (action or "").split(":", 1)[1]
    if choice in LANGUAGES:
        p.language = choice  # type: ignore[assignment]
        ctx.tell(p, "language.set")
    prompt(ctx, p)


def _pseudonym(ctx: Context, p: Participant, action: str | None, text: str) -> None:
    if action or not text:
        prompt(ctx, p)
        return
    name = " ".join(text.split())
    problem = pseudonym_problem(name)
    if problem:
        ctx.tell(p, f"pseudonym.{problem}")
    elif ctx.store.pseudonym_taken(name, except_id=p.id):
        ctx.tell(p, "pseudonym.taken", name=name)
    else:
        p.pseudonym = name
        next_step = {Role.STUDENT: Step.AGE, Role.MENTOR: Step.MENTOR_KIND}.get(p.role, Step.DONE)
        _advance(ctx, p, next_step)


def pseudonym_problem(name: str) -> str | None:
    """Why a pseudonym cannot be used ("contact" or "invalid"), or None when it can."""
    if len(name) > 40:  # before any pattern: a 100,000-character answer must stay cheap
        return "invalid"
    if has_contact_details(name):
        return "contact"
    if not _PSEUDONYM.match(name) or name.replace(" ", "").isdigit():
        return "invalid"
    return None


def _age(ctx: Context, p: Participant, action: str | None, text: str) -> None:
    if not _DIGITS.fullmatch(text):
        ctx.tell(p, "onboarding.age_again", min=MIN_AGE, max=MAX_AGE)
        return
    p.age = int(text)
    if MIN_AGE <= p.age <= MAX_AGE:
        _advance(ctx, p, Step.FIELDS)
    else:
        ctx.store.audit(f"participant:{p.id}", "refused_age", {"age": p.age}, ctx.now)
        _advance(ctx, p, Step.REFUSED)


def _student_fields(ctx: Context, p: Participant, action: str | None, text: str) -> None:
    fields = ctx.services.fields
    if action == "fields:done" or (not action and text.lower() in _DONE_WORDS):
        if p.fields:
            _advance(ctx, p, Step.DONE)
        else:
            ctx.tell(p, "onboarding.fields_none")
        return
    if action and action.startswith("field:"):
        key = action.split(":", 1)[1]
        if fields.get(key):
            _toggle(p, key)
    else:
        words = [w for w in re.split(r"[,;\n]+|\s+(?:et|and)\s+", text) if w.strip()]
        found = [f for w in words if (f := fields.find(w))]
        if not found:
            ctx.tell(p, "onboarding.fields_unknown", buttons=_field_buttons(ctx, p, done=True))
            return
        for f in found:
            if f.key not in p.fields:
                _toggle(p, f.key)
    prompt(ctx, p)


def _toggle(p: Participant, key: str) -> None:
    if key in p.fields:
        p.fields = [k for k in p.fields if k != key]
    elif len(p.fields) < MAX_STUDENT_FIELDS:
        p.fields = [*p.fields, key]


def _mentor_kind(ctx: Context, p: Participant, action: str | None, text: str) -> None:
    kind = None
    if action and action.startswith("kind:"):
        kind = next((k for k in MentorKind if k.value == action.split(":", 1)[1]), None)
    kind = kind or KIND_WORDS.get(text.lower())
    if kind is None:
        prompt(ctx, p)
        return
    p.mentor_kind = kind
    _advance(ctx, p, Step.PROFESSION)


def _profession(ctx: Context, p: Participant, action: str | None, text: str) -> None:
    text = " ".join(text.split())
    if action or not 2 <= len(text) <= 80:
        prompt(ctx, p)
    elif has_contact_details(text):
        ctx.tell(p, "pseudonym.contact")
    else:
        p.profession = text
        _advance(ctx, p, Step.MENTOR_FIELD)


def _mentor_field(ctx: Context, p: Participant, action: str | None, text: str) -> None:
    fields = ctx.services.fields
    if action and action.startswith("field:"):
        chosen = fields.get(action.split(":", 1)[1])
    else:
        chosen = fields.find(text)
    if chosen is None:
        ctx.tell(p, "onboarding.fields_unknown", buttons=_field_buttons(ctx, p, done=False))
        return
    p.fields = [chosen.key]
    _advance(ctx, p, Step.YEARS)


def _years(ctx: Context, p: Participant, action: str | None, text: str) -> None:
    if not _DIGITS.fullmatch(text) or int(text) > MAX_YEARS:
        ctx.tell(p, "onboarding.number_again", min=0, max=MAX_YEARS)
        return
    p.years = int(text)
    _advance(ctx, p, Step.CAPACITY)


def _capacity(ctx: Context, p: Participant, action: str | None, text: str) -> None:
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_CAPACITY:
        ctx.tell(p, "onboarding.number_again", min=1, max=MAX_CAPACITY)
        return
    p.capacity = int(text)
    _advance(ctx, p, Step.DONE)


def _advance(ctx: Context, p: Participant, step: Step) -> None:
    p.step = step
    if step is Step.DONE:
        ctx.store.audit(f"participant:{p.id}", "onboarded", {"role": p.role.value}, ctx.now)
    prompt(ctx, p)


_STEPS = {
    Step.LANGUAGE: _language,
    Step.PSEUDONYM: _pseudonym,
    Step.AGE: _age,
    Step.FIELDS: _student_fields,
    Step.MENTOR_KIND: _mentor_kind,
    Step.PROFESSION: _profession,
    Step.MENTOR_FIELD: _mentor_field,
    Step.YEARS: _years,
    Step.CAPACITY: _capacity,
}
