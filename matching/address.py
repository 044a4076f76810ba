"""Address parts for matching: postal code, locality, street and house in one canonical spelling.

Agencies write the same address as ``г. Великий Новгород, ул. Ленина, д. 5 корп. 1`` or as parts with or
without the type words; these helpers drop the type words that carry no identity (``г.``, ``ул.``, ``д.``),
keep the ones that do (``пр.`` Мира is not ул. Мира), and keep digits (ул. 8 Марта). Pure and cached.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Final, NamedTuple

from schemas.codes import AddressKind
from schemas.person import Address

_CACHE: Final = 1 << 15
_NOT_ADDRESS = re.compile(r"[^\w\-/]+|_")
_POSTAL = re.compile(r"(?<!\d)\d{6}(?!\d)")
_POSTAL_GAPS = re.compile(r"[\s\-]")

_LOCALITY_TYPES: Final = frozenset({
    "Г", "ГОР", "ГОРОД", "С", "СЕЛО", "Д", "ДЕР", "ДЕРЕВНЯ", "П", "ПОС", "ПОСЕЛОК", "ПГТ", "РП", "СТ",
    "СТАНИЦА", "Х", "ХУТОР", "СЛ", "СЛОБОДА", "НП",
})
# Street type → canonical short form; None for a plain street (most streets, and agencies often omit "ул.").
_STREET_TYPES: Final[dict[str, str | None]] = {
    "УЛ": None, "УЛИЦА": None, "ПР": "ПР", "ПР-Т": "ПР", "ПРОСП": "ПР", "ПРОСПЕКТ": "ПР", "ПЕР": "ПЕР",
    "ПЕРЕУЛОК": "ПЕР", "Ш": "Ш", "ШОССЕ": "Ш", "НАБ": "НАБ", "НАБЕРЕЖНАЯ": "НАБ", "Б-Р": "Б-Р", "БУЛ": "Б-Р",
    "БУЛЬВАР": "Б-Р", "ПЛ": "ПЛ", "ПЛОЩАДЬ": "ПЛ", "ПР-Д": "ПР-Д", "ПРОЕЗД": "ПР-Д", "ТУП": "ТУП",
    "ТУПИК": "ТУП", "МКР": "МКР", "МИКРОРАЙОН": "МКР", "КВ-Л": "КВ-Л", "КВАРТАЛ": "КВ-Л", "АЛЛЕЯ": "АЛ",
}
_REGION_WORDS: Final = frozenset({"ОБЛ", "ОБЛАСТЬ", "Р-Н", "РАЙОН", "КРАЙ", "РЕСП", "РЕСПУБЛИКА", "АО"})
_HOUSE_WORDS: Final[dict[str, str]] = {
    "Д": "", "ДОМ": "", "КОРП": "К", "КОРПУС": "К", "К": "К", "СТР": "С", "СТРОЕНИЕ": "С", "ЛИТ": "",
    "ЛИТЕРА": "",
}


class AddressParts(NamedTuple):
    """The address columns the matcher compares."""

    postal_code: str | None
    locality: str | None
    street: str | None
    house: str | None


def address_text(s: str) -> str:
    """Upper case, ``Ё``→``Е``, punctuation to spaces; digits, hyphens and slashes kept."""
    text = unicodedata.normalize("NFKC", s).upper().replace("Ё", "Е")
    return " ".join(_NOT_ADDRESS.sub(" ", text).split())


@lru_cache(maxsize=_CACHE)
def locality_std(raw: str) -> str | None:
    """``г. Великий Новгород`` → ``ВЕЛИКИЙ НОВГОРОД``; ``д. Борки`` → ``БОРКИ``."""
    tokens = address_text(raw).split()
    while len(tokens) > 1 and tokens[0] in _LOCALITY_TYPES:
        tokens = tokens[1:]
    return " ".join(tokens) or None


@lru_cache(maxsize=_CACHE)
def street_std(raw: str) -> str | None:
    """``ул. Ленина`` → ``ЛЕНИНА``; ``проспект Мира`` → ``МИРА ПР``; ``ул. 8 Марта`` → ``8 МАРТА``."""
    tokens = address_text(raw).split()
    kinds = [_STREET_TYPES[t] for t in tokens if t in _STREET_TYPES]
    names = [t for t in tokens if t not in _STREET_TYPES]
    if not names:
        return None
    kind = next((k for k in kinds if k), None)
    return " ".join([*names, kind] if kind else names)


@lru_cache(maxsize=_CACHE)
def house_std(house: str | None, building: str | None = None) -> str | None:
    """``д. 5 а`` → ``5А``; ``5, корп. 1`` → ``5К1``; house ``5`` with building ``2`` → ``5К2``."""
    parts = [_HOUSE_WORDS.get(t, t) for t in address_text(house or "").split()]
    text = "".join(parts)
    if building:
        extra = "".join(address_text(building).split())
        text += extra if extra[:1].isalpha() else "К" + extra
    return text or None


def _parse_one_line(text: str) -> AddressParts:
    """Best effort on ``123456, обл. …, г. X, ул. Y, д. 5``: parts are told apart by their type word."""
    postal = _POSTAL.search(text)
    locality = street = house = None
    for part in text.split(","):
        tokens = address_text(part).split()
        if not tokens or _POSTAL.fullmatch(tokens[0]) or _REGION_WORDS & set(tokens):
            continue
        first, rest = tokens[0], tokens[1:]
        if first in ("Д", "ДОМ") and rest and rest[0][:1].isdigit():
            house = house_std(part)
        elif first in _STREET_TYPES:
            street = street_std(part)
        elif first in _LOCALITY_TYPES and rest:
            locality = locality_std(part)
        elif first[:1].isdigit() and street and not house:
            house = house_std(part)
    if locality is None and street is None:
        locality, street = _untyped_parts(text)
    return AddressParts(postal.group() if postal else None, locality, street, house)


def _untyped_parts(text: str) -> tuple[str | None, str | None]:
    """(locality, street) of a line without Russian type words (``12 High Street, Leeds``): the street
    first, the locality last; a postcode or a region part is left out. One part alone tells neither."""
    parts = [p for p in text.split(",") if (tokens := address_text(p).split())
             and not _POSTAL.fullmatch(tokens[0]) and not _REGION_WORDS & set(tokens)]
    if len(parts) < 2:
        return None, None
    return locality_std(parts[-1]), street_std(parts[0])


def main_address(addresses: Sequence[Address]) -> Address | None:
    """The address to match on: the first residence address, else the first address."""
    first = addresses[0] if addresses else None
    return next((a for a in addresses if a.kind is AddressKind.RESIDENCE), first)


def address_parts(address: Address | None) -> AddressParts:
    """Matcher columns of one address; a one-line ``text`` fills the parts the agency did not split."""
    if address is None:
        return AddressParts(None, None, None, None)
    return cached_parts(address.postal_code, address.locality, address.street, address.house,
                        address.building, address.text)


@lru_cache(maxsize=_CACHE)
def cached_parts(postal_code: str | None, locality: str | None, street: str | None, house: str | None,
                 building: str | None, text: str | None) -> AddressParts:
    """``address_parts`` on the fields themselves (cached: households share addresses)."""
    parsed = _parse_one_line(text) if text else AddressParts(None, None, None, None)
    return AddressParts(
        # Compared without spaces or hyphens: agencies write SW1A 1AA and SW1A1AA, 00-950 and 00950.
        postal_code=_POSTAL_GAPS.sub("", postal_code) if postal_code else parsed.postal_code,
        locality=locality_std(locality) if locality else parsed.locality,
        street=street_std(street) if street else parsed.street,
        house=house_std(house, building) if house else parsed.house,
    )
