"""A run's context: what every step of a sync or backfill needs, opened and closed in one place.

Opening order is the promise of the interface: the target (credentials checked: exit 2 before
anything is read), the exports (checked: exit 2 before anything is sent), the CRM's credentials
for a ``[writeback]`` through its API (exit 2 before anything is sent), the state store and,
for a run that writes, its lock (exit 2 when another run holds it).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from connectors.api.targets import Credentials
from connectors.crm.logins import CrmLogin
from connectors.errors import InputError
from connectors.state.db import state_exists
from connectors.state.store import StateStore
from engine.config import ShardAssignment, SyncConfig
from engine.runner import StepRunner
from engine.session import BudgetPlace
from engine.source import Source, open_source
from engine.target import Target, open_target
from engine.writeback import check_login

log = logging.getLogger("custsync.run")


def new_run_id() -> str:
    """``20261126T013000Z-1a2b3c``: sortable, unique enough across workers."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


@dataclass
class RunContext:
    """One run: its configuration, runner, target, exports, state store and artefact folder;
    for a migration's shard, which shard."""

    config: SyncConfig
    runner: StepRunner
    target: Target
    source: Source
    store: StateStore
    run_id: str
    out_dir: Path
    assignment: ShardAssignment | None = None
    crm_login: CrmLogin | None = None  # the [writeback]'s CRM, when it is reached by its API

    @property
    def budget_place(self) -> BudgetPlace | None:
        """Where this run shares its target's API budget: the state store, unless nothing is
        written (a dry run sends nothing) or the store lives in this process's memory alone."""
        if self.config.dry_run or self.config.state == ":memory:":
            return None
        return BudgetPlace(self.store.opener, self.run_id)


@contextmanager
def open_run(
    config: SyncConfig,
    runner: StepRunner,
    run_id: str,
    out_dir: Path,
    on_start: Callable[[str], None] | None = None,
    credentials: Credentials | None = None,
    assignment: ShardAssignment | None = None,
    writes_back: bool = True,
) -> Iterator[RunContext]:
    """Open everything a run needs; a run that writes holds the store's lock throughout.
    ``credentials``: resolved by the caller (Prefect Secret blocks); else the environment's.
    ``writes_back``: the run ends with the mapping's ``[writeback]`` (a sync does)."""
    check_out_dir(out_dir)
    shard = assignment.shard if assignment is not None else None
    with open_target(config.target, credentials) as target:
        if on_start is not None:
            on_start(target.description)
        with open_source(config.source_spec(shard)) as source:
            # The CRM's credentials before anything is sent (a shard leaves the write-back
            # to its migration's parent; a dry run pushes nothing; a backfill changes no UUID).
            pushes = writes_back and shard is None and not config.dry_run
            login = check_login(source.writeback) if pushes else None
            store = StateStore.open(_state_location(config))
            try:
                if not config.dry_run:
                    # Before planning: a plan made while another run writes would be stale.
                    if shard is None:
                        store.lock.acquire(run_id, config.resolved_entity())
                    else:  # the shards of one entity run side by side
                        store.lock.acquire(run_id, shard.entity, shard.part)
                _pin_target(config, store, target, source.census.entities)
                yield RunContext(config, runner, target, source, store, run_id, out_dir,
                                 assignment, login)  # fmt: skip
            finally:
                store.close()


def _pin_target(
    config: SyncConfig, store: StateStore, target: Target, entities: Iterable[str]
) -> None:
    """The store's mappings of these entities belong to this target, or the run stops here
    (exit 2), before anything is sent; a run that writes pins the entities new to the store."""
    if config.new_target:
        if not config.dry_run:
            dropped = store.targets.start_afresh(entities, target.identity)
            log.info("--new-target: %d customers' states of another target forgotten", dropped)
    else:
        store.targets.check(entities, target.identity, target.description)
    if not config.dry_run:
        store.targets.pin(entities, target.identity)


def check_out_dir(out_dir: Path) -> None:
    """The artefact folder must be a folder (or not exist yet): exit 2 before anything is sent."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{{out}} {out_dir} is a file, not a folder")


def _state_location(config: SyncConfig) -> str:
    """A dry run must not even create the state store: an absent one is an empty one."""
    return config.state if not config.dry_run or state_exists(config.state) else ":memory:"
