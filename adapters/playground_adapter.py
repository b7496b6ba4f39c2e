"""The playground: a browser page where one person plays a student, a mentor and a coordinator.

It is a platform like the others: its HTTP API is translated to Inbound events for the bus, and
the delivery workers send it Outbound messages through `send`. Its chats live in memory (they are
a demo's screen, not the record: the outbox in the database is the record).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from core.model import Address, Attachment, Inbound, Outbound

PAGE = Path(__file__).with_name("playground_page.html")
MAX_TEXT = 4000
MAX_INPUT = 20_000
LONG_POLL_SECONDS = 20.0
MAX_FILE_BYTES = 10 * 1024 * 1024  # the playground keeps files in memory
KEPT_FILES = 200  # the most recent files stay downloadable (a demo's screen, not the record)
_USER = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")

Feed = Callable[[Inbound], Awaitable[bool]]


class PlaygroundChannel:
    platform = "playground"
    max_text = MAX_TEXT
    max_file_bytes = MAX_FILE_BYTES

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.chats: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._changed = asyncio.Condition()
        self.files: OrderedDict[str, tuple[str, Attachment]] = OrderedDict()  # id → (chat, file)

    async def start(self, feed: Feed) -> None:  # the HTTP routes feed the bus instead
        return None

    async def stop(self) -> None:
        return None

    async def send(self, message: Outbound) -> str:
        entry: dict[str, Any] = {
            "id": f"m{next(self._ids)}", "from": "bot", "text": message.text,
            "buttons": [{"label": b.label, "action": b.action} for b in message.buttons],
            "reply_to": message.reply_to,
        }
        if message.attachment is not None:
            entry["file"] = self._keep(message.to.chat_id, entry["id"], message.attachment)
        await self._append(message.to.chat_id, entry)
        return entry["id"]

    def _keep(self, chat: str, message_id: str, file: Attachment) -> dict[str, Any]:
        """Keep a file for its chat to download (the page shows a link): its name, type, size
        and where to get it."""
        self.files[message_id] = (chat, file)
        while len(self.files) > KEPT_FILES:
            self.files.popitem(last=False)
        return {"name": file.name, "type": file.mime, "size": len(file.data),
                "url": f"/api/playground/{quote(chat)}/files/{message_id}"}

    def file(self, chat: str, message_id: str) -> Attachment | None:
        """A file sent to `chat` (None: unknown, forgotten, or another chat's)."""
        kept = self.files.get(message_id)
        return kept[1] if kept is not None and kept[0] == chat else None

    async def edit(self, message: Outbound) -> None:
        """The page shows the new text in place of the old (an event it applies)."""
        await self._append(message.to.chat_id, {
            "id": f"m{next(self._ids)}", "from": "bot", "edit_of": message.edit_of,
            "text": message.text, "buttons": [], "reply_to": None,
        })

    async def delete(self, message: Outbound) -> None:
        await self._append(message.to.chat_id, {
            "id": f"m{next(self._ids)}", "from": "bot", "delete_of": message.delete_of,
            "text": "", "buttons": [], "reply_to": None,
        })

    async def record_own(self, user: str, text: str, reply_to: str | None) -> str:
        """What the person typed is shown in their pane and gets an id they can reply to."""
        entry = {"id": f"m{next(self._ids)}", "from": "me", "text": text, "buttons": [],
                 "reply_to": reply_to}
        await self._append(user, entry)
        return entry["id"]

    async def _append(self, chat: str, entry: dict[str, Any]) -> None:
        async with self._changed:
            self.chats[chat].append(entry)
            self._changed.notify_all()

    async def history(self, chat: str, after: int, wait: float) -> list[dict[str, Any]]:
        """Entries after position `after`, waiting up to `wait` seconds for one to arrive."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: len(self.chats[chat]) > after), wait
                )
            return self.chats[chat][after:]


def to_inbound(user: str, payload: dict[str, Any], message_id: str = "") -> Inbound:
    """The playground's request body → the core's Inbound (pure translation)."""
    action = payload.get("action")
    return Inbound(
        event_key=f"playground:{user}:{payload['client_id']}",
        source=Address("playground", user),
        platform_user_id=user,
        text="" if action else str(payload.get("text", "")),
        message_id=message_id,
        reply_to=payload.get("reply_to") or None,
        action=str(action) if action else None,
        locale_hint=payload.get("locale"),
    )


def routes(channel: PlaygroundChannel, feed: Feed) -> list[web.RouteDef]:
    async def page(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(PAGE, headers={"Cache-Control": "no-store"})

    async def post(request: web.Request) -> web.Response:
        user = request.match_info["user"]
        try:
            payload = await request.json()
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        problem = _check(user, payload)
        if problem:
            return web.json_response({"error": problem}, status=400)
        message_id = ""
        if not payload.get("action"):
            message_id = await channel.record_own(user, str(payload.get("text", "")),
                                                  payload.get("reply_to"))
        accepted = await feed(to_inbound(user, payload, message_id))
        return web.json_response({"accepted": accepted, "id": message_id}, status=202)

    async def poll(request: web.Request) -> web.Response:
        user = request.match_info["user"]
        if not _USER.match(user):
            return web.json_response({"error": "bad user name"}, status=400)
        try:
            after = max(0, int(request.query.get("after", "0")))
            wait = min(LONG_POLL_SECONDS, max(0.0, float(request.query.get("wait", "0"))))
        except ValueError:
            return web.json_response({"error": "after and wait are numbers"}, status=400)
        entries = await channel.history(user, after, wait)
        return web.json_response({"messages": entries, "next": after + len(entries)})

    async def download(request: web.Request) -> web.Response:
        file = channel.file(request.match_info["user"], request.match_info["file_id"])
        if file is None:
            return web.json_response({"error": "no such file"}, status=404)
        return web.Response(body=file.data, content_type=file.mime, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(file.name)}",
            "Cache-Control": "no-store",
        })

    return [
        web.get("/", page),
        web.get("/playground", page),
        web.post("/api/playground/{user}/messages", post),
        web.get("/api/playground/{user}/messages", poll),
        web.get("/api/playground/{user}/files/{file_id}", download),
    ]


def _check(user: str, payload: object) -> str | None:
    """What is wrong with a request, in a sentence for the page; None when it is sound."""
    if not _USER.match(user):
        return "bad user name (letters, digits, - and _, at most 32)"
    if not isinstance(payload, dict):
        return "body must be a JSON object"
    client_id = payload.get("client_id")
    if not isinstance(client_id, str | int) or not 0 < len(str(client_id)) <= 64:
        return "client_id is required, at most 64 characters (it makes a retry harmless)"
    text = payload.get("text", "")
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        return f"text must be a string of at most {MAX_INPUT} characters"
    for name, limit in (("action", 64), ("reply_to", 64), ("locale", 16)):
        value = payload.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            return f"{name} must be a string of at most {limit} characters"
    if any(_unencodable(v) for v in (text, payload.get("action"), payload.get("reply_to"),
                                     payload.get("locale"), str(client_id))):
        return "text must be valid Unicode (no lone surrogates)"
    if not payload.get("action") and not text.strip():
        return "text or action is required"
    return None


def _unencodable(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
