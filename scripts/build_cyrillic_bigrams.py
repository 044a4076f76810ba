"""Build ``mapper/data/ru_bigrams.json``: letter-bigram counts of Russian text for ``mapper.encoding``.

The corpus is the programme texts beside the project (``../shared/domain``: news, regulations, glossary —
prose nobody shaped for the sandbox) plus the hub's own name tables (``matching.names_ru``: given names,
diminutives, patronymics, family names, in their canonical spelling). Only Russian letters count; case is
folded; a word boundary is ``^`` / ``$``. Run it again when the corpus grows:

    .venv/bin/python scripts/build_cyrillic_bigrams.py ../shared/domain
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORD = re.compile(r"[а-яё]+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower().replace("ё", "е"))


def main() -> None:
    from matching import names_ru

    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "domain"
    texts = [p.read_text("utf-8") for p in sorted(corpus.rglob("*")) if p.suffix in (".txt", ".md")]
    tables = [*names_ru.KNOWN_WORDS, *names_ru.FAMILY_NAMES, *names_ru.PATRONYMIC_FATHER]
    counts: Counter[str] = Counter()
    total_words = 0
    for word in [w for t in texts for w in words(t)] + [w for n in tables for w in words(n)]:
        total_words += 1
        padded = f"^{word}$"
        counts.update(padded[i:i + 2] for i in range(len(padded) - 1))
    out = ROOT / "mapper" / "data" / "ru_bigrams.json"
    doc = {"about": "letter bigrams of Russian text (scripts/build_cyrillic_bigrams.py)",
           "documents": len(texts), "words": total_words, "bigrams": dict(sorted(counts.items()))}
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=0) + "\n", "utf-8")
    print(f"{out.relative_to(ROOT)}: {len(counts)} bigrams from {total_words} words in {len(texts)} texts")


if __name__ == "__main__":
    main()
