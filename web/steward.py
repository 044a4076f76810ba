"""The data steward's pages: the review queue, a pair side by side with its explanation, the decisions.

The decisions are the CLI's own (``matching.steward``): the same registry changes, the same
``steward_decision`` and audit rows, with the steward's sign-in name as the actor and their reason kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matching import steward as ops
from matching.model_report import build as build_model_report
from web import charts, labels, model_report
from web.app import render
from web.auth import User, require
from web.db import registry

router = APIRouter(prefix="/steward")
# What a redirect may ask the next page to say: codes only, so a crafted link cannot put words there.
_DONE = {"accept": "Решение записано: пара принята.", "reject": "Решение записано: пара отклонена.",
         "unmerged": "Запись выделена в новую персону реестра."}
Signed = Annotated[User, Depends(require("steward"))]
FIELDS = labels.ATTRIBUTES
COMPARISONS = labels.COMPARISONS


@router.get("", response_class=HTMLResponse, name="steward_queue")
def queue(request: Request, user: Signed, status: str = "open") -> HTMLResponse:
    """Open items, strongest weight first, the oldest first among equal weights."""
    status = status if status in ("open", "accepted", "rejected") else "open"
    with registry(request) as conn:
        items = ops.list_reviews(conn, status, limit=200)
        counts = ops.review_counts(conn)
    return render(request, "steward_queue.html", user=user, title="Очередь проверки совпадений",
                  items=items, counts=counts, status=status,
                  flash=_DONE.get(request.query_params.get("done", "")))


@router.get("/review/{review_id}", response_class=HTMLResponse, name="steward_review")
def review(request: Request, user: Signed, review_id: int) -> HTMLResponse:
    with registry(request) as conn:
        item = ops.show_review(conn, review_id, who=user.actor)
        record_person = ops.current_person(conn, item["source"], item["source_record_id"])
        context = {
            "record": ops.family_context(conn, record_person) if record_person else [],
            "candidate": ops.family_context(conn, item["candidate_id"]),
        }
    shared = _shared_members(context["record"], context["candidate"])
    title = f"Из чего сложился вес {item['score']:.2f}"
    chart = None
    if item["comparisons"]:
        named = {COMPARISONS.get(k, k): v for k, v in item["comparisons"].items()}
        chart = charts.waterfall(item["prior_weight"], named, title)
    return render(request, "steward_review.html", user=user, title=f"Проверка пары № {review_id}",
                  item=item, fields=FIELDS, comparison_names=COMPARISONS,
                  rows=_rows(item), chart=chart, context=context, shared=shared,
                  record_person=record_person, flash=_DONE.get(request.query_params.get("done", "")))


@router.get("/model", response_class=HTMLResponse, name="steward_model")
def model(request: Request, user: Signed) -> HTMLResponse:
    """The person model behind the weights: parameters, charts, thresholds with expected precision/recall."""
    with registry(request) as conn:
        report = build_model_report(conn)
    return render(request, "steward_model.html", user=user, title="Модель сопоставления персон",
                  **model_report.context(report["version"], report["parameters"], report["quality"]))


@router.post("/review/{review_id}", name="steward_decide")
def decide(review_id: int, request: Request, user: Signed, decision: Annotated[str, Form()],
           reason: Annotated[str, Form()] = "") -> Response:
    if decision not in ("accept", "reject"):
        return RedirectResponse(request.url_for("steward_review", review_id=review_id), status_code=303)
    with registry(request) as conn:
        ops.decide_review(conn, review_id, decision == "accept", who=user.actor,
                          reason=reason.strip() or None)
    return RedirectResponse(f"{request.url_for('steward_review', review_id=review_id)}?done={decision}",
                            status_code=303)


@router.post("/unmerge", name="steward_unmerge")
def unmerge(request: Request, user: Signed, registry_id: Annotated[str, Form()],
            source: Annotated[str, Form()], source_record_id: Annotated[str, Form()],
            reason: Annotated[str, Form()], back: Annotated[int, Form()] = 0) -> Response:
    with registry(request) as conn:
        result = ops.unmerge(conn, registry_id.strip(), source.strip(), source_record_id.strip(),
                             who=user.actor, reason=reason.strip() or None)
    target = request.url_for("steward_review", review_id=back) if back else request.url_for("steward_queue")
    return RedirectResponse(f"{target}?done=unmerged&new={result['new_id']}", status_code=303)


def _rows(item: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(label, record value, candidate value, equal) for each field either side has."""
    left, right = _flat_record(item["record"]), _flat_golden(item["candidate"])
    out = []
    for key, label in FIELDS.items():
        a, b = left.get(key), right.get(key)
        if a is None and b is None:
            continue
        out.append((label, a or "—", b or "—", a == b))
    return out


def _flat_record(record: dict[str, Any]) -> dict[str, str | None]:
    """A staged canonical person as the golden record spells it: a value per identifier kind, one address."""
    names = ("family_name", "given_name", "patronymic", "birth_date", "sex")
    flat: dict[str, str | None] = {k: _text(record.get(k)) for k in names}
    for ident in record.get("identifiers") or []:
        flat.setdefault(str(ident.get("kind")), str(ident.get("value")))
    addresses = record.get("addresses") or []
    flat["address"] = labels.address(addresses[0]) if addresses else None
    return flat


def _flat_golden(golden: dict[str, Any]) -> dict[str, str | None]:
    flat = {k: _text(v) for k, v in golden.items() if k not in ("sources", "address")}
    flat["address"] = labels.address(golden["address"]) if isinstance(golden.get("address"), dict) else None
    return flat


def _text(value: Any) -> str | None:
    return None if value is None else labels.human(value)


def _shared_members(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> set[str]:
    """Registry persons who are members of a household on both sides (family support for the pair)."""
    def members(families: list[dict[str, Any]]) -> set[str]:
        return {m["person_id"] for f in families for m in f["members"]}

    return members(left) & members(right)
