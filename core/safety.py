"""Minimal contact-detail detection, used where a name must not carry a way to reach someone.

The full redaction of relayed messages belongs to the safety issue; this is the conservative
check onboarding needs for pseudonyms and professions.
"""

from __future__ import annotations

import re

_CONTACT = re.compile(
    r"""
    (\d[\s.\-()]*){7,}                 # a phone number, however it is punctuated
    | [^\s@]+@[^\s@]+\.\w+             # an e-mail address
    | @\w{2,}                          # a social handle
    | https?://|www\.                  # a link
    | \b[\w-]+\.(com|ca|net|org|io|gg|me|qc\.ca)\b   # a bare domain
    | \#\d{4}\b                        # an old Discord tag
    """,
    re.IGNORECASE | re.VERBOSE,
)


def has_contact_details(text: str) -> bool:
    return bool(_CONTACT.search(text))
