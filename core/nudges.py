"""Nudges, check-ins and surveys: what time alone should bring about in a mentorship.

`sweep_nudges(ctx)` decides, from the database and the `now` it is given, what is due, and writes
each message in the same transaction as the step that records it (a match's stage moving on, a
row in nudges_sent): a sweep run twice, on two instances, or after a downtime sends each thing
once, late ones included. A nudge waits while its recipient is in their quiet hours or snoozed;
someone who turned nudges off is skipped, and the step is recorded all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.commands import row_id
from core.context import Context
from core.model import Button, Match, MatchStatus, Nudgeable, NudgeRules, Participant, Role
from core.names import display_name

REASONS = ("done", "no_time", "not_useful", "other")  # why a mentorship ended
INFLUENCE = ("yes", "somewhat", "no")  # did it influence the student's choice?
QUALITY = ("1", "2", "3", "4", "5")
QUESTIONS = {"reason": REASONS, "influence": INFLUENCE, "quality": QUALITY}


# Whether someone may be nudged now -------------------------------------------------------------

def local_time(p: Participant, now: datetime, rules: NudgeRules) -> datetime:
    try:
        zone = ZoneInfo(p.timezone or rules.timezone)
    except (KeyError, ValueError):  # a time zone the system does not know: the program's
        zone = ZoneInfo(rules.timezone)
    return now.astimezone(zone)


def is_quiet(p: Participant, now: datetime, rules: NudgeRules) -> bool:
    return is_quiet_hour(local_time(p, now, rules).hour, rules)


def is_quiet_hour(hour: int, rules: NudgeRules) -> bool:
    if rules.quiet_from > rules.quiet_until:  # the night: 21:00 to 08:00
        return hour >= rules.quiet_from or hour < rules.quiet_until
    return rules.quiet_from <= hour < rules.quiet_until


def must_wait(p: Participant, now: datetime, rules: NudgeRules) -> bool:
    """Not now: their night, or they snoozed (the nudge goes when it is over)."""
    snoozed = p.snoozed_until is not None and now < p.snoozed_until
    return snoozed or is_quiet(p, now, rules)


# The sweep ------------------------------------------------------------------------------------

def sweep_nudges(ctx: Context) -> int:
    """Every kind of nudge that is due at ctx.now; the number of messages written."""
    before = len(ctx.out)
    rules = ctx.services.nudge_rules
    _unanswered(ctx, rules)
    _student_waiting(ctx, rules)
    _silence(ctx, rules)
    _surveys(ctx, rules)
    _end_reminders(ctx, rules)
    _monthly_figures(ctx, rules)
    return len(ctx.out) - before


def _people(ctx: Context, due: Nudgeable) -> tuple[Participant, Participant] | None:
    student = ctx.store.participant(due.student_id)
    mentor = ctx.store.participant(due.mentor_id)
    return (student, mentor) if student and mentor else None


def _ready(ctx: Context, people: tuple[Participant, ...], rules: NudgeRules) -> bool:
    """All who would be nudged are awake and not snoozed (those who said no don't count)."""
    return not any(must_wait(p, ctx.now, rules) for p in people if not p.nudges_off)


def _unanswered(ctx: Context, rules: NudgeRules) -> None:
    """A student's message waits for an answer: the mentor hears, with two ways out."""
    before = ctx.now - timedelta(hours=rules.unanswered_hours)
    for due in ctx.store.unanswered(before, 0, rules.batch):
        people = _people(ctx, due)
        if people is None or not _ready(ctx, people[1:], rules):
            continue
        student, mentor = people
        if not ctx.store.advance(due.match_id, "unanswered", 0, 1):
            continue
        if mentor.nudges_off:
            continue
        lang = mentor.language
        buttons = (ctx.button(lang, "nudge.today_button", f"today:{due.match_id}"),
                   ctx.button(lang, "nudge.pause_button", "pause:on"))
        _nudge(ctx, mentor, due, "unanswered", "nudge.unanswered", buttons,
               name=display_name(ctx, student, lang), hours=int(rules.unanswered_hours))


def _student_waiting(ctx: Context, rules: NudgeRules) -> None:
    """Still no answer a while after the mentor was told: a kind word to the student, and
    other mentors offered if theirs is on a break."""
    hours = rules.unanswered_hours + rules.student_after_hours
    for due in ctx.store.unanswered(ctx.now - timedelta(hours=hours), 1, rules.batch):
        people = _people(ctx, due)
        if people is None or not _ready(ctx, people[:1], rules):
            continue
        student, mentor = people
        if not ctx.store.advance(due.match_id, "unanswered", 1, 2) or student.nudges_off:
            continue
        key = "nudge.student_wait_paused" if mentor.paused else "nudge.student_wait"
        _nudge(ctx, student, due, "student_wait", key, (),
               name=display_name(ctx, mentor, student.language))


def _silence(ctx: Context, rules: NudgeRules) -> None:
    """Nothing said for weeks: a check-in with something to say, then a warning, then the end.

    Latest step first, and one step per match per sweep; back from a long downtime, a match
    gets the warning rather than a check-in and the warning, and it ends only once the warning
    has been out for its full notice."""
    notice = timedelta(days=rules.end_days - rules.warning_days)
    for due in ctx.store.silent(ctx.now - timedelta(days=rules.end_days), 2, rules.batch):
        warned = ctx.store.last_nudge_at(due.match_id, "warning")
        if warned is not None and warned > ctx.now - notice:
            continue
        _silence_step(ctx, rules, due, 2, _end_silent)
    for due in ctx.store.silent(ctx.now - timedelta(days=rules.warning_days), 1, rules.batch):
        _silence_step(ctx, rules, due, 1, _warn)
    for due in ctx.store.silent(ctx.now - timedelta(days=rules.checkin_days), 0, rules.batch):
        silent_since = ctx.now - timedelta(days=rules.warning_days)
        long_gone = ctx.store.silent_since(due.match_id) <= silent_since
        _silence_step(ctx, rules, due, 0, _warn if long_gone else _check_in,
                      to_stage=2 if long_gone else 1)


def _silence_step(ctx: Context, rules: NudgeRules, due: Nudgeable, stage: int,
                  act: Callable[[Context, Nudgeable, Participant, Participant], None],
                  to_stage: int | None = None) -> None:
    people = _people(ctx, due)
    if people is None or not _ready(ctx, people, rules):
        return
    if ctx.store.advance(due.match_id, "silence", stage, to_stage or stage + 1):
        act(ctx, due, *people)


def _check_in(ctx: Context, due: Nudgeable, student: Participant, mentor: Participant) -> None:
    kit = ctx.services.kit
    card, question = kit.card(due.match_id), kit.question(due.match_id)
    if not mentor.nudges_off:
        _nudge(ctx, mentor, due, "checkin", "nudge.checkin_mentor", (),
               name=display_name(ctx, student, mentor.language),
               idea=card.body(mentor.language) if card else "")
    if not student.nudges_off:
        _nudge(ctx, student, due, "checkin", "nudge.checkin_student", (),
               name=display_name(ctx, mentor, student.language),
               idea=question.body(student.language) if question else "")


def _warn(ctx: Context, due: Nudgeable, student: Participant, mentor: Participant) -> None:
    days = int(ctx.services.nudge_rules.end_days - ctx.services.nudge_rules.warning_days)
    for p, other in ((student, mentor), (mentor, student)):
        if not p.nudges_off:
            _nudge(ctx, p, due, "warning", "nudge.silence_warning", (),
                   name=display_name(ctx, other, p.language), days=days)


def _end_silent(ctx: Context, due: Nudgeable, student: Participant, mentor: Participant
                ) -> None:
    from core.relay import end_match  # relay imports this module (the end survey)

    match = ctx.store.match(due.match_id)
    if match is not None and match.status is MatchStatus.ACTIVE:
        end_match(ctx, match, ended_by=None)


def _surveys(ctx: Context, rules: NudgeRules) -> None:
    """How is it going (1–5)? At day 30, then every 60 days."""
    first = ctx.now - timedelta(days=rules.first_survey_days)
    for due in ctx.store.survey_due(ctx.now, first, rules.batch):
        people = _people(ctx, due)
        if people is None or not _ready(ctx, people, rules):
            continue
        was = ctx.store.survey_date(due.match_id)
        scheduled = was or due.created_at + timedelta(days=rules.first_survey_days)
        step = timedelta(days=rules.survey_every_days)
        following = scheduled + step
        while following <= ctx.now:  # back after a long downtime: one question, not several
            following += step
        if not ctx.store.next_survey(due.match_id, was, following):
            continue
        for p, other in zip(people, people[::-1], strict=True):
            if p.nudges_off:
                continue
            buttons = tuple(Button(n, f"survey:{due.match_id}:quality:{n}") for n in QUALITY)
            _nudge(ctx, p, due, f"quality:{scheduled.date().isoformat()}", "survey.quality",
                   buttons, name=display_name(ctx, other, p.language))


def _end_reminders(ctx: Context, rules: NudgeRules) -> None:
    """An end survey left unanswered is recalled once, a few days later."""
    window = ctx.now - timedelta(days=rules.reminder_days)
    for match_id, participant_id in ctx.store.end_surveys_unanswered(
            window, window - timedelta(days=30), rules.batch):
        p = ctx.store.participant(participant_id)
        match = ctx.store.match(match_id)
        if p is None or match is None or p.nudges_off or must_wait(p, ctx.now, rules):
            continue
        if ctx.store.record_nudge("end_reminder", participant_id, match_id, str(match_id),
                                  ctx.now):
            ask_end_survey(ctx, match, p, reminder=True)


def _monthly_figures(ctx: Context, rules: NudgeRules) -> None:
    """On the first of the month, each mentor's own figures for the month before."""
    local = ctx.now.astimezone(ZoneInfo(rules.timezone))
    if local.day != 1 or is_quiet_hour(local.hour, rules):
        return
    this_month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    anchor = last_month.strftime("%Y-%m")
    for mentor_id, students, answers in ctx.store.mentor_figures(last_month, this_month):
        mentor = ctx.store.participant(mentor_id)
        if mentor is None or mentor.nudges_off or mentor.role is not Role.MENTOR:
            continue
        if ctx.store.record_nudge("monthly", mentor_id, None, anchor, ctx.now):
            ctx.tell(mentor, "figures.monthly", students=students, answers=answers,
                     month=ctx.t(mentor.language, f"month.{last_month.month}"))


def _nudge(ctx: Context, p: Participant, due: Nudgeable, kind: str, key: str,
           buttons: tuple[Button, ...], **values: object) -> None:
    """Say it (in the match's thread where there are threads), and log it."""
    assert p.id is not None
    ctx.store.record_nudge(kind, p.id, due.match_id, f"{due.match_id}:{ctx.now.isoformat()}",
                           ctx.now)
    ctx.tell(p, key, buttons=buttons, about_match=due.match_id, **values)


# The end survey and the answers ---------------------------------------------------------------

def ask_end_survey(ctx: Context, match: Match, p: Participant, *, reminder: bool = False
                   ) -> None:
    """Why did it end; for the student, did it influence their choice, and a thank-you."""
    if p.nudges_off or match.id is None:
        return
    lang = p.language
    reasons = tuple(ctx.button(lang, f"survey.reason.{r}", f"survey:{match.id}:reason:{r}")
                    for r in REASONS)
    key = "survey.end_reminder" if reminder else "survey.end_reason"
    ctx.tell(p, key, buttons=reasons, about_match=match.id)
    if p.role is Role.STUDENT:
        influence = tuple(
            ctx.button(lang, f"survey.influence.{a}", f"survey:{match.id}:influence:{a}")
            for a in INFLUENCE)
        ctx.tell(p, "survey.influence", buttons=influence, about_match=match.id)
        if not reminder:
            mentor = ctx.store.participant(match.mentor_id)
            name = display_name(ctx, mentor, lang) if mentor else "?"
            thanks = ctx.button(lang, "thanks.button", f"thanks:{match.id}")
            ctx.tell(p, "thanks.offer", buttons=(thanks,), about_match=match.id, name=name)


def answer(ctx: Context, p: Participant, value: str) -> None:
    """A survey button: `<match>:<question>:<answer>`, stored per match and person."""
    match_id, question, choice = (value.split(":") + ["", ""])[:3]
    match = _own_match(ctx, p, row_id(match_id))
    if match is None or choice not in QUESTIONS.get(question, ()):
        ctx.tell(p, "button.stale")
        return
    assert p.id is not None and match.id is not None
    ctx.store.answer_survey(match.id, p.id, question, choice, ctx.now)
    ctx.tell(p, "survey.thanks")


def thank(ctx: Context, p: Participant, match_id: int) -> None:
    """A student's "merci": the mentor is told (once)."""
    match = _own_match(ctx, p, match_id)
    if match is None or p.id != match.student_id or match.id is None:
        ctx.tell(p, "button.stale")
        return
    first = ctx.store.answer_survey(match.id, p.id, "thanks", "yes", ctx.now)
    mentor = ctx.store.participant(match.mentor_id)
    if first and mentor is not None:
        ctx.tell(mentor, "thanks.received", name=display_name(ctx, p, mentor.language))
    ctx.tell(p, "thanks.sent")


def answer_today(ctx: Context, p: Participant, match_id: int) -> None:
    """The mentor's "I'll answer today": noted, and the student is not told they wait."""
    match = _own_match(ctx, p, match_id)
    if match is None or match.status is not MatchStatus.ACTIVE or p.id != match.mentor_id:
        ctx.tell(p, "button.stale")
        return
    ctx.tell(p, "nudge.today_noted")


def _own_match(ctx: Context, p: Participant, match_id: int | None) -> Match | None:
    match = ctx.store.match(match_id) if match_id is not None else None
    return match if match is not None and p.id in (match.student_id, match.mentor_id) else None


# Someone's own settings -----------------------------------------------------------------------

_UNITS: dict[str, Callable[[int], timedelta]] = {
    "h": lambda n: timedelta(hours=n), "d": lambda n: timedelta(days=n),
    "j": lambda n: timedelta(days=n), "w": lambda n: timedelta(weeks=n),
    "s": lambda n: timedelta(weeks=n),
}
MAX_SNOOZE = timedelta(weeks=12)


def snooze(ctx: Context, p: Participant, args: str) -> None:
    """`/snooze 1w` (h, d/j, w/s): reminders wait that long; `/snooze off` ends it."""
    value = args.strip().lower().replace(" ", "")
    if value in ("off", "non", "0"):
        p.snoozed_until = None
        ctx.store.save_participant(p)
        ctx.tell(p, "snooze.off")
        return
    number, unit = value[:-1], value[-1:]
    if not (number.isascii() and number.isdigit() and unit in _UNITS and int(number) > 0):
        ctx.tell(p, "snooze.how")
        return
    length = min(_UNITS[unit](int(number)), MAX_SNOOZE)
    p.snoozed_until = ctx.now + length
    ctx.store.save_participant(p)
    local = local_time(p, p.snoozed_until, ctx.services.nudge_rules)
    ctx.tell(p, "snooze.set", until=local.strftime("%Y-%m-%d %H:%M"))


def set_nudges(ctx: Context, p: Participant, args: str) -> None:
    """`/nudges off|on`: reminders and surveys, not safety messages."""
    value = args.strip().lower()
    if value not in ("off", "on", "non", "oui"):
        state = "nudges.state.off" if p.nudges_off else "nudges.state.on"
        ctx.tell(p, "nudges.how", state=ctx.t(p.language, state))
        return
    p.nudges_off = value in ("off", "non")
    ctx.store.save_participant(p)
    ctx.tell(p, "nudges.off" if p.nudges_off else "nudges.on")


def set_timezone(ctx: Context, p: Participant, args: str) -> None:
    """`/timezone America/Vancouver`: quiet hours (and dates shown) in one's own zone."""
    name = args.strip()
    rules = ctx.services.nudge_rules
    if not name:
        ctx.tell(p, "timezone.show", zone=p.timezone or rules.timezone)
        return
    try:
        ZoneInfo(name)
    except (KeyError, ValueError):
        ctx.tell(p, "timezone.unknown", zone=name[:64])
        return
    p.timezone = name
    ctx.store.save_participant(p)
    ctx.tell(p, "timezone.set", zone=name)
