"""The 3-D Secure readiness report: summary figures, readiness.csv, and a self-contained HTML
page with a chart of readiness by country before and after (inline SVG, no scripts to fetch)."""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from connectors.artifacts import write_report
from schemas.readiness import CUSTOMER_ID, PROBLEMS


def _share(frame: pl.DataFrame) -> float:
    if frame.height == 0:
        return 0.0
    return round(frame.filter(pl.col(PROBLEMS).list.len() == 0).height / frame.height, 4)


def _problem_fields(frame: pl.DataFrame) -> dict[str, int]:
    counts = Counter(p.split(":", 1)[0] for ps in frame.get_column(PROBLEMS).to_list() for p in ps)
    return dict(counts.most_common())


def by_country(frame: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Per billing country: customers and ready customers."""
    grouped = frame.group_by(
        pl.col("billing.country_code").fill_null("(none)").alias("country")
    ).agg(pl.len().alias("customers"), (pl.col(PROBLEMS).list.len() == 0).sum().alias("ready"))
    return {r["country"]: {"customers": r["customers"], "ready": r["ready"]}
            for r in grouped.sort("country").iter_rows(named=True)}  # fmt: skip


def readiness_summary(before: pl.DataFrame, after: pl.DataFrame) -> dict[str, Any]:
    """Shares ready, problems by field, and by country, before and after."""
    return {
        "customers": before.height,
        "ready_before": _share(before),
        "ready_after": _share(after),
        "problems_before": _problem_fields(before),
        "problems_after": _problem_fields(after),
        "by_country_before": by_country(before),
        "by_country_after": by_country(after),
    }


def write_readiness(
    out_dir: Path,
    before: pl.DataFrame,
    after: pl.DataFrame,
    updated: set[str],
    report: dict[str, Any],
) -> None:
    """readiness.csv (one row per customer, still-missing reasons), report.json, readiness.html."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = (
        before.select(
            CUSTOMER_ID,
            "external_id",
            pl.col("billing.country_code").alias("country"),
            (pl.col(PROBLEMS).list.len() == 0).alias("ready_before"),
        )
        .join(
            after.select(
                CUSTOMER_ID,
                (pl.col(PROBLEMS).list.len() == 0).alias("ready_after"),
                pl.col(PROBLEMS).list.join("; ").alias("still_missing"),
            ),
            on=CUSTOMER_ID,
            how="left",
        )
        .with_columns(pl.col(CUSTOMER_ID).is_in(list(updated)).alias("updated"))
    )
    rows.sort("external_id").write_csv(out_dir / "readiness.csv")
    write_report(report, out_dir)
    (out_dir / "readiness.html").write_text(render_html(report), encoding="utf-8")


def render_html(report: dict[str, Any]) -> str:
    """A self-contained page: headline shares, a bar chart by country, the problem counts."""
    before, after = report["by_country_before"], report["by_country_after"]
    countries = sorted(set(before) | set(after))
    bar_h, gap, width = 14, 10, 420
    height = len(countries) * (2 * bar_h + gap) + 30
    svg_open = (
        f'<svg id="readiness-chart" role="img" width="{width + 120}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">'
    )
    parts = [svg_open]
    y = 20
    for country in countries:
        for label, data, colour in (("before", before, "#bbb"), ("after", after, "#2a7")):
            entry = data.get(country, {"customers": 0, "ready": 0})
            share = entry["ready"] / entry["customers"] if entry["customers"] else 0.0
            parts.append(
                f'<rect class="bar {label}" data-country="{html.escape(country)}" '
                f'data-share="{share:.4f}" x="60" y="{y}" width="{share * width:.1f}" '
                f'height="{bar_h}" fill="{colour}"><title>{html.escape(country)} {label}: '
                f"{share:.1%}</title></rect>"
            )
            y += bar_h
        parts.append(f'<text x="0" y="{y - bar_h + 4}">{html.escape(country)}</text>')
        y += gap
    parts.append("</svg>")
    problems = "".join(
        f"<tr><td>{html.escape(f)}</td><td>{report['problems_before'].get(f, 0)}</td>"
        f"<td>{report['problems_after'].get(f, 0)}</td></tr>"
        for f in sorted(set(report["problems_before"]) | set(report["problems_after"]))
    )
    data = json.dumps({k: report[k] for k in ("ready_before", "ready_after", "by_country_before",
                                                "by_country_after", "customers")})  # fmt: skip
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>custsync: 3-D Secure readiness</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}td,th{{padding:.2em .8em}}
.legend span{{display:inline-block;width:1em;height:1em;margin:0 .3em}}</style></head>
<body><h1>3-D Secure readiness</h1>
<p><strong>{report["ready_before"]:.1%}</strong> of {report["customers"]:,} customers were ready
before, <strong>{report["ready_after"]:.1%}</strong> after
({report.get("updated", 0):,} updated{", dry run" if report.get("dry_run") else ""}).</p>
<h2>Ready, by billing country</h2>
<p class="legend"><span style="background:#bbb"></span>before
<span style="background:#2a7"></span>after</p>
{"".join(parts)}
<h2>Missing or invalid, by field</h2>
<table><tr><th>field</th><th>before</th><th>after</th></tr>{problems}</table>
<script type="application/json" id="readiness-data">{html.escape(data, quote=False)}</script>
</body></html>
"""
