"""Mapping files: parsing, unknown fields, missing columns, canonical names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas.mapping import ColumnMapping, MappingInvalid, Writeback, parse_mapping

PRESETS = Path(__file__).parents[2] / "data" / "mappings"


def test_parse_a_mapping() -> None:
    mapping = parse_mapping('external_id = "Id"\n[columns]\n"billing.city" = "City"\n')
    assert mapping == ColumnMapping("Id", {"billing.city": "City"})


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('external_id = "Id"\n[columns]\n"billing.county" = "County"\n', "'billing.county'"),
        (
            'external_id = "Id"\n[columns]\n"emial_address" = "Email"\n',
            "did you mean 'email_address'",
        ),
        ('[columns]\n"billing.city" = "City"\n', "external_id"),
        ("external_id = \n", "not valid TOML"),
        ('external_id = "Id"\ncolumn = {}\n', "unknown top-level key 'column'"),
        ('external_id = "Id"\n[columns]\n"billing.city" = 3\n', "billing.city"),
        ('external_id = "Id"\n[writeback]\nid_column = "Id"\n', "must set uuid_field"),
        ('external_id = "Id"\n[writeback]\nid_column = " "\nuuid_field = "U"\n', "id_column"),
        ('external_id = "Id"\n[writeback]\nid_column = "Id"\nuuid_field = "Id"\n', "must differ"),
        ('external_id = "Id"\nwriteback = "yes"\n', "[writeback] must be a table"),
        (
            'external_id = "Id"\n[writeback]\nid_column = "Id"\nuuid_field = "U"\n'
            'format = "xlsx"\n',
            "csv or parquet, not 'xlsx'",
        ),
        (
            'external_id = "Id"\n[writeback]\nid_column = "Id"\nuuid_field = "U"\nfield = "U"\n',
            "unknown key 'field'",
        ),
    ],
)
def test_bad_mappings_name_the_culprit(text: str, needle: str) -> None:
    with pytest.raises(MappingInvalid) as info:
        parse_mapping(text, "m.toml")
    assert needle in str(info.value)


def test_missing_source_column_names_it_and_lists_what_exists() -> None:
    mapping = parse_mapping('external_id = "Id"\n[columns]\n"billing.city" = "Mailing City"\n')
    with pytest.raises(MappingInvalid) as info:
        mapping.resolved(["Id", "Mailing_City", "Email"], "export.csv")
    message = str(info.value)
    assert "'Mailing City'" in message and "export.csv" in message
    assert "'Mailing_City'" in message and "did you mean" in message


def test_columns_match_but_for_case_and_surrounding_spaces_when_unambiguous() -> None:
    mapping = parse_mapping('external_id = "Id"\n[columns]\n"email_address" = "Email"\n')
    resolved = mapping.resolved([" ID", "EMAIL ", "Notes"], "export.csv")
    assert resolved.external_id == " ID" and resolved.columns == {"email_address": "EMAIL "}
    # an exact match wins over loose ones
    assert mapping.resolved(["Id", "id", "Email"], "e.csv").external_id == "Id"
    with pytest.raises(MappingInvalid, match="'Id'"):
        mapping.resolved(["ID", "id ", "Email"], "e.csv")  # two candidates: never a guess
    canonical = ColumnMapping.canonical(["External_ID", "Billing.City ", "notes"])
    assert canonical.external_id == "External_ID"
    assert canonical.columns == {"billing.city": "Billing.City "}


def test_canonical_names_need_external_id() -> None:
    assert ColumnMapping.canonical(["external_id", "billing.city", "notes"]).columns == {
        "billing.city": "billing.city"
    }
    with pytest.raises(MappingInvalid):
        ColumnMapping.canonical(["id", "billing.city"])


@pytest.mark.parametrize("preset", sorted(PRESETS.glob("*.toml")), ids=lambda p: p.stem)
def test_presets_parse(preset: Path) -> None:
    mapping = parse_mapping(preset.read_text(), preset.name)
    assert mapping.columns["email_address"]
    # Each preset writes the UUIDs back as its CRM's importer takes them.
    assert (
        mapping.writeback
        == {
            "salesforce": Writeback("Id", "Verifone_Customer_ID__c", "csv"),
            "hubspot": Writeback("Record ID", "verifone_customer_id", "csv"),
        }[preset.stem]
    )


def test_the_writeback_table_is_kept_through_resolution() -> None:
    text = 'external_id = "Contact ID"\n[writeback]\nid_column = "Id"\nuuid_field = "U__c"\n'
    mapping = parse_mapping(text + 'format = "parquet"\n')
    assert mapping.writeback == Writeback("Id", "U__c", "parquet")
    assert mapping.resolved(["contact id"], "e.csv").writeback == mapping.writeback
    assert parse_mapping(text).writeback == Writeback("Id", "U__c", "csv")


@pytest.mark.parametrize(
    ("preset", "crm", "kind"),
    [("salesforce", "salesforce", "Contact"), ("hubspot", "hubspot", "contacts")],
)
def test_the_presets_commented_crm_lines_work_once_uncommented(
    preset: str, crm: str, kind: str
) -> None:
    path = Path(__file__).parents[2] / "data" / "mappings" / f"{preset}.toml"
    text = path.read_text().replace("# crm = ", "crm = ").replace("# object = ", "object = ")
    writeback = parse_mapping(text, path.name).writeback
    assert writeback is not None and (writeback.crm, writeback.object) == (crm, kind)
    assert parse_mapping(path.read_text()).writeback.crm == "file"  # type: ignore[union-attr]


@pytest.mark.parametrize(("table", "needle"), [
    ('crm = "pipedrive"', "crm must be file, salesforce or hubspot, not 'pipedrive'"),
    ('object = "Contact"', 'object needs crm = "salesforce" or "hubspot"'),
    ('crm = "salesforce"\nobject = "Contact; DROP"', "object must name the CRM's object"),
])  # fmt: skip
def test_a_bad_crm_in_writeback_names_the_culprit(table: str, needle: str) -> None:
    text = f'external_id = "Id"\n[writeback]\nid_column = "Id"\nuuid_field = "U__c"\n{table}\n'
    with pytest.raises(MappingInvalid, match=re.escape(needle)):
        parse_mapping(text, "m.toml")
    bad_field = 'external_id = "Id"\n[writeback]\ncrm = "hubspot"\nid_column = "Id"\n'
    with pytest.raises(MappingInvalid, match="uuid_field must be the field's API name"):
        parse_mapping(bad_field + 'uuid_field = "Verifone ID"\n', "m.toml")


def test_a_column_may_be_optional_and_a_field_may_have_a_value_for_every_row() -> None:
    mapping = parse_mapping(
        'external_id = "Id"\n[columns]\n"billing.city" = "City"\n'
        '"billing.phone" = { column = "Mobile", optional = true }\n'
        '"billing.address_lines" = { column = "Street" }\n'
        '[values]\n"billing.country_code" = "GB"\n"entity_id" = "shop-1"\n'
    )
    assert mapping.columns == {"billing.city": "City", "billing.phone": "Mobile",
                               "billing.address_lines": "Street"}  # fmt: skip
    assert mapping.optional == {"billing.phone"}
    assert mapping.values == {"billing.country_code": "GB", "entity_id": "shop-1"}
    resolved = mapping.resolved(["Id", "city", "Street"], "x.csv")
    assert resolved.columns == {"billing.city": "city", "billing.address_lines": "Street"}
    assert resolved.missing == (("billing.phone", "Mobile"),)
    lacking = re.escape("'City' (for billing.city) is not in x.csv")
    with pytest.raises(MappingInvalid, match=lacking):
        mapping.resolved(["Id", "Mobile", "Street"], "x.csv")


def test_a_mapping_whose_every_optional_column_is_missing_is_refused() -> None:
    preset = parse_mapping((PRESETS / "hubspot.toml").read_text())
    assert preset.optional == set(preset.columns)  # every column but the external id
    with pytest.raises(MappingInvalid, match="none of the mapping's columns but its external id"):
        preset.resolved(["Record ID", "Owner"], "contacts.csv")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            '"billing.address_lines" = "Street"\n"billing.address_2" = "Line 2"\n',
            "maps billing.address_lines, which fills billing.address_1, billing.address_2, "
            "billing.address_3, and billing.address_2 too",
        ),
        (
            '"shipping.full_name" = "Name"\n"shipping.last_name" = "Last"\n',
            "and shipping.last_name too",
        ),
        ('"billing.city" = { column = "City", required = true }\n', "unknown key 'required'"),
        ('"billing.city" = { optional = true }\n', 'must be "Column" or'),
        ('"billing.city" = { column = "City", optional = "yes" }\n', 'must be "Column" or'),
        ('[values]\n"billing.country_code" = 44\n', "must be a non-empty string"),
        ('[values]\n"billing.country_code" = " "\n', "must be a non-empty string"),
        ('[values]\n"billing.contry_code" = "GB"\n', "did you mean 'billing.country_code'"),
        ('[values]\n"billing.full_name" = "Ann Lee"\n', "unknown API field 'billing.full_name'"),
    ],
)
def test_new_mapping_forms_are_checked(text: str, needle: str) -> None:
    body = text if text.startswith("[") else "[columns]\n" + text
    with pytest.raises(MappingInvalid) as raised:
        parse_mapping('external_id = "Id"\n' + body)
    assert needle in str(raised.value)
