"""Discussion groups in the database: groups, members, posts and where each copy went.

A mixin of the SQL store (it uses its connection): the group statements live here so that the
store's module stays about people and matches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from core.model import Address, Group, GroupPost, Member, Membership
from storage.addresses import best_address_of
from storage.mapping import ROLES
from storage.tables import GM, GP, GT, G, I, O, P

# Each member with where they are reached: the fan-out of a post to hundreds of members is
# this one statement, not one lookup per member.
_MEMBERS = (
    select(GM.c.participant_id, GM.c.muted, P.c.pseudonym, P.c.role, P.c.language,
           I.c.platform, I.c.chat_id)
    .join(P, P.c.id == GM.c.participant_id)
    .outerjoin(I, I.c.id == best_address_of(P))
    .order_by(P.c.pseudonym_key)
)


def group_from(row: Any) -> Group:
    return Group(
        id=row.id, name=row.name, field=row.field, school_id=row.school_id,
        program=row.program, min_age=row.min_age, max_age=row.max_age, welcome=row.welcome,
        closed=bool(row.closed), created_by=row.created_by, created_at=row.created_at,
    )


def _group_values(group: Group) -> dict[str, Any]:
    return {
        "name": group.name, "field": group.field, "school_id": group.school_id,
        "program": group.program, "min_age": group.min_age, "max_age": group.max_age,
        "welcome": group.welcome, "closed": group.closed, "created_by": group.created_by,
    }


class GroupQueries:
    conn: Connection

    def add_group(self, group: Group, now: datetime) -> Group:
        group.created_at = now
        values = _group_values(group) | {"created_at": now}
        group.id = self.conn.execute(insert(G).values(**values)).inserted_primary_key[0]
        return group

    def save_group(self, group: Group) -> None:
        self.conn.execute(update(G).where(G.c.id == group.id).values(**_group_values(group)))

    def group(self, group_id: int) -> Group | None:
        row = self.conn.execute(select(G).where(G.c.id == group_id)).first()
        return group_from(row) if row else None

    def open_groups(self, school_id: int | None, program: str | None, *,
                    everywhere: bool = False) -> list[Group]:
        """Open groups for anyone (no school, no program), for this school, for its program;
        `everywhere`: every open group. Who may join (field, age) is the core's to decide."""
        query = select(G).where(G.c.closed.is_(False)).order_by(G.c.name, G.c.id)
        if not everywhere:
            schools = [G.c.school_id.is_(None)]
            if school_id is not None:
                schools.append(G.c.school_id == school_id)
            programs = [G.c.program.is_(None)]
            if program is not None:
                programs.append(G.c.program == program)
            query = query.where(or_(*schools), or_(*programs))
        return [group_from(r) for r in self.conn.execute(query)]

    def groups_of(self, participant_id: int) -> list[Group]:
        """The open groups someone belongs to (not those they were removed from)."""
        rows = self.conn.execute(
            select(G).join(GM, GM.c.group_id == G.c.id)
            .where(GM.c.participant_id == participant_id, GM.c.removed.is_(False),
                   G.c.closed.is_(False))
            .order_by(G.c.name, G.c.id)
        )
        return [group_from(r) for r in rows]

    def membership(self, group_id: int, participant_id: int) -> Membership | None:
        row = self.conn.execute(
            select(GM).where(GM.c.group_id == group_id, GM.c.participant_id == participant_id)
        ).first()
        if row is None:
            return None
        return Membership(row.group_id, row.participant_id, bool(row.muted), bool(row.removed),
                          row.joined_at)

    def save_membership(self, membership: Membership) -> None:
        key = and_(GM.c.group_id == membership.group_id,
                   GM.c.participant_id == membership.participant_id)
        values = {"muted": membership.muted, "removed": membership.removed}
        if self.conn.execute(update(GM).where(key).values(**values)).rowcount == 0:
            self.conn.execute(insert(GM).values(
                group_id=membership.group_id, participant_id=membership.participant_id,
                joined_at=membership.joined_at, **values))

    def leave_group(self, group_id: int, participant_id: int) -> bool:
        """Gone by their own choice: they may come back (a removal is kept instead). Their
        thread for the group goes too: coming back opens a new one at the top of their chat,
        never a "root" posted inside the old thread."""
        result = self.conn.execute(
            GM.delete().where(GM.c.group_id == group_id, GM.c.participant_id == participant_id,
                              GM.c.removed.is_(False))
        )
        if result.rowcount:
            self.conn.execute(GT.delete().where(GT.c.group_id == group_id,
                                                GT.c.participant_id == participant_id))
        return bool(result.rowcount)

    def members(self, group_id: int) -> list[Member]:
        """Everyone in the group (removed people excepted), by pseudonym."""
        rows = self.conn.execute(
            _MEMBERS.where(GM.c.group_id == group_id, GM.c.removed.is_(False))
        )
        return [
            Member(r.participant_id, r.pseudonym or "?", ROLES[r.role], r.language,
                   bool(r.muted), Address(r.platform, r.chat_id) if r.platform else None)
            for r in rows
        ]

    def count_members(self, group_id: int) -> int:
        return int(self.conn.execute(
            select(func.count()).select_from(GM)
            .where(GM.c.group_id == group_id, GM.c.removed.is_(False))
        ).scalar_one())

    def add_post(self, post: GroupPost, source: Address, message_id: str, now: datetime
                 ) -> GroupPost:
        new_id = self.conn.execute(insert(GP).values(
            group_id=post.group_id, author_id=post.author_id, body=post.body,
            reply_to_post=post.reply_to_post, source_platform=source.platform,
            source_chat_id=source.chat_id, source_message_id=message_id, created_at=now,
        )).inserted_primary_key[0]
        return GroupPost(post.group_id, post.author_id, post.body, post.reply_to_post, new_id)

    def post(self, post_id: int) -> GroupPost | None:
        row = self.conn.execute(select(GP).where(GP.c.id == post_id)).first()
        if row is None:
            return None
        return GroupPost(row.group_id, row.author_id, row.body, row.reply_to_post, row.id)

    def find_post(self, source: Address, message_id: str, author_id: int) -> GroupPost | None:
        """The post `author_id` wrote as `message_id` at `source` (to edit or take back)."""
        if not message_id:
            return None
        row = self.conn.execute(
            select(GP).where(
                GP.c.source_platform == source.platform, GP.c.source_chat_id == source.chat_id,
                GP.c.source_message_id == message_id, GP.c.author_id == author_id,
            ).order_by(GP.c.id.desc()).limit(1)
        ).first()
        if row is None:
            return None
        return GroupPost(row.group_id, row.author_id, row.body, row.reply_to_post, row.id)

    def set_post_body(self, post_id: int, body: str) -> None:
        self.conn.execute(update(GP).where(GP.c.id == post_id).values(body=body))

    def post_recipients(self, post_id: int) -> list[tuple[int, Address]]:
        """Who was sent a copy of a post, and where (a copy still waiting included: the edit
        or removal is queued behind it)."""
        rows = self.conn.execute(
            select(O.c.recipient_id, O.c.platform, O.c.chat_id)
            .where(O.c.post_id == post_id, O.c.op == "send", O.c.status != "failed")
            .order_by(O.c.id)
        )
        return [(r.recipient_id, Address(r.platform, r.chat_id)) for r in rows]

    def post_copies(self, post_id: int) -> dict[int, str]:
        """Where each member's copy of a post is (participant → platform message id), and the
        author's own message: a reply to the post is threaded onto each one's copy."""
        copies = {
            r.recipient_id: r.platform_message_id
            for r in self.conn.execute(
                select(O.c.recipient_id, O.c.platform_message_id)
                .where(O.c.post_id == post_id, O.c.status == "delivered",
                       O.c.platform_message_id.is_not(None))
            )
        }
        author = self.conn.execute(
            select(GP.c.author_id, GP.c.source_message_id).where(GP.c.id == post_id)
        ).first()
        if author is not None and author.source_message_id:
            copies[author.author_id] = author.source_message_id
        return copies
