"""Is this text Russian as written, or Russian decoded with the wrong code page? A measured answer.

An agency's file that declares ``koi8-r`` while its bytes are ``windows-1251`` decodes without a single
error into letters — ``Соколов`` becomes ``нЙНКНБ`` — and would become a golden record. Two checks, each
re-reading the text as the bytes it came from (``text.encode(declared).decode(actual)``):

* **UTF-8 read as a single-byte code page** (``РЎРёРґРѕСЂРѕРІ``, ``JosÃ©``): the re-read succeeds as strict
  UTF-8. Genuine single-byte text practically never is valid UTF-8 (two Cyrillic letters in a row are two
  lead bytes), so this alone decides.
* **One single-byte Cyrillic code page read as another** (koi8-r, windows-1251, cp866, mac-cyrillic,
  iso-8859-5): scored by a letter-bigram model of Russian (``data/ru_bigrams.json``, built by
  ``scripts/build_cyrillic_bigrams.py`` from the programme texts and the hub's name tables — none of it
  from the sandbox). A value is suspect when its mean log-probability per bigram is low *and* one re-reading
  is far more Russian (``MARGIN`` nats per bigram). Case is part of the evidence: a mis-read code page
  swaps upper and lower case (``нЙНКНБ``), which real names never show.

Text in other scripts and languages is left alone: Latin text is ASCII-compatible in every code page (its
re-readings are itself); letters of Ukrainian, Kazakh, Uzbek or Tajik Cyrillic (і, ә, қ, ў, ҷ …) are not in
the Russian code pages, so they cannot be re-read and nothing is claimed. Results are cached per value.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

_DATA = Path(__file__).resolve().parent / "data" / "ru_bigrams.json"
SINGLE_BYTE = ("cp1251", "koi8_r", "cp866", "mac_cyrillic", "mac_cyrillic_old", "iso8859_5")
UTF8_MISREAD_AS = ("cp1251", "latin_1", "cp1252", "koi8_r", "cp866", "mac_cyrillic")
NAMES = {"cp1251": "windows-1251", "koi8_r": "koi8-r", "cp866": "cp866", "mac_cyrillic": "mac-cyrillic",
         "mac_cyrillic_old": "mac-cyrillic", "iso8859_5": "iso-8859-5", "latin_1": "latin-1",
         "cp1252": "windows-1252", "utf_8": "UTF-8"}
# libxml2 (iconv) decodes MacCyrillic as the code page was before 1998 — ¢, ∂, ¤ where Python's
# mac_cyrillic has Ґ, ґ and € — so a file read by the hub's XML parser is re-read with that table too.
_OLD_MAC = codecs.decode(bytes(range(256)), "mac_cyrillic").translate(
    {ord("Ґ"): "¢", ord("ґ"): "∂", ord("€"): "¤"}
)
_OLD_MAC_ENCODE = codecs.charmap_build(_OLD_MAC)
LOW = -4.2
"""Mean log-probability per bigram below which a Cyrillic value is not plainly Russian."""
MARGIN = 1.2
"""How much more Russian (nats per bigram) a re-reading must be to call the value mis-decoded."""
CASE_PENALTY = 2.0
_WORD = re.compile(r"[^\W\d_]+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@lru_cache(maxsize=1)
def _model() -> tuple[dict[str, float], float]:
    counts: dict[str, int] = json.loads(_DATA.read_text("utf-8"))["bigrams"]
    firsts: dict[str, int] = {}
    for pair, n in counts.items():
        firsts[pair[0]] = firsts.get(pair[0], 0) + n
    alphabet = 34  # 33 letters with ё folded into е, plus the word end
    logp = {pair: math.log((n + 0.5) / (firsts[pair[0]] + 0.5 * alphabet)) for pair, n in counts.items()}
    return logp, math.log(0.5 / (max(firsts.values()) + 0.5 * alphabet))


@lru_cache(maxsize=65536)
def russianness(text: str) -> float | None:
    """Mean log-probability per letter bigram of ``text`` under the Russian model (None: no Cyrillic word).

    Letters outside the Russian alphabet count as the rarest bigram; a word cased ``xXXX`` (lower first,
    upper after) costs ``CASE_PENALTY`` per bigram — what a code-page swap of upper and lower case gives.
    """
    logp, floor = _model()
    total, pairs = 0.0, 0
    for word in _WORD.findall(text):
        if not _CYRILLIC.search(word):
            continue
        folded = word.lower().replace("ё", "е")
        padded = f"^{folded}$"
        cost = CASE_PENALTY if len(word) > 2 and word[0].islower() and word[1:].isupper() else 0.0
        for i in range(len(padded) - 1):
            total += logp.get(padded[i:i + 2], floor) - cost
            pairs += 1
    return total / pairs if pairs else None


def misdecoded(text: str) -> str | None:
    """``None`` if ``text`` reads as written; else a PII-free reason naming the suspected encodings."""
    return misdecoding((text,))


def misdecoding(values: tuple[str, ...] | list[str]) -> str | None:
    """Whether the values of one record (or payload) were decoded with the wrong code page, and which.

    A mis-declared encoding hits every Cyrillic value alike, so the evidence is pooled: one re-reading
    must apply to *every* Cyrillic value (each re-readable, no letter turned into a symbol) and, on
    average, make them ``MARGIN`` nats per bigram more Russian — or turn symbols glued to letters
    (``»ванова``) into letters — while staying plausible itself. An unusual but genuine name among
    ordinary ones cannot pass that; a whole record or file read with the wrong page does.
    """
    texts = tuple(v for v in values if not v.isascii())
    if not texts:
        return None
    for text in texts:
        reason = _utf8_misread(text)
        if reason is not None:
            return reason
    cyrillic = [(t, russianness(t)) for t in texts if _CYRILLIC.search(t)]
    scored = [(t, score) for t, score in cyrillic if score is not None]
    if not scored:
        return None
    observed = sum(score for _, score in scored) / len(scored)
    glued = sum(_glued_symbols(t) for t, _ in scored)
    if observed >= LOW and not glued:
        return None  # plainly Russian as written (the common case: no re-reading is tried)
    best: tuple[float, float, str, str] | None = None
    for wrong in SINGLE_BYTE:
        for actual in SINGLE_BYTE:
            pooled = _pooled(scored, wrong, actual) if wrong != actual else None
            if pooled is not None and (best is None or pooled[0] > best[0]):
                best = (pooled[0], pooled[1], wrong, actual)
    if best is None or best[0] < LOW:
        return None
    if best[0] - observed >= MARGIN or (glued and best[1] == 0):
        return f"{NAMES[best[3]]} text read as {NAMES[best[2]]} (its letters are not plausible Russian)"
    return None


def _pooled(scored: list[tuple[str, float]], wrong: str, actual: str) -> tuple[float, int] | None:
    """(mean score, symbols left glued to letters) of every value re-read, or None if one cannot be."""
    total, glued = 0.0, 0
    for text, _ in scored:
        fixed = _reread_cached(text, wrong, actual)
        if fixed is None or (fixed == text and len(scored) == 1):
            return None
        if not _no_worse(_shape(fixed), _shape(text)):
            return None  # a re-reading must turn symbols into letters, never letters into symbols
        score = russianness(fixed)
        if score is None:
            return None
        total, glued = total + score, glued + _glued_symbols(fixed)
    return total / len(scored), glued


@lru_cache(maxsize=65536)
def _utf8_misread(text: str) -> str | None:
    for wrong in UTF8_MISREAD_AS:
        fixed = _reread(text, wrong, "utf_8")
        if fixed is not None and fixed != text and not fixed.isascii() and _EUROPEAN.fullmatch(fixed):
            return f"UTF-8 text read as {NAMES[wrong]} (mojibake)"
    return None


# What a name or an address re-read as UTF-8 must be made of: Latin, Greek and Cyrillic letters, ASCII and
# typographic punctuation, № — not CJK or maths (cp866's ``ткачев`` happens to be valid UTF-8: ⪠祢).
_EUROPEAN = re.compile(r"[\x00-\u052f\u2010-\u2044\u2116]*")


@lru_cache(maxsize=65536)
def _reread_cached(text: str, wrong: str, actual: str) -> str | None:
    return _reread(text, wrong, actual)


_GLUED = re.compile(r"(?<=[^\W\d_])[^\w\s.,;:()'\"«»/-]|[^\w\s.,;:()'\"«»/-](?=[^\W\d_])")


@lru_cache(maxsize=65536)
def _glued_symbols(text: str) -> int:
    """Symbols written against a letter (``‘околов``, ``А≠``): never in a name or an address."""
    return len(_GLUED.findall(text))


def _shape(text: str) -> tuple[int, int]:
    """(letters, symbols): box-drawing, currency, maths, control and private-use characters are symbols."""
    letters = sum(ch.isalpha() for ch in text)
    symbols = sum(unicodedata.category(ch)[0] in "SC" or unicodedata.category(ch) == "No" for ch in text)
    return letters, symbols


def _no_worse(fixed: tuple[int, int], seen: tuple[int, int]) -> bool:
    return fixed[0] >= seen[0] and fixed[1] <= seen[1]


def _reread(text: str, wrong: str, actual: str) -> str | None:
    try:
        raw = codecs.charmap_encode(text, "strict", _OLD_MAC_ENCODE)[0] if wrong == "mac_cyrillic_old" \
            else text.encode(wrong)
        return codecs.charmap_decode(raw, "strict", _OLD_MAC)[0] if actual == "mac_cyrillic_old" \
            else raw.decode(actual)
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def suspect_values(record: Any, path: str = "") -> list[tuple[str, str]]:
    """(field path, reason) for every mis-decoded string in a dumped record (identifiers included)."""
    found: list[tuple[str, str]] = []
    if isinstance(record, str):
        reason = misdecoded(record)
        if reason is not None:
            found.append((path or "(value)", reason))
    elif isinstance(record, dict):
        for key, value in record.items():
            found += suspect_values(value, f"{path}.{key}" if path else str(key))
    elif isinstance(record, list):
        for i, value in enumerate(record):
            found += suspect_values(value, f"{path}.{i}")
    return found
