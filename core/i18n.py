"""Message catalogs: every sentence the service says, by key, in fr and en.

The core only holds the loaded texts; reading the .po files is the composition root's job.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from core.model import DEFAULT_LANGUAGE, LANGUAGES


class Catalog:
    def __init__(self, texts: Mapping[str, Mapping[str, str]]) -> None:
        self._texts = {lang: dict(entries) for lang, entries in texts.items()}

    def t(self, lang: str, key: str, **values: object) -> str:
        """The sentence `key` in `lang`, falling back to French (the default) then to the key."""
        entries = self._texts.get(lang) or self._texts.get(DEFAULT_LANGUAGE, {})
        template = entries.get(key) or self._texts.get(DEFAULT_LANGUAGE, {}).get(key) or key
        return template.format(**values) if values else template

    def keys(self, lang: str) -> set[str]:
        return set(self._texts.get(lang, {}))

    def languages(self) -> set[str]:
        return set(self._texts)

    def problems(self) -> list[str]:
        """Keys or placeholders present in one language and not in another; empty when sound."""
        found: list[str] = []
        all_keys = set().union(*(self.keys(lang) for lang in LANGUAGES))
        for key in sorted(all_keys):
            holders: dict[str, set[str]] = {}
            for lang in LANGUAGES:
                text = self._texts.get(lang, {}).get(key)
                if not text:
                    found.append(f"{lang}: missing {key}")
                    continue
                holders[lang] = placeholders(text)
            if len({frozenset(h) for h in holders.values()}) > 1:
                found.append(f"{key}: placeholders differ {holders}")
        return found


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
