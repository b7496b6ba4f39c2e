"""Who a coordinator acts on: the one statement of the rule every admin command checks (in core,
ARCHITECTURE invariant 5), so that no command words it its own way.

A school's coordinator acts on their school (its students, its messages, its figures, its
invites) and on mentors, who serve every school; program staff (a coordinator with no school)
act on everyone and every school.
"""

from __future__ import annotations

from core.context import Context
from core.model import Participant, Role, School


def is_coordinator(ctx: Context, p: Participant) -> bool:
    """Whether `p` may run a coordinator's command at all; told otherwise."""
    if p.role is Role.COORDINATOR:
        return True
    ctx.tell(p, "command.coordinators_only")
    return False


def covers(p: Participant, school_id: int | None) -> bool:
    """Whether what belongs to `school_id` is in coordinator `p`'s scope (staff: all of it)."""
    return p.school_id is None or school_id == p.school_id


def may_act_on(p: Participant, target: Participant) -> bool:
    """A school's coordinator: their school's students and every mentor; staff: anyone."""
    if p.school_id is None or target.role is Role.MENTOR:
        return True
    return target.role is Role.STUDENT and covers(p, target.school_id)


def school_in_scope(ctx: Context, p: Participant, name: str,
                    refused: str = "admin.not_yours") -> School | None:
    """The school `name` names, when it is in `p`'s scope; None once `p` was told why not
    (no such school, or another school's: the `refused` message)."""
    found = ctx.store.find_school(name)
    if found is None:
        ctx.tell(p, "stats.unknown_school", name=name[:80])
        return None
    if not covers(p, found.id):
        ctx.tell(p, refused)
        return None
    return found
