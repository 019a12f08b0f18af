"""The sync engine: the batch loop, the exactly-once loader, the API session, run totals.

config.py           what a run is asked to do (SyncConfig)
source.py           the exports, opened and checked, read and validated batch by batch
target.py           where requests go (a named target, a URL, or the embedded sandbox)
context.py          a run's context (RunContext), opened and closed in one place
session.py          one API client for a whole run
runner.py           how steps run: plain calls here, Prefect tasks in flows/
steps.py            plan, load, settle
loader.py           exactly once: journal, reconcile (exact, then loose), --match-on adoption
totals.py           the figures of a run, and its typed report
outcome.py          RunOutcome: what any command's run came to
history.py          reading the store's run records and mappings for the CLI
shard_heartbeat.py  a migration shard's beats and end, where its parent looks
writeback.py        the UUIDs the CRM lacks, given to it and marked once it confirms them
sync.py, validate.py, backfill.py, migrate.py    the commands' runs
"""
