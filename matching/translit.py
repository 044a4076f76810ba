"""Text normalisation and Russian transliteration: ICAO (passports), GOST 7.79-2000 B, and back to Cyrillic.

``normalize_text`` is the canonical form of any name or place text (upper case, ``Ё``→``Е``, one kind of
hyphen and apostrophe, single spaces, letters only). ``to_latin`` / ``to_latin_gost`` go to ASCII;
``to_cyrillic`` guesses the Cyrillic a Latin-typed Russian name came from; ``match_key_latin`` is a lossy
ASCII key on which a Latin-typed name and its Cyrillic form agree in the common cases.

All functions are pure; the ones called per record are cached (names repeat heavily across millions of
records, so the caches hit almost always).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

from matching import names_ru

_CACHE: Final = 1 << 17

# --- normalize_text -----------------------------------------------------------------------------------

# Applied before NFKC: NFKC turns ´ into a space plus a combining accent, which would split the word.
_APOSTROPHES = str.maketrans({c: "'" for c in "’‘ʼʹ`´′ʻ՚ꞌ"} | {"ʺ": "''", "″": "''", "‶": "''"})
_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−⁃﹘﹣－"})
_MARKS = re.compile(r"[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
                    r"\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
_NOT_ALLOWED = re.compile(r"[^\w\s'\-]|[\d_]")
_HYPHENS = re.compile(r"\s*-[\s\-]*")
_SPACES = re.compile(r"\s+")
# Output made only of these characters is a fixed point of normalisation (fast path for idempotence).
_STABLE = re.compile(r"[A-ZА-ЯЁІЇЄҐЎ '\-]*")
_HAS_LATIN = re.compile(r"[A-Z]")
_HAS_CYRILLIC = re.compile(r"[А-ЯЁІЇЄҐЎ]")
_TOKEN = re.compile(r"[^\s\-]+")
# Letters that look alike; agencies' keyboards mix them inside one word ("Ивaнов" with a Latin a).
_LAT_TO_CYR = str.maketrans("ABCEHKMOPTXY", "АВСЕНКМОРТХУ")
_CYR_TO_LAT = str.maketrans("АВСЕНКМОРТХУ", "ABCEHKMOPTXY")


def _fix_mixed_script(token: str) -> str:
    """Turn look-alike letters of the minority script into the majority script of the word."""
    latin = len(_HAS_LATIN.findall(token))
    cyrillic = len(_HAS_CYRILLIC.findall(token))
    if latin and cyrillic:
        if cyrillic > latin:
            return token.translate(_LAT_TO_CYR)
        if latin > cyrillic:
            return token.translate(_CYR_TO_LAT)
    return token


def _normalize_once(s: str, keep_yo: bool) -> str:
    text = unicodedata.normalize("NFKC", s.translate(_APOSTROPHES)).upper()
    text = _MARKS.sub("", text).translate(_DASHES)
    if not keep_yo:
        text = text.replace("Ё", "Е")
    text = _NOT_ALLOWED.sub(" ", text)
    text = _SPACES.sub(" ", _HYPHENS.sub("-", text)).strip(" -")
    if _HAS_LATIN.search(text) and _HAS_CYRILLIC.search(text):
        text = _TOKEN.sub(lambda m: _fix_mixed_script(m.group()), text)
    return text


def _normalize(s: str, keep_yo: bool = False) -> str:
    text = _normalize_once(s, keep_yo)
    # Exotic input (Hangul jamo around a deleted mark, case mappings that decompose) can need more passes;
    # names in Cyrillic or Latin never do.
    for _ in range(4):
        if _STABLE.fullmatch(text):
            break
        again = _normalize_once(text, keep_yo)
        if again == text:
            break
        text = again
    return text


def normalize_text(s: str) -> str:
    """Canonical form of a name or place: NFKC, upper case, ``Ё``→``Е``, one hyphen, one apostrophe.

    Dashes (‐ ‑ – — − …) become ``-`` with no spaces around; apostrophe look-alikes (’ ʼ ` ´ ʹ) become
    ``'``; combining accents and invisible characters are dropped; any other character that is not a letter
    (digits, punctuation, symbols) becomes a space; spaces are collapsed and the ends stripped of spaces and
    hyphens. Latin and Cyrillic look-alike letters mixed inside one word are unified to the word's majority
    script. Idempotent.
    """
    return _normalize(s)


# --- Cyrillic → Latin ---------------------------------------------------------------------------------

# ICAO Doc 9303 as used in Russian passports since 2013 (order 889 of the MVD), plus the Ukrainian and
# Belarusian letters the same table covers.
_ICAO: Final[dict[str, str]] = dict(zip(
    "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯІЇЄҐЎ",
    ["A", "B", "V", "G", "D", "E", "E", "ZH", "Z", "I", "I", "K", "L", "M", "N", "O", "P", "R", "S", "T",
     "U", "F", "KH", "TS", "CH", "SH", "SHCH", "IE", "Y", "", "E", "IU", "IA", "I", "I", "IE", "G", "U"],
    strict=True,
))
_ICAO_TABLE = str.maketrans({**_ICAO, "'": ""})

# GOST 7.79-2000 system B (table 4, Russian column): Ц is C before the Latin letters i, e, y, j and CZ
# elsewhere; the grave accent marks Ъ (``), Ы (Y`), Ь (`), Э (E`).
_GOST: Final[dict[str, str]] = dict(zip(
    "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЧШЩЪЫЬЭЮЯІЇЄҐЎ",
    ["A", "B", "V", "G", "D", "E", "YO", "ZH", "Z", "I", "J", "K", "L", "M", "N", "O", "P", "R", "S", "T",
     "U", "F", "X", "CH", "SH", "SHH", "``", "Y`", "`", "E`", "YU", "YA", "I", "YI", "YE", "G`", "U`"],
    strict=True,
))
_FOREIGN = str.maketrans({"Æ": "AE", "Ø": "O", "Ł": "L", "Đ": "D", "Þ": "TH", "Œ": "OE", "ß": "SS"})


