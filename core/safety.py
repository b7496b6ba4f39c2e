"""Contact-detail detection and redaction (issue 9, youth safety).

Students are often minors and mentors are adults they have never met: the relay must not become
the place where a phone number, an e-mail, a link, a social handle or a street address changes
hands. `redact` replaces each of them with a bracketed label in the recipient's language and says
where they were, so the caller can warn, log or moderate without keeping the detail itself.

How it decides, and why:

* Phone numbers are found by grouping runs of digits (and digits spelled out in French or
  English, "cinq un quatre", "five fourteen") separated only by phone punctuation, then accepting
  a group when its *shape* is a North-American number (the area code stands apart: 514 555-1234,
  (514) 5551234, 1-800-…, 7-digit local 555-1234) or when phonenumbers says it is a valid number
  (`+33 6 12 34 56 78`, `514555 1234`). Phonenumbers' own matcher is not the first pass because at
  `Leniency.POSSIBLE` it fires on lists of grades ("85 90 78 92 88") and amounts ("2500000000"),
  and even at `Leniency.VALID` on "87 92 78 90 88" or "2026 11 29 14"; the shape rule keeps those
  quiet while phonenumbers still validates and parses what is found.
* Dates, school years and similar look-alikes are set aside before digits are grouped, so
  "le 2026-11-29 14 h" never reads as 202-611-2914.
* Public help lines (`HELP_LINES`, `HELP_SITES`) are never masked: a young person must always be
  able to pass on Tel-jeunes or Jeunesse, J'écoute.
* Every pattern starts at a token boundary (a negative look-behind) and uses possessive or
  unambiguous repetitions, so the cost stays linear on adversarial input (hypothesis feeds it
  some); the 16,000-character messages the bus accepts stay cheap.
* The result is idempotent by construction: when a second look at the redacted text still finds
  something (two halves of a detail meeting around a removed one), the finding is mapped back to
  the original and merged, until nothing is left.

`has_contact_details` is the stricter test used for names (pseudonyms, professions, bios): there a
false alarm only asks the person to choose another name, so anything that merely looks like a
detail (any 7 digits, any "@word", any "x.com") is refused as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

import phonenumbers

KINDS: Final = ("phone", "email", "url", "handle", "address")

LABELS: Final[dict[str, dict[str, str]]] = {
    "fr": {"phone": "[numéro masqué]", "email": "[courriel masqué]", "url": "[lien masqué]",
           "handle": "[compte masqué]", "address": "[adresse masquée]"},
    "en": {"phone": "[number hidden]", "email": "[email hidden]", "url": "[link hidden]",
           "handle": "[account hidden]", "address": "[address hidden]"},
}

# Public help lines are never masked: sharing them is exactly what we want people to do. Keyed by
# national significant number (no leading 1). 811 (Info-Santé / Info-Social), 911, 988 (suicide
# crisis line) and Jeunesse, J'écoute's texting number 686868 are shorter than any number the
# engine masks, so they pass anyway; they are listed to say so.
HELP_LINES: Final[dict[str, str]] = {
    "8002632266": "Tel-jeunes (1 800 263-2266)",
    "5146001002": "Tel-jeunes, texto (514 600-1002)",
    "8006686868": "Jeunesse, J'écoute / Kids Help Phone (1 800 668-6868)",
    "8662773553": "Ligne québécoise de prévention du suicide (1 866 APPELLE)",
    "811": "Info-Santé, Info-Social",
    "911": "urgences",
    "988": "ligne d'aide en cas de crise de suicide",
    "686868": "Jeunesse, J'écoute, texto",
}
# The same services' web sites (and their sub-domains) stay clickable.
_HELP_SITES_LIST = """
    teljeunes.com jeunessejecoute.ca kidshelpphone.ca suicide.ca 988.ca
