"""The values custsync is tuned with, in one typed object: each with its unit and its bounds
(Prefect's settings models: ``Field(default=..., gt=0, description=...)``). Defaults are what
``bench/`` measured them to be right for; a few may be set from the environment, read when a
run asks (``Tuning.from_environment``), never at import.

    pacer      how one run paces its requests (``api/pacing/pacer.py``)
    budget     how runs on one target share its budget (``api/pacing/shared_budget.py``,
               ``state/budget.py``)
    migration  how a migration's parent watches its shards (``engine/migrate.py``,
               ``engine/shard_heartbeat.py``)
    crm        how the write-back uses a CRM's API (``connectors/crm/``)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.errors import InputError


class PacerTuning(BaseModel):
    """One run's pacer."""

    model_config = ConfigDict(frozen=True)

    start_rate: float = Field(default=40.0, gt=0, description="Requests/s a slow start begins at.")
    doubling_s: float = Field(
        default=0.25, gt=0, description="Seconds the slowest slow start doubles in."
    )
    min_doubling_s: float = Field(
        default=0.05, gt=0, description="Seconds the quickest one doubles in."
    )
    latency_doubling: float = Field(
        default=6.0, gt=0, description="Answers' latencies a doubling lasts."
    )
    latency_weight: float = Field(
        default=0.1, gt=0, le=1, description="Each answer's share of latency."
    )
    min_rate: float = Field(default=1.0, gt=0, description="Requests/s the pace never goes under.")
    known_share: float = Field(default=0.99, gt=0, le=1, description="Of a known limit, at most.")
    known_floor: float = Field(default=0.90, gt=0, le=1, description="Of a known limit, at least.")
    backoff: float = Field(
        default=0.97, gt=0, lt=1, description="Of what got through, after a 429."
    )
    calm_s: float = Field(default=1.0, ge=0, description="Seconds without a 429 before probing up.")
    fast_probe: float = Field(
        default=1.10, gt=1, description="Factor a probe far under the ceiling."
    )
    fast_probe_s: float = Field(default=0.5, gt=0, description="Seconds between fast probes.")
    slow_probe: float = Field(default=1.01, gt=1, description="Factor a probe near the ceiling.")
    near_ceiling: float = Field(default=0.97, gt=0, le=1, description="Of the ceiling, 'near' it.")
    ceiling_agree: float = Field(
        default=0.10, gt=0, description="Readings of the ceiling this close confirm each other."
    )
    lone_drop: float = Field(
        default=0.5, gt=0, le=1, description="Of the pace that drew it, a reading of the "
        "ceiling under which it is lone until a second agrees.",
    )  # fmt: skip
    lone_ceiling_s: float = Field(
        default=3.0, ge=0, description="Seconds a lone reading of the ceiling (far under its "
        "pace, no second one agreeing) is probed gently before quickly.",
    )  # fmt: skip
    cycle_paced: float = Field(
        default=0.9, gt=0, description="Of what got through over a cycle, the slowest pace "
        "of its sends for that to be the gateway's figure (unless walled long).",
    )  # fmt: skip
    cycle_walled: float = Field(
        default=0.25, gt=0, le=1, description="Of a cycle, the wall that ends it standing this "
        "long makes what got through over it the gateway's figure, whatever the pace.",
    )  # fmt: skip
    used_share: float = Field(
        default=0.8, gt=0, le=1, description="Of the pace, sent over the last second for a "
        "probe to raise it (under it, the pace is not what holds the sends).",
    )  # fmt: skip
    stale_margin: float = Field(
        default=1.15, gt=1, description="Past the ceiling by this, it is gone."
    )
    slack: float = Field(
        default=0.25, ge=0, lt=1, description="Of an interval a late send may gain."
    )
    spin_s: float = Field(default=0.0012, ge=0, description="Seconds of a wait yielded, not slept.")
    recheck_s: float = Field(
        default=0.05,
        gt=0,
        description="Seconds a wait for a slot sleeps at most (a pace "
        "raised meanwhile is taken at once).",
    )
    wall_run: int = Field(default=4, ge=1, description="429s in a row, none admitted: a wall.")
    first_probe_s: float = Field(default=0.1, gt=0, description="Seconds to a wall's first probe.")
    max_probe_s: float = Field(
        default=2.0, gt=0, description="Seconds between a wall's probes, at most."
    )
    max_wall_s: float = Field(
        default=60.0, gt=0, description="Seconds a Retry-After or quota reset walls the pacer at "
        "most (the retry policy's cap on a Retry-After).",
    )  # fmt: skip
    min_short_cycle_s: float = Field(
        default=0.5, gt=0, description="Seconds from a wall's fall to the next from which "
        "walls come a window of about a second apart.",
    )  # fmt: skip
    short_wall_s: float = Field(
        default=0.5, gt=0, description="Seconds a wall stands under which it is part of its "
        "window: what got through is counted across it, not from its fall.",
    )  # fmt: skip
    min_cycle_s: float = Field(
        default=2.0, gt=0, description="Seconds from a wall's fall to the next from which what "
        "got through in between sets the pace (a window longer than a second).",
    )  # fmt: skip
    quick_cycles: int = Field(
        default=3, ge=1, description="Walls in a row, each falling under min_cycle_s after "
        "the last, from which what got through over them may set the pace.",
    )  # fmt: skip
    walled_pace: float = Field(
        default=2.0, gt=1, description="Times what got through over quick walls the pace must "
        "be for those walls to set it (under it, they are a window's end).",
    )  # fmt: skip
    cycle_unsure: float = Field(
        default=0.25, gt=0, description="Of a cycle, the most its wall's fall may be unsure by "
        "for what got through over it to be a ceiling.",
    )  # fmt: skip
    trusted_retry_after_s: float = Field(
        default=2.5, ge=0, description="Seconds a Retry-After is believed from (shorter: rounding)."
    )
    admitted_window_s: float = Field(
        default=1.0, gt=0, description="Seconds 'what got through' spans."
    )
    cap_window: int = Field(
        default=2000, ge=10, description="Answers a cap on requests in flight is read from."
    )
    cap_min_refused: int = Field(
        default=1, ge=1, description="Refused sends from one number out up that tell a cap."
    )
    cap_min_under: int = Field(
        default=100, ge=1, description="Admitted sends under it that a cap needs beneath it."
    )
    cap_clean_under: float = Field(
        default=0.05, ge=0, lt=1, description="Of the sends under a cap, refused at most."
    )
    cap_contradicted: int = Field(
        default=2, ge=1, description="Refusals under a cap that say it was no cap."
    )
    cap_relax_s: float = Field(
        default=5.0, gt=0, description="Seconds a binding cap goes unrefused before it grows."
    )


