"""Synthetic CRM exports with the mess real ones have (for data/ samples and benchmarks).

Salesforce contact report layout: labels as column names, UTF-8 with BOM, multi-line streets in
quotes, countries as names/codes in any case, US ZIPs with leading zeros, states as names or
codes, decomposed accents, stray whitespace, too-long fields, bad e-mails, phones with
extensions, duplicated contact ids.

    uv run python bench/exports.py data/salesforce_contacts.csv --rows 300 --seed 7
"""

from __future__ import annotations

import argparse
import csv
import random
import string
import unicodedata
from collections.abc import Iterator
from pathlib import Path

SALESFORCE_HEADER = [
    "Contact ID", "Salutation", "First Name", "Last Name", "Title", "Account Name", "Email",
    "Phone", "Mobile", "Mailing Street", "Mailing City", "Mailing State/Province",
    "Mailing Zip/Postal Code", "Mailing Country",
]  # fmt: skip

FIRST = ["Ann", "Bob", "José", "Zoë", "Chloé", "Mohammed", "Li", "Sven", "Ólafur", "Grace",
         "Hannah", "Ivan", "Jürgen", "Kate", "Luis", "Mei", "Noah", "Priya", "Siobhán",
         "Tom"]  # fmt: skip
LAST = ["Lee", "Smith", "García", "Müller", "O'Brien", "Nguyen", "Kowalski", "Dubois",
        "Rossi", "Ivanova", "Tanaka", "Brown", "Jones", "Björk", "Núñez", "Khan"]  # fmt: skip
COMPANIES = ["Acme Ltd", "Globex GmbH", "Initech Inc", "Umbrella & Co", "Stark Industries",
             "Wayne Enterprises", "", "", ""]  # fmt: skip
SALUTATIONS = ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "", "", "Mx.", "Mr/Mrs"]
JOB_TITLES = ["VP Sales", "Buyer", "CFO", "Head of Payments", "", "Owner"]

# (country as typed, city, state as typed, postal code, phone prefix)
PLACES = [
    ("United States", "Boston", "MA", "02134", "(617) 555-"),
    ("USA", "Columbus", "Ohio", "43004", "614-555-"),
    ("us", "New York", "NY", "10001", "+1 212 555 "),
    ("US", "Burlington", "vt", "05401", "802.555."),
    ("Canada", "Toronto", "Ontario", "M5V 2T6", "+1 416 555 "),
    ("CA", "Montréal", "QC", "h3b 1a7", "(514) 555-"),
    ("United Kingdom", "London", "", "sw1a 1aa", "+44 20 7946 "),
    ("UK", "Manchester", "Greater Manchester", "M1 1AE", "0161 496 "),
    ("gb", "Edinburgh", "", "EH1 1YZ", "0131 496 "),
    ("Germany", "München", "Bayern", "80331", "089/1234 "),
    ("DEU", "Berlin", "", "10115", "+49 30 901820"),
    ("Deutschland", "Köln", "", "50667", "0221 "),
    ("France", "Paris", "", "75001", "+33 1 42 "),
    ("276", "Hamburg", "", "20095", "040 "),
    ("Ireland", "Dublin", "", "D02 XY45", "+353 1 "),
    ("Hong Kong", "Hong Kong", "", "", "+852 2"),
    ("Narnia", "Cair Paravel", "", "00000", "555 "),
]
STREETS = ["High Street", "Main St", "Baker Street", "Rue de Rivoli", "Königsallee",
           "Elm Avenue", "Station Road"]  # fmt: skip


def salesforce_id(rng: random.Random) -> str:
    return "0035g" + "".join(rng.choices(string.ascii_letters + string.digits, k=13))


def rows(count: int, seed: int = 7) -> Iterator[list[str]]:
    """``count`` Salesforce-style rows (a duplicate id now and then; same seed, same rows)."""
    rng = random.Random(seed)
    issued: list[str] = []
    for n in range(count):
        if issued and rng.random() < 0.01:
            contact_id = rng.choice(issued)  # the CRM exported the contact twice
        else:
            contact_id = salesforce_id(rng)
            issued.append(contact_id)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if rng.random() < 0.1:
            first = unicodedata.normalize("NFD", first)  # decomposed accents, as some Macs write
        if rng.random() < 0.03:
            last = ""
        company = rng.choice(COMPANIES)
        country, city, state, postal, phone_prefix = rng.choice(PLACES)
        street = f"{rng.randint(1, 250)} {rng.choice(STREETS)}"
        roll = rng.random()
        # Salesforce's Mailing Street is a text area: a line each for flat, building, street
        # (quoted in the CSV), ended as the browser sent them, LF or CRLF.
        if roll < 0.03:
            street = f"Flat {rng.randint(1, 40)}\n{street}"
        elif roll < 0.05:
            street = f"Unit {rng.randint(1, 40)}, Harbour Business Park\r\nBuilding C\r\n{street}"
        elif roll < 0.06:
            street = f"c/o Accounts\nUnit 2\nBuilding C\n{street}"  # four lines: too many
        elif roll < 0.08:
            street += ", Building 7, Industrial Estate North Wing"  # over 40 characters
        email_local = f"{first}.{last}{n}".lower().replace(" ", "").replace("'", "")
        email_local = unicodedata.normalize("NFKD", email_local).encode("ascii", "ignore").decode()
        email = f"{email_local}@example.com"
        roll = rng.random()
        if roll < 0.02:
            email = email.replace("@", "@@")
        elif roll < 0.04:
            email = ""
        elif roll < 0.06:
            email = "  " + email.upper() + " "
        phone = phone_prefix + f"{rng.randint(0, 9999):04d}"
        if rng.random() < 0.03:
            phone += " ext. 12"
        mobile = "" if rng.random() < 0.5 else phone_prefix + f"{rng.randint(0, 9999):04d}"
        yield [
            contact_id, rng.choice(SALUTATIONS), f" {first} ", last, rng.choice(JOB_TITLES),
            company, email, phone, mobile, street, city, state, postal, country,
        ]  # fmt: skip


def write_salesforce_csv(path: Path, count: int, seed: int = 7) -> None:
    """Write a Salesforce-style contact export (UTF-8 with BOM, CRLF, quoted where needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SALESFORCE_HEADER)
        writer.writerows(rows(count, seed))


def scale_csv(source: Path, target: Path, copies: int) -> None:
    """``copies`` copies of a generated export in one file, each copy's ids suffixed with its
    number (duplicates stay duplicates within a copy): 10M rows in seconds, not minutes."""
    import polars as pl

    frame = pl.read_csv(source, infer_schema=False)
    with target.open("wb") as handle:
        for copy in range(copies):
            frame.with_columns(pl.col("Contact ID") + f"-{copy}").write_csv(
                handle, include_header=copy == 0
            )


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic Salesforce contact export.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    write_salesforce_csv(args.path, args.rows, args.seed)


if __name__ == "__main__":
    main()