def _ascii(text: str) -> str:
    """Strip accents from other Latin letters and drop what has no ASCII form (Greek, CJK…)."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOREIGN))
    kept = decomposed.encode("ascii", "ignore").decode("ascii")
    return _SPACES.sub(" ", _HYPHENS.sub("-", kept)).strip(" -")


def _icao(normalized: str) -> str:
    return _ascii(normalized.translate(_ICAO_TABLE))


def to_latin(s: str) -> str:
    """ASCII upper-case transliteration by the Russian passport (ICAO 9303) table.

    а→A … ё→E, ж→ZH, й→I, х→KH, ц→TS, ч→CH, ш→SH, щ→SHCH, ъ→IE, ы→Y, ь→(nothing), э→E, ю→IU, я→IA.
    Latin input passes through (upper-cased, apostrophes dropped), so ``to_latin`` is idempotent.
    """
    return _icao(normalize_text(s))


def to_latin_gost(s: str) -> str:
    """ASCII upper-case transliteration by GOST 7.79-2000 system B (reversible by design).

    ё→YO, й→J, х→X, ц→C before I/E/Y/J and CZ elsewhere, щ→SHH, ъ→``, ы→Y`, ь→`, э→E`, ю→YU, я→YA.
    """
    text = _normalize(s, keep_yo=True)
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch == "Ц":
            following = _GOST.get(text[i + 1], text[i + 1]) if i + 1 < len(text) else ""
            out.append("C" if following[:1] in ("I", "E", "Y", "J") else "CZ")
        else:
            out.append(_GOST.get(ch, ch))
    return _ascii("".join(out))


# --- Latin → Cyrillic ---------------------------------------------------------------------------------

_GOST_MARK = re.compile(r"CZ|SHH|Y'|E'|''")
_INFORMAL_MARK = re.compile(r"Y[AEOU]|[AEIOU]Y|Y$|J|(?<![KZCS])H|X|W|TZ|SCH|'")
_VOWELS: Final = frozenset("AEIOUY")
_SOFT_BEFORE_YO: Final = frozenset("BV")
_DIGRAPHS: Final[tuple[tuple[str, str], ...]] = (
    ("SHCH", "Щ"), ("SHH", "Щ"), ("SCH", "Щ"), ("ZH", "Ж"), ("KH", "Х"), ("CH", "Ч"), ("SH", "Ш"),
    ("TS", "Ц"), ("TZ", "Ц"), ("CZ", "Ц"), ("PH", "Ф"), ("CK", "К"),
)
_SINGLE: Final[dict[str, str]] = dict(zip(
    "ABDEFGHJKLMNOPQRSTUVWXZ",
    ["А", "Б", "Д", "Е", "Ф", "Г", "Х", "Й", "К", "Л", "М", "Н", "О", "П", "К", "Р", "С", "Т", "У", "В", "В",
     "КС", "З"],
    strict=True,
))
_GLIDE: Final[dict[str, str]] = {"A": "Я", "U": "Ю", "E": "Е", "O": "Е"}  # ё is written е in the hub
_GOST_REVERSE: Final[tuple[tuple[str, str], ...]] = (
    ("SHH", "Щ"), ("ZH", "Ж"), ("CH", "Ч"), ("SH", "Ш"), ("CZ", "Ц"), ("YO", "Е"), ("YU", "Ю"), ("YA", "Я"),
    ("YI", "И"), ("YE", "Е"), ("''", "Ъ"), ("Y'", "Ы"), ("E'", "Э"), ("'", "Ь"), ("C", "Ц"), ("J", "Й"),
    ("X", "Х"), ("I", "И"), ("Y", "Ы"), ("H", "Х"),
)


def _from_gost(word: str) -> str:
    """Exact inverse of GOST 7.79 B for a normalised word (apostrophes stand for its grave accents)."""
    out: list[str] = []
    i = 0
    while i < len(word):
        for latin, cyr in _GOST_REVERSE:
            # "E''" is Е followed by Ъ, not Э followed by Ь (a lone Y never occurs, so Y' is always Ы).
            accent_before_hard_sign = latin == "E'" and word[i + 2:i + 3] == "'"
            if word.startswith(latin, i) and not accent_before_hard_sign:
                out.append(cyr)
                i += len(latin)
                break
        else:
            out.append(_SINGLE.get(word[i], word[i]))
            i += 1
    return "".join(out)


def _glide(word: str, i: int, prev: str, vowel: str) -> str:
    """Y/J before a vowel: я, ю, е, ё — with a soft sign when it follows a consonant inside the word."""
    letter = _GLIDE[vowel]
    if not prev or prev in _VOWELS or prev == "'":
        return "ЙО" if vowel == "O" and prev in _VOWELS else letter
    if i == 1:  # right after the word's first consonant: Fyodor, Pyotr, Lyudmila, Vyacheslav
        return letter
    if vowel == "E":  # Vasilyev, Grigoryev, Yuryevich: informal -ye- after a consonant is -ье-
        return "Ь" + letter
    if vowel == "O":  # Solovyov, Vorobyov, Muravyov have ь; Korolyov, Semyon, Perepyolkin do not
        return ("Ь" if prev in _SOFT_BEFORE_YO else "") + letter
    if vowel == "A":  # Tatyana, Lukyanov (-ьян-) but Polyakov, Rumyantsev (-я-)
        rest = word[i + 2:]
        return ("Ь" if rest.startswith("N") and not rest.startswith(("NTS", "NC", "NTZ")) else "") + letter
    return letter


def _single(word: str, i: int, informal: bool) -> tuple[int, str]:
    """One Latin letter (or a letter with its glide/accent) at ``i``: how many characters, which Cyrillic."""
    ch, prev = word[i], word[i - 1] if i else ""
    nxt = word[i + 1] if i + 1 < len(word) else ""
    if ch in "YJ" and nxt in _GLIDE:
        return 2, _glide(word, i, prev, nxt)
    if ch == "I" and nxt in ("A", "U"):
        if informal and nxt == "A" and i + 2 == len(word) and prev and prev not in _VOWELS:
            return 2, "ИЯ"  # informal -ia is -ия (Maria, Yulia); in ICAO it would be -я
        return 2, "Я" if nxt == "A" else "Ю"
    if ch == "I":  # after a vowel, й (Mikhailovna, Sergei) — except inside -ii- (Daniil, Gavriil)
        if prev in _VOWELS and nxt not in _VOWELS and not (prev == "I" and nxt):
            return 1, "Й"
        return 1, "И"
    if ch == "Y":
        if nxt == "'":
            return 2, "Ы"
        if prev in _VOWELS:
            return 1, "Й"
        if nxt == "I" and prev and i + 2 < len(word):
            return 1, "Ь"  # Ilyin, Ilyinichna; but -yi at the end is ICAO -ый
        return 1, "ИЙ" if not nxt and prev else "Ы"  # Dmitry, Pokrovsky; Bykov, Krylov
    if ch == "E" and nxt == "'" and word[i + 2:i + 3] != "'":
        return 2, "Э"
    if ch == "'":
        return (2, "Ъ") if nxt == "'" else (1, "Ь")
    if ch == "C":
        return 1, "К" if nxt == "T" else "Ц"  # Victor, Viktoria; otherwise Kuznecov, Cvetkov
    return 1, _SINGLE.get(ch, ch)


def _rules(word: str, informal: bool) -> str:
    """Longest-match reverse transliteration of one normalised Latin word, with Russian context rules."""
    out: list[str] = []
    i = 0
    while i < len(word):
        for latin, cyr in _DIGRAPHS:
            if word.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            step, cyr = _single(word, i, informal)
            out.append(cyr)
            i += step
    result = "".join(out)
    if result.endswith(("СКИ", "ЦКИ")):  # Polish-style -ski of a -ский name
        result += "Й"
    return result


_FOLD_RULES: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple((re.compile(p), r) for p, r in (
    (r"'", ""), (r"PH", "F"), (r"W", "V"), (r"Q", "K"), (r"CK", "K"), (r"X", "KS"),
    (r"SCH|SHH", "SHCH"), (r"TZ|CZ", "TS"), (r"C(?=[KT])", "K"), (r"C(?!H)", "TS"),
    (r"(?<![KZCS])H", "KH"), (r"J", "Y"),
    (r"(?<=[AEIOUY])YO", "IO"), (r"YO", "E"), (r"YE", "E"), (r"YU", "IU"), (r"YA", "IA"),
    (r"(?<=[AEIOUY])Y", "I"), (r"Y$", "I"), (r"(?<=[B-DF-HJ-NP-TV-Z])YI", "I"),
    (r"(?<=[B-DF-HJ-NP-TV-Z])IE", "E"), (r"(?<=[B-DF-HJ-NP-TV-Z])IU", "U"),
    (r"(.)\1+", r"\1"),
))


def _fold(word: str) -> str:
    """Lossy ASCII key of one Latin word: informal spellings folded onto ICAO, doubled letters collapsed."""
    for pattern, replacement in _FOLD_RULES:
        word = pattern.sub(replacement, word)
    return word


def _build_indexes() -> tuple[dict[str, str], dict[str, str]]:
    exact: dict[str, str] = {}
    folded: dict[str, str] = {}
    for word in names_ru.KNOWN_WORDS:
        exact.setdefault(_icao(word), word)
    for word in names_ru.FOLDABLE_WORDS:
        folded.setdefault(_fold(_icao(word)), word)
    for latin, word in names_ru.LATIN_ALIASES.items():
        exact.setdefault(latin, word)
    return exact, folded


_EXACT_INDEX, _FOLD_INDEX = _build_indexes()


def _known(index: dict[str, str], latin: str, typed: str) -> str | None:
    """A dictionary word for ``latin``, unless the typist wrote a sign (') that the word does not have."""
    hit = index.get(latin)
    if hit and "'" in typed and not ("Ь" in hit or "Ъ" in hit):
        return None
    return hit


@lru_cache(maxsize=_CACHE)
def _word_to_cyrillic(word: str, gost: bool = False) -> str:
    if not _HAS_LATIN.search(word):
        return word
    bare = word.replace("'", "")
    if gost or _GOST_MARK.search(word):
        return _from_gost(word)  # GOST B is reversible: no guessing needed
    hit = _known(_EXACT_INDEX, bare, word)
    if hit:
        return hit
    informal = bool(_INFORMAL_MARK.search(word))
    guesses = [_rules(word, informal), _rules(word, not informal), _from_gost(word)]
    if "IE" in word:  # informal -iev is often -ьев (Vasiliev); only a known name may confirm it (not Aliev)
        guesses.append(_rules(word.replace("IE", "YE"), True))
    for guess in guesses:  # a guess whose ICAO form is a known name gets that name's ь, ё, й back
        hit = _known(_EXACT_INDEX, _icao(guess), word)
        if hit:
            return hit
    return _known(_FOLD_INDEX, _fold(bare), word) or guesses[0]


@lru_cache(maxsize=_CACHE)
def is_known_russian_word(word: str) -> bool:
    """Whether the name dictionary knows ``word``: Cyrillic, or Latin in a spelling ``to_cyrillic`` reads."""
    text = normalize_text(word).replace("'", "")
    if not text:
        return False
    if not _HAS_LATIN.search(text):
        return text in _KNOWN_CYRILLIC
    if text in _EXACT_INDEX or _fold(text) in _FOLD_INDEX:
        return True
    informal = bool(_INFORMAL_MARK.search(text))
    guesses = [_rules(text, informal), _rules(text, not informal), _from_gost(text)]
    return any(_icao(g) in _EXACT_INDEX for g in guesses)


_KNOWN_CYRILLIC = frozenset(names_ru.KNOWN_WORDS)


def clear_caches() -> None:
    """Empty the transliteration caches (a benchmark's cold start; the functions stay pure either way)."""
    for cached in (_word_to_cyrillic, to_cyrillic, match_key_latin, is_known_russian_word):
        cached.cache_clear()


@lru_cache(maxsize=_CACHE)
def to_cyrillic(s: str) -> str:
    """The most likely Cyrillic form of a Russian name typed in Latin (ICAO, GOST 7.79 B or informal).

    Per word: GOST B (recognised by a grave accent anywhere, or by ``CZ``, ``SHH``, ``Y'``, ``E'``, ``''``)
    is inverted exactly. Otherwise a dictionary of known given names, patronymics and family names is tried
    on the ICAO form, then on the ICAO form of rule-based guesses, then (given names and patronymics only) on
    the lossy key; failing that, longest-match rules with Russian context decide: ``-ii``/``-iy``/``-y`` →
    ``-ий``, ``-iia``/``-iya`` → ``-ия``, ``ya``/``yu`` → ``я``/``ю``, vowel + ``i`` → ``й``, ``h`` → ``х``,
    ``sch`` → ``щ``, ``ts``/``tz`` → ``ц``. Cyrillic words pass through normalised. The result is normalised
    (``Ё`` written ``Е``).
    """
    text = normalize_text(s)
    if not _HAS_LATIN.search(text):
        return text
    gost = "`" in s  # the grave accent is GOST B's own mark (normalisation turns it into ')
    return _TOKEN.sub(lambda m: _word_to_cyrillic(m.group(), gost), text)


@lru_cache(maxsize=_CACHE)
def match_key_latin(s: str) -> str:
    """Canonical ASCII key: ``to_latin`` for Cyrillic, informal Latin spellings folded onto ICAO.

    Folds yu→iu, ya→ia, ye→e, yo→e (io after a vowel), vowel+y→i, final -y→-i, j→y, h→kh, sch/shh→shch,
    tz/cz/c→ts (c before k/t → k), x→ks, w→v, ph→f, and after a consonant ie→e, iu→u, yi→i; drops
    apostrophes and collapses doubled letters; GOST 7.79 B words are decoded first. Words are joined by
    single spaces (hyphens too, so Римский-Корсаков and Римский Корсаков agree). Lossy on purpose: equal keys
    mean "spelled alike", not "the same name". ASCII, so DuckDB's byte-based string distances are exact on it.
    """
    text = normalize_text(s)
    gost = "`" in s
    if gost or _GOST_MARK.search(text):
        text = _TOKEN.sub(lambda m: _from_gost(m[0]) if gost or _GOST_MARK.search(m[0]) else m[0], text)
    return " ".join(filter(None, (_fold(word) for word in re.split(r"[ \-]+", _icao(text)))))
