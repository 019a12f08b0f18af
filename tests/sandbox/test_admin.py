"""The sandbox's own endpoints: stats and knobs, changed while it runs."""

from __future__ import annotations

from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess


def test_stats_and_knobs() -> None:
    with SandboxProcess(users={"u": "k"}) as server:
        server.set_faults(FaultSettings(latency_ms=5, retry_after="date"))
        stats = server.stats()
        assert stats["faults"]["retry_after"] == "date" and stats["faults"]["latency_ms"] == 5
        assert stats["customers"] == 0 and stats["requests"] == 0  # admin calls are not API calls
        bad = server.admin("POST", "/_sandbox/faults", {"error_rate": 2})
        unknown = server.admin("POST", "/_sandbox/faults", {"nope": 1})
        assert bad.status_code == 400 and "error-rate must be between 0 and 1" in bad.text
        assert unknown.status_code == 400
        assert server.stats()["faults"]["latency_ms"] == 5  # refused changes change nothing
