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
    # The draft's -07: one Dictionary.
    ({"ratelimit": "limit=100, remaining=0, reset=5"}, Quota(0, 5)),
    ({"ratelimit": "limit=100, remaining=50"}, None),  # no reset: nothing to wait for
    # -08 on: a List of policies; the one with the fewest left binds (not r of one and t of
    # another), and a comma inside a quoted name is part of it.
    ({"ratelimit": '"per,second";r=0;t=1, "daily";r=4000;t=50000'}, Quota(0, 1)),
    ({"ratelimit": '"hour";r=7;t=3000, "second";r=7;t=1'}, Quota(7, 3000)),
    ({"ratelimit": "default;r=3;t=2;pk=:cHJvZ3JlcXVlc3Q=:"}, Quota(3, 2)),
    ({"ratelimit": '"default";q=100;w=10'}, None),  # a policy, not what is left
    # Twitter's hyphenated names; a reset as a Unix time in milliseconds, or an HTTP-date.
    ({"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1700000004"}, Quota(0, 4)),
    ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000002500"}, Quota(0, 2.5)),
    ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "Tue, 14 Nov 2023 22:13:26 GMT"},
     Quota(0, 6)),
    ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "Tue, 14 Nov 2023 22:13:10 GMT"},
     Quota(0, 0)),  # already past
    ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "soon"}, None),
    ({"ratelimit-remaining": "5"}, None),  # half a quota says nothing
    ({"x-ratelimit-remaining": "many", "x-ratelimit-reset": "1"}, None),
    ({}, None),
])  # fmt: skip
def test_a_quota_from_each_form(headers: dict[str, str], quota: Quota | None) -> None:
    assert read_quota(headers, now=1_700_000_000) == quota
