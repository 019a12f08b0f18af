"""E-mail checks at polars speed, with email-validator as the judge of everything unusual.

A plain address (ASCII dot-atom local part, ordinary host names) is decided by a vectorised
regular expression that accepts only what email-validator accepts too; every other distinct
value (quoted parts, IDNA, Unicode, odd lengths, special-use domains) goes to email-validator
itself, once per distinct value. Normalised form: email-validator's (the domain lower-cased).
"""

from __future__ import annotations

import polars as pl
from email_validator import EmailNotValidError, validate_email

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# No "--" at label positions 3-4 (IDNA "xn--" and friends): those go to the slow path.
PLAIN_ADDRESS = rf"^{_ATEXT}+(?:\.{_ATEXT}+)*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$"
_IDNA_LIKE = r"(?:^|[@.])[A-Za-z0-9]{2}--"
# Special-use names email-validator refuses (RFC 6761 and friends).
_SPECIAL_TLD = r"\.(?i:arpa|invalid|local|localhost|onion|test|internal|home\.arpa)$"

VALID_SUFFIX = "__email_valid"


def plain_address_ok(column: str) -> pl.Expr:
    """True where the fast path alone can accept the value."""
    value = pl.col(column)
    # Where the pattern matches, the local part is ASCII: its length is the first @'s offset.
    local_length = value.str.find("@", literal=True)
    return (
        value.str.contains(PLAIN_ADDRESS)
        & ~value.str.contains(_IDNA_LIKE)
        & ~value.str.contains(_SPECIAL_TLD)
        & (local_length <= 64)
        & (value.str.len_bytes() <= 254)
    )


def never_valid(column: str) -> pl.Expr:
    """True where no address can be: without a quoted part, anything but one ``@`` (``a@@b``,
    a typo exports are full of, or no ``@`` at all). email-validator refuses them all; deciding
    here spares it thousands of calls a batch."""
    value = pl.col(column)
    return ~value.str.contains('"', literal=True) & (
        value.str.count_matches("@", literal=True) != 1
    )


def _lowercase_domain(column: str) -> pl.Expr:
    value = pl.col(column)
    parts = value.str.splitn("@", 2)
    return parts.struct.field("field_0") + "@" + parts.struct.field("field_1").str.to_lowercase()


def judge(value: str) -> tuple[str, bool]:
    """email-validator's verdict on one value: (normalised or original, valid)."""
    try:
        return validate_email(value, check_deliverability=False).normalized, True
    except EmailNotValidError:
        return value, False


def normalize_email_column(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Normalise ``column`` in place and add ``<column>__email_valid`` (null where absent)."""
    fast = plain_address_ok(column)
    frame = frame.with_columns(fast.alias("__fast"), never_valid(column).alias("__never"))
    unusual = (
        frame.filter(pl.col(column).is_not_null() & ~pl.col("__fast") & ~pl.col("__never"))
        .get_column(column)
        .unique()
        .to_list()
    )
    verdicts = [judge(v) for v in unusual]
    slow = pl.DataFrame(
        {
            column: unusual,
            "__slow_value": [v for v, _ in verdicts],
            "__slow_valid": [ok for _, ok in verdicts],
        },
        schema={column: pl.String, "__slow_value": pl.String, "__slow_valid": pl.Boolean},
    )
    frame = frame.join(slow, on=column, how="left", maintain_order="left")
    # The domains to lower-case, once per distinct address that has a capital after its @
    # (splitting every address to lower-case its domain was half this function's time).
    values = frame.get_column(column)
    upper = values.filter(values.str.contains(r"@[^@]*[A-Z]")).unique()
    lowered = upper.to_frame().select(_lowercase_domain(column)).to_series()
    return frame.with_columns(
        pl.when(pl.col("__fast"))
        .then(pl.col(column).replace(upper, lowered))
        .otherwise(pl.coalesce("__slow_value", column))
        .alias(column),
        pl.when(pl.col(column).is_null())
        .then(None)
        .otherwise(pl.col("__fast") | pl.col("__slow_valid").fill_null(False))
        .alias(column + VALID_SUFFIX),
    ).drop("__fast", "__never", "__slow_value", "__slow_valid")
