"""Which script a name is written in, and whether Russian morphology may be read from it.

Russian standardisation reads sex from name endings (Иванова, Покровская — and Ivanova typed in Latin).
That is evidence only for names that follow Russian morphology: ``Wojciechowski``, ``Andrea`` or
``Medina`` say nothing about their bearer's sex, and a wrong inferred sex is a disagreement that costs a true
pair its link. So the family-name ending is read only for a *Russian-looking* person:

* any name part in Cyrillic (Russian, Ukrainian, Kazakh, Tajik… names written in Cyrillic follow the
  Russian patterns of their documents: Нурланова, Рахмонова);
* a patronymic (an East Slavic and Central Asian convention);
* a Latin name part the Russian name dictionary knows (Aleksandr, Ivanova), or a family name with a Russian
  ending (-ov/-ova, -ev/-eva, -skiy/-skaya, -enko, -ovich…; Kazakh and Uzbek -yev/-yeva too).

Without such evidence, a Latin name with positive evidence of another language — letters or endings Russian
names never take (Smith, Wojciechowski, Beridze, Petrosyan, O'Connor, Müller) or a given name of another
language (Elizabeth, Andrea) — gets its sex from the record, a patronymic or a given name the dictionary
knows, never from a family-name ending. A Latin name with neither kind of evidence (a misspelt Russian name,
mostly) keeps the Russian reading, as before.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from matching.translit import is_known_russian_word, normalize_text

Script = Literal["cyrillic", "latin", "mixed", "none"]

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_RUSSIAN_ENDING = re.compile(
    r"(?:OV|OVA|EV|EVA|YEV|YEVA|IEV|IEVA|YOV|YOVA|IN|INA|YN|YNA|SKIY|SKII|SKIJ|SKY|SKAYA|SKAIA|SKAJA|TSKIY|"
    r"TSKAYA|ENKO|OVICH|EVICH|OVNA|EVNA|ICHNA|YKH|IKH)$")
# Spellings Russian names never take in any transliteration (ICAO, GOST, informal), and family-name
# endings of other languages: positive evidence that a Latin name is not a Russian one.
_FOREIGN_LETTERS = re.compile(r"[WQ]|TH|PH|CK|GH|[ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝŁŃŚŹŻĄĘŐŰŠŽČĆĐĞİŞ]|^[OD]'")
_FOREIGN_ENDING = re.compile(
    r"(?:SON|SEN|SSEN|MANN?|ER|EZ|YAN|IAN|DZE|SHVILI|SKI|SKA|CKI|CKA|WICZ|CZYK|EAU|ETTE|INI|ELLI|ETTI|"
    r"OGLU|GIL|ES|EY|LEY|TON|FORD|WOOD|AND|ENS|AULT)$")
_FOREIGN_GIVEN_TEXT = """
JOHN JAMES JACK JACOB JOSEPH GEORGE THOMAS WILLIAM HARRY OLIVER NOAH CHARLIE HENRY EDWARD RICHARD ROBERT
MICHAEL CHRISTOPHER MATTHEW ANDREW DAVID DANIEL PATRICK PETER PAUL MARK LUKE SAMUEL BENJAMIN ETHAN LIAM
ELIZABETH MICHAELA MARY SARAH EMILY EMMA OLIVIA AMELIA ISLA AVA MIA GRACE SOPHIE SOPHIA CHLOE LILY ELLA
JESSICA HANNAH CHARLOTTE LUCY ABIGAIL MEGAN LAUREN REBECCA JENNIFER SIOBHAN AOIFE NIAMH ANDREA JURGEN
JUERGEN WOJCIECH KRZYSZTOF PIOTR AGNIESZKA MALGORZATA JOSE JUAN CARLOS LUIS JORGE MIGUEL PEDRO LUCIA
CARMEN ISABEL FRANCESCO GIUSEPPE GIOVANNI MARCO LUCA GIULIA CHIARA FRANCESCA HANS KLAUS STEFAN WOLFGANG
THI LAN MINH ANH HUONG NGOC
"""
_FOREIGN_GIVEN = frozenset(_FOREIGN_GIVEN_TEXT.split())


def script_of(value: str | None) -> Script:
    """The script of one value: ``cyrillic``, ``latin``, ``mixed`` (both) or ``none`` (no letters)."""
    text = value or ""
    cyrillic, latin = bool(_CYRILLIC.search(text)), bool(_LATIN.search(text))
    if cyrillic and latin:
        return "mixed"
    return "cyrillic" if cyrillic else "latin" if latin else "none"


def _words(value: str | None) -> list[str]:
    return [w for w in re.split(r"[\s\-]+", (value or "").upper().strip()) if w]


@lru_cache(maxsize=1 << 16)
def russian_looking(family: str | None, given: str | None, patronymic: str | None) -> bool:
    """Whether Russian morphology (sex from a family-name ending) applies to this person's names.

    In order: Cyrillic, a patronymic or a word of the Russian name dictionary → Russian; letters Russian
    names never take or a given name of another language → not; a Russian family-name ending → Russian;
    an ending of another language → not; nothing either way (a misspelt Russian name, mostly) → Russian.
    """
    parts = [p for p in (family, given, patronymic) if p]
    if any(script_of(p) in ("cyrillic", "mixed") for p in parts) or patronymic:
        return True
    if any(is_known_russian_word(w) for p in parts for w in _words(normalize_text(p))):
        return True
    raw_words = _words(family) + _words(given)
    if any(_FOREIGN_LETTERS.search(w) for w in raw_words) or any(
            w in _FOREIGN_GIVEN for w in _words(normalize_text(given or ""))):
        return False
    family_words = _words(normalize_text(family or ""))
    if any(len(w) >= 5 and _RUSSIAN_ENDING.search(w.replace("'", "")) for w in family_words):
        return True
    return not any(_FOREIGN_ENDING.search(w) for w in family_words)
