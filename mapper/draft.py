"""A draft mapping from a sample file: the repeating records, and a guess for each field with its reason.

``hub source new NAME --sample FILE`` calls ``draft``: it finds the records (the most repeated XML element
that holds fields, the longest JSON list of objects, every JSON line or CSV row), reads the fields of the
first records, and proposes canonical rules by the field's name (``фамилия``/``surname``/``last_name`` →
family name …) and by the shape of its values (DD.MM.YYYY → a ``ru`` date, eleven digits whose checksum
holds → a SNILS …). Each guess carries a comment saying why; what is not guessed is listed as unmapped. The
draft is a start for a person, not a finished mapping: it only proposes persons.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from schemas.identifiers import normalize_snils, snils_check_digits

SAMPLE_RECORDS = 200

# canonical field → name fragments (lower case, without separators) that suggest it
NAMES = {  # in order: the first that fits wins ("fullname" is a full name before it is a "name")
    "full_name": ("фио", "fio", "fullname", "полноеимя"),
    "family_name": ("фамилия", "surname", "lastname", "familyname", "family", "last", "fam"),
    "given_name": ("имя", "firstname", "givenname", "forename", "first", "given", "name"),
    "patronymic": ("отчество", "patronymic", "middlename", "middle"),
    "birth_date": ("датарождения", "рождения", "birthdate", "dateofbirth", "birth", "dob", "born", "dr"),
    "sex": ("пол", "sex", "gender"),
    "address": ("адрес", "address", "addr", "adres", "residence"),
    "phone": ("телефон", "phone", "tel", "mobile"),
    "snils": ("снилс", "snils"),
    "id": ("id", "номер", "код", "uuid", "guid", "key", "number", "no", "nomer"),
}
SEX_CODES = {"м": "male", "муж": "male", "мужской": "male", "m": "male", "male": "male", "ж": "female",
             "жен": "female", "женский": "female", "f": "female", "female": "female", "w": "female"}
_DATE_SHAPES = ((re.compile(r"^\d{2}\.\d{2}\.\d{4}$"), "ru"), (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "iso"),
                (re.compile(r"^\d{4}-\d{2}-\d{2}T"), "iso_datetime"),
                (re.compile(r"^\d{2}/\d{2}/\d{4}$"), "%d/%m/%Y"))
_PHONE = re.compile(r"^\+?[78]?[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}$")


@dataclass
class Guess:
    """A proposed rule for one canonical field: the source path and why."""

    canonical: str
    path: str
    why: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Draft:
    kind: str
    select: str
    namespaces: dict[str, str]
    guesses: list[Guess]
    unmapped: list[str]
    records_seen: int
    csv: dict[str, str] = field(default_factory=dict)


def detect_kind(name: str, data: bytes) -> str:
    suffix = name.lower().rsplit(".", 1)[-1]
    if suffix in ("xml", "json", "jsonl", "csv"):
        return suffix
    head = data.lstrip()[:1]
    return "xml" if head == b"<" else "json" if head in (b"{", b"[") else "csv"


def draft(data: bytes, kind: str, encoding: str = "utf-8", delimiter: str | None = None) -> Draft:
    """The records and field guesses of a sample payload."""
    dialect = ""
    if kind == "xml":
        select, namespaces, records = _xml_records(data)
    elif kind == "json":
        select, namespaces, records = _json_records(json.loads(data))
    elif kind == "jsonl":
        select, namespaces = "*", {}
        records = [_flatten(json.loads(line)) for line in data.splitlines()[:SAMPLE_RECORDS] if line.strip()]
    else:
        select, namespaces = "*", {}
        text = data.decode(encoding)
        dialect = delimiter or csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        records = list(csv.DictReader(io.StringIO(text), delimiter=dialect))[:SAMPLE_RECORDS]
    guesses, unmapped = _guess(records)
    options = {"delimiter": dialect, "encoding": encoding} if kind == "csv" else {}
    return Draft(kind, select, namespaces, guesses, unmapped, len(records), options)


def _xml_records(data: bytes) -> tuple[str, dict[str, str], list[dict[str, str]]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(data, parser)
    prefixes: dict[str, str] = {}
    for el in root.iter():
        for prefix, uri in (el.nsmap or {}).items():
            if uri not in prefixes.values():
                prefixes[prefix or ("d" if "d" not in prefixes else f"n{len(prefixes)}")] = uri
    by_uri = {u: p for p, u in prefixes.items()}

    def qname(el: Any) -> str:
        q = etree.QName(el)
        return f"{by_uri[q.namespace]}:{q.localname}" if q.namespace else q.localname

    counts = Counter(qname(el) for el in root.iter()
                     if isinstance(el.tag, str) and len(el) + len(el.attrib) >= 2 and el is not root)
    if not counts:
        raise ValueError("no repeating element with fields in the sample")
    select = max(counts, key=lambda t: (counts[t], -len(t)))
    records = []
    for el in root.iter():
        if isinstance(el.tag, str) and el is not root and qname(el) == select:
            fields = {f"@{etree.QName(k).localname}": v for k, v in el.attrib.items()}
            for child in el.iter():
                leaf = isinstance(child.tag, str) and len(child) == 0 and (child.text or "").strip()
                if child is not el and leaf:
                    chain, node = [], child
                    while node is not el:
                        chain.append(qname(node))
                        node = node.getparent()
                    fields["/".join(reversed(chain))] = child.text.strip()
            records.append(fields)
            if len(records) >= SAMPLE_RECORDS:
                break
    return select, prefixes, records


def _json_records(doc: Any) -> tuple[str, dict[str, str], list[dict[str, str]]]:
    best: tuple[int, str, list[Any]] = (0, "", [])

    def walk(node: Any, path: str) -> None:
        nonlocal best
        if isinstance(node, list):
            objects = [n for n in node if isinstance(n, dict)]
            if len(objects) > best[0]:
                best = (len(objects), f"{path}[*]", objects)
            for item in objects[:3]:
                for key, value in item.items():
                    walk(value, f"{path}[*].{key}".lstrip("."))
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}".lstrip("."))

    walk(doc, "")
    if not best[0]:
        raise ValueError("no list of objects in the sample")
    return best[1].lstrip("."), {}, [_flatten(r) for r in best[2][:SAMPLE_RECORDS]]


def _flatten(obj: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif not isinstance(obj, list) and obj is not None:
        out[prefix] = str(obj)
    return out


def _norm(name: str) -> str:
    last = re.split(r"[/.:@]", name)[-1]
    return re.sub(r"[\W_]+", "", last.lower())


def _shape_share(values: list[str], test: Any) -> float:
    return sum(1 for v in values if test(v)) / max(1, len(values))


def _is_snils(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    try:
        return normalize_snils(value)[9:] == snils_check_digits(digits[:9])
    except ValueError:
        return False


def _guess(records: list[dict[str, str]]) -> tuple[list[Guess], list[str]]:
    values: dict[str, list[str]] = {}
    for rec in records:
        for key, value in rec.items():
            if value and value.strip():
                values.setdefault(key, []).append(value.strip())
    taken: dict[str, Guess] = {}
    for path, vals in values.items():
        guess = _one(path, vals, len(records))
        if guess is not None and guess.canonical not in taken:
            taken[guess.canonical] = guess
    used = {g.path for g in taken.values()}
    return list(taken.values()), sorted(p for p in values if p not in used)


def _one(path: str, vals: list[str], n: int) -> Guess | None:
    name = _norm(path)
    by_name = next((c for c, frags in NAMES.items() if any(name == f or (len(f) > 3 and f in name)
                                                              for f in frags)), None)
    date_fmt = next((fmt for regex, fmt in _DATE_SHAPES if _shape_share(vals, regex.match) >= 0.8), None)
    if _shape_share(vals, _is_snils) >= 0.8:
        return Guess("snils", path, f"{_pct(vals, _is_snils)} of the values are 11 digits with a valid SNILS "
                     "checksum")
    if date_fmt and by_name == "birth_date":
        return Guess("birth_date", path, f"named like a birth date; values shaped as {date_fmt} dates",
                     {"date": [date_fmt]})
    distinct = {v.lower() for v in vals}
    if by_name == "sex" or (len(distinct) <= 3 and distinct <= set(SEX_CODES)):
        table = {v: SEX_CODES[v.lower()] for v in sorted(set(vals)) if v.lower() in SEX_CODES}
        if table:
            why = f"values {', '.join(sorted(table))} read as sex codes"
            return Guess("sex", path, why, {"table": table})
    if by_name == "full_name" or (by_name is None and _shape_share(vals, _three_words) >= 0.8):
        return Guess("full_name", path, "values are three words (surname, given name, patronymic)")
    if by_name in ("family_name", "given_name", "patronymic", "address"):
        return Guess(by_name, path, f"the field's name {path.rsplit('/', 1)[-1]!r} suggests {by_name}")
    if _shape_share(vals, _PHONE.match) >= 0.8:
        return Guess("phone", path, "values are Russian phone numbers")
    if by_name == "id" or (len(set(vals)) == len(vals) == n and n > 1 and by_name is None and not date_fmt
                           and _shape_share(vals, lambda v: " " not in v) == 1):
        why = "named like an id" if by_name == "id" else "unique in every record, no spaces"
        return Guess("id", path, why)
    if date_fmt:
        return Guess("birth_date", path, f"the only date-shaped field ({date_fmt})", {"date": [date_fmt]})
    return None


def _three_words(value: str) -> bool:
    parts = value.split()
    return len(parts) == 3 and all(p[:1].isupper() and p.replace("-", "").isalpha() for p in parts)


def _pct(vals: list[str], test: Any) -> str:
    return f"{round(100 * _shape_share(vals, test))}%"


def render(d: Draft, name: str) -> str:
    """The draft as a mapping file: every guess with its reason, the unmapped fields listed at the end."""
    g = {x.canonical: x for x in d.guesses}
    out = [f"# Draft mapping written by `hub source new {name}` from a sample of {d.records_seen} records.",
           "# Every rule below is a guess with its reason: check each, then `hub mapping check` and",
           "# `hub mapping run --sample`. The draft only proposes persons; add families, cases, services.",
           f"mapping: {name}", "version: 0.1.0", f"source: {name}", f"format: {d.kind}"]
    if d.csv:
        out.append("csv: " + json.dumps(d.csv, ensure_ascii=False))
    if d.namespaces:
        out.append("namespaces:")
        out += [f"  {p}: {json.dumps(u)}" for p, u in sorted(d.namespaces.items())]
    if "sex" in g:
        out += ["tables:", "  sex: " + json.dumps(g["sex"].extra["table"], ensure_ascii=False)]
    out += ["records:", "  - name: record", f"    select: {json.dumps(d.select, ensure_ascii=False)}",
            "    emit:", "      - kind: person"]
    ident = g.get("id")
    out.append(f"        id: {_rule(ident.path, d.kind)}  # {ident.why}" if ident else
               "        id: {const: TODO}  # no id-like field found: name the field that identifies a record")
    out.append("        fields:")
    full = g.get("full_name")
    for canonical, group in (("family_name", 1), ("given_name", 2), ("patronymic", 3)):
        if canonical in g:
            out.append(f"          {canonical}: {_rule(g[canonical].path, d.kind)}  # {g[canonical].why}")
        elif full:
            regex = "^" + r"\S+\s+" * (group - 1) + r"(\S+)"  # single-quoted in YAML: no escapes
            out.append(f"          {canonical}: {{path: {_q(full.path, d.kind)}, regex: '{regex}'}}"
                       f"  # word {group} of {full.path!r}: {full.why}")
    if "birth_date" in g:
        fmt = json.dumps(g["birth_date"].extra["date"])
        out.append(f"          birth_date: {{path: {_q(g['birth_date'].path, d.kind)}, date: {fmt}}}"
                   f"  # {g['birth_date'].why}")
    if "sex" in g:
        out.append(f"          sex: {{path: {_q(g['sex'].path, d.kind)}, code: sex}}  # {g['sex'].why}")
    idents = [f"            - {{kind: snils, value: {_rule(g['snils'].path, d.kind)}}}  # {g['snils'].why}"
              ] if "snils" in g else []
    if ident:
        idents.append(f"            - {{kind: local, system: {name}, value: {_rule(ident.path, d.kind)}}}")
    if idents:
        out += ["          identifiers:", *idents]
    if "address" in g:
        rule = _rule(g["address"].path, d.kind)
        out += ["          addresses:",
                f"            - {{kind: residence, text: {rule}}}  # {g['address'].why}"]
    if "phone" in g:
        rule = _rule(g["phone"].path, d.kind)
        out += ["          contacts:", f"            - {{kind: phone, value: {rule}}}  # {g['phone'].why}"]
    if d.unmapped:
        out.append("# not mapped (no guess): " + ", ".join(d.unmapped))
    return "\n".join(out) + "\n"


def _q(path: str, kind: str) -> str:
    if kind == "xml":
        return json.dumps(path, ensure_ascii=False)
    plain = all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part) for part in path.split("."))
    return json.dumps(path if plain else ".".join(json.dumps(p, ensure_ascii=False) for p in path.split(".")),
                      ensure_ascii=False)


def _rule(path: str, kind: str) -> str:
    return f"{{path: {_q(path, kind)}}}"
