"""The audit log: append-only, chained by the database, signed by the hub, checkpointed outside both.

Every steward action, lineage query, raw-bytes view, disclosure query and push is appended here. Details
hold ids and counts only — never personal values.

* **Who**: ``actor`` is the Airflow run (``airflow:<dag>/<run>/<task>#<try>``) for DAG-driven rows, else the
  declared ``HUB_ACTOR`` or the OS user; ``os_user`` (always the operating-system account),
  ``declared_actor`` (``HUB_ACTOR`` as given) and ``airflow_run`` are recorded beside it.
* **Chain**: the database computes ``prev_hash`` and ``hash`` in a trigger (migration 0011): a client
  cannot supply them.
* **Signature**: ``signed`` is the exact JSON text of the row's content; ``signature`` its Ed25519
  signature with the hub's key (``registry.audit_keys``), which the database never sees.
* **Checkpoints**: ``checkpoint`` writes the chain head, signed, outside the database.

``verify`` checks every row (chain link, hash, signature, content against ``signed``), every checkpoint
(its row still there with its hash: a cut tail or a recomputed chain is named) and lists every problem.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from typing import Any

import psycopg2.extensions

from registry import audit_keys
from schemas.settings import settings

Conn = psycopg2.extensions.connection
GENESIS = "0" * 64
_AT = "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


def os_user() -> str:
    """The operating-system account (``USER``, else the passwd entry of the uid)."""
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (containers)
        return f"uid:{os.getuid()}"


def airflow_run() -> str | None:
    """``<dag>/<run>/<task>#<try>`` inside an Airflow task (Airflow exports ``AIRFLOW_CTX_*``)."""
    dag, run = os.environ.get("AIRFLOW_CTX_DAG_ID"), os.environ.get("AIRFLOW_CTX_DAG_RUN_ID")
    if not dag or not run:
        return None
    task, attempt = os.environ.get("AIRFLOW_CTX_TASK_ID", "?"), os.environ.get("AIRFLOW_CTX_TRY_NUMBER", "?")
    return f"{dag}/{run}/{task}#{attempt}"


def actor() -> str:
    """Who is acting: the Airflow run, else ``HUB_ACTOR``, else the operating-system user."""
    run = airflow_run()
    return f"airflow:{run}" if run else settings().actor or os_user()


def content_text(who: str, action: str, kind: str | None, oid: str | None, details: Any, user: str,
                 declared: str | None, run: str | None) -> str:
    return json.dumps([who, action, kind, oid, details, user, declared, run], ensure_ascii=False,
                      sort_keys=True, separators=(",", ":"))


def row_hash(prev: str, audit_id: int, at: str, signed: str | None, signature: str | None) -> str:
    """What the trigger of migration 0011 computes, recomputed outside the database."""
    inner = hashlib.sha256((signed or "").encode()).hexdigest()
    return hashlib.sha256(f"{prev}|{audit_id}|{at}|{inner}|{signature or ''}".encode()).hexdigest()


def append(
    conn: Conn,
    action: str,
    object_kind: str | None = None,
    object_id: str | None = None,
    details: dict[str, Any] | None = None,
    who: str | None = None,
) -> int:
    """Append one signed entry (in the caller's transaction) and return its id."""
    who, details = who or actor(), details or {}
    user, declared, run = os_user(), settings().actor, airflow_run()
    signed = content_text(who, action, object_kind, object_id, details, user, declared, run)
    sign = audit_keys.signer()
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO audit_log (actor, action, object_kind, object_id, details, prev_hash, hash, signed,
                                      signature, key_id, os_user, declared_actor, airflow_run)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING audit_id""",
            (who, action, object_kind, object_id, json.dumps(details, ensure_ascii=False), GENESIS, GENESIS,
             signed, sign.sign(signed), sign.key_id, user, declared, run),
        )
        out = cur.fetchone()
    assert out is not None
    return int(out[0])


def head(conn: Conn) -> tuple[int, str, int] | None:
    """(id, hash, rows) of the chain's last row."""
    with conn.cursor() as cur:
        cur.execute("SELECT audit_id, hash, (SELECT count(*) FROM audit_log) FROM audit_log "
                    "ORDER BY audit_id DESC LIMIT 1")
        row = cur.fetchone()
    return (int(row[0]), str(row[1]), int(row[2])) if row else None


def checkpoint(conn: Conn) -> dict[str, Any] | None:
    """Write the chain head as a signed checkpoint outside the database (after each night)."""
    top = head(conn)
    if top is None:
        return None
    return audit_keys.write_checkpoint(*top, database=_database(conn))