class BudgetTuning(BaseModel):
    """Runs sharing one target's budget through their store."""

    model_config = ConfigDict(frozen=True)

    beat_s: float = Field(default=0.5, gt=0, description="Seconds between a run's lease renewals.")
    lease_s: float = Field(default=3.0, gt=0, description="Seconds a lease lives unrenewed.")
    sweep_s: float = Field(
        default=60.0, gt=0, description="Seconds after which a dead lease is deleted."
    )
    found_every_s: float = Field(
        default=1.0, gt=0, description="Seconds one finding of a limit spans."
    )
    stale_found: float = Field(
        default=2.0, gt=1, description="Past a rough finding by this, it is gone."
    )
    quick_probe: float = Field(
        default=1.25, gt=1, description="Factor of each quick probe of a rough finding."
    )
    settled: float = Field(
        default=0.10, gt=0, description="Findings this close confirm each other."
    )
    kept_s: float = Field(
        default=3600.0, ge=0, description="Seconds a finding kept in the store is started "
        "from by a run that finds no live one (a shard's replacement, the next run).",
    )  # fmt: skip
    kept_most: float = Field(
        default=1.04, gt=1, description="Of a kept finding, the most runs started from it "
        "probe to until a 429 says more, or kept_gentle_s pass without one.",
    )  # fmt: skip
    kept_gentle_s: float = Field(
        default=30.0, ge=0, description="Seconds runs started from a kept finding stay under "
        "kept_most of it before probing gently as from a confirmed one (the limit rose since).",
    )  # fmt: skip
    risen_after_s: float = Field(
        default=30.0, gt=0, description="Seconds the runs must get all of a confirmed "
        "finding through, without a 429, before what gets through raises their cap (a "
        "gateway's bucket, filled in a dip, is drained meanwhile).",
    )  # fmt: skip
    probe_over: float = Field(
        default=1.05, gt=1, description="Past a confirmed finding, the runs together send at "
        "most this much more than just under it (backoff) or than what got through, whichever "
        "is more.",
    )  # fmt: skip


class MigrationTuning(BaseModel):
    """A migration's parent and its shards' heartbeats."""

    model_config = ConfigDict(frozen=True)

    poll_s: float = Field(default=1.0, gt=0, description="Seconds between the parent's looks.")
    beat_s: float = Field(default=1.0, gt=0, description="Seconds between a shard's heartbeats.")
    stale_s: float = Field(
        default=10.0, gt=0, description="Seconds without a beat before a shard is given up: "
        "ten beats (the longest gap seen on a 2-core machine running a server, three workers "
        "and six shards is in bench/RESULTS.md; CUSTSYNC_SHARD_STALE_S).",
    )  # fmt: skip
    start_s: float = Field(
        default=90.0, gt=0, description="Seconds a taken shard may take to beat first "
        "until a start was seen, and the most it may ever take (twice the longest start "
        "seen times the attempt, engine/migrate.py; CUSTSYNC_SHARD_START_S; never under "
        "stale_s).",
    )  # fmt: skip
    max_attempts: int = Field(default=4, ge=1, description="Attempts of a shard before it fails.")
    linger_s: float = Field(
        default=40.0, ge=0, description="Seconds a shard's run that ended stays, while another "
        "shard of its migration has stopped beating, to take over its replacement "
        "(engine/sync.py): up to four give-ups of stale_s; CUSTSYNC_SHARD_LINGER_S.",
    )  # fmt: skip

    @model_validator(mode="after")
    def _start_covers_stale(self) -> MigrationTuning:
        if self.start_s < self.stale_s:
            return self.model_copy(update={"start_s": self.stale_s})
        return self


