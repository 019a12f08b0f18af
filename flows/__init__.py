"""The thin shell: the Typer CLI, the Prefect flows and tasks, and rendering.

cli.py             the ``custsync`` command line
cli_support.py     what the commands share: global options, flag types, progress, errors
migrate_cli.py     ``custsync migrate``
run_history.py     ``custsync runs``
summary.py         what a command prints at its end
sync_flow.py       the ``sync-customers`` flow
migrate_flow.py    the ``migrate-customers`` flow
backfill_flow.py   the ``backfill-3ds`` flow
prefect_runner.py  the engine's steps as Prefect tasks
run_secrets.py     signatures and passwords kept out of flow-run parameters
__main__.py        ``python -m flows``
"""
