"""What a handler works with while one inbound event is being handled."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.fields import FieldList
from core.i18n import Catalog
from core.model import Address, Button, Envelope, Outbound, Participant
from core.ports import LanguageDetector, Store


@dataclass(frozen=True, slots=True)
class Services:
    """The long-lived, pure dependencies of the domain."""

    catalog: Catalog
    fields: FieldList
    detect: LanguageDetector
    relay_captions: bool = False  # policy: pass on the words that come with a photo or file


@dataclass(slots=True)
class Context:
    store: Store
    services: Services
    now: datetime
    out: list[Envelope] = field(default_factory=list)
    conversation: int | None = None  # the match an event was about, for the log line

    def t(self, lang: str, key: str, **values: object) -> str:
        return self.services.catalog.t(lang, key, **values)

    def send_to_address(
        self,
        address: Address,
        lang: str,
        key: str,
        buttons: tuple[Button, ...] = (),
        recipient_id: int | None = None,
        **values: object,
    ) -> None:
        text = self.t(lang, key, **values)
        self.out.append(Envelope(Outbound(address, text, buttons), recipient_id=recipient_id))

    def tell(
        self, participant: Participant, key: str, buttons: tuple[Button, ...] = (), **values: object
    ) -> bool:
        """Say something to a participant wherever they were last seen; False if unreachable."""
        assert participant.id is not None
        address = self.store.address_of(participant.id)
        if address is None:
            return False
        self.send_to_address(
            address, participant.language, key, buttons, recipient_id=participant.id, **values
        )
        return True

    def button(self, lang: str, key: str, action: str, **values: object) -> Button:
        return Button(self.t(lang, key, **values), action)
