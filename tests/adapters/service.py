"""The whole service running in the test's loop, and its playground seen over HTTP: what the
end-to-end adapter tests share (the platform fakes differ, this does not)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import aiohttp

from bots.app import Passerelle
from tests.harness import vet

_CLIENT_IDS = itertools.count(1)
# When the scene of a running service is set: the service sweeps on the real clock, and people
# and matches dated months ago would (rightly) get silence check-ins and surveys mid-test.
TODAY = datetime.now(UTC)


async def running(app: Passerelle) -> tuple[asyncio.Event, asyncio.Task[None]]:
    """Start `app.serve` and wait until its web server and workers are up; set the event to stop."""
    stop = asyncio.Event()
    task = asyncio.create_task(app.serve(stop))
    for _ in range(300):
        if getattr(app, "port", None) and all(w.alive() for w in app.workers):
            break
        await asyncio.sleep(0.01)
    return stop, task


async def playground(app: Passerelle, user: str, after: int = 0) -> list[dict]:
    """What a playground user's pane holds after position `after` (waiting up to 2 s for one)."""
    async with aiohttp.ClientSession() as session, session.get(
        f"http://127.0.0.1:{app.port}/api/playground/{user}/messages",
        params={"after": after, "wait": "2"},
    ) as response:
        return (await response.json())["messages"]


async def playground_says(app: Passerelle, user: str, text: str, **extra: object) -> None:
    """A playground user writes (or presses, with `action=`); accepted means committed."""
    body = {"text": text, "client_id": f"{user}-{next(_CLIENT_IDS)}", **extra}
    async with aiohttp.ClientSession() as session, session.post(
        f"http://127.0.0.1:{app.port}/api/playground/{user}/messages", json=body,
    ) as response:
        assert response.status == 202


__all__ = ["playground", "playground_says", "running", "vet", "TODAY"]
