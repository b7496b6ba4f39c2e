"""Guessing a person's language before they have chosen one."""

from __future__ import annotations

from core.model import DEFAULT_LANGUAGE, LANGUAGES, Language
from core.ports import LanguageDetector

MIN_WORDS_TO_DETECT = 3


def from_locale(hint: str | None) -> Language | None:
    if not hint:
        return None
    code = hint.replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None  # type: ignore[return-value]


def guess_language(
    text: str, locale_hint: str | None, detect: LanguageDetector, current: Language | None = None
) -> Language:
    """Words first (when there are enough of them), then the platform's locale, then the default.

    Short messages ("ok", "salut") say little about a language, so they keep the current one.
    """
    if len(text.split()) >= MIN_WORDS_TO_DETECT and not text.lstrip().startswith("/"):
        detected = detect(text)
        if detected in LANGUAGES:
            return detected  # type: ignore[return-value]
    return current or from_locale(locale_hint) or DEFAULT_LANGUAGE
