"""Phonetic keys for names in any script: the "sounds alike" level of the name comparison.

Transliteration keys (``matching.translit.match_key_latin``) fold the spellings of *Russian* names; names
of other languages vary in other ways — Catherine/Kathryn, Stephen/Steven, Mohammed/Muhammad,
Smith/Smyth — that no string distance threshold separates from different names. Metaphone (Lawrence
Philips, 1990; ``jellyfish``, a maintained C implementation) maps each word to a consonant skeleton by
English spelling rules: a coarse key, so the model gives its level its own, smaller weight, fitted like
every other level. Every script goes through the passport (ICAO) transliteration first, so a Cyrillic or
accented name gets a key too.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jellyfish

from matching.translit import to_latin

_WORDS = re.compile(r"[A-Z]+")


@lru_cache(maxsize=1 << 16)
def sound_key(name: str | None) -> str | None:
    """Metaphone of each word of ``name`` (ASCII, space-joined); None when the name has no letters.

    ``sound_key("Catherine") == sound_key("Kathryn") == "K0RN"``; ``sound_key("Иванов") == "IFNF"``.
    """
    if not name:
        return None
    words = [jellyfish.metaphone(w) for w in _WORDS.findall(to_latin(name))]
    key = " ".join(w for w in words if w)
    return key or None
