"""Career fields: the bilingual list students and mentors choose from (config/fields.toml)."""

from __future__ import annotations

from dataclasses import dataclass

from core.text import fold


@dataclass(frozen=True, slots=True)
class CareerField:
    key: str
    fr: str
    en: str
    group: str = ""

    def label(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


class FieldList:
    def __init__(self, fields: list[CareerField]) -> None:
        if not fields:
            raise ValueError("at least one career field is needed")
        self.fields = list(fields)
        self._by_key = {f.key: f for f in fields}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.fields)

    def get(self, key: str) -> CareerField | None:
        return self._by_key.get(key)

    def labels(self, keys: list[str], lang: str) -> str:
        return ", ".join(f.label(lang) for k in keys if (f := self.get(k)))

    def find(self, word: str) -> CareerField | None:
        """A field from what someone typed: its number in the list, its key or its name."""
        word = _fold(word)
        if not word:
            return None
        if word.isascii() and word.isdigit():
            index = int(word) - 1
            return self.fields[index] if 0 <= index < len(self.fields) else None
        for f in self.fields:
            if word in (_fold(f.key), _fold(f.fr), _fold(f.en)):
                return f
        candidates = [f for f in self.fields if word in _fold(f.fr) or word in _fold(f.en)]
        return candidates[0] if len(candidates) == 1 else None


def _fold(text: str) -> str:
    return fold(text.strip())
