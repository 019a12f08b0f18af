"""The 3-D Secure readiness report: summary figures, readiness.csv, and a self-contained HTML
page with a chart of readiness by country before and after (inline SVG, no scripts to fetch)."""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from connectors.reports.artifacts import write_report
from schemas.customer_schema import THREEDS_REQUIRED
from schemas.mapping import FILLS
from schemas.readiness import CUSTOMER_ID, PROBLEMS
from schemas.report import NO_COUNTRY, BackfillReport

READINESS_HEADER = [
    CUSTOMER_ID,
    "external_id",
    "country",
    "ready_before",
    "ready_after",
    "still_missing",
    "updated",
]


def _ready(column: str = PROBLEMS) -> pl.Expr:
    return pl.col(column).list.len() == 0


@dataclass
class ReadinessTally:
    """Readiness before and after, summed batch by batch: the report of a backfill that never
    holds all its customers at once."""

    customers: int = 0
    ready_before: int = 0
    ready_after: int = 0
    problems_before: Counter[str] = field(default_factory=Counter)
    problems_after: Counter[str] = field(default_factory=Counter)
    by_country_before: dict[str, Counter[str]] = field(default_factory=dict)
    by_country_after: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, before: pl.DataFrame, after: pl.DataFrame) -> None:
        """One batch of judged customers: as the API held them, and as it holds them now."""
        self.customers += before.height
        self.ready_before += before.select(_ready().sum()).item()
        self.ready_after += after.select(_ready().sum()).item()
        self.problems_before.update(_problem_fields(before))
        self.problems_after.update(_problem_fields(after))
        _add_by_country(self.by_country_before, before)
        _add_by_country(self.by_country_after, after)

    def summary(self) -> dict[str, Any]:
        """Shares ready, problems by field, and by country, before and after."""

        def share(ready: int) -> float:
            return round(ready / self.customers, 4) if self.customers else 0.0

        def countries(tally: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
            return {c: {"customers": n["customers"], "ready": n["ready"]}
                    for c, n in sorted(tally.items())}  # fmt: skip

        return {
            "customers": self.customers,
            "ready_before": share(self.ready_before),
            "ready_after": share(self.ready_after),
            "problems_before": dict(self.problems_before.most_common()),
            "problems_after": dict(self.problems_after.most_common()),
            "by_country_before": countries(self.by_country_before),
            "by_country_after": countries(self.by_country_after),
        }


def _problem_fields(frame: pl.DataFrame) -> Counter[str]:
    fields = frame.select(pl.col(PROBLEMS).explode().str.split(":").list.first().drop_nulls())
    return Counter(fields.to_series().to_list())


def _add_by_country(tally: dict[str, Counter[str]], frame: pl.DataFrame) -> None:
    grouped = frame.group_by(
        pl.col("billing.country_code").fill_null(NO_COUNTRY).alias("country")
    ).agg(pl.len().alias("customers"), _ready().sum().alias("ready"))
    for row in grouped.iter_rows(named=True):
        counts = tally.setdefault(row["country"], Counter())
        counts.update(customers=row["customers"], ready=row["ready"])


def readiness_rows(
    before: pl.DataFrame,
    after: pl.DataFrame,
    updated: set[str],
    rejects: pl.DataFrame | None = None,
    columns: dict[str, str] | None = None,
) -> pl.DataFrame:
    """readiness.csv's rows for a batch: one per customer, with what is still missing, each in
    the CRM's terms: the export's column beside the field (``columns``), and where the export
    had a value that was left out, why (the batch's ``rejects``): "Mailing Street
    (billing.address_1): required for 3-D Secure; the export's value was left out: longer than
    40 characters" sends the CRM team to the right cell."""
    missing = _in_crm_terms(after, rejects, columns or {})
    return (
        before.select(
            CUSTOMER_ID,
            "external_id",
            pl.col("billing.country_code").alias("country"),
            _ready().alias("ready_before"),
        )
        .join(
            after.select(
                CUSTOMER_ID,
                _ready().alias("ready_after"),
                pl.col(CUSTOMER_ID).is_in(list(updated)).alias("updated"),
            ).join(missing, on=CUSTOMER_ID, how="left"),
            on=CUSTOMER_ID,
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.col("still_missing").fill_null(""))
        .select(READINESS_HEADER)
    )


def _in_crm_terms(
    after: pl.DataFrame, rejects: pl.DataFrame | None, columns: dict[str, str]
) -> pl.DataFrame:
    """Each customer's problems joined into one text: ``Column (field): reason``, and the
    cause where the export's value for that field was left out."""
    problems = after.select(CUSTOMER_ID, "external_id", pl.col(PROBLEMS)).explode(PROBLEMS)
    problems = problems.drop_nulls(PROBLEMS).with_columns(
        pl.col(PROBLEMS).str.split_exact(": ", 1).struct.rename_fields(["field", "reason"])
        .alias("__p")
    ).unnest("__p")  # fmt: skip
    causes = _causes(rejects)
    problems = problems.join(causes, on=["external_id", "field"], how="left")
    column = pl.col("field").replace_strict(columns, default=None, return_dtype=pl.String)
    said = pl.when(column.is_not_null()).then(pl.format("{} ({})", column, pl.col("field")))
    text = pl.format("{}: {}", said.otherwise(pl.col("field")), pl.col("reason"))
    text = pl.when(pl.col("cause").is_not_null()).then(
        pl.format("{}; the export's value was left out: {}", text, pl.col("cause"))
    ).otherwise(text)  # fmt: skip
    return problems.group_by(CUSTOMER_ID, maintain_order=True).agg(
        text.str.join("; ").alias("still_missing")
    )


def _causes(rejects: pl.DataFrame | None) -> pl.DataFrame:
    """(external id, field) -> why the export's value was left out, from a batch's rejects; a
    street's lines stand for the address fields they would have filled."""
    empty = pl.DataFrame(schema={"external_id": pl.String, "field": pl.String, "cause": pl.String})
    if rejects is None or rejects.is_empty():
        return empty
    lines = rejects.filter(pl.col("action") == "left_out").select(
        "external_id", "field", pl.col("reason").alias("cause")
    )
    filled = pl.col("field").replace_strict(
        {f: list(t) for f, t in FILLS.items()}, default=None, return_dtype=pl.List(pl.String)
    )
    lines = lines.with_columns(
        pl.when(filled.is_not_null()).then(filled).otherwise(pl.concat_list("field")).alias("field")
    ).explode("field")
    return pl.concat([empty, lines]).unique(["external_id", "field"], keep="first")


def write_readiness_page(out_dir: Path, report: BackfillReport) -> None:
    """report.json and readiness.html (readiness.csv is written batch by batch)."""
    write_report(report.as_json(), out_dir)
    (out_dir / "readiness.html").write_text(render_html(report), encoding="utf-8")


def render_html(report: BackfillReport) -> str:
    """A self-contained page: when, where, headline shares, a bar chart by country (each bar
    its share of that moment's customers of the country, with the count), what 3-D Secure
    needs, the problem counts, and where the worklist is. The chart scales to the screen (a
    phone's 420 px included) and the page prints."""
    countries = report.countries()
    bar_h, gap, width, left = 14, 10, 420, 110
    height = len(countries) * (2 * bar_h + gap) + 30
    full = left + width + 150
    svg_open = (
        f'<svg id="readiness-chart" role="img" viewBox="0 0 {full} {height}" '
        f'style="width:100%;max-width:{full}px;height:auto" '
        'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">'
    )
    parts = [svg_open]
    y = 20
    for row in countries:
        name = html.escape(row.country)
        for label, colour in (("before", "#bbb"), ("after", "#2a7")):
            ready = row.ready_before if label == "before" else row.ready_after
            customers = row.customers_before if label == "before" else row.customers_after
            share = row.share(label)
            parts.append(
                f'<rect class="bar {label}" data-country="{name}" data-ready="{ready}" '
                f'data-customers="{customers}" data-share="{share:.4f}" x="{left}" y="{y}" '
                f'width="{share * width:.1f}" height="{bar_h}" fill="{colour}"><title>{name} '
                f"{label}: {row.figure(label)}</title></rect>"
                f'<text class="figure {label}" data-country="{name}" '
                f'x="{left + share * width + 4:.1f}" y="{y + bar_h - 3}">{label} '
                f"{row.figure(label)}</text>"
            )
            y += bar_h
        counted = (f"{row.customers_before:,}" if row.customers_before == row.customers_after
                   else f"{row.customers_before:,} → {row.customers_after:,}")  # fmt: skip
        parts.append(f'<text class="country" x="0" y="{y - bar_h + 4}">{name} ({counted})</text>')
        y += gap
    parts.append("</svg>")
    problems = "".join(
        f"<tr><td>{html.escape(f)}</td><td>{before}</td><td>{after}</td></tr>"
        for f, before, after in report.problem_rows()
    )
    data = json.dumps({"ready_before": report.ready_before, "ready_after": report.ready_after,
                       "by_country_before": report.by_country_before,
                       "by_country_after": report.by_country_after,
                       "customers": report.customers, "run_id": report.run_id,
                       "target": report.target, "finished_at": report.finished_at})  # fmt: skip
    dry = ", dry run" if report.dry_run else ""
    needs = ", ".join(f"<code>{html.escape(f)}</code>" for f in THREEDS_REQUIRED)
    none = (f"<p class=\"none\"><strong>{NO_COUNTRY}</strong>: customers with no billing "
            "country; 3-D Secure needs one.</p>"
            if any(row.country == NO_COUNTRY for row in countries) else "")  # fmt: skip
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>custsync: 3-D Secure readiness</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;margin:1em;max-width:60em}}td,th{{padding:.2em .8em}}
.legend span{{display:inline-block;width:1em;height:1em;margin:0 .3em}}
@media print{{body{{margin:0;max-width:none}}svg{{max-width:100%}}}}</style></head>
<body><h1>3-D Secure readiness</h1>
<p class="run">Run {html.escape(report.run_id)} against {html.escape(report.target)},
{html.escape(report.finished_at)}.</p>
<p class="headline"><strong>{report.ready_before:.1%}</strong> of {report.customers:,}
customers were ready before, <strong>{report.ready_after:.1%}</strong> after
({report.updated:,} updated{dry}).</p>
<p class="needs">Ready means the billing record has, valid: {needs}; a postal code where the
country has them; and a state for the US, Canada and China.</p>
<h2>Ready, by billing country</h2>
<p class="legend"><span style="background:#bbb"></span>before: of the country's customers
before <span style="background:#2a7"></span>after: of its customers after (a fixed country
moves a customer)</p>
{"".join(parts)}
{none}
<h2>Missing or invalid, by field</h2>
<table><tr><th>field</th><th>before</th><th>after</th></tr>{problems}</table>
<p class="worklist">Every customer, ready or not and what is still missing:
<a href="readiness.csv">readiness.csv</a> (beside this page); the values left out, with their
reasons: <a href="rejects.csv">rejects.csv</a>.</p>
<script type="application/json" id="readiness-data">{html.escape(data, quote=False)}</script>
</body></html>
"""
