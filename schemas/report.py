"""A sync's report as one typed value: report.json, the Rich table and the Prefect markdown are
all rendered from it (``summary_rows`` says what a person is shown, in which order)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from schemas.messages import named
from schemas.plan import PlanAction


@dataclass
class SyncReport:
    """What a sync did; ``report.json`` holds these keys in this order."""

    rows_read: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    values_left_out: int = 0
    names_split: int = 0  # valid customers whose first and last names a full name gave
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    adopted: int = 0
    deleted: int = 0
    failed: int = 0
    rejected: int = 0
    api_rejected: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    duration_s: float = 0.0
    ambiguous_writes: int = 0
    reconciliations: int = 0
    reconcile_requests: int = 0
    recreated: int = 0
    created_unmatched: int = 0  # --match-on: created with every match field empty (listed)
    match_conflicts: int = 0  # --match-on: not adopted, the match was not theirs alone
    threeds_ready: int = 0
    plan: dict[str, int] = field(default_factory=dict)
    # The commonest problems of rejects.csv: {action, field, reason, rows}, most rows first.
    reasons: list[dict[str, Any]] = field(default_factory=list)
    # Optional columns of the mapping the exports lacked: "file: column (field)".
    missing_columns: list[str] = field(default_factory=list)
    run_id: str = ""
    target: str = ""
    dry_run: bool = False
    load_duration_s: float | None = None  # only for a run that sent
    crm_update_rows: int | None = None  # only with a [writeback]: rows of crm-update.<format>
    crm_update: str | None = None  # that file's path
    crm_confirmed: int | None = None  # only with a [writeback]: records the CRM confirmed
    crm_failed: int | None = None  # records the CRM refused (rejects.csv, crm_failed)
    crm_error: str | None = None  # why the write-back stopped short (exit 3)
    over_limit: str | None = None  # max_rejected_pct / max_failed exceeded: why the run failed

    def as_json(self) -> dict[str, Any]:
        """The report.json object."""
        data = asdict(self)
        if self.over_limit is not None:  # its settings named as the config names them
            data["over_limit"] = named(self.over_limit)
        optional_keys = ("load_duration_s", "crm_update_rows", "crm_update", "crm_confirmed",
                         "crm_failed", "crm_error", "over_limit")  # fmt: skip
        for optional in optional_keys:
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SyncReport:
        """A report read back from report.json (keys it does not know are ignored)."""
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def artefacts(self, out_dir: object) -> list[str]:
        """The files this run wrote in ``out_dir``, as the console and Prefect list them."""
        names = ["plan.csv" if self.dry_run else "mappings.csv", "rejects.csv", "report.json"]
        return [f"{out_dir}/{name}" for name in names] + (
            [self.crm_update] if self.crm_update else []
        )

    def limits_exceeded(self, max_rejected_pct: float | None, max_failed: int) -> str | None:
        """Why the run must fail for what it found (None: within the limits): more rows
        rejected, by the checks or by the API, than ``max_rejected_pct`` percent of the rows
        read, or more rows failed than ``max_failed``."""
        reasons = []
        rejected = self.rows_rejected + self.api_rejected
        share = 100.0 * rejected / self.rows_read if self.rows_read else 0.0
        if max_rejected_pct is not None and share > max_rejected_pct:
            reasons.append(f"{rejected:,} of {self.rows_read:,} rows rejected ({share:.1f}%), "
                           f"over {{max_rejected_pct}} {max_rejected_pct:g}%")  # fmt: skip
        if max_failed > 0 and self.failed > max_failed:
            reasons.append(f"{self.failed:,} rows failed, over {{max_failed}} {max_failed:,}")
        return "; ".join(reasons) or None

    def summary_rows(self) -> list[tuple[str, str]]:
        """(what, how many) as a person is shown them: the console's table, Prefect's summary."""
        rows = [("rows read", self.rows_read), ("valid", self.rows_valid),
                ("rejected", self.rows_rejected),
                ("values left out", self.values_left_out)]  # fmt: skip
        if self.names_split:
            rows += [("names split from a full name (a guess)", self.names_split)]
        if self.missing_columns:
            rows += [("optional columns not in the export", len(self.missing_columns))]
        if self.dry_run:
            would = (PlanAction.CREATE, PlanAction.UPDATE, PlanAction.RECONCILE)
            rows += [(f"would {a.value}", self.plan.get(a.value, 0)) for a in would]
            rows += [("unchanged", self.plan.get(PlanAction.UNCHANGED.value, 0))]
            if self.plan.get(PlanAction.DELETE.value):
                rows += [("would delete", self.plan[PlanAction.DELETE.value])]
            if self.crm_update_rows is not None:
                rows += [("UUIDs due for the CRM now (crm-update; this run's creates add theirs)",
                          self.crm_update_rows)]  # fmt: skip
            return [(label, f"{value:,}") for label, value in rows]
        rows += [
            ("created", self.created), ("updated", self.updated), ("unchanged", self.unchanged),
            ("adopted", self.adopted), ("deleted", self.deleted), ("failed", self.failed),
            ("rejected by the API", self.api_rejected), ("requests", self.requests),
            ("retries", self.retries), ("rate limited (429)", self.rate_limited),
        ]  # fmt: skip
        if self.created_unmatched:
            rows += [("created without a match field (see unmatched.csv)", self.created_unmatched)]
        if self.match_conflicts:
            rows += [("match conflicts (failed, not adopted)", self.match_conflicts)]
        if self.crm_update_rows is not None and self.crm_confirmed is None:
            rows += [("UUIDs for the CRM (new or changed, in crm-update)", self.crm_update_rows)]
        if self.crm_confirmed is not None:
            rows += [
                ("UUIDs due for the CRM", self.crm_update_rows or 0),
                ("confirmed by the CRM", self.crm_confirmed),
                ("refused by the CRM (rejects.csv, crm_failed)", self.crm_failed or 0),
            ]
        return [(label, f"{value:,}") for label, value in rows] + [
            ("duration", f"{self.duration_s:.1f} s")
        ]


NO_COUNTRY = "(none)"  # the readiness tables' row of customers with no billing country


@dataclass(frozen=True)
class CountryReadiness:
    """One billing country's customers before and after (a backfill that fixes a country
    moves customers from one to another, or out of ``(none)``), and how many of each were 3-D
    Secure ready: each share over its own customers."""

    country: str
    customers_before: int
    ready_before: int
    customers_after: int
    ready_after: int

    def share(self, when: str) -> float:
        """Ready ``before`` or ``after``, of that moment's customers of the country."""
        ready, customers = ((self.ready_before, self.customers_before) if when == "before"
                            else (self.ready_after, self.customers_after))  # fmt: skip
        return ready / customers if customers else 0.0

    def figure(self, when: str) -> str:
        """``94.1% (16 of 17)``."""
        customers = self.customers_before if when == "before" else self.customers_after
        ready = self.ready_before if when == "before" else self.ready_after
        return f"{self.share(when):.1%} ({ready:,} of {customers:,})"