"""
HELP_SITES: Final[frozenset[str]] = frozenset(_HELP_SITES_LIST.split())


@dataclass(frozen=True, slots=True)
class Span:
    """Where a contact detail was, in the original text: [start, end) and its kind."""

    start: int
    end: int
    kind: str  # phone, email, url, handle, address


@dataclass(frozen=True, slots=True)
class Redaction:
    """A text with its contact details replaced by labels, and where they were."""

    text: str
    spans: tuple[Span, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.spans)


# --- the conservative test for names ----------------------------------------------------------

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
    """True when a name-like field (pseudonym, profession, bio) carries a way to reach someone.

    Stricter than `redact`: the broad patterns above catch anything that merely looks like a
    detail, and the redaction engine adds what they cannot see (spelled-out numbers, "arobase",
    "mon snap c'est …", street addresses).
    """
    return bool(_CONTACT.search(text)) or bool(_detect(text))


# --- public entry point --------------------------------------------------------------------------

def redact(text: str, lang: str = "fr") -> Redaction:
    """Each piece of contact information replaced by a label in `lang` (the recipient's)."""
    spans = _detect(text)
    if not spans:
        return Redaction(text, ())
    labels = _labels(lang)
    out, pieces = _render(text, spans, labels)
    for _ in range(8):  # each round only widens the spans, so this ends; 1 round in practice
        again = _detect(out)
        if not again:
            break
        spans = _merge([*spans, *(_to_original(s, pieces) for s in again)])
        out, pieces = _render(text, spans, labels)
    return Redaction(out, tuple(spans))


def _labels(lang: str) -> dict[str, str]:
    """The recipient's labels; "fr-CA" reads as "fr", and an unknown language as French."""
    return LABELS.get(lang) or LABELS.get(lang[:2].lower()) or LABELS["fr"]


class _Piece(NamedTuple):
    """A stretch of the output and the stretch of the original it stands for."""

    out_start: int
    out_end: int
    start: int
    end: int
    label: bool


def _render(text: str, spans: Sequence[Span], labels: dict[str, str]
            ) -> tuple[str, list[_Piece]]:
    """The redacted text, and which stretch of the original each of its pieces stands for."""
    out: list[str] = []
    pieces: list[_Piece] = []
    pos = last = 0
    for span in spans:
        for chunk, start, end, is_label in ((text[last:span.start], last, span.start, False),
                                            (labels[span.kind], span.start, span.end, True)):
            out.append(chunk)
            pieces.append(_Piece(pos, pos + len(chunk), start, end, is_label))
            pos += len(chunk)
        last = span.end
    out.append(text[last:])
    pieces.append(_Piece(pos, pos + len(text) - last, last, len(text), False))
    return "".join(out), pieces


def _to_original(span: Span, pieces: Sequence[_Piece]) -> Span:
    """A span found in the output, as the span of the original it covers (labels in full)."""
    start = end = 0
    for p in pieces:
        if p.out_start <= span.start < p.out_end or (p.out_start == span.start == p.out_end):
            start = p.start if p.label else p.start + span.start - p.out_start
            break
    for p in pieces:
        if p.out_start < span.end <= p.out_end:
            end = p.end if p.label else p.start + span.end - p.out_start
            break
    return Span(start, max(start, end), span.kind)


def _merge(spans: Iterable[Span]) -> list[Span]:
    """Ordered, non-overlapping spans: overlapping findings become one span (the union), of the
    kind of its longest part, so nothing of either leaks."""
    merged: list[Span] = []
    longest = 0
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if s.end <= s.start:
            continue
        if merged and s.start < merged[-1].end:
            last = merged[-1]
            kind = s.kind if s.end - s.start > longest else last.kind
            longest = max(longest, s.end - s.start)
            merged[-1] = Span(last.start, max(last.end, s.end), kind)
        else:
            merged.append(s)
            longest = s.end - s.start
    return merged


def _detect(text: str) -> list[Span]:
    """Every contact detail in `text`, merged into ordered, non-overlapping spans."""
    found: list[Span] = []
    found += _emails(text)
    found += _urls(text)
    found += _handles(text)
    found += _addresses(text)
    numbers = [*_phones(text), *_vanity(text)]
    found += (n.span for n in numbers)
    found += _repeats(text, {n.digits for n in numbers if len(n.digits) >= 7})
    return _merge(found)


# --- phone numbers -------------------------------------------------------------------------------

_UNITS = {"zéro": 0, "zero": 0, "oh": 0, "un": 1, "une": 1, "one": 1, "deux": 2, "two": 2,
          "trois": 3, "three": 3, "quatre": 4, "four": 4, "cinq": 5, "five": 5, "six": 6,
          "sept": 7, "seven": 7, "huit": 8, "eight": 8, "neuf": 9, "nine": 9}
_TEENS = {"dix": 10, "ten": 10, "onze": 11, "eleven": 11, "douze": 12, "twelve": 12,
          "treize": 13, "thirteen": 13, "quatorze": 14, "fourteen": 14, "quinze": 15,
          "fifteen": 15, "seize": 16, "sixteen": 16, "dix-sept": 17, "seventeen": 17,
          "dix-huit": 18, "eighteen": 18, "dix-neuf": 19, "nineteen": 19}
_TENS = {"vingt": 20, "twenty": 20, "trente": 30, "thirty": 30, "quarante": 40, "forty": 40,
         "cinquante": 50, "fifty": 50, "soixante": 60, "sixty": 60, "septante": 70,
         "seventy": 70, "quatre-vingt": 80, "quatre-vingts": 80, "huitante": 80, "eighty": 80,
         "nonante": 90, "ninety": 90}
_HUNDREDS = {"cent": 100, "cents": 100, "hundred": 100}
_NUMBER_WORDS: Final = {**_UNITS, **_TEENS, **_TENS, **_HUNDREDS}
# Words that are also ordinary words ("un" ami, "one" of them, "oh", "neuf" = new): a number
# does not start with them when it can start after them.
_AMBIGUOUS = frozenset({"un", "une", "one", "oh", "neuf", "six", "sept", "cent"})

# The look-ahead on first letters lets the engine skip most words before trying the alternation
# (twice as fast on ordinary messages).
_ATOM = re.compile(
    r"(?P<d>\d++)|(?=[" + "".join(sorted({w[0] for w in _NUMBER_WORDS})) + r"])(?<!\w)(?P<w>"
    + "|".join(re.escape(w) for w in sorted(_NUMBER_WORDS, key=len, reverse=True))
    + r")(?!\w)",
    re.IGNORECASE,
)
# What may separate the parts of one number: phone punctuation (and keycap emoji marks).
_GAP_DIGITS = re.compile(r"[\s.\-‐-―()/_\ufe0f\u20e3]{0,4}")
# Around spelled-out digits people also write commas and "et"/"and".
_GAP_WORDS = re.compile(r"(?:[\s.,;:\-‐-―()/_]|et|and){0,6}", re.IGNORECASE)
_EXTENSION = re.compile(r"\s*,?\s*(?:poste|post\.?|ext\.?|extension|x)\s*\#?\s*\d{1,6}(?!\d)",
                        re.IGNORECASE)
# Look-alikes set aside before digits are grouped.
_NOT_A_PHONE = re.compile(
    r"""
    (?<![\d\w])(?:19|20)\d\d[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])(?!\d)  # ISO date
    | (?<![\d\w])(?:0?[1-9]|[12]\d|3[01])([/.])(?:0?[1-9]|1[0-2])\1(?:19|20)?\d\d(?!\d)  # 29/11/26
    | (?<![\d\w])(?:0?[1-9]|[12]\d|3[01])-(?:0?[1-9]|1[0-2])-(?:19|20)\d\d(?!\d)       # 29-11-2026
    | (?<![\d\w/])(?:0?[1-9]|[12]\d|3[01])/(?:0?[1-9]|1[0-2])(?![\d/])                  # 29/11
    | (?<![\d\w])(?:19|20)\d\d\s?[-–/]\s?(?:19|20)?\d\d(?!\d)                          # 2024-2025
    | (?i:isbn)(?:-1[03])?:?\s*[\d\- ]{9,16}[\dXx]                                   # ISBN
    """,
    re.VERBOSE,
)


class _Number(NamedTuple):
    """A phone number found, and its digits (national number, without the leading 1)."""

    span: Span
    digits: str


class _Atom(NamedTuple):
    """Some digits of a possible number: written as digits or spelled as words."""

    start: int
    end: int
    digits: str
    word: str  # the spelled word(s), lowercased; "" for digits written as digits


def _phones(text: str) -> Iterator[_Number]:
    """Numbers written with digits, spelled out, or both: runs of digits and number words that
    only phone punctuation separates, look-alikes (dates, school years) set aside."""
    raw = list(_ATOM.finditer(text))
    if len(raw) < 2 and not (raw and len(raw[0].group()) >= 7):
        return
    protected = [m.span() for m in _NOT_A_PHONE.finditer(text)]  # in order, apart
    k = 0
    group: list[re.Match[str]] = []
    for m in raw:
        while k < len(protected) and protected[k][1] <= m.start():
            k += 1
        if k < len(protected) and protected[k][0] <= m.start():  # a date, a school year…
            if group:
                yield from _phones_in(text, group)
            group = []
            continue
        if group and not _joins(text, group[-1], m):
            yield from _phones_in(text, group)
            group = []
        group.append(m)
    if group:
        yield from _phones_in(text, group)


# Numbers with letters from the keypad: 514-555-CHAT, 1 866 APPELLE. Letters in capitals or after
# a dash only, and a real exchange (2-9xx), so "300 000 vues" or "au 450 Laurier" stay talk.
_VANITY = re.compile(
    r"(?<![\w+])(?:1[\s.\-]?)?\(?[2-9]\d\d\)?[\s.\-]?"
    r"(?:[2-9]\d\d(?:-[A-Za-z]{4}|[\s.\-]?[A-Z]{4})|[A-Z]{7})(?!\w)"
)


def _vanity(text: str) -> Iterator[_Number]:
    """Numbers with letters, read through phonenumbers' keypad conversion."""
    for m in _VANITY.finditer(text):
        digits = _national(phonenumbers.normalize_digits_only(
            phonenumbers.convert_alpha_characters_in_number(m.group())))
        if digits not in HELP_LINES:
            yield _Number(_phone_span(text, m.start(), m.end()), digits)


_DIGIT_RUN = re.compile(r"\d(?:[\s.\-‐-―()/_\ufe0f\u20e3]{0,4}\d)*+")


def _repeats(text: str, numbers: set[str]) -> Iterator[Span]:
    """Every other place the digits of a number found are written, in any grouping: a person
    who gives "514 555-1234" and then "51 45 55 12 34" must not get the second one through."""
    if not numbers:
        return
    for m in _DIGIT_RUN.finditer(text):
        run = m.group()
        places = [k for k, c in enumerate(run) if c.isdecimal()]
        if len(places) < 7:
            continue
        digits = "".join(run[k] for k in places)
        if not digits.isascii():
            digits = "".join(str(int(c)) for c in digits)
        for number in numbers:
            at = digits.find(number)
            while at >= 0:
                last = at + len(number) - 1
                yield Span(m.start() + places[at], m.start() + places[last] + 1, "phone")
                at = digits.find(number, last + 1)


def _joins(text: str, left: re.Match[str], right: re.Match[str]) -> bool:
    """Whether two runs of digits or number words belong to the same number."""
    gap = text[left.end():right.start()]
    if left.lastgroup == "w" or right.lastgroup == "w":
        return bool(_GAP_WORDS.fullmatch(gap))
    return bool(_GAP_DIGITS.fullmatch(gap))


def _atoms(group: Sequence[re.Match[str]]) -> list[_Atom]:
    """The group's digits, with runs of number words read as numbers ("quatre-vingt-dix" → 90,
    "five fourteen" → 5, 14, "cinq cent cinquante-cinq" → 555)."""
    atoms: list[_Atom] = []
    i = 0
    while i < len(group):
        m = group[i]
        if m.lastgroup == "d":
            digits = m.group()
            if not digits.isascii():
                digits = "".join(str(int(c)) for c in digits)
            atoms.append(_Atom(m.start(), m.end(), digits, ""))
            i += 1
            continue
        words = [group[i].group().lower()]
        j = i + 1
        while j < len(group) and group[j].lastgroup == "w":
            words.append(group[j].group().lower())
            j += 1
        for a, b, digits in _read_words(words):
            atoms.append(_Atom(group[i + a].start(), group[i + b - 1].end(), digits,
                               " ".join(words[a:b])))
        i = j
    return atoms


def _read_words(words: Sequence[str]) -> Iterator[tuple[int, int, str]]:
    """(first word, past last word, digits) for each number in a run of number words."""
    i = 0
    while i < len(words):
        start = i
        hundreds = None
        if words[i] in _UNITS and i + 1 < len(words) and words[i + 1] in _HUNDREDS:
            hundreds, i = _UNITS[words[i]] * 100, i + 2
        elif words[i] in _HUNDREDS:
            hundreds, i = 100, i + 1
        if hundreds is not None:
            rest, i = _read_below_100(words, i)
            yield start, i, f"{hundreds + (rest or 0):03d}"
            continue
        value, i = _read_below_100(words, i)
        if value is None:  # cannot happen: every word is a number word
            i += 1
            continue
        yield start, i, str(value)


def _read_below_100(words: Sequence[str], i: int) -> tuple[int | None, int]:
    """A number under 100 from words[i:], and where it ends ("soixante" "douze" → 72)."""
    if i >= len(words):
        return None, i
    word = words[i]
    nxt = words[i + 1] if i + 1 < len(words) else ""
    if word in _TENS:
        tens = _TENS[word]
        if tens in (60, 80) and nxt in _TEENS:
            return tens + _TEENS[nxt], i + 2
        if _UNITS.get(nxt):
            return tens + _UNITS[nxt], i + 2
        return tens, i + 1
    if word in _TEENS:
        return _TEENS[word], i + 1
    if word in _UNITS:
        return _UNITS[word], i + 1
    return None, i


def _phones_in(text: str, group: Sequence[re.Match[str]]) -> Iterator[_Number]:
    """The numbers in one group, longest first from the left: "2024 514 555 1234" holds one."""
    atoms = _atoms(group)
    total = sum(len(a.digits) for a in atoms)
    if total < 7:
        return
    found = False
    i = 0
    while i < len(atoms):
        hit = _longest_number(text, atoms, i)
        if hit and atoms[i].word in _AMBIGUOUS and i + 1 < len(atoms):
            later = _longest_number(text, atoms, i + 1)
            if later and later[0] >= hit[0]:
                i, hit = i + 1, later
        if not hit:
            i += 1
            continue
        j, digits = hit
        found = True
        start, end = atoms[i].start, atoms[j].end
        if (national := _national(digits)) not in HELP_LINES:
            yield _Number(_phone_span(text, start, end), national)
        i = j + 1
    if not found and total in (10, 11) and len(atoms) <= 3 and not any(a.word for a in atoms):
        # An unusual grouping ("514555 1234"): let phonenumbers say whether it is a real number.
        start, end = atoms[0].start, atoms[-1].end
        for m in phonenumbers.PhoneNumberMatcher(text[start:end], "CA",
                                                 leniency=phonenumbers.Leniency.VALID):
            if (national := str(m.number.national_number)) not in HELP_LINES:
                yield _Number(_phone_span(text, start + m.start, start + m.end), national)


def _national(digits: str) -> str:
    """1 514 555-1234 and 514 555-1234 are the same number (for the help lines, the repeats)."""
    return digits[1:] if len(digits) == 11 and digits[0] == "1" else digits


def _phone_span(text: str, start: int, end: int) -> Span:
    """The number with what belongs to it: a leading "+" or "(", a trailing "poste 23"."""
    while start > 0 and text[start - 1] in "+(":
        start -= 1
    if ext := _EXTENSION.match(text, end):
        end = ext.end()
    return Span(start, end, "phone")


def _longest_number(text: str, atoms: Sequence[_Atom], i: int) -> tuple[int, str] | None:
    """(last atom, digits) of the longest number that starts at atom i, if any."""
    candidates: list[tuple[int, str]] = []
    digits = ""
    for j in range(i, len(atoms)):
        digits += atoms[j].digits
        if len(digits) > 15:
            break
        candidates.append((j, digits))
    plus = _has_plus(text, atoms[i].start)
    for j, digits in reversed(candidates):
        if (len(digits) in (7, 10, 11) or (plus and len(digits) >= 8)) \
                and _is_number(digits, atoms[i:j + 1], plus):
            return j, digits
    return None


def _has_plus(text: str, start: int) -> bool:
    """Whether the number is written with its country code ("+33 6…", "+ (1) 514…")."""
    k = start - 1
    while k >= 0 and text[k] in " (":
        k -= 1
    return k >= 0 and text[k] == "+" and start - k <= 3


def _is_number(digits: str, atoms: Sequence[_Atom], plus: bool) -> bool:
    """Whether these digits, written in these parts, are a phone number.

    Written with digits, a North-American number must keep its area code apart (or come in one
    piece): that is how people write them, and it is what "85 90 78 92 88" or "1 234 567" lack.
    Spelled out or one digit at a time, any grouping goes.
    """
    n = len(digits)
    if plus:
        if n < 8:
            return False
        try:
            return phonenumbers.is_possible_number(phonenumbers.parse("+" + digits, None))
        except phonenumbers.NumberParseException:
            return False
    loose = len(atoms) == 1 or any(a.word for a in atoms) or all(len(a.digits) == 1 for a in atoms)
    cuts = set()
    length = 0
    for a in atoms[:-1]:
        length += len(a.digits)
        cuts.add(length)
    if n == 7:
        return digits[0] not in "01" and (loose or cuts == {3})
    if n == 11 and digits[0] == "1":  # 1 514 555-1234: the 1 stands apart, then as below
        if not (loose or 1 in cuts):
            return False
        digits, cuts, n = digits[1:], {c - 1 for c in cuts if c > 1}, 10
    if n != 10:
        return False
    if digits[0] == "0":  # a number from France, "06 12 34 56 78"
        return _valid(digits, "FR")
    if digits[0] == "1" or not (loose or not cuts or 3 in cuts or cuts == {6}):
        return False
    return _valid(digits, "CA", possible=True)


def _valid(digits: str, region: str, possible: bool = False) -> bool:
    """Phonenumbers' word on a number: possible (right length) or valid (a real range)."""
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number) if possible \
        else phonenumbers.is_valid_number(number)


