"""``hub bench match --dataset latin``: two agencies of non-Russian names in Latin script, by YAML only.

The generator (ours, unlike the sandbox): English, Spanish, Polish, Vietnamese, Armenian, Georgian and
Uzbek names in Latin; agency A sends CSV, agency B JSON Lines, each with its own field names. Noise in B:
other spellings of a name (Smyth, Kathryn), typos in names, missing given or family names and birth
dates, day/month swaps, a numeric shared social id
that is missing or mistyped, moved addresses with non-Russian postcodes; a few people twice in B. Both
files go through ``file_drop`` sources and mappings written here, then the hub reconciles with the shipped
model; a second registry's first reconcile fits its own model on the unlabelled staged persons (as a
deployment's would, ``fit_on_first_reconcile``) and reconciles with it; a steward who knows the truth
works each registry's review queue (``bench.steward``: reviews to reach the recall target), the fitted
registry trains again with those decisions as labels, and a third registry runs the labelled model. In the
same run, plain Splink dedupes the same staged persons. Numbers, never assertions.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

GIVEN_F = ["Elizabeth", "Michaela", "Sophie", "Grace", "Chloe", "Emily", "Lucia", "Carmen", "Agnieszka",
           "Malgorzata", "Thi Lan", "Ngoc Anh", "Anahit", "Lusine", "Nino", "Tamar", "Dilnoza", "Gulnora",
           "Siobhan", "Isabel", "Hannah", "Olivia", "Amelia", "Isla"]
GIVEN_M = ["James", "Oliver", "Thomas", "William", "Jack", "Jose", "Miguel", "Carlos", "Wojciech", "Piotr",
           "Krzysztof", "Minh", "Quang Huy", "Armen", "Tigran", "Giorgi", "Levan", "Bobur", "Sardor",
           "Patrick", "Daniel", "Samuel", "Noah", "George"]
FAMILY = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
          "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Garcia",
          "Martinez", "Rodriguez", "Lopez", "Hernandez", "Gonzalez", "Kowalski", "Nowak", "Wisniewski",
          "Wojciechowski", "Kaminski", "Nguyen", "Tran", "Le", "Pham", "Hoang", "Petrosyan", "Hovhannisyan",
          "Grigoryan", "Sargsyan", "Beridze", "Kapanadze", "Gelashvili", "Tsiklauri", "Karimov", "Tursunov",
          "Rakhimov", "Yusupov", "O'Connor", "Murphy", "Kelly", "Byrne", "Medina", "Castillo"]
FEMININE = {"Kowalski": "Kowalska", "Wisniewski": "Wisniewska", "Wojciechowski": "Wojciechowska",
            "Kaminski": "Kaminska", "Karimov": "Karimova", "Tursunov": "Tursunova", "Rakhimov": "Rakhimova",
            "Yusupov": "Yusupova"}
STREETS = ["High Street", "Station Road", "Church Lane", "Calle Mayor", "ul. Polna", "Le Loi", "Mashtots Ave",
           "Rustaveli Ave", "Amir Temur", "Mill Road", "Victoria Road", "Park Avenue"]
# Spellings one person's name is written in by different clerks (the data's own, not the generator's typos).
SPELLINGS = {"Elizabeth": "Elisabeth", "Sophie": "Sofie", "Michaela": "Mikaela", "Chloe": "Khloe",
             "Isabel": "Isobel", "Hannah": "Hanna", "Lucia": "Lucja", "Thomas": "Tomas", "Daniel": "Danyal",
             "Samuel": "Samwel", "Patrick": "Patrik", "Jose": "Josè", "Carlos": "Karlos", "Oliver": "Olivier",
             "Smith": "Smyth", "Thompson": "Tompson", "Davies": "Davis", "Nguyen": "Nguien",
             "Petrosyan": "Petrosian", "Grigoryan": "Grigorian", "Gelashvili": "Gelashvily",
             "Hernandez": "Ernandez", "Gonzalez": "Gonsales", "Kelly": "Kelley", "Byrne": "Beirne",
             "Roberts": "Robertz", "Kowalski": "Kovalski", "Kowalska": "Kovalska", "Karimov": "Qarimov",
             "Karimova": "Qarimova", "Yusupov": "Jusupov", "Yusupova": "Jusupova"}
CITIES = ["Leeds", "Bristol", "Madrid", "Krakow", "Hanoi", "Yerevan", "Tbilisi", "Tashkent", "Dublin"]


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 2)
    kind = rng.choice(("swap", "drop", "double", "replace"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeioulnrst") + word[i + 1:]


def _social_id(rng: random.Random) -> str:
    digits = [rng.randrange(10) for _ in range(8)]
    return "".join(map(str, digits)) + str(sum(d * (i + 1) for i, d in enumerate(digits)) % 10)


def _people(n: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for pid in range(n):
        sex = rng.choice(("F", "M"))
        family = rng.choice(FAMILY)
        out.append({
            "pid": f"L{pid:06d}", "sex": sex,
            "given": rng.choice(GIVEN_F if sex == "F" else GIVEN_M),
            "family": FEMININE.get(family, family) if sex == "F" else family,
            "born": dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(30_000)),
            "social_id": _social_id(rng),
            "street": f"{rng.randrange(1, 200)} {rng.choice(STREETS)}", "city": rng.choice(CITIES),
            "postcode": f"{rng.choice('ABCDEFGHKLMNPRSTW')}{rng.randrange(1, 30)} {rng.randrange(1, 10)}"
                        f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
        })
    return out


def _noisy(p: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of ``p`` as agency B writes it; ``noise`` lists what was done (the truth's tags)."""
    q = dict(p)
    noise = []

    def roll(rate: float, tag: str, eligible: bool = True) -> bool:
        hit = rng.random() < rate and eligible  # one draw per kind, eligible or not: a stable stream
        if hit:
            noise.append(tag)
        return hit

    for part, rate in (("family", 0.06), ("given", 0.06)):
        if roll(rate, f"{part}_spelling", q[part] in SPELLINGS):
            q[part] = SPELLINGS[q[part]]
    if roll(0.15, "family_typo"):
        q["family"] = _typo(rng, q["family"])
    if roll(0.10, "given_typo"):
        q["given"] = _typo(rng, q["given"])
    if roll(0.03, "no_given"):
        q["given"] = None
    elif roll(0.02, "no_family"):
        q["family"] = None
    if roll(0.03, "no_birth_date"):
        q["born"] = None
    elif roll(0.03, "day_month_swap", q["born"].day <= 12 and q["born"].day != q["born"].month):
        q["born"] = q["born"].replace(day=q["born"].month, month=q["born"].day)
    if roll(0.30, "no_social_id"):
        q["social_id"] = None
    elif roll(0.05, "social_id_typo"):
        i = rng.randrange(len(q["social_id"]))
        q["social_id"] = q["social_id"][:i] + str((int(q["social_id"][i]) + 1) % 10) + q["social_id"][i + 1:]
    if roll(0.30, "moved"):
        q["street"], q["city"] = f"{rng.randrange(1, 200)} {rng.choice(STREETS)}", rng.choice(CITIES)
    if roll(0.10, "no_sex"):
        q["sex"] = None
    q["noise"] = noise
    return q