@dataclass
class BackfillReport:
    """What a 3-D Secure backfill found and did; ``report.json`` holds these keys in order.

    The console's table, the Prefect markdown and the HTML chart all show ``countries()``."""

    customers: int = 0
    ready_before: float = 0.0
    ready_after: float = 0.0
    problems_before: dict[str, int] = field(default_factory=dict)
    problems_after: dict[str, int] = field(default_factory=dict)
    by_country_before: dict[str, dict[str, int]] = field(default_factory=dict)
    by_country_after: dict[str, dict[str, int]] = field(default_factory=dict)
    rows_read: int = 0
    rows_rejected: int = 0
    customers_known: int = 0
    customers_fetched: int = 0
    vanished: int = 0
    updated: int = 0
    would_update: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    dry_run: bool = False
    duration_s: float = 0.0
    run_id: str = ""
    target: str = ""
    finished_at: str = ""  # UTC, ISO 8601: the readiness page says when it was judged

    def as_json(self) -> dict[str, Any]:
        """The report.json object."""
        return asdict(self)

    def countries(self) -> list[CountryReadiness]:
        """Readiness by billing country, before and after, sorted by country."""
        before, after = self.by_country_before, self.by_country_after
        return [
            CountryReadiness(
                country,
                before.get(country, {}).get("customers", 0),
                before.get(country, {}).get("ready", 0),
                after.get(country, {}).get("customers", 0),
                after.get(country, {}).get("ready", 0),
            )
            for country in sorted(set(before) | set(after))
        ]

    def problem_rows(self) -> list[tuple[str, int, int]]:
        """(field, customers missing or invalid before, after), by field."""
        fields = sorted(set(self.problems_before) | set(self.problems_after))
        return [(f, self.problems_before.get(f, 0), self.problems_after.get(f, 0)) for f in fields]

    def done(self) -> str:
        """What was done, in a line: ``updated 3 customers`` or ``would update 3 customers``."""
        verb, count = (
            ("would update", self.would_update) if self.dry_run else ("updated", self.updated)
        )
        return f"{verb} {count:,} customers"


def merged_sync_report(reports: list[dict[str, Any]]) -> SyncReport:
    """The shards' reports of a migration as one: every count summed (the plan's by action);
    the run's own fields (id, target, duration, reasons) are the caller's to set."""
    merged = SyncReport()
    for data in reports:
        shard = SyncReport.from_json(data)
        for name, spec in SyncReport.__dataclass_fields__.items():
            if spec.type in ("int", int):
                setattr(merged, name, getattr(merged, name) + getattr(shard, name))
        for action, count in shard.plan.items():
            merged.plan[action] = merged.plan.get(action, 0) + count
        merged.dry_run = shard.dry_run
        # Every shard reads every file: the same columns missing, said once.
        merged.missing_columns += [c for c in shard.missing_columns
                                   if c not in merged.missing_columns]  # fmt: skip
        if shard.load_duration_s is not None:  # the shards load side by side: the longest
            merged.load_duration_s = max(merged.load_duration_s or 0.0, shard.load_duration_s)
    return merged
