"""The plan: create, update, reconcile or leave alone, by what the store knows."""

from __future__ import annotations

import polars as pl

from schemas.api_fields import REQUEST_FIELDS
from schemas.payload import PAYLOAD_HASH, with_payload_hash
from schemas.plan import (
    ACTION,
    KNOWN_ID,
    PlanAction,
    deletion_limit,
    ensure_payload_hash,
    plan_sync,
)

STATE = {"entity_id": pl.String, "external_id": pl.String, "customer_id": pl.String,
         "payload_hash": pl.String, "status": pl.String, "pending_since": pl.String}  # fmt: skip


def test_every_action() -> None:
    rows = pl.DataFrame({"entity_id": ["E1"] * 5, "external_id": ["new", "same", "changed",
                         "journalled", "deleted"], "payload_hash": ["h"] * 5})  # fmt: skip
    state = pl.DataFrame([
        ("E1", "same", "u1", "h", "created", None),
        ("E1", "changed", "u2", "old", "updated", None),
        ("E1", "journalled", None, None, "pending", "2026-11-26T01:20:00.000Z"),
        ("E1", "deleted", None, None, "deleted", None),
        ("E2", "new", "u9", "h", "created", None),  # another entity's customer
    ], schema=STATE, orient="row")  # fmt: skip
    planned = plan_sync(rows, state)
    assert planned.select("external_id", ACTION, KNOWN_ID).rows() == [
        ("new", PlanAction.CREATE, None),
        ("same", PlanAction.UNCHANGED, "u1"),
        ("changed", PlanAction.UPDATE, "u2"),
        ("journalled", PlanAction.RECONCILE, None),
        ("deleted", PlanAction.CREATE, None),
    ]


def test_deletion_limit() -> None:
    assert deletion_limit(1_000, None) == 50 and deletion_limit(3, None) == 1
    assert deletion_limit(1_000, 0) == 0 and deletion_limit(10, 400) == 400


def test_only_rows_compared_with_the_store_are_hashed_and_the_rest_before_sending() -> None:
    columns = {f.path: pl.String for f in REQUEST_FIELDS}
    rows = pl.DataFrame(
        [{**dict.fromkeys(columns), "entity_id": "E1", "external_id": x, "company_name": x}
         for x in ("new", "same", "changed")],
        schema={**columns, "external_id": pl.String},
    )  # fmt: skip
    hashes = dict(zip(rows["external_id"], with_payload_hash(rows)[PAYLOAD_HASH], strict=True))
    state = pl.DataFrame([
        ("E1", "same", "u1", hashes["same"], "created", None),
        ("E1", "changed", "u2", "v1:old", "updated", None),
    ], schema=STATE, orient="row")  # fmt: skip
    planned = plan_sync(rows, state)
    assert planned.select("external_id", ACTION, PAYLOAD_HASH).rows() == [
        ("new", PlanAction.CREATE, None),  # nothing to compare it with: hashed when sent
        ("same", PlanAction.UNCHANGED, hashes["same"]),
        ("changed", PlanAction.UPDATE, hashes["changed"]),
    ]
    sent = ensure_payload_hash(planned.filter(pl.col(ACTION) != PlanAction.UNCHANGED))
    assert sent[PAYLOAD_HASH].to_list() == [hashes["new"], hashes["changed"]]
