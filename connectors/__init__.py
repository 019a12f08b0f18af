"""Everything that touches the outside, in rooms by concept.

sources/          export files: local paths, globs and URLs; encodings, headers; the mapping file
api/              the Customer API: client, transport, answers, retry, targets, RSQL, pacing
state/            the state store: customers, journal, locks, runs, leases, shard files
reports/          a run's artefacts and the 3-D Secure readiness page
prefect/          Prefect: deployments, work pools, artifacts, secrets, alerts
crm/              the CRMs the UUIDs go back into: Salesforce and HubSpot, logins, connection
errors.py         the exception tree, each exception an exit code
private_files.py  owner-only files and folders for shopper data at rest
tuning.py         every tuned value (pacer, shared budget, migration, CRM): units and bounds
"""