def generate(out: Path, people: int, seed: int) -> dict[str, int]:
    """Write ``a/people.csv``, ``b/people.jsonl`` and the truth; return the record counts."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible data set, not a secret)
    (out / "a").mkdir(parents=True)
    (out / "b").mkdir()
    (out / "truth" / "night-1").mkdir(parents=True)
    truth, a_rows, b_rows = [], [], []
    for p in _people(people, rng):
        if rng.random() < 0.85:
            a_rows.append(p)
            truth.append({"source": "latin_a", "source_record_id": f"A{len(a_rows)}", "kind": "person",
                          "pid": p["pid"], "fid": p["pid"]})
        for _ in range(2 if rng.random() < 0.05 else 1 if rng.random() < 0.85 else 0):
            b_rows.append(_noisy(p, rng))
            truth.append({"source": "latin_b", "source_record_id": f"B{len(b_rows)}", "kind": "person",
                          "pid": p["pid"], "fid": p["pid"], "noise": b_rows[-1]["noise"]})
    with (out / "a" / "people.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "surname", "forename", "dob", "sex", "social_id", "address", "postcode"])
        for i, p in enumerate(a_rows, 1):
            writer.writerow([f"A{i}", p["family"], p["given"], p["born"].strftime("%d/%m/%Y"), p["sex"],
                             p["social_id"], f"{p['street']}, {p['city']}", p["postcode"]])
    with (out / "b" / "people.jsonl").open("w", encoding="utf-8") as fh:
        for i, p in enumerate(b_rows, 1):
            rec = {"ref": f"B{i}", "name": {"last": p["family"], "first": p["given"]},
                   "birthDate": p["born"].isoformat() if p["born"] else None,
                   "gender": {"F": "female", "M": "male"}.get(p["sex"] or ""), "socialId": p["social_id"],
                   "address": {"line": p["street"], "city": p["city"], "postcode": p["postcode"]}}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    with (out / "truth" / "night-1" / "records-latin.jsonl").open("w", encoding="utf-8") as fh:
        for row in truth:
            fh.write(json.dumps(row) + "\n")
    return {"people": people, "records_a": len(a_rows), "records_b": len(b_rows)}


MAPPING_A = """\
mapping: latin_a
version: 1.0.0
source: latin_a
format: csv
tables: {sex: {M: male, F: female}}
records:
  - name: person
    select: "*"
    emit:
      - kind: person
        id: {path: id}
        fields:
          family_name: {path: surname}
          given_name: {path: forename}
          birth_date: {path: dob, date: ["%d/%m/%Y"]}
          sex: {path: sex, code: sex}
          identifiers:
            - {kind: local, system: social_id, value: {path: social_id}}
          addresses:
            - {kind: residence, text: {path: address}, postal_code: {path: postcode}}
