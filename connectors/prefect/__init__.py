"""Prefect, where custsync runs on a server's workers.

deployments.py  a migration's shard deployment; which deployments ``serve`` may take over
pool.py         a work pool as the place a migration's shards run
artifacts.py    progress and summary artifacts of a flow run
secrets.py      credentials from Prefect Secret blocks
alerts.py       an automation that tells someone when a run fails
"""