# --- e-mails -------------------------------------------------------------------------------------

_AT = r"""(?:\s*@\s*|\s*[(\[{]\s*(?:at|arobase)\s*[)\]}]\s*|\s+(?:at|arobase|arrobase)\s+)"""
_DOT = r"""(?:\.(?=\w)|\s+\.\s+|\s*[(\[{]\s*(?:dot|point|\.)\s*[)\]}]\s*|\s+(?:dot|point)\s+)"""
_EMAIL = re.compile(
    rf"""
    (?<![\w.+\-])(?P<local>[\w+\-]++(?:{_DOT}[\w+\-]++){{0,6}}+)
    (?P<at>{_AT})
    (?P<domain>[\w\-]++(?:{_DOT}[\w\-]++){{0,6}}+)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_MAIL_PROVIDERS: Final = frozenset({
    "gmail", "hotmail", "outlook", "yahoo", "icloud", "live", "videotron", "sympatico", "proton",
    "protonmail", "msn", "aol", "me", "mail", "bell", "cgocable", "globetrotter", "gmx",
})
_TLDS: Final = frozenset({
    "com", "ca", "net", "org", "io", "gg", "me", "fr", "tv", "ly", "co", "app", "dev", "info",
    "xyz", "edu", "gov", "be", "ch", "uk", "us", "site", "online", "link", "ee", "art", "live",
    "biz", "tk", "qc", "eu", "de", "es", "it", "ma", "dz", "tn", "ht", "sn", "ci", "cm", "mx",
    "br", "in", "cn", "jp", "au", "nz", "ai", "so", "to", "cc", "ws", "fm", "am", "page", "blog",
    "shop", "store", "club", "pro", "world", "social", "bio", "gd",
})
_DOT_SPLIT = re.compile(_DOT, re.IGNORECASE | re.VERBOSE)


def _emails(text: str) -> Iterator[Span]:
    if "@" in text or _EMAIL_WORDS.search(text):
        yield from _scan(_EMAIL, text, _email)


def _email(m: re.Match[str]) -> Span | None:
    """An address written plainly, spaced out or spelled ("arobase", "(at)", "dot")."""
    at = m.group("at")
    word = at.strip().lower()
    parts = [p.lower() for p in _DOT_SPLIT.split(m.group("domain"))]
    dotted = len(parts) > 1
    known_end = dotted and parts[-1] in _TLDS
    provider = parts[0] in _MAIL_PROVIDERS
    if at == "@":  # written plainly; "zoe@xyz" is an address without its end
        ok = dotted or provider or (parts[0][:1].isalpha() and len(m.group("local")) >= 2)
    elif word == "@" and not at[-1].isspace():  # "follow me @zoe.art" is a handle
        ok = provider
    elif word in ("@", "at"):  # "at" is an English word too: "look at this"
        ok = known_end or provider
    else:  # "arobase", "(at)", "[at]": written to hide an address
        ok = True
    return Span(m.start(), m.end(), "email") if ok else None


def _scan(pattern: re.Pattern[str], text: str,
          judge: Callable[[re.Match[str]], Span | None]) -> Iterator[Span]:
    """Matches of `pattern` that `judge` accepts. After a refusal the search goes on from the next
    character, not past the refused match: "email me at zoe.b@yahoo.ca" first offers
    "me at zoe.b", which must not hide the address that follows."""
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        span = judge(m)
        if span is None:
            pos = m.start() + 1
            continue
        yield span
        pos = max(m.end(), m.start() + 1)


_EMAIL_WORDS = re.compile(r"(?<!\w)(?:at|arr?obase)(?!\w)", re.IGNORECASE)


# --- links ---------------------------------------------------------------------------------------

# Bare domains ("zoe.ca") only for the endings people type, and with a letter in the name before
# them: a wider list turns typos ("ok.so", "fini.la"), file names ("devoir.pdf") and stray text
# ("0.HT") into links. Links with http:// or www. are caught whatever their ending.
_BARE_TLDS: Final = ("com", "ca", "net", "org", "io", "gg", "me", "fr", "tv", "ly", "co", "app",
                     "dev", "info", "xyz", "edu", "gov", "online", "link", "ee", "art", "shop",
                     "store", "club", "blog", "site")
_TLD_ALT = "|".join(sorted(_BARE_TLDS, key=len, reverse=True))
_URL = re.compile(
    rf"""
    (?P<scheme>(?<![\w.])(?:https?|ftp)://[^\s<>"]++)
    | (?P<www>(?<![\w.])www\.[^\s<>"]++)
    | (?P<bare>(?<![\w.@\-])(?:[a-z0-9](?:[a-z0-9\-]*+)\.)+(?P<tld>{_TLD_ALT})(?![\w\-])
        (?P<path>/[^\s<>"]*+)?)
    | (?P<spelled>(?<![\w.])[a-z0-9][a-z0-9\-]*+
        (?:\s+(?:point|dot)\s+|\s*[(\[{{]\s*(?:dot|point)\s*[)\]}}]\s*)
        (?:com|net|org|io|gg)(?!\w))
    | (?P<spelled_ca>(?<![\w.])[a-z0-9][a-z0-9\-]*+\s+dot\s+ca(?!\w))
    """,
    re.IGNORECASE | re.VERBOSE,
)
_TRAILING = ".,;:!?)]}»\"'’…"


def _urls(text: str) -> Iterator[Span]:
    if "." not in text and not _URL_WORDS.search(text):
        return
    for m in _URL.finditer(text):
        start, end = m.span()
        while end > start and text[end - 1] in _TRAILING:
            end -= 1
        if m.lastgroup == "bare" or m.group("bare"):
            tld = m.group("tld")
            host = m.group("bare")[: m.end("tld") - m.start()].lower()
            before = text[m.start("tld") - 2] if m.start("tld") >= 2 else ""
            if not (tld.islower() or tld.isupper()) or (
                    tld.isupper() and before.islower() and not m.group("path")):
                continue  # "fini.Ca va?", "ok.ME": a missing space after a full stop, not a link
            name = host.rsplit(".", 2)[-2]
            if not any(c.isalpha() for c in name) or _is_help_site(host):
                continue
        elif m.group("www") or m.group("scheme"):
            host = re.sub(r"^(?:[a-z]+://)?(?:www\.)?", "", text[start:end].lower()).split("/")[0]
            if _is_help_site(host):
                continue
        if end > start:
            yield Span(start, end, "url")


_URL_WORDS = re.compile(r"(?<!\w)(?:dot|point)(?!\w)", re.IGNORECASE)


def _is_help_site(host: str) -> bool:
    host = host.removeprefix("www.")
    return any(host == site or host.endswith("." + site) for site in HELP_SITES)


# --- social handles ------------------------------------------------------------------------------

_STRONG_PLATFORMS = (r"snap(?:chat)?|insta(?:gram)?|tik\s?tok|discord|whats\s?app|telegram|kik"
                     r"|twitch|reddit|psn|xbox|roblox|fortnite|bereal|skype|facebook|fb|messenger"
                     r"|twitter|youtube|pinterest|tumblr|linkedin|wechat|threads|steam")
_WEAK_PLATFORMS = r"ig|sc|tt|yt|user(?:\s?name)?|nom\s+d['’]utilisateur|gamer\s?tag"
_HANDLE_KEYWORD = re.compile(
    rf"""
    (?<![\w@])(?:(?P<strong>{_STRONG_PLATFORMS})|(?P<weak>{_WEAK_PLATFORMS}))
    (?:\s+(?:name|user\s?name|user|id|handle|pseudo|tag|account))?
    (?P<conn>\s*[:=]\s*|\s*(?:->|→|=>|➡️?)\s*|\s+(?:c['’]est|cest|c\s+est|c|est|is|it['’]s|its)\s+
       |['’]s\s+|\s+)
    (?P<name>@?[A-Za-z0-9_][A-Za-z0-9_.\-]{{1,29}}+(?:\#\d{{4}})?)(?![\w@'’])
    """,
    re.IGNORECASE | re.VERBOSE,
)
_AT_HANDLE = re.compile(r"(?<![\w@.+\-])@(?P<name>[A-Za-z0-9_][A-Za-z0-9_.]{1,29}+)(?![\w@])")
_DISCORD_TAG = re.compile(r"(?<![\w#@.])[^\W\d_][\w.]{1,31}+\#\d{4}(?!\d)")
# Chat-wide mentions, not people.
_MENTIONS: Final = frozenset({"everyone", "here", "channel", "all", "tous", "tout"})
_TIME_LIKE = re.compile(r"\d{1,2}(?:h\d{0,2}|:\d\d)?(?:am|pm)?", re.IGNORECASE)
# Words that follow "snap c'est …", "my insta is …" in ordinary talk about the platforms.
_ORDINARY_WORDS = """
    pas plus vraiment trop tellement super tres nul nulle plate poche cool bien mieux correct ok
    okay fun le la les un une des du de mon ma mes ton ta tes son sa ses notre votre leur leurs
    pour par sur dans avec sans quoi qui que quand comment ou et mais donc ca cela ce cette cet
    juste aussi encore toujours jamais rien personne meme pareil down mort pire genre comme ici
    ouvert ferme lent bizarre chill nice bon bonne mauvais mauvaise long fini important interdit
    dangereux gratuit payant populaire utile inutile hot top dead is est oui non yes no nope yeah
    not the an my your his her their our its it this that so too very really just also still
    blocked banned private better worse best worst good bad great lame boring annoying weird
    awesome fine for where what how why when who which like same over gone broken slow full
    free popular useless toxic safe unsafe old new there here on off up in out at with without
    and or but because allowed forbidden dumb stupid trash mid cringe life everything nothing
    something anything everyone nobody someone me you him them us we they am are was were be been
    being have has had do does did will would can could should may might must gonna wanna kinda
    pretty way much more less most least all some any none only even ever never always sometimes
    often usually maybe probably definitely literally actually basically honestly seriously
    lui elle eux nous vous ils elles je tu il on moi toi ya y en a ai as avait etait sera fait
    faut peut veut va vont sont suis es ete avoir etre bloquer addictif addictive
    snap snapchat insta instagram tiktok discord whatsapp telegram messenger facebook twitter
    youtube reddit twitch steam xbox psn roblox fortnite app appli application site compte
    account acct the_best dm dms message messages texto story stories post posts reel reels
    plein pleine rempli vide empty partout everywhere moins rendu devenu ben cute
    """
_NOT_A_NAME: Final = frozenset(_ORDINARY_WORDS.split())


def _handles(text: str) -> Iterator[Span]:
    if "@" in text:
        for m in _AT_HANDLE.finditer(text):
            name = m.group("name").rstrip(".")
            if _TIME_LIKE.fullmatch(name) or name.isdigit() or name.lower() in _MENTIONS:
                continue
            yield Span(m.start(), m.start() + 1 + len(name), "handle")
    if "#" in text:
        for m in _DISCORD_TAG.finditer(text):
            yield Span(m.start(), m.end(), "handle")
    yield from _scan(_HANDLE_KEYWORD, text, _named_handle)


_POINTING: Final = frozenset({":", "=", "->", "→", "=>", "➡", "➡️"})
_VERB: Final = frozenset({"c'est", "c’est", "cest", "c est", "c", "est", "is", "it's", "it’s",
                          "its"})
# After "snap is …" an all-letter word with these endings is talk about the app ("owned",
# "amazing", "addictive", "dangereux"), not a name.
_WORDY_ENDINGS: Final = ("ed", "ing", "able", "ible", "ful", "ous", "ive", "ant", "ent", "ique",
                         "eux", "euse", "ment", "less", "ly", "ish")


def _named_handle(m: re.Match[str]) -> Span | None:
    """The name in "snap: zoe22", "mon insta c'est zoe.b", "add me on tiktok @zoe", if it is one.

    With a colon or an arrow any name goes; after "c'est"/"is" ordinary words are weeded out; with
    no connector at all only what looks like a handle (digits, "_", ".", "@", a Discord tag)."""
    conn = " ".join((m.group("conn") or "").split()).lower()
    raw = m.group("name")
    name = raw.rstrip(".-")
    bare = name.lstrip("@")
    at = raw.startswith("@")
    looks_like_handle = at or any(c.isdigit() or c in "_.#" for c in bare)
    if m.group("weak") and conn not in _POINTING and not at:
        return None
    if len(bare) < 2 or bare.isdigit() or bare.lower() in _NOT_A_NAME or _TIME_LIKE.fullmatch(bare):
        return None
    if not conn and not looks_like_handle:
        return None
    if conn in _VERB and not looks_like_handle and bare.lower().endswith(_WORDY_ENDINGS):
        return None
    return Span(m.start("name"), m.start("name") + len(name), "handle")


# --- street addresses and postal codes -----------------------------------------------------------

_POSTAL = re.compile(
    r"(?<![\w])[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ \-]?\d[ABCEGHJ-NPRSTV-Z]\d(?!\w)",
    re.IGNORECASE,
)
_DIRECTIONS = r"(?:est|ouest|nord|sud|east|west|north|south|[eonsw]\.?)(?!\w)"
_FR_PARTICLE = r"(?:(?:de\s+la|de\s+l['’]|de|du|des|d['’]|la|le|les|l['’])\s*)?"
_ADDRESS_FR = re.compile(
    rf"""
    (?<![\w.,\-])(?:\d{{1,5}}[a-z]?\s?-\s?)?\d{{1,5}}[a-z]?(?:\s*,)?\s+
    (?:
      (?:rue|avenue|av\.|ave\.?|boulevard|boul\.?|blvd\.?|bd\.?|chemin|ch\.|rang)(?!\w)
        \s+{_FR_PARTICLE}[\w'’.\-]+
      | (?:place|pl\.|route|rte|montée|côte|croissant|impasse|allée|terrasse|promenade|ruelle)
        (?!\w)\s+{_FR_PARTICLE}(?-i:[A-ZÀ-Ý0-9])[\w'’.\-]*
    )
    (?:\s+(?:(?-i:[A-ZÀ-Ý])[\w'’.\-]*|{_DIRECTIONS})){{0,2}}
    """,
    re.IGNORECASE | re.VERBOSE,
)
_NOT_A_STREET_WORD = (r"(?:on|in|at|to|my|the|a|of|your|his|her|our|their|is|are|and|or|for|from"
                      r"|more|down|up|this|that|with|pm|am|h|min|ans|years|hours|minutes|blocks"
                      r"|times|km|m|miles|de|du|la|le|à|et|ou)(?!\w)")
_ADDRESS_EN = re.compile(
    rf"""
    (?<![\w.,\-])\d{{1,5}}[a-z]?\s+
    (?:
      (?:(?!{_NOT_A_STREET_WORD})[^\W\d_][\w'’.\-]*\s+){{1,3}}?
      (?:street|st\.?|avenue|ave\.?|road|rd\.?|boulevard|blvd\.?|crescent|cres\.?|highway
         |hwy\.?|parkway|pkwy\.?)(?!\w)
      | (?:(?!{_NOT_A_STREET_WORD})(?-i:[A-ZÀ-Ý])[\w'’.\-]*\s+){{1,3}}?
      (?:drive|dr\.?|lane|ln\.?|court|ct\.?|way|terrace|circle|place|pl\.?)(?!\w)
    )
    (?:\s+{_DIRECTIONS})?
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _addresses(text: str) -> Iterator[Span]:
    for m in _POSTAL.finditer(text):
        letters = "".join(c for c in m.group() if c.isalpha())
        if letters.isupper() or letters.islower():  # "H2X 1Y4", "h2x1y4"; "b7r3B6" is noise
            yield Span(m.start(), m.end(), "address")
    if not _ANY_DIGIT.search(text):
        return
    for pattern in (_ADDRESS_FR, _ADDRESS_EN):
        for m in pattern.finditer(text):
            end = m.end()
            while end > m.start() and text[end - 1] in ".,":
                end -= 1
            yield Span(m.start(), end, "address")


_ANY_DIGIT = re.compile(r"\d")
