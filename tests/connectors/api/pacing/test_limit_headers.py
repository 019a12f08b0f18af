"""Rate-limit headers read as gateways send them."""

from __future__ import annotations

import pytest

from connectors.api.pacing.limit_headers import Quota, read_quota


@pytest.mark.parametrize(("headers", "quota"), [
    ({"ratelimit-limit": "100", "ratelimit-remaining": "7", "ratelimit-reset": "3"}, Quota(7, 3)),
    ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "12"}, Quota(0, 12)),
    # GitHub's reset is a Unix time.
    ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000030"}, Quota(0, 30)),
    ({"ratelimit": '"default";r=4;t=9'}, Quota(4, 9)),
    ({"ratelimit-remaining": "5"}, None),  # half a quota says nothing
    ({"x-ratelimit-remaining": "many", "x-ratelimit-reset": "1"}, None),
    ({}, None),
])  # fmt: skip
def test_a_quota_from_each_form(headers: dict[str, str], quota: Quota | None) -> None:
    assert read_quota(headers, now=1_700_000_000) == quota