"""
MAPPING_B = """\
mapping: latin_b
version: 1.0.0
source: latin_b
format: jsonl
records:
  - name: person
    select: "*"
    emit:
      - kind: person
        id: {path: ref}
        fields:
          within: name
          family_name: {path: last}
          given_name: {path: first}
          birth_date: {path: "^birthDate", date: [iso]}
          sex: {path: "^gender"}
          identifiers:
            - {kind: local, system: social_id, value: {path: "^socialId"}}
          addresses:
            - kind: residence
              street: {path: "^address.line"}
              locality: {path: "^address.city"}
              postal_code: {path: "^address.postcode"}
"""


SHARED_ID = os.environ.get("HUB_BENCH_LATIN_SHARED_ID", "1") != "0"
"""Declare the social id a shared identifier (set HUB_BENCH_LATIN_SHARED_ID=0 to measure without it)."""


def _configure(work: Path) -> dict[str, str]:
    """Mappings, a sources file and the two drop-folder connections; the environment that selects them."""
    (work / "latin_a.yaml").write_text(MAPPING_A, "utf-8")
    (work / "latin_b.yaml").write_text(MAPPING_B, "utf-8")
    sources = {code: {"agency": code, "agency_name": f"агентство {code}", "name": code,
                      "connector": "file_drop", "connection_id": f"{code}_drop",
                      "mapping": str(work / f"{code}.yaml"), "quarantine_threshold": 1.0,
                      "options": {"patterns": [pattern]}}
               for code, pattern in (("latin_a", "*.csv"), ("latin_b", "*.jsonl"))}
    shared = [{"system": "social_id", "name": "social id (9 digits, the last a check digit)",
               "pattern": r"^\d{9}$"}] if SHARED_ID else []
    config = {"sources": sources, "shared_identifiers": shared}
    (work / "sources.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    drops = {f"AIRFLOW_CONN_LATIN_{x.upper()}_DROP": json.dumps({"conn_type": "fs",
                                                               "extra": {"path": str(work / "data" / x)}})
             for x in ("a", "b")}
    return {"HUB_SOURCES": str(work / "sources.yaml"), "HUB_MODELS_DIR": str(work / "models"), **drops}


TARGET_RECALL = 0.99
"""The issue's recall target for this data set (the reviews curve says when the queue reaches it)."""


def _night(server_url: str, data: Path, fit: bool, then: Callable[[str], dict[str, Any]] | None = None,
           plain: bool = False) -> dict[str, Any]:
    """A fresh registry: pull both agencies, reconcile (``fit``: the first reconcile fits the registry's
    own model on its unlabelled staged persons, as a deployment's would), score; ``then`` works on the
    registry afterwards (a steward, a training run); ``plain``: plain Splink beside it."""
    from bench.match import _pull_all, fresh_database
    from bench.plain_splink import plain_splink
    from matching.config import load_config
    from matching.evaluate import evaluate
    from matching.reconcile import reconcile

    with fresh_database(server_url) as url:
        pulls = _pull_all(url)
        started = time.monotonic()
        stats = reconcile(url, config=load_config().model_copy(update={"fit_on_first_reconcile": fit}))
        seconds = round(time.monotonic() - started, 2)
        return {"pull_seconds": pulls, "reconcile_seconds": seconds, "model": stats.get("model_version"),
                "model_fitted": stats["model_fitted"], "drift": stats["drift"],
                "accuracy": evaluate(data, url)["persons"],
                "review_items": stats["persons"].get("review_items"),
                **({"plain": plain_splink(url, data)} if plain else {}), **(then(url) if then else {})}


def _steward(data: Path, labels: bool) -> Callable[[str], dict[str, Any]]:
    """A steward who knows the truth works the queue; with ``labels`` the registry then trains on the
    decisions (``hub matching train --labels``)."""
    from bench.steward import work_the_queue
    from matching.training import train_and_save

    def work(url: str) -> dict[str, Any]:
        out: dict[str, Any] = {"reviews": work_the_queue(url, data, TARGET_RECALL)}
        if labels:
            started = time.monotonic()
            path, used, summary = train_and_save(url, labels=True)
            out["train_labels"] = {"model": path.stem, "records": used, "labels": summary,
                                   "seconds": round(time.monotonic() - started, 2)}
        return out

    return work


def run(people: int, seed: int, server_url: str) -> dict[str, Any]:
    """Shipped model; the model the first reconcile fits on the same unlabelled records; that registry's
    steward works its queue and it trains again with the decisions as labels, and a fresh registry runs
    the labelled model. Plain Splink on the same staged persons."""
    work = Path(tempfile.mkdtemp(prefix="hub-bench-latin-"))
    saved = dict(os.environ)
    try:
        counts = generate(work / "data", people, seed)
        os.environ.update(_configure(work))
        (work / "models").mkdir()
        data = work / "data"
        shipped = _night(server_url, data, fit=False, then=_steward(data, False), plain=True)
        fitted = _night(server_url, data, fit=True, then=_steward(data, True))
        labelled = _night(server_url, data, fit=False)
        return {"dataset": "latin", "seed": seed, **counts,
                "hub_shipped_model": {k: v for k, v in shipped.items() if k != "plain"},
                "hub_fitted_model": fitted, "training": fitted["model_fitted"],
                "hub_labelled_model": labelled, "splink_plain": shipped["plain"]}
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(work, ignore_errors=True)
