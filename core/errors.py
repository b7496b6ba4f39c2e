"""Errors the domain raises for a person to read: a catalog key and its values."""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values
