"""The Customer API: one client, every answer classified, one retry policy.

client.py       CustomerApi: the operations, the calls' attempts, what a call came to
transport.py    the connections, one TLS context, backend errors translated where they arise
answers.py      what each status or transport error means (``Answer``), as a table
retry.py        the one retry policy of every HTTP call, and tenacity's retrying from it
targets.py      named targets, URLs, credentials from the environment
counters.py     what the client did in a run, for the report
rsql.py         search expressions, every value quoted
bulk_fetch.py   many customers by UUID for few requests
pacing/         how fast: the pacer, the budget shared by runs, requests in flight
"""
