"""The hand-written script custsync validate must beat: csv.DictReader, one row at a time.

Does the same work as ``custsync validate --mapping data/mappings/salesforce.toml``: whitespace
and NFC normalisation, country and state lookups, every Customer API length and pattern rule,
email-validator on each address, last-occurrence-wins duplicates, 3-D Secure readiness, and a
rejects.csv. Run by bench/validate_throughput.py; usable alone:

    uv run python bench/baseline_validate.py export.csv out_dir [--emails regex]

``--emails regex`` is the plain loop of issue 16: every rule a regex, e-mails too (one
``local@domain.tld`` pattern instead of email-validator), as a hand-written script would do
it; bench/dry_run_scale.py compares the dry run with it.
"""

from __future__ import annotations

import csv
import re
import sys
import unicodedata
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from schemas.api_fields import FIELDS_BY_PATH, PATTERNS
from schemas.countries import (
    COUNTRY_CODES,
    NO_POSTAL_CODE,
    STATE_REQUIRED,
    country_table,
    subdivision_table,
)
from schemas.mapping import parse_mapping

WHITESPACE = re.compile(r"\s+")
LINE_BREAK = re.compile(r"\r\n?|\n")
# The rule a hand-written script would use for an address (RFC 5322's common subset).
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}"
)


def main(source: Path, out_dir: Path, emails: str = "library") -> None:
    mapping = parse_mapping(
        (Path(__file__).parents[1] / "data/mappings/salesforce.toml").read_text()
    )
    countries = dict(country_table().iter_rows())
    states = {(c, k): s for c, k, s in subdivision_table().iter_rows()}
    rows: dict[str, tuple[int, dict[str, str]]] = {}
    rejects: list[tuple[str, int, str, str]] = []
    ready = 0
    with source.open(encoding="utf-8-sig", newline="") as handle:
        for number, raw in enumerate(csv.DictReader(handle), start=1):
            external_id = " ".join(raw[mapping.external_id].split())
            if external_id in rows:
                rejects.append((external_id, rows[external_id][0], "external_id", "duplicate"))
            record = {}
            for field, column in mapping.columns.items():
                if field.endswith(".address_lines"):  # a street's lines: address_1..address_3
                    lines = [WHITESPACE.sub(" ", unicodedata.normalize("NFC", line)).strip()
                             for line in LINE_BREAK.split(raw[column] or "")]  # fmt: skip
                    lines = [line for line in lines if line]
                    if len(lines) > 3 or any(len(line) > 40 for line in lines):
                        rejects.append((external_id, number, field, "left out whole"))
                        continue
                    prefix = field.split(".")[0]
                    record.update({f"{prefix}.address_{n}": v for n, v in enumerate(lines, 1)})
                    continue
                value = WHITESPACE.sub(" ", unicodedata.normalize("NFC", raw[column] or "")).strip()
                if value:
                    record[field] = value
            rows[external_id] = (number, record)
    for external_id, (number, record) in rows.items():
        problems = []
        for prefix in ("billing", "shipping"):
            code = record.get(f"{prefix}.country_code")
            if code is not None:
                record[f"{prefix}.country_code"] = countries.get(code.lower(), code)
        for field, value in record.items():
            spec = FIELDS_BY_PATH[field]
            if spec.max_length is not None and len(value) > spec.max_length:
                problems.append((field, f"longer than {spec.max_length} characters"))
            if spec.kind in PATTERNS and not PATTERNS[spec.kind].fullmatch(value):
                problems.append((field, "pattern"))
            elif spec.kind == "email" and emails == "regex":
                if not EMAIL.fullmatch(value):
                    problems.append((field, "not a valid e-mail address"))
                record[field] = value.lower()
            elif spec.kind == "email":
                try:
                    record[field] = validate_email(value, check_deliverability=False).normalized
                except EmailNotValidError:
                    problems.append((field, "not a valid e-mail address"))
            elif spec.kind == "country" and value not in COUNTRY_CODES:
                problems.append((field, "not a country name or ISO 3166-1 code"))
        if "company_name" not in record and not (
            "billing.first_name" in record and "billing.last_name" in record
        ):
            problems.append(("company_name", "required"))
        for field, reason in problems:
            rejects.append((external_id, number, field, reason))
        if problems:
            continue
        country = record.get("billing.country_code")
        state = record.get("billing.state")
        state_ok = country not in STATE_REQUIRED or (
            state is not None and (country, state.lower()) in states
        )
        required = ["email_address", "billing.first_name", "billing.last_name", "billing.address_1",
                    "billing.city", "billing.country_code"]  # fmt: skip
        if country not in NO_POSTAL_CODE:
            required.append("billing.postal_code")
        if state_ok and all(f in record for f in required):
            ready += 1
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "rejects.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "row", "field", "reason"])
        writer.writerows(rejects)
    print(f"baseline: {number} rows, {len(rejects)} rejects, {ready} 3DS-ready", file=sys.stderr)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    mode = "library"
    if "--emails" in arguments:
        at = arguments.index("--emails")
        mode = arguments[at + 1]
        del arguments[at : at + 2]
    main(Path(arguments[0]), Path(arguments[1]), mode)
