"""The state store: what custsync knows of every customer it synced, and of every run.

db.py           the connection and dialect (SQLite file or PostgreSQL URL), the clock
migrations.py   the schema: numbered migrations, applied once when a store opens
customers.py    per (entity, external id): UUID, payload hash, last status and error
journal.py      the write-ahead journal of creates in flight (``PendingCreate``)
run_lock.py     one run at a time per entity of a store
run_records.py  every run, with its report
targets.py      which API each entity's mappings belong to
writeback.py    what the CRM was last given (crm-update files)
budget.py       leases on a target's API budget, one per live run
shard_runs.py   a migration's shards: heartbeats, progress, ends
shard_files.py  a migration's shard artefacts, carried to its parent
arrow_reads.py  large reads of a SQLite store as Arrow
store.py        StateStore: one connection, the concepts above side by side

This ``__init__`` imports nothing: ``db.DEFAULT_STATE`` is read without loading polars.
"""
