"""Loading what lives in config/: message catalogs (.po) and career fields (.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from babel.messages.pofile import read_po

from bots.settings import CONFIG_DIR
from core.fields import CareerField, FieldList
from core.i18n import Catalog
from core.kit import Kit, KitCard
from core.model import LANGUAGES
from core.moderation import fold_words

DOMAIN = "passerelle"


def load_catalog(config_dir: Path = CONFIG_DIR) -> Catalog:
    texts: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        path = config_dir / "locales" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        with path.open("rb") as handle:
            po = read_po(handle, locale=lang)
        texts[lang] = {str(m.id): str(m.string) for m in po if m.id and m.string}
    return Catalog(texts)


def load_fields(config_dir: Path = CONFIG_DIR) -> FieldList:
    with (config_dir / "fields.toml").open("rb") as handle:
        data = tomllib.load(handle)
    return FieldList(
        [CareerField(f["key"], f["fr"], f["en"], f.get("group", "")) for f in data["field"]]
    )


def load_kit(config_dir: Path = CONFIG_DIR) -> Kit:
    """The good-mentor kit's cards and the students' question ideas (config/kit/*.toml)."""
    cards: list[KitCard] = []
    questions: list[KitCard] = []
    for path in sorted((config_dir / "kit").glob("*.toml")):
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        for kind, found in (("card", cards), ("question", questions)):
            found.extend(
                KitCard(c["key"], c["title_fr"], c["title_en"], c["body_fr"], c["body_en"])
                for c in data.get(kind, []))
    return Kit(tuple(cards), tuple(questions))


def load_keywords(config_dir: Path = CONFIG_DIR) -> dict[str, tuple[str, ...]]:
    """The keyword lists that flag a message (config/safety/keywords.toml), folded the way
    core.moderation folds what people write."""
    with (config_dir / "safety" / "keywords.toml").open("rb") as handle:
        data = tomllib.load(handle)
    return {flag: tuple(fold_words(w) for w in words) for flag, words in data.items()}
