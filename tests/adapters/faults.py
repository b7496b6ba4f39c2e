"""Faults the fake platforms inject into the calls that deliver messages (issue 11).

One switch per fake (`fake.faults = Faults(rate=0.2, seed=7)`): that share of the service's
delivering calls (Telegram sendMessage…, Slack chat.postMessage…, Discord's message routes) is
answered, instead of being carried out, with one of

- "429": a rate limit with a short `retry_after` (Telegram's `parameters.retry_after`, Slack's
  `Retry-After` header, Discord's body and headers with `Via`, so discord.py waits and retries);
- "5xx": a server error (500, 502 or 503), the call not carried out;
- "timeout": the request is held longer than the service waits for it (`hold_seconds`, set
  above `PASSERELLE_DELIVERY__SEND_TIMEOUT`), then answered 504 if anyone is still listening,
  the call not carried out.

A fault never does the work and then answers an error: the platform accepted nothing. The one
way to get a message twice is a crash between the platform's acceptance and the service's
commit, which is what the SIGKILL tests do, not these faults. The draws come from a seeded
`random.Random`, so a failing run can be replayed (as far as the service's own timing allows).
Polling, sockets and the gateway are never faulted: they are how messages come in, and the
platforms' own redelivery rules for them are played by the tests (tests/e2e/platforms.py).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

KINDS = ("429", "5xx", "timeout")
SERVER_ERRORS = (500, 502, 503)

# What each fake lets fail: the calls the delivery workers make (buttons' cosmetics and the
# machinery that brings messages in are left alone).
TELEGRAM_METHODS = frozenset({
    "sendmessage", "editmessagetext", "deletemessage", "senddocument", "sendphoto",
    "copymessage",
})
SLACK_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.delete",
                           "chat.postEphemeral"})
DISCORD_ROUTE = r"^/channels/\d+/messages(/\d+)?$"
DISCORD_VERBS = frozenset({"POST", "PATCH", "DELETE"})


@dataclass
class Fault:
    """One injected failure: its kind, and for a server error the status answered."""

    kind: str
    status: int
    retry_after: int


@dataclass
class Faults:
    """The fault switch of one fake. rate 0 (the default) injects nothing; it may be changed
    at any time (set it to 0 while setting a scene up, to 0.2 for the storm)."""

    rate: float = 0.0
    seed: int = 0
    retry_after: int = 1
    hold_seconds: float = 3.0
    kinds: tuple[str, ...] = KINDS
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def draw(self) -> Fault | None:
        """Whether this call fails, and how (None: it goes through)."""
        if self.rate <= 0 or self._rng.random() >= self.rate:
            return None
        kind = self._rng.choice(self.kinds)
        self.counts[kind] += 1
        status = {"429": 429, "timeout": 504}.get(kind) or self._rng.choice(SERVER_ERRORS)
        return Fault(kind, status, self.retry_after)

    async def strike(self) -> Fault | None:
        """Draw; a timeout first holds the request past the client's patience (aiohttp cancels
        this handler when the client hangs up, so nothing after it runs)."""
        fault = self.draw()
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(self.hold_seconds)
        return fault

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def telegram_error(fault: Fault) -> tuple[int, str, dict | None]:
    """(status, description, parameters) of a Bot API error answer."""
    if fault.kind == "429":
        return 429, f"Too Many Requests: retry after {fault.retry_after}", {
            "retry_after": fault.retry_after}
    names = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
             504: "Gateway Timeout"}
    return fault.status, names.get(fault.status, "Internal Server Error"), None


def slack_error(fault: Fault) -> tuple[str, int, dict[str, str]]:
    """(error code, status, headers) of a Web API error answer."""
    if fault.kind == "429":
        return "ratelimited", 429, {"Retry-After": str(fault.retry_after)}
    return ("request_timeout" if fault.kind == "timeout" else "internal_error"), fault.status, {}


def discord_error(fault: Fault, bucket: str) -> tuple[int, dict, dict[str, str]]:
    """(status, body, headers) of a REST error answer; a 429 as Discord's own (with `Via`),
    which discord.py waits out and retries by itself."""
    if fault.kind != "429":
        return fault.status, {"message": f"{fault.status}: Server Error", "code": 0}, {}
    headers = {
        "Retry-After": str(fault.retry_after), "Via": "1.1 google",
        "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + fault.retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{fault.retry_after:.3f}", "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Scope": "user",
    }
    body = {"message": "You are being rate limited.", "retry_after": float(fault.retry_after),
            "global": False}
    return 429, body, headers
