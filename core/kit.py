"""The good-mentor kit (config/kit/): short bilingual cards for mentors, and question ideas for
students. `/kit` shows the cards; the check-ins after a silence draw one of each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KitCard:
    key: str
    title_fr: str
    title_en: str
    body_fr: str
    body_en: str

    def title(self, lang: str) -> str:
        return self.title_fr if lang == "fr" else self.title_en

    def body(self, lang: str) -> str:
        return self.body_fr if lang == "fr" else self.body_en


@dataclass(frozen=True, slots=True)
class Kit:
    cards: tuple[KitCard, ...] = ()  # for mentors
    questions: tuple[KitCard, ...] = ()  # conversation starters for students

    def card(self, n: int) -> KitCard | None:
        """The n-th card, going round: a match's check-ins draw different ones in turn."""
        return self.cards[n % len(self.cards)] if self.cards else None

    def question(self, n: int) -> KitCard | None:
        return self.questions[n % len(self.questions)] if self.questions else None
