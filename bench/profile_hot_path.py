"""The hot path, profiled (pyinstrument): where a run's time goes, with the top costs named.

Two profiles, in-process: (1) a dry run of --rows rows (read, census, validate, plan against a
state store): the path every row takes; (2) sending --send-rows creates to an unlimited sandbox
on loopback: the client's own cost per request (the API, not us, must be what waits).

    uv run python bench/profile_hot_path.py [--rows 1000000] [--send-rows 3000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from pyinstrument import Profiler
from pyinstrument.frame import Frame

from bench.exports import write_salesforce_csv
from engine.config import SyncConfig
from engine.sync import run_sync
from sandbox.process import SandboxProcess

ROOT = Path(__file__).parents[1]
MAPPING = ROOT / "data/mappings/salesforce.toml"
AUTH = ("bench", "bench-key")
TOP = 12


def ours(frame: Frame) -> bool:
    path = frame.file_path or ""
    return str(ROOT) in path and ".venv" not in path and "/bench/" not in path


def summarise(root: Frame, total: float, title: str) -> None:
    """Top functions by self time (time in that frame, C/Rust code it calls included), and our
    own functions by cumulative time."""
    own_time: dict[str, float] = defaultdict(float)
    cumulative: dict[str, float] = defaultdict(float)

    def walk(frame: Frame, stack: frozenset[str]) -> None:
        name = f"{frame.function} ({Path(frame.file_path or '?').name}:{frame.line_no})"
        if not frame.is_synthetic:  # pyinstrument's [self]/[await] bookkeeping frames
            own_time[name] += frame.total_self_time
        if ours(frame) and name not in stack:  # recursion counted once
            cumulative[name] += frame.time
        for child in frame.children:
            walk(child, stack | {name})

    walk(root, frozenset())
    print(f"{title}: {total:.1f} s wall, profiled")
    print(f"  top {TOP} by self time (the frame and the native code it calls):")
    for name, seconds in sorted(own_time.items(), key=lambda kv: -kv[1])[:TOP]:
        print(f"    {seconds:>7.2f} s {seconds / total:>6.1%}  {name}")
    print(f"  top {TOP} of custsync's functions by cumulative time:")
    for name, seconds in sorted(cumulative.items(), key=lambda kv: -kv[1])[:TOP]:
        print(f"    {seconds:>7.2f} s {seconds / total:>6.1%}  {name}")


def profile(title: str, work: object) -> None:
    profiler = Profiler(interval=0.005, async_mode="enabled")
    started, cpu = time.perf_counter(), time.process_time()
    profiler.start()
    work()  # type: ignore[operator]
    profiler.stop()
    total = time.perf_counter() - started
    print(f"\n{title}: {time.process_time() - cpu:.1f} s of CPU in this process")
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    summarise(root, total, title)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--send-rows", type=int, default=3_000)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.csv", Path(tmp) / "small.csv"
        write_salesforce_csv(big, args.rows)
        write_salesforce_csv(small, args.send_rows, seed=3)
        dry = SyncConfig(sources=[str(big)], mapping=MAPPING, dry_run=True,
                         state=f"{tmp}/dry.db", out=Path(tmp) / "dry")  # fmt: skip
        profile(f"dry run of {args.rows:,} rows", lambda: run_sync(dry))
        if not args.send_rows:  # --send-rows 0: the dry run only
            return
        os.environ.update({"VERIFONE_USER_UID": AUTH[0], "VERIFONE_API_KEY": AUTH[1]})
        with SandboxProcess(users={AUTH[0]: AUTH[1]}) as server:
            send = SyncConfig(sources=[str(small)], mapping=MAPPING, target=server.url,
                              entity_id="profile", state=f"{tmp}/send.db",
                              out=Path(tmp) / "send")  # fmt: skip
            outcome = {}
            profile(f"sending {args.send_rows:,} rows (unlimited sandbox)",
                    lambda: outcome.update(run_sync(send).report.as_json()))  # fmt: skip
        requests, seconds = outcome.get("requests", 0), outcome.get("load_duration_s")
        print(f"  sent: {requests:,} requests in {seconds} s of load"
              " (client and sandbox share the 2 cores)")  # fmt: skip


if __name__ == "__main__":
    main()
