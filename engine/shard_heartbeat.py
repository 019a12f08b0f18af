"""A migration shard's heartbeat: while its run lives, a thread writes its progress to the
state store every ``beat_s`` (``connectors/tuning.py``); when the run ends, its report or its
reason.

From a thread of its own, with its own connection, so a run busy reading a big export (the
census), or waiting out a rate limit, still beats; a run that is killed stops beating, and the
migration's parent (``engine/migrate.py``) submits its shard again.

A run the parent gave up on that was only late (a slow start, a frozen machine) learns it from
its beat and steps aside (``ShardReplacedError``): at its first beat, before it takes the
shard's lock, or at its next step or progress once it runs. Its replacement then neither finds
the shard locked nor shares the API with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import polars as pl

from connectors.errors import ShardReplacedError
from connectors.state.store import StoreOpener
from connectors.tuning import DEFAULTS
from engine.runner import StepRunner
from schemas.report import SyncReport

log = logging.getLogger("custsync.migrate")

T = TypeVar("T")


class ShardHeartbeat:
    """Beats for one attempt of one shard of a migration. Every write is the thread's, on the
    thread's own connection (a SQLite connection belongs to the thread that made it)."""

    def __init__(
        self,
        store: StoreOpener,
        migration_id: str,
        shard: str,
        attempt: int,
        beat_s: float = DEFAULTS.migration.beat_s,
        taker: str = "",
    ) -> None:
        self._open_store = store
        self._beat_s = beat_s
        self._key = (migration_id, shard, attempt)
        self._taker = taker  # "" for the attempt's own flow run, else the live run that took it
        self.done = self.total = 0
        self._end: tuple[str, dict[str, Any] | None, str | None] | None = None
        self._ended: BaseException | None = None
        self._stop = threading.Event()
        self._first = threading.Event()  # the first beat was tried
        self.replaced = threading.Event()  # another attempt of the shard was submitted
        self._thread = threading.Thread(target=self._beat, name="custsync-shard", daemon=True)

    def __enter__(self) -> ShardHeartbeat:
        self._thread.start()
        self._first.wait()
        self.check()
        return self

    def check(self) -> None:
        """ShardReplacedError once a beat found this attempt given up."""
        if self.replaced.is_set():
            self._stop.set()
            _, shard, attempt = self._key
            raise ShardReplacedError(
                f"shard {shard} attempt {attempt}: given up by its migration (which submitted "
                "another), or taken over by a live run; this one stops"
            )

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _beat(self) -> None:
        try:
            store = self._open_store()
        except BaseException:
            self._first.set()  # a store that cannot be opened: the run finds out for itself
            raise
        runs = store.shard_runs
        try:
            while True:
                try:
                    if not runs.beat(*self._key, self.done, self.total, self._taker):
                        self.replaced.set()
                        break
                except Exception:  # a store that hiccups: the next beat tries again
                    log.warning("shard heartbeat not written; trying again in %.0f s", self._beat_s)
                finally:
                    self._first.set()
                if self._stop.wait(self._beat_s):
                    break
            if self._end is not None:
                try:
                    runs.finish(*self._key, *self._end, self._taker)
                except Exception as exc:  # the parent then sees the run end unannounced
                    self._ended = exc
        finally:
            store.close()

    def progress(self, done: int, total: int) -> None:
        """Rows done so far (read by the next beat)."""
        self.done, self.total = done, total

    def finish(self, status: str, report: dict[str, Any] | None, reason: str | None) -> None:
        """The run ended (``ok``, ``failed``, ``locked``): its report, or why it failed."""
        self._end = (status, report, reason)
        self.__exit__()
        if self._ended is not None:
            raise self._ended


class BeatingRunner:
    """A step runner whose progress also feeds the heartbeat."""

    def __init__(self, inner: StepRunner, heartbeat: ShardHeartbeat) -> None:
        self._inner = inner
        self._heartbeat = heartbeat

    def step(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        """Run one step, as the inner runner does (none once the run was replaced)."""
        self._heartbeat.check()
        return self._inner.step(name, fn, *args)

    def progress(self, done: int, total: int) -> None:
        """Rows done so far; ShardReplacedError once the run was replaced."""
        self._heartbeat.check()
        self._heartbeat.progress(done, total)
        self._inner.progress(done, total)

    def publish(self, report: SyncReport, rejects: pl.DataFrame, out_dir: str = "") -> None:
        """The run's summary, as the inner runner publishes it."""
        self._inner.publish(report, rejects, out_dir)
