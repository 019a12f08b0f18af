"""How many requests a run keeps in flight: enough for the pacer to hold its rate, and no more
than a gateway that caps requests in flight admits (learnt from which sends it refused)."""

from __future__ import annotations

from collections import Counter, deque

from connectors.tuning import DEFAULTS, PacerTuning


def default_concurrency(rate_limit: float | None) -> int:
    """Requests in flight: enough to hold the rate at up to a second of latency (the pacer,
    not this bound, sets the pace); without a known rate, 64 (about 300 req/s at 200 ms)."""
    if rate_limit is None:
        return 64
    return max(4, min(256, int(rate_limit) + 1))


class InFlightCap:
    """A gateway's cap on requests in flight (nginx's ``limit_conn``, a queue-less proxy's
    ``maxconn``), learnt from the number out when each answered request was sent.

    A rate limit refuses sends whatever their number out, a few in each; a cap refuses most
    sends above it and none under. Paced by rate alone, a run under a cap of 8 with answers in
    40-80 ms held under 0.8 of what an ideal sender (always exactly 8 out) gets: to stay clear
    of the refusals that overlapping slow answers bring, the pace kept the mean well under the
    cap (``bench/RESULTS.md``, in-flight-8-jitter). Once the cap is
    known the run keeps at most that many out, and the pacer, refused no more, probes up until
    the cap is what holds it. A cap that held sends back with no refusal for ``cap_relax_s``
    is raised by one, so a cap read too low (or one the gateway raised) is outgrown; refused
    at that one more before it has held as long, it is back where it was.

    A rate limit's refusals come with bunched sends, which also put more out: runs sharing a
    token bucket read caps of 1 and 2 from them, and one held to 24/s of its 35. A cap under
    which sends are still refused (``cap_contradicted`` times) was no cap: forgotten, with
    what it was read from."""

    def __init__(self, tuning: PacerTuning = DEFAULTS.pacer) -> None:
        self._t = tuning
        self.limit: int | None = None
        self._seen: deque[tuple[int, bool]] = deque(maxlen=tuning.cap_window)
        self._calm_since = float("-inf")
        self._bound = False
        self._pending = 0  # answers left to read a refusal's cap again from
        self._contradicted = 0  # refusals under the cap since it was read
        self._relaxed_from: int | None = None  # the cap before it last grew by one

    def allows(self, out: int) -> bool:
        """Whether one more may be sent with ``out`` requests in flight."""
        if self.limit is None or out < self.limit:
            return True
        self._bound = True
        return False

    def observe(self, out_at_send: int, refused: bool, now: float) -> bool:
        """An answer to a request sent as the ``out_at_send``-th in flight: refused by the
        gateway's limit (429, or 503 in a run) or not. True when it told a cap (a new one, or
        lower): the refusals were the cap's, not the pace's."""
        self._seen.append((out_at_send, refused))
        if refused:
            self._calm_since = now
            if self._relaxed_from is not None and out_at_send > self._relaxed_from:
                # The one more it grew by was refused: the cap was right, and is again.
                # (Counted as a refusal under the cap, two of them forgot a cap of 8 read
                # right, and the requests it held went out at once.)
                self.limit, self._relaxed_from, self._bound = self._relaxed_from, None, False
                return True
            self._pending = self._t.cap_window  # read again as answers come, if not yet
            if self._learn():
                return True
            if self.limit is not None and out_at_send <= self.limit:
                self._contradicted += 1
                if self._contradicted >= self._t.cap_contradicted:
                    self.limit, self._bound, self._pending = None, False, 0
                    self._relaxed_from = None
                    self._seen.clear()
            return False
        if self._pending:
            # A refusal early in a run comes before enough sends under it got through.
            self._pending -= 1
            if self._pending % 20 == 0 and self._learn():
                self._pending = 0
                return True
        calm = now - self._calm_since >= self._t.cap_relax_s
        if calm:
            self._relaxed_from = None  # the one more held unrefused: it is the cap now
        if self.limit is not None and self._bound and calm:
            self._relaxed_from = self.limit
            self.limit += 1
            self._calm_since = now
            self._bound = False
            self._pending = 0  # the refusals read so far told the old cap: only a new one
        return False

    def _learn(self) -> bool:
        """The highest number out from which most sends were refused, when nearly every send
        with fewer out got through: one under it is the cap. Counted from each number up, not
        at it: jitter in latency takes a paced run over a cap now and then, a refusal or two
        each time, never enough at one number. A wall's probes, one out, refused with nothing
        admitted under them, tell nothing."""
        refused = Counter(n for n, r in self._seen if r)
        admitted = Counter(n for n, r in self._seen if not r)
        levels = sorted(refused.keys() | admitted.keys())
        r_from = sum(refused.values())
        a_from = sum(admitted.values())
        ok_under = refused_under = 0
        found = None  # the highest such number: under it, clean
        for n in levels:
            if (
                n > 1
                and r_from >= self._t.cap_min_refused
                and r_from >= a_from
                and ok_under >= self._t.cap_min_under
                and refused_under <= self._t.cap_clean_under * (ok_under + refused_under)
            ):
                found = n - 1
            ok_under += admitted[n]
            refused_under += refused[n]
            r_from -= refused[n]
            a_from -= admitted[n]
        if found is not None and (self.limit is None or found < self.limit):
            self.limit, self._relaxed_from = found, None
            self._contradicted = 0
            return True
        return False
