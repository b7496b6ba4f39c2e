"""The core's language detector, on langdetect restricted to French and English.

langdetect is random by nature; seeding it makes the same text always give the same answer, and
restricting the profiles keeps it from calling a short French message Catalan or Romanian.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import langdetect
from langdetect import DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

_SEED = 0
_PROFILES = ("fr", "en")


@lru_cache(maxsize=1)
def _factory() -> DetectorFactory:
    factory = DetectorFactory()
    factory.seed = _SEED
    profiles_dir = Path(langdetect.__file__).with_name("profiles")
    factory.load_json_profile(
        [(profiles_dir / lang).read_text(encoding="utf-8") for lang in _PROFILES]
    )
    return factory


def detect_language(text: str) -> str | None:
    """"fr", "en", or None when the text gives nothing to go on."""
    if not text or not any(c.isalpha() for c in text):
        return None
    detector = _factory().create()
    detector.append(text)
    try:
        result = detector.detect()
    except LangDetectException:
        return None
    return result if result in _PROFILES else None
