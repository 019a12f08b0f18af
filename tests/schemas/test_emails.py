"""The vectorised e-mail fast path never accepts what email-validator refuses."""

from __future__ import annotations

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas.emails import judge, never_valid, normalize_email_column, plain_address_ok

atoms = st.text(alphabet="abcXYZ019.-_+'!#@\u00e9 \"", min_size=0, max_size=20)
domains = st.sampled_from(
    ["example.com", "EXAMPLE.org", "a.b", "xn--bcher-kva.de", "test", "x.test", "localhost",
     "ex-ample.co.uk", "-bad.com", "a..b.com", "bücher.de", "1.2.3.4", "example.c0m"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.one_of(atoms, st.builds(lambda a, d: f"{a}@{d}", atoms, domains)))
@example('"a@b"@example.com')  # a quoted local part may hold an @
@example("a@@example.com")
def test_fast_path_agrees_with_email_validator(value: str) -> None:
    frame = pl.DataFrame({"e": [value]})
    fast = frame.select(plain_address_ok("e")).item()
    never = frame.select(never_valid("e")).item()
    normalised, valid = judge(value)
    if fast:
        assert valid, value
    if never:
        assert not valid, value
    result = normalize_email_column(frame, "e").row(0, named=True)
    assert result["e__email_valid"] == valid
    if valid:
        assert result["e"] == normalised


def test_absent_stays_absent() -> None:
    result = normalize_email_column(pl.DataFrame({"e": [None]}, schema={"e": pl.String}), "e")
    assert result.row(0) == (None, None)
