"""The person model as a page: parameters, Splink-style charts, thresholds as probabilities with the expected
precision and recall on this registry (numbers from ``matching.model_report``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from web import charts
from web.labels import COMPARISONS


def context(version: str, params: dict[str, Any], quality: dict[str, Any]) -> dict[str, Any]:
    comps = []
    for c in params["comparisons"]:
        labels = [lv["label"] for lv in c["levels"]]
        name = COMPARISONS.get(c["name"], c["name"])
        comps.append({
            **c, "title": name,
            "weights_chart": charts.bars(labels, [lv["weight"] or 0.0 for lv in c["levels"]],
                                         f"{name}: вес каждого уровня", "вес совпадения"),
            "mu_chart": charts.grouped(
                labels, {"m (у одного человека)": [lv["m"] or 0.0 for lv in c["levels"]],
                         "u (у случайной пары)": [lv["u"] or 0.0 for lv in c["levels"]]},
                f"{name}: вероятности m и u", "вероятность"),
        })
    hist = quality["weight_histogram"]
    return {
        "version": version, "params": params, "quality": quality, "comparisons": comps,
        "generated": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "histogram_chart": charts.bars(list(hist), [float(v) for v in hist.values()],
                                       "Пары реестра по весу совпадения (от нижней границы, шаг 2)", "пар"),
    }


def report_html(report: dict[str, Any]) -> str:
    """A self-contained page (inline styles, charts as data-URI images)."""
    from web.app import HERE, templates

    return templates.get_template("model_report.html").render(
        **context(report["version"], report["parameters"], report["quality"]),
        css=(HERE / "static" / "hub.css").read_text("utf-8"))
