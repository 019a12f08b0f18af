"""The plan: create, update, reconcile or leave alone, by what the store knows."""

from __future__ import annotations

import polars as pl

from schemas.plan import ACTION, KNOWN_ID, PlanAction, deletion_limit, plan_sync

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
