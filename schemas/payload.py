"""CustomerRequest payloads from normalised rows: the body sent, and a stable hash of it.

The hash is SHA-256 of a canonical JSON (every field, nulls included, fixed order) built by
polars, so a nightly run compares one string per customer with what the store remembers. Both
are columnar: the JSON from polars, the digest from the polars-hash plugin (Rust, both cores),
not hashlib row by row. The digest is SHA-256's, byte for byte, so the hashes a store already
holds stay valid: nothing to migrate, and an unchanged export sends nothing after an upgrade.
"""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl
import polars_hash as plh

from schemas.api_fields import OBJECT_FIELDS, TOP_LEVEL_FIELDS
from schemas.record_match import flatten

HASH_VERSION = "v1"
PAYLOAD_HASH = "payload_hash"


def _canonical_struct() -> pl.Expr:
    fields: list[pl.Expr] = [pl.col(f.path).alias(f.path) for f in TOP_LEVEL_FIELDS]
    for parent, leaves in OBJECT_FIELDS.items():
        fields.append(
            pl.struct([pl.col(f"{parent}.{leaf.path}").alias(leaf.path) for leaf in leaves]).alias(
                parent
            )
        )
    return pl.struct(fields)


def payload_hash() -> pl.Expr:
    """``v1:<sha256 hex of the canonical JSON>`` of each row. Not ``Expr.hash``: polars' own
    hash changes across versions, and every customer would look changed after an upgrade."""
    canonical = _canonical_struct().struct.json_encode()
    digest = plh.CryptographicHashingNameSpace(canonical).sha2_256()
    return pl.concat_str(pl.lit(f"{HASH_VERSION}:"), digest).alias(PAYLOAD_HASH)


def with_payload_hash(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``payload_hash`` to rows holding every API column (entity_id filled in)."""
    return frame.with_columns(payload_hash())


def payload_hash_of_text(canonical: str) -> str:
    """The hash of one canonical JSON text, as hashlib computes it (what stores hold)."""
    return f"{HASH_VERSION}:{hashlib.sha256(canonical.encode()).hexdigest()}"


def request_body(row: dict[str, Any]) -> dict[str, Any]:
    """The CustomerRequest of one row: dotted columns -> nested JSON, absent fields left out."""
    body: dict[str, Any] = {}
    for spec in TOP_LEVEL_FIELDS:
        value = row.get(spec.path)
        if value is not None:
            body[spec.path] = value
    for parent, leaves in OBJECT_FIELDS.items():
        nested = {
            leaf.path: row[f"{parent}.{leaf.path}"]
            for leaf in leaves
            if row.get(f"{parent}.{leaf.path}") is not None
        }
        if nested:
            body[parent] = nested
    return body


def keeping_stored(
    row: dict[str, Any], stored: dict[str, Any], fields: list[str]
) -> dict[str, Any]:
    """``row`` with each of ``fields`` (left out of it: the export's value broke a rule) taken
    from ``stored``, the customer as the API holds it: an update replaces the whole record, and
    a value the export could not give must never blank the one the API has."""
    held = flatten(stored)
    return {**row, **{field: held.get(field) for field in fields}}


def field_paths() -> list[str]:
    """Every field of a CustomerRequest, as the row's dotted columns."""
    paths = [spec.path for spec in TOP_LEVEL_FIELDS]
    for parent, leaves in OBJECT_FIELDS.items():
        paths += [f"{parent}.{leaf.path}" for leaf in leaves]
    return paths


def adopting(row: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """``row`` for adopting ``stored`` (a customer made elsewhere, by checkout say): every field
    the row has no value for keeps the API's. The update replaces the whole record, and the
    export lacking a field is no reason to blank what checkout collected."""
    held = flatten(stored)
    kept = {
        path: held[path]
        for path in field_paths()
        if row.get(path) is None and held.get(path) is not None
    }
    return {**row, **kept}
