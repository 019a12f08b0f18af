"""Every Customer API rule and 3-D Secure requirement rejects with a reason naming the field."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.api_fields import REQUEST_FIELDS
from schemas.validation import ValidationResult, validate_customers
from tests.schemas.helpers import customer_frame, person


def run(*rows: dict, profile: str = "api", entity_required: bool = False,
        strict: bool = False) -> ValidationResult:  # fmt: skip
    frame = customer_frame(*rows)
    return validate_customers(frame, profile, entity_required, strict=strict)  # type: ignore[arg-type]


def actions(result: ValidationResult) -> set[tuple[str, str]]:
    return {(r["field"], r["action"]) for r in result.rejects.iter_rows(named=True)}


def reasons(result: ValidationResult) -> set[tuple[str, str]]:
    return {(r["field"], r["reason"]) for r in result.rejects.iter_rows(named=True)}


def test_a_clean_person_is_valid_and_3ds_ready() -> None:
    result = run(person())
    assert (result.rows_valid, result.rows_rejected, result.threeds_ready) == (1, 0, 1)
    assert result.rejects.height == 0


@pytest.mark.parametrize(
    "spec", [f for f in REQUEST_FIELDS if f.max_length and f.kind != "email"], ids=lambda f: f.path
)
def test_every_max_length(spec) -> None:  # type: ignore[no-untyped-def]
    fill = {"phone": "1", "tax": "1"}.get(spec.kind, "a")
    at_limit = run(person(**{spec.path.replace(".", "__"): fill * spec.max_length}))
    assert at_limit.rows_valid == 1, at_limit.rejects
    over = run(person(**{spec.path.replace(".", "__"): fill * (spec.max_length + 1)}))
    assert (spec.path, f"longer than {spec.max_length} characters") in reasons(over)
    strict = run(
        person(**{spec.path.replace(".", "__"): fill * (spec.max_length + 1)}), strict=True
    )
    assert reasons(strict) == {(spec.path, f"longer than {spec.max_length} characters")}
    assert strict.rows_valid == 0


NAMES = "required when billing.first_name and billing.last_name are not both given"


def test_a_value_the_customer_does_not_need_is_left_out_and_the_row_kept() -> None:
    result = run(person(billing__address_1="12 Long Road, Building 7, Industrial Estate North",
                        phone_number="020 7946 0000 ask for Bob", title="R2D2"))  # fmt: skip
    assert (result.rows_valid, result.rows_rejected, result.values_left_out) == (1, 0, 3)
    assert actions(result) == {("billing.address_1", "left_out"), ("phone_number", "left_out"),
                               ("title", "left_out")}  # fmt: skip
    row = result.valid.row(0, named=True)
    assert (row["billing.address_1"], row["phone_number"], row["title"]) == (None, None, None)
    assert row["__left_out"] == ["billing.address_1", "phone_number", "title"]
    assert row["billing.city"] == "London"  # the rest is sent as it was


def test_a_row_is_rejected_when_what_remains_cannot_make_a_customer() -> None:
    # A first name too long to send leaves neither both names nor a company.
    result = run(person(billing__first_name="a" * 60))
    assert result.rows_valid == 0 and result.values_left_out == 0
    assert actions(result) == {("billing.first_name", "rejected"), ("company_name", "rejected")}
    assert (("company_name", NAMES)) in reasons(result)
    company = run(person(billing__first_name="a" * 60, company_name="Acme Ltd"))
    assert company.rows_valid == 1 and actions(company) == {("billing.first_name", "left_out")}
    no_id = run(person(external_id=None, title="R2D2"))
    assert no_id.rows_valid == 0 and actions(no_id) == {("external_id", "rejected"),
                                                        ("title", "rejected")}  # fmt: skip


def test_under_3ds_a_3ds_field_rejects_the_row_and_others_are_left_out() -> None:
    result = run(person(email_address="not-an-email", title="R2D2"), profile="3ds")
    assert result.rows_valid == 0
    assert ("email_address", "rejected") in actions(result)
    kept = run(person(title="R2D2"), profile="3ds")
    assert kept.rows_valid == 1 and actions(kept) == {("title", "left_out")}


def test_strict_rejects_the_row_for_any_invalid_value() -> None:
    result = run(person(title="R2D2"), strict=True)
    assert (result.rows_valid, result.values_left_out) == (0, 0)
    assert actions(result) == {("title", "rejected")}


def test_over_long_values_are_left_out_never_cut() -> None:
    long = "12 Long Road, Building 7, Industrial Estate North"
    result = run(person(billing__address_1=long))
    assert result.rows_valid == 1 and result.valid.item(0, "billing.address_1") is None
    assert result.rejects.row(0, named=True)["row"] == 1
    assert run(person(billing__address_1=long), strict=True).rows_valid == 0


@pytest.mark.parametrize("path", ["phone_number", "work_phone", "billing.phone", "shipping.phone"])
def test_phone_pattern(path: str) -> None:
    result = run(person(**{path.replace(".", "__"): "020 7946 0000 ask for Bob"}))
    assert reasons(result) == {(path, "only digits, spaces and + - ( ) . allowed")}
    assert actions(result) == {(path, "left_out")} and result.rows_valid == 1


EXTENSIONS = [
    ("397.884.0519x718", "397.884.0519"),
    ("001-599-042-7428x143", "001-599-042-7428"),
    ("+44 20 7946 0958 ext. 12", "+44 20 7946 0958"),
    ("020 7946 0958 #12", "020 7946 0958"),
    ("(555) 123-4567 X99", "(555) 123-4567"),
    ("555-1234 extension 7", "555-1234"),
    ("0113 496 0000 ext12", "0113 496 0000"),
    ("0113 496 0000, 5", "0113 496 0000"),
]


@pytest.mark.parametrize(("typed", "sent"), EXTENSIONS)
def test_an_extension_is_split_off_and_reported_the_number_sent(typed: str, sent: str) -> None:
    result = run(person(phone_number=typed))
    assert result.rows_valid == 1 and result.valid.item(0, "phone_number") == sent
    assert actions(result) == {("phone_number", "left_out")} and result.values_left_out == 1
    assert typed not in result.rejects.write_csv()  # the number never lands in rejects.csv
    strict = run(person(phone_number=typed), strict=True)
    assert strict.rows_valid == 0 and actions(strict) == {("phone_number", "rejected")}


def test_under_3ds_the_number_without_its_extension_becomes_e164() -> None:
    result = run(person(phone_number="020 7946 0958 ext. 12"), profile="3ds")
    assert result.rows_valid == 1 and result.valid.item(0, "phone_number") == "+442079460958"


def test_title_pattern() -> None:
    assert reasons(run(person(title="Mr/Mrs"))) == {
        ("title", "only letters, spaces, - and . allowed")
    }
    assert run(person(title="Prof. Dr.")).rows_valid == 1


def test_tax_identifier_pattern() -> None:
    assert reasons(run(person(tax__identifier="12-34"))) == {
        ("tax.identifier", "only digits allowed")
    }


@pytest.mark.parametrize("email", ["john.doe@", "jane@@example.com", "no-at-sign", "a@b"])
def test_email_format(email: str) -> None:
    assert reasons(run(person(email_address=email))) == {
        ("email_address", "not a valid e-mail address")
    }


def test_unusual_but_valid_emails_pass() -> None:
    for email in ("o'brien+tag@example.co.uk", "user@bücher.de", "first.last+tag@sub.example.io"):
        assert run(person(email_address=email)).rows_valid == 1, email


@pytest.mark.parametrize("path", ["billing.country_code", "shipping.country_code"])
def test_country_must_be_known(path: str) -> None:
    result = run(person(**{path.replace(".", "__"): "Narnia"}))
    assert reasons(result) == {(path, "not a country name or ISO 3166-1 code")}


def test_company_name_or_both_names() -> None:
    lone = person(billing__last_name=None)
    assert reasons(run(lone)) == {
        (
            "company_name",
            "required when billing.first_name and billing.last_name are not both given",
        )
    }
    assert run(dict(lone, company_name="Acme Ltd")).rows_valid == 1


def test_external_id_is_required() -> None:
    assert reasons(run(person(external_id=None))) == {("external_id", "required")}  # type: ignore[arg-type]


def test_entity_id_required_only_when_asked() -> None:
    assert run(person()).rows_valid == 1
    assert reasons(run(person(), entity_required=True)) == {("entity_id", "required")}


def test_duplicates_last_occurrence_wins() -> None:
    result = run(person("A", billing__city="Leeds"), person("B"), person("A", billing__city="York"))
    assert result.rows_valid == 2
    assert result.valid.filter(result.valid["external_id"] == "A")["billing.city"].to_list() == [
        "York"
    ]
    assert [
        (r["external_id"], r["row"], r["reason"]) for r in result.rejects.iter_rows(named=True)
    ] == [("A", 1, "duplicate: row 3 kept (the last of this external id)")]
    assert result.rejects.height == 1


def test_a_duplicate_kept_in_another_file_names_that_file() -> None:
    result = run(dict(person("A"), __file="jan.csv"), dict(person("A"), __file="feb.csv"))
    assert result.rejects.select("file", "reason").rows() == [
        ("jan.csv", "duplicate: row 2 of feb.csv kept (the last of this external id)")
    ]


def test_ragged_rows_are_rejected_with_their_reason() -> None:
    result = run(
        person("A"), dict(person("B"), __ragged="ragged row: fewer fields than the header's 9")
    )
    assert result.rows_valid == 1
    assert reasons(result) == {("", "ragged row: fewer fields than the header's 9")}


def test_every_problem_of_a_row_is_listed() -> None:
    result = run(person(title="R2D2", billing__city="x" * 29, billing__country_code="XX"))
    assert {field for field, _ in reasons(result)} == {
        "title",
        "billing.city",
        "billing.country_code",
    }
    assert (result.rows_rejected, result.values_left_out) == (0, 3)
    assert run(person(title="R2D2", billing__country_code="XX"), strict=True).rows_rejected == 1


def test_reasons_never_carry_shopper_values() -> None:
    result = run(person(email_address="secret.person@@example.com", billing__first_name="x" * 30))
    text = result.rejects.write_csv()
    assert "secret.person" not in text and "xxxxxxxx" not in text


@pytest.mark.parametrize(
    "missing",
    ["email_address", "billing.first_name", "billing.last_name", "billing.address_1",
     "billing.city", "billing.country_code", "billing.postal_code"],
)  # fmt: skip
def test_3ds_required_fields(missing: str) -> None:
    row = person(**{missing.replace(".", "__"): None})
    if missing.startswith("billing.") and missing.endswith("_name"):
        row["company_name"] = "Acme"  # still API-valid
    api = run(row)
    assert api.rows_valid == 1 and api.threeds_ready == 0
    assert api.threeds_problems == {missing: 1}
    threeds = run(row, profile="3ds")
    assert threeds.rows_valid == 0
    assert reasons(threeds) == {(missing, "required for 3-D Secure")}


def test_3ds_postal_code_not_needed_where_there_is_none() -> None:
    row = person(billing__country_code="HK", billing__postal_code=None, billing__city="Hong Kong")
    assert run(row, profile="3ds").rows_valid == 1


@pytest.mark.parametrize(("country", "state"), [("US", None), ("US", "Gondor"), ("CA", "XX")])
def test_3ds_state_required_in_us_ca_cn(country: str, state: str | None) -> None:
    row = person(billing__country_code=country, billing__state=state)
    result = run(row, profile="3ds")
    assert [f for f, _ in reasons(result)] == ["billing.state"]
    fixed = run(
        person(billing__country_code=country, billing__state="Ohio" if country == "US" else "ON"),
        profile="3ds",
    )
    assert fixed.rows_valid == 1


def test_3ds_phone_must_convert_to_e164() -> None:
    bad = run(person(phone_number="12345"), profile="3ds")
    assert reasons(bad) == {("phone_number", "cannot be made E.164 with the country given")}
    good = run(person(phone_number="020 7946 0000"), profile="3ds")
    assert good.valid["phone_number"].to_list() == ["+442079460000"]


def test_readiness_counts_by_country() -> None:
    result = run(
        person("A"), person("B", billing__country_code="US"), person("C", billing__city=None)
    )
    assert result.threeds_ready == 1
    assert result.threeds_not_ready_by_country == {"US": 1, "GB": 1}


PHONES = st.text(alphabet="0123456789 +-().xX#ext,;/'", max_size=30)


@given(st.lists(PHONES, min_size=1, max_size=40))
@settings(max_examples=20, deadline=None)
def test_the_digits_sent_are_the_digits_read_less_a_trailing_extension(typed: list[str]) -> None:
    # Many phones a draw, in one frame: validation costs per call, not per row.
    result = run(*(person(f"P{n}", phone_number=phone) for n, phone in enumerate(typed)))
    sent = dict(result.valid.select("external_id", "phone_number").iter_rows())
    for n, phone in enumerate(typed):
        kept = sent.get(f"P{n}")
        if kept is None:
            continue
        read, digits = re.sub(r"\D", "", phone), re.sub(r"\D", "", kept)
        assert read.startswith(digits), phone  # nothing invented, nothing reordered
        if digits != read:  # only an extension was dropped: digits after a marker, at the end
            tail = read[len(digits) :]
            assert re.search(r"(?i)(x|ext\w*\.?|#|,|;)\s*" + tail + r"#?$", phone), phone


def test_each_row_keeps_its_own_verdict_whatever_is_rejected_before_it() -> None:
    result = run(person(None), person("R1", title="R2D2"),
                 person("R2", billing__first_name="a" * 60), person("R3"))  # fmt: skip
    assert sorted(result.valid.get_column("external_id").to_list()) == ["R1", "R3"]
    assert {(r["external_id"], r["action"]) for r in result.rejects.iter_rows(named=True)} == {
        (None, "rejected"), ("R1", "left_out"), ("R2", "rejected"),
    }  # fmt: skip


def test_an_external_id_that_begins_like_a_spreadsheet_formula_rejects_its_row() -> None:
    from schemas.spreadsheet import REASON_FORMULA_ID

    formulas = ['=HYPERLINK("https://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)",
                "-2+3", "\t=1+1"]  # fmt: skip
    result = run(*(person(f) for f in formulas), person("0035g00000AbCdE"), person("A-1"))
    assert result.rows_valid == 2 and result.rows_rejected == len(formulas)
    assert reasons(result) == {("external_id", REASON_FORMULA_ID)}
    assert sorted(result.valid.get_column("external_id")) == ["0035g00000AbCdE", "A-1"]


def test_a_street_s_lines_fill_the_address_lines_or_are_left_out_whole() -> None:
    three = person("L1", billing__address_1=None,
                   billing__address_lines="Unit 9\r\n\r\nBuilding C\r\n1 Dock Road")  # fmt: skip
    four = person("L2", billing__address_1=None, billing__address_lines="a\nb\nc\nd")
    long = person("L3", billing__address_1=None, billing__address_lines="x" * 41 + "\ny")
    result = run(three, four, long)
    valid = {r["external_id"]: r for r in result.valid.iter_rows(named=True)}
    assert [valid["L1"][f"billing.address_{n}"] for n in (1, 2, 3)] == [
        "Unit 9", "Building C", "1 Dock Road"]  # fmt: skip
    assert valid["L2"]["billing.address_1"] is None and valid["L3"]["billing.address_1"] is None
    assert actions(result) == {("billing.address_lines", "left_out")}
    assert result.values_left_out == 2
    # Under 3ds the street is needed: the customer is not 3DS-ready, and the report says why.
    tds = run(four, profile="3ds")
    assert tds.rows_valid == 0
    assert ("billing.address_lines", "left_out") in actions(tds)
    assert ("billing.address_1", "rejected") in actions(tds)
    strict = run(three, four, strict=True)
    assert strict.rows_valid == 1 and ("billing.address_lines", "rejected") in actions(strict)


def test_a_full_name_is_split_at_its_last_space_counted_and_refused_under_strict() -> None:
    split = person("N1", billing__first_name=None, billing__last_name=None,
                   billing__full_name="  Mary   Ann Smith ")  # fmt: skip
    given = person("N2", billing__full_name=None)
    result = run(split, given)
    names = {r["external_id"]: (r["billing.first_name"], r["billing.last_name"])
             for r in result.valid.iter_rows(named=True)}  # fmt: skip
    assert names == {"N1": ("Mary Ann", "Smith"), "N2": ("Ann", "Lee")}
    assert result.names_split == 1 and result.rejects.height == 0
    strict = run(split, given, strict=True)
    assert strict.rows_valid == 1 and strict.names_split == 0
    assert actions(strict) == {("billing.full_name", "rejected")}
