"""The auditor's pages: find a person, family or source record; follow each value down to the raw bytes.

Every page that shows a person (or a family's members) is appended to the audit log in the transaction
that read it, with the viewer and the purpose they stated; the purpose is asked before anything is shown.
Raw bytes are handed out only by a form post with a reason, like ``hub lineage raw``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from registry import audit, disclosures
from registry.history import LineageError
from registry.lineage_family import family_view
from registry.lineage_forward import raw_bytes, raw_payloads, source_view
from registry.lineage_views import person_view
from web.app import render
from web.auth import User, require
from web.db import registry

router = APIRouter(prefix="/auditor")
Signed = Annotated[User, Depends(require("auditor"))]
_PURPOSE_MAX = 200
_SHA = re.compile(r"^[0-9a-fA-F]{64}$")
_ENTITY = re.compile(r"[PF]\d{9}")
_SOURCE = re.compile(r"[a-z][a-z0-9_]{1,63}")  # source_system.code's own pattern
_RECORD = re.compile(r"[^\x00-\x1f\x7f]{1,300}")


def _purpose(text: str) -> str:
    """The stated purpose, one line, bounded (it is kept in the audit log as the auditor wrote it)."""
    return " ".join(text.split())[:_PURPOSE_MAX]


@router.get("", response_class=HTMLResponse, name="auditor_search")
def search(request: Request, user: Signed, q: str = "", purpose: str = "", as_of: str = "") -> Response:
    """A registry id (P…, F…) or ``source:record`` → its page, once a purpose is given."""
    q, why = q.strip(), _purpose(purpose)
    if not q or not why:
        error = "Укажите идентификатор и цель просмотра." if (q or purpose) else None
        return render(request, "auditor_search.html", user=user, title="Происхождение данных", q=q,
                      purpose=why, as_of=as_of, error=error)
    query = "?" + urlencode({"purpose": why, **({"as_of": as_of.strip()} if as_of.strip() else {})})
    source, _, record = q.partition(":")
    if _ENTITY.fullmatch(q.upper()):
        url = request.url_for("auditor_entity", entity_id=q.upper())
    elif record.strip() and _SOURCE.fullmatch(source.strip()) and _RECORD.fullmatch(record.strip()):
        # quoted: an agency's id may hold ? # % (Starlette's path parameters are not encoded for us)
        url = request.url_for("auditor_source", source=source.strip(),
                              record_id=quote(record.strip(), safe="/"))
    else:
        return render(request, "auditor_search.html", status_code=400, user=user,
                      title="Происхождение данных", q="", purpose=why, as_of=as_of, error=(
                          "Это не идентификатор реестра (P000000123, F000000045) и не запись источника "
                          "(источник:идентификатор)."))
    return RedirectResponse(str(url) + query, status_code=303)


@router.get("/entity/{entity_id}", response_class=HTMLResponse, name="auditor_entity")
def entity(request: Request, user: Signed, entity_id: str, purpose: str = "",
           as_of: str | None = None) -> Response:
    why = _purpose(purpose)
    if not _ENTITY.fullmatch(entity_id):
        return render(request, "error.html", status_code=404, user=user, title="Не найдено",
                      message="Идентификатор реестра имеет вид P000000123 или F000000045.")
    if not why:
        return RedirectResponse(str(request.url_for("auditor_search")) + "?" + urlencode({"q": entity_id}),
                                status_code=303)
    kind = "family" if entity_id.startswith("F") else "person"
    with registry(request) as conn:
        try:
            view = family_view(conn, entity_id, as_of or None) if kind == "family" else person_view(
                conn, entity_id, as_of or None, verify_raw=True)
        except LineageError as exc:
            audit.append(conn, f"web.lineage.{kind}", kind, entity_id, {"purpose": why, "outcome": "error"},
                         who=user.actor)
            return render(request, "error.html", status_code=404, user=user, title="Не найдено",
                          message=str(exc))
        audit.append(conn, f"web.lineage.{kind}", kind, entity_id,
                     {"purpose": why, "as_of": as_of or None, "role": user.role}, who=user.actor)
    return render(request, f"auditor_{kind}.html", user=user, title=f"Происхождение: {entity_id}",
                  view=view, purpose=why, as_of=as_of or "")


@router.get("/source/{source}/{record_id:path}", response_class=HTMLResponse, name="auditor_source")
def source(request: Request, user: Signed, source: str, record_id: str, purpose: str = "") -> Response:
    why = _purpose(purpose)
    if not why:
        return RedirectResponse(str(request.url_for("auditor_search")) + "?"
                                + urlencode({"q": f"{source}:{record_id}"}), status_code=303)
    with registry(request) as conn:
        try:
            view = source_view(conn, source, record_id)
        except LineageError as exc:
            return render(request, "error.html", status_code=404, user=user, title="Не найдено",
                          message=str(exc))
        audit.append(conn, "web.lineage.source", "source_record", f"{source}:{record_id}",
                     {"purpose": why, "role": user.role}, who=user.actor)
    return render(request, "auditor_source.html", user=user, title=f"Запись {source} : {record_id}",
                  view=view, purpose=why)


@router.post("/raw", name="auditor_raw")
def raw(request: Request, user: Signed, sha256: Annotated[str, Form()], reason: Annotated[str, Form()],
        source: Annotated[str, Form()] = "") -> Response:
    """The bytes an agency sent, as a download, after a stated reason; the audit row names both."""
    why = _purpose(reason)
    if not _SHA.match(sha256) or not why:
        return render(request, "error.html", status_code=400, user=user, title="Нужна причина",
                      message="Укажите причину и контрольную сумму SHA-256 (64 шестнадцатеричных знака).")
    with registry(request) as conn:
        found = raw_payloads(conn, sha256, source or None)[0]
        data = b"".join(raw_bytes(conn, found))
        verified = hashlib.sha256(data).hexdigest() == sha256.lower()
        audit.append(conn, "lineage.raw", "raw_payload", sha256.lower(),
                     {"source": found["source"], "table": found["table"], "id": found["id"],
                      "bytes": len(data), "to": "web", "verified": verified, "purpose": why}, who=user.actor)
    if not verified:
        return render(request, "error.html", status_code=409, user=user, title="Байты повреждены",
                      message="Сохранённые байты не совпадают с контрольной суммой.")
    # The agency chose this content type: only its token characters reach a header, never as the type.
    kind = re.sub(r"[^A-Za-z0-9.+/-]", "", str(found.get("content_type") or "").split(";")[0])[:60]
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{sha256.lower()[:16]}.raw"',
        "X-Hub-Content-Type": kind or "unknown"})


@router.get("/audit", response_class=HTMLResponse, name="auditor_audit")
def audit_status(user: Signed, request: Request) -> HTMLResponse:
    with registry(request) as conn:
        result = audit.verify(conn)
        recent = audit.recent(conn)
    return render(request, "auditor_audit.html", user=user, title="Журнал аудита", result=result,
                  recent=recent)


@router.get("/disclosures", response_class=HTMLResponse, name="auditor_disclosures")
def disclosure_register(request: Request, user: Signed, person: str = "", agency: str = "") -> HTMLResponse:
    with registry(request) as conn:
        counts = disclosures.counts(conn)
        rows = disclosures.listing(conn, person.strip().upper() or None, agency.strip() or None, limit=200) \
            if person or agency else []
        if person or agency:  # a listing names persons, whichever filter chose them
            audit.append(conn, "web.disclosures", "person" if person else "agency",
                         (person.strip().upper() or agency.strip())[:64], {"rows": len(rows)}, who=user.actor)
    return render(request, "auditor_disclosures.html", user=user, title="Реестр передачи сведений",
                  counts=counts, rows=rows, person=person, agency=agency)