class CrmTuning(BaseModel):
    """The write-back through a CRM's API."""

    model_config = ConfigDict(frozen=True)

    bulk_from: int = Field(
        default=2_000, ge=1, description="Salesforce: records from which one Bulk API 2.0 job "
        "costs fewer calls than sObject Collections (bench/crm_writeback.py; "
        "CUSTSYNC_CRM_BULK_FROM).",
    )  # fmt: skip
    bulk_job_max: int = Field(default=100_000, ge=1, description="Records in one Bulk job.")
    poll_first_s: float = Field(
        default=2.0, gt=0, description="Seconds before a Bulk job's first poll "
        "(CUSTSYNC_CRM_POLL_S).",
    )  # fmt: skip
    poll_growth: float = Field(default=1.5, ge=1, description="Factor between polls.")
    poll_max_s: float = Field(default=30.0, gt=0, description="Seconds between polls, at most.")
    poll_timeout_s: float = Field(
        default=3600.0, gt=0, description="Seconds a Bulk job may take before the write-back "
        "stops waiting (its records are offered again on the next run).",
    )  # fmt: skip
    reserve: float = Field(
        default=0.10, ge=0, lt=1, description="Of a CRM's daily API allocation, left to the "
        "org's other integrations: the write-back stops before it.",
    )  # fmt: skip
    transient_rounds: int = Field(
        default=4, ge=1, description="Rounds a record refused for a moment (a row lock) is "
        "sent in, in one run.",
    )  # fmt: skip
    round_wait_s: float = Field(
        default=1.0, ge=0, description="Seconds before the first such round (doubling).",
    )  # fmt: skip
    concurrency: int = Field(default=4, ge=1, description="HubSpot batches in flight at most.")
    attempts: int = Field(
        default=6, ge=1, description="Attempts of one call to a CRM that does not answer "
        "(5xx, connection lost) before the write-back stops: 6 span about 8 s "
        "(CUSTSYNC_CRM_ATTEMPTS).",
    )  # fmt: skip


class ReadingTuning(BaseModel):
    """Reading exports."""

    model_config = ConfigDict(frozen=True)

    max_line_mib: int = Field(
        default=16, ge=1, description="MiB one line of a CSV export may hold: a file with a "
        "longer line is refused before anything reads it whole (a cell costs its reader over "
        "ten times its size; no CRM field holds 1 MiB; CUSTSYNC_MAX_LINE_MIB).",
    )  # fmt: skip


class Tuning(BaseModel):
    """Every tuned value custsync runs with."""

    model_config = ConfigDict(frozen=True)

    pacer: PacerTuning = PacerTuning()
    budget: BudgetTuning = BudgetTuning()
    migration: MigrationTuning = MigrationTuning()
    crm: CrmTuning = CrmTuning()
    reading: ReadingTuning = ReadingTuning()

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Tuning:
        """The defaults, with what the environment sets (``ENVIRONMENT``); a value out of its
        bounds is refused, naming its variable."""
        env = os.environ if env is None else env
        parts: dict[str, BaseModel] = {}
        for part, (model, variables) in ENVIRONMENT.items():
            given = {field: env[name] for field, name in variables.items() if env.get(name)}
            try:
                parts[part] = model.model_validate(given)
            except ValidationError as exc:
                first = exc.errors()[0]
                name = variables[str(first["loc"][0])]
                raise InputError(f"{name} {first['msg'][:1].lower()}{first['msg'][1:]}") from None
        return cls.model_validate(parts)


# The variables that set a tuned value: part -> (its model, field -> variable).
ENVIRONMENT: dict[str, tuple[type[BaseModel], dict[str, str]]] = {
    "migration": (MigrationTuning, {"stale_s": "CUSTSYNC_SHARD_STALE_S",
                                    "start_s": "CUSTSYNC_SHARD_START_S",
                                    "linger_s": "CUSTSYNC_SHARD_LINGER_S"}),
    "crm": (CrmTuning, {"poll_first_s": "CUSTSYNC_CRM_POLL_S",
                        "attempts": "CUSTSYNC_CRM_ATTEMPTS",
                        "bulk_from": "CUSTSYNC_CRM_BULK_FROM"}),
    "reading": (ReadingTuning, {"max_line_mib": "CUSTSYNC_MAX_LINE_MIB"}),
}  # fmt: skip

DEFAULTS = Tuning()