def _database(conn: Conn) -> str:
    """The registry a checkpoint belongs to: its name and the database's oid, so a registry dropped and
    created again under the same name (``hub demo`` resets its own) is a new registry, not a rewritten one,
    while a log emptied or rebuilt inside the same database is still checked against its checkpoints."""
    with conn.cursor() as cur:
        cur.execute("SELECT datname, oid FROM pg_database WHERE datname = current_database()")
        row = cur.fetchone()
    return f"{row[0]}#{row[1]}" if row else "?"


def verify(conn: Conn, limit: int = 50) -> dict[str, Any]:
    """Check rows, signatures and checkpoints; report every problem (the first ``limit`` of them)."""
    problems: list[dict[str, Any]] = []
    keys, prev, count, hashes = audit_keys.public_keys(), GENESIS, 0, {}
    legacy = 0
    with conn.cursor(name="audit_verify") as cur:
        cur.itersize = 5000
        cur.execute(f"""SELECT audit_id, {_AT}, actor, action, object_kind, object_id, details, prev_hash,
                               hash, signed, signature, key_id, os_user, declared_actor, airflow_run
                        FROM audit_log ORDER BY audit_id""")
        for row in cur:
            count += 1
            if legacy == count - 1 and _legacy_row(row, prev):
                legacy, prev = legacy + 1, str(row[8])  # chained before signatures existed (migration 0011)
                hashes[int(row[0])] = prev
                continue
            problem = _row_problem(row, prev, keys)
            if problem is not None:
                problems.append({"audit_id": row[0], "problem": problem})
            prev = str(row[8])
            hashes[int(row[0])] = str(row[8])
    checkpoints, unreadable = audit_keys.read_checkpoints(_database(conn))
    problems += [{"audit_id": None, "problem": p} for p in unreadable]
    for point in checkpoints:
        stored = hashes.get(int(point["audit_id"]))
        if stored is None:
            problems.append({"audit_id": point["audit_id"], "problem":
                             f"checkpoint of {point['at']} names row {point['audit_id']}, which is gone: the "
                             "log's tail was cut"})
        elif stored != point["hash"]:
            problems.append({"audit_id": point["audit_id"], "problem":
                             f"row {point['audit_id']} no longer has the hash checkpointed at {point['at']}: "
                             "the chain was recomputed"})
    first = next((p["audit_id"] for p in problems if p["audit_id"] is not None), None)
    return {"ok": not problems, "rows": count, "legacy_rows": legacy, "checkpoints": len(checkpoints),
            "first_broken": first,
            "problem": problems[0]["problem"] if problems else None, "problems": problems[:limit],
            "problem_count": len(problems)}


def _legacy_row(row: tuple[Any, ...], prev: str) -> bool:
    """A row of the first, client-chained log (before 0011): unsigned, hashed over its JSON content."""
    _, at, who, action, kind, oid, details, stored_prev, stored, signed = row[:10]
    if signed is not None or stored_prev != prev:
        return False
    text = json.dumps([at, who, action, kind, oid, details], ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256((prev + text).encode()).hexdigest() == str(stored)


def _row_problem(row: tuple[Any, ...], prev: str, keys: dict[str, Any]) -> str | None:
    (audit_id, at, who, action, kind, oid, details, stored_prev, stored, signed, signature, kid, user,
     declared, run) = row
    if stored_prev != prev:
        return "chain broken (a row is missing or reordered before this one)"
    if row_hash(prev, audit_id, at, signed, signature) != stored:
        return "row edited (its hash does not match)"
    if signed is None:
        return "unsigned row (written without the hub's key)"
    if not audit_keys.valid(keys, kid, signed, signature):
        return "signature invalid or by an unknown key"
    if signed != content_text(who, action, kind, oid, details, user, declared, run):
        return "row edited (its content differs from what was signed)"
    return None


def recent(conn: Conn, limit: int = 30) -> list[dict[str, Any]]:
    """The newest rows: who, what, which object (details stay out: ids and counts only anyway)."""
    with conn.cursor() as cur:
        cur.execute("""SELECT audit_id, at, actor, action, object_kind, object_id FROM audit_log
                       ORDER BY audit_id DESC LIMIT %s""", (limit,))
        keys = ("audit_id", "at", "actor", "action", "object_kind", "object_id")
        return [dict(zip(keys, row, strict=True)) for row in cur.fetchall()]
