"""Every normaliser, and that normalising twice changes nothing."""

from __future__ import annotations

import re
import unicodedata

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas.normalize import NO_VALUE, TEXT_COLUMNS, clean_text, clean_texts, normalize_customers
from tests.schemas.helpers import customer_frame, person


def one(profile: str = "api", **fields: str | None) -> dict:
    frame = normalize_customers(customer_frame(person(**fields)), profile)  # type: ignore[arg-type]
    return frame.row(0, named=True)


def test_whitespace_is_trimmed_and_collapsed() -> None:
    row = one(billing__address_1="  1   High\tStreet\n Flat 2 ")
    assert row["billing.address_1"] == "1 High Street Flat 2"


def test_empty_becomes_absent() -> None:
    assert one(company_name="   ")["company_name"] is None


@pytest.mark.parametrize("marker", ["NULL", " n/a ", "\\N", "#N/A", "(null)"])
def test_no_value_markers_become_absent(marker: str) -> None:
    assert one(billing__city=marker)["billing.city"] is None


def test_values_that_only_look_like_markers_stay() -> None:
    row = one(billing__country_code="NA", billing__city="Nullarbor")  # Namibia; a real place
    assert (row["billing.country_code"], row["billing.city"]) == ("NA", "Nullarbor")


@pytest.mark.parametrize(
    ("country", "typed", "kept"),
    [("US", "2134", "02134"), ("US", "501", "00501"), ("US", "2134-1234", "02134-1234"),
     ("DE", "1067", "01067"), ("NO", "150", "0150"), ("US", "02134", "02134"),
     ("US", "21", "21"), ("GB", "1234", "1234"), ("US", "A134", "A134")],
)  # fmt: skip
def test_postal_codes_get_back_the_zeros_a_spreadsheet_took(
    country: str, typed: str, kept: str
) -> None:
    row = one(billing__country_code=country, billing__postal_code=typed,
              shipping__country_code=country, shipping__postal_code=typed)  # fmt: skip
    assert (row["billing.postal_code"], row["shipping.postal_code"]) == (kept, kept)


def test_unicode_nfc() -> None:
    decomposed = "Jose\u0301"
    assert one(billing__first_name=decomposed)["billing.first_name"] == "Jos\u00e9"


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("United Kingdom", "GB"), ("UK", "GB"), ("gb", "GB"), ("GBR", "GB"), ("826", "GB"),
        ("united states", "US"), ("USA", "US"), ("United States of America", "US"),
        ("Germany", "DE"), ("DEU", "DE"), ("276", "DE"), ("36", "AU"), ("South Korea", "KR"),
        ("  france ", "FR"), ("Türkiye", "TR"), ("Deutschland", "DE"), ("ÖSTERREICH", "AT"),
        ("España", "ES"), ("Sverige", "SE"), ("Ελλάδα", "GR"),
        # CLDR's names in every language, compared without accents: Italian, accent-less.
        ("Germania", "DE"), ("Espana", "ES"),
    ],
)  # fmt: skip
def test_country_names_and_codes_become_alpha_2(typed: str, code: str) -> None:
    assert one(billing__country_code=typed)["billing.country_code"] == code
    assert one(shipping__country_code=typed)["shipping.country_code"] == code


@pytest.mark.parametrize("typed", ["Narnia", "Untied Kingdom", "G B", "Korea", "Germanie"])
def test_unknown_countries_are_kept_for_rejection_not_guessed(typed: str) -> None:
    assert one(billing__country_code=typed)["billing.country_code"] == typed


@pytest.mark.parametrize(
    ("country", "typed", "state"),
    [("US", "Ohio", "OH"), ("US", "oh", "OH"), ("US", "US-OH", "OH"), ("CA", "Ontario", "ON"),
     ("CA", "qc", "QC"), ("CN", "Beijing", "BJ")],
)  # fmt: skip
def test_states_become_iso_3166_2_codes(country: str, typed: str, state: str) -> None:
    row = one(billing__country_code=country, billing__state=typed)
    assert row["billing.state"] == state
    assert row["billing.state__subdivision_valid"] is True


def test_states_elsewhere_are_left_alone() -> None:
    row = one(billing__state="Greater Manchester")
    assert row["billing.state"] == "Greater Manchester"


def test_unknown_us_state_is_kept_and_marked_invalid() -> None:
    row = one(billing__country_code="US", billing__state="Gondor")
    assert row["billing.state"] == "Gondor"
    assert row["billing.state__subdivision_valid"] is False


