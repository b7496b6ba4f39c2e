"""What a handler works with while one inbound event is being handled."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.fields import FieldList
from core.i18n import Catalog
from core.kit import Kit
from core.model import (
    Address,
    Attachment,
    Button,
    Envelope,
    GroupRules,
    NudgeRules,
    Outbound,
    Participant,
    SafetyRules,
)
from core.ports import ChartRenderer, LanguageDetector, Store
from core.scoring import Rules, Weights


@dataclass(frozen=True, slots=True)
class Services:
    """The long-lived, pure dependencies of the domain."""

    catalog: Catalog
    fields: FieldList
    detect: LanguageDetector
    relay_captions: bool = False  # policy: pass on the words that come with a photo or file
    # Platforms where each match lives in its own thread (Slack): there, a message outside any
    # match's thread cannot be routed by where it was written.
    threaded: frozenset[str] = frozenset()
    weights: Weights = Weights()  # how suggestions and cohort matching score a mentor
    rules: Rules = Rules()
    group_rules: GroupRules = GroupRules()
    nudge_rules: NudgeRules = NudgeRules()
    safety_rules: SafetyRules = SafetyRules()
    kit: Kit = Kit()
    retention_days: int = 365  # message bodies older than this are blanked (core.privacy)
    chart: ChartRenderer | None = None  # draws /stats as a PNG; None: the figures as text only
    # The Telegram bot's username (without @): invite codes then come with a t.me deep link.
    telegram_username: str | None = None


@dataclass(slots=True)
class Context:
    store: Store
    services: Services
    now: datetime
    out: list[Envelope] = field(default_factory=list)
    conversation: int | None = None  # the match an event was about, for the log line
    # Where the person who sent the event typed it, when that is not simply their chat (a
    # thread, a private view): answers to them go there.
    sender_id: int | None = None
    reply_address: Address | None = None
    # Where the event came from ("telegram", …, "cli"; None: the scheduler): admin actions'
    # audit entries carry it.
    platform: str | None = None

    def t(self, lang: str, key: str, **values: object) -> str:
        return self.services.catalog.t(lang, key, **values)

    def send_to_address(
        self,
        address: Address,
        lang: str,
        key: str,
        buttons: tuple[Button, ...] = (),
        recipient_id: int | None = None,
        about_match: int | None = None,
        opens_thread: bool = False,
        about_group: int | None = None,
        attachment: Attachment | None = None,
        **values: object,
    ) -> None:
        text = self.t(lang, key, **values)
        self.out.append(Envelope(Outbound(address, text, buttons, attachment=attachment),
                                 recipient_id=recipient_id,
                                 match_id=about_match, opens_thread=opens_thread,
                                 group_id=about_group))

    def tell(
        self, participant: Participant, key: str, buttons: tuple[Button, ...] = (),
        about_match: int | None = None, opens_thread: bool = False,
        about_group: int | None = None, attachment: Attachment | None = None,
        **values: object,
    ) -> bool:
        """Say something to a participant; False if unreachable.

        It goes where they were last seen, or where they just wrote from when this answers
        them; a message `about_match` goes into that match's thread on platforms with threads
        (and a reply to it is routed to that match).
        """
        assert participant.id is not None
        address = None
        if participant.id == self.sender_id and about_match is None and about_group is None:
            address = self.reply_address
        if address is None:
            address = self.store.address_of(participant.id)
        if address is None:
            return False
        self.send_to_address(
            address, participant.language, key, buttons, recipient_id=participant.id,
            about_match=about_match, opens_thread=opens_thread, about_group=about_group,
            attachment=attachment, **values,
        )
        return True

    def audit(self, actor: Participant | str, action: str, detail: dict[str, object]) -> None:
        """Write an action to the audit log: who (a participant, or "cli", "system"…), what,
        on whom (detail), when, and from which platform it was typed."""
        if self.platform is not None:
            detail = {**detail, "platform": self.platform}
        who = actor if isinstance(actor, str) else f"participant:{actor.id}"
        self.store.audit(who, action, detail, self.now)

    def button(self, lang: str, key: str, action: str, **values: object) -> Button:
        return Button(self.t(lang, key, **values), action)