def test_postal_codes_keep_leading_zeros_and_are_upper_cased() -> None:
    assert one(billing__postal_code="02134")["billing.postal_code"] == "02134"
    assert one(billing__postal_code="sw1a 1aa")["billing.postal_code"] == "SW1A 1AA"


@pytest.mark.parametrize(
    ("typed", "fixed"),
    [("'+44 20 7946 0000", "+44 20 7946 0000"), ("089/1234 5678", "089 1234 5678"),
     ("0161\u2013496\u20130000", "0161-496-0000")],
)  # fmt: skip
def test_phones_repaired_only_where_unambiguous(typed: str, fixed: str) -> None:
    assert one(phone_number=typed)["phone_number"] == fixed


@pytest.mark.parametrize("typed", ["CALL ME", "+44#20", "ext. 12", "0161 ask for Bob"])
def test_phones_with_letters_or_symbols_are_left_for_the_checks(typed: str) -> None:
    assert one(phone_number=typed)["phone_number"] == typed


def test_a_trailing_extension_is_split_off() -> None:
    row = one(phone_number="0161 496 0000 ext. 12")
    assert row["phone_number"] == "0161 496 0000" and row["phone_number__extension"]


def test_email_domain_is_lower_cased_local_part_kept() -> None:
    row = one(email_address="Ann.Lee@Example.COM")
    assert row["email_address"] == "Ann.Lee@example.com"
    assert row["email_address__email_valid"] is True


def test_3ds_profile_turns_phones_into_e164_with_the_billing_country() -> None:
    row = one("3ds", billing__country_code="US", phone_number="(617) 555-0101")
    assert row["phone_number"] == "+16175550101"
    row = one("3ds", phone_number="020 7946 0000")
    assert row["phone_number"] == "+442079460000"


def test_3ds_profile_marks_phones_it_cannot_convert() -> None:
    row = one("3ds", billing__country_code="GB", phone_number="(617) 555-0101")
    assert row["phone_number__e164_valid"] is False


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(text, text, text, text, text), min_size=1, max_size=5))
@example([("", "", "", "'", "")])  # a lone spreadsheet quote: "" the first time, absent the next
@example([("", "", "", "' 0123", "")])
def test_normalising_twice_changes_nothing(values: list[tuple[str, ...]]) -> None:
    rows = [
        person(
            f"C{n}", billing__address_1=a, billing__country_code=c, billing__state=s,
            phone_number=p, email_address=e, billing__postal_code=a,
        )
        for n, (a, c, s, p, e) in enumerate(values)
    ]  # fmt: skip
    once = normalize_customers(customer_frame(*rows)).select(TEXT_COLUMNS)
    again = once.with_columns(
        pl.lit("f").alias("__file"),
        pl.lit(1).alias("__row"),
        pl.lit(None, pl.String).alias("__ragged"),
    )
    twice = normalize_customers(again).select(TEXT_COLUMNS)
    assert once.equals(twice)


def _clean_by_hand(value: str | None) -> str | None:
    """clean_text's rule in plain Python: NFC, whitespace runs -> one space, trimmed."""
    if value is None:
        return None
    cleaned = re.sub(r"\s+", " ", unicodedata.normalize("NFC", value)).strip(" ")
    return None if cleaned in NO_VALUE else cleaned


# Decomposed accents, odd whitespace (tab, NBSP, ideographic space, line separator) and
# no-value markers: what the batch path must treat exactly as the expression does.
PIECES = ["a", "E", " ", "  ", "\t", "\u00a0", "\u3000", "\u2028", "e\u0301", "\u00e9", "N/A",
          "\\N", "\u212b", "x"]  # fmt: skip
messy = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.none() | messy, st.none() | text), min_size=1, max_size=8))
@example([("e\u0301\u00a0 N/A ", "\u212b"), ("  ", None)])
def test_the_batch_path_cleans_exactly_as_the_expression(
    values: list[tuple[str | None, str | None]],
) -> None:
    frame = pl.DataFrame({"a": [v[0] for v in values], "b": [v[1] for v in values]},
                         schema={"a": pl.String, "b": pl.String})  # fmt: skip
    batch = clean_texts(frame, ("a", "b"))
    assert batch.equals(frame.with_columns(clean_text("a"), clean_text("b")))
    assert batch.get_column("a").to_list() == [_clean_by_hand(v[0]) for v in values]
