"""Every rate-limit decision in one room.

pacer.py          RequestPacer: the pace, known or found, whatever the gateway's shape
shared_budget.py  one budget for every run on a target, leased through the state store
concurrency.py    requests in flight for a given rate
limit_headers.py  what a gateway's rate-limit headers say (RateLimit-*, X-RateLimit-*)
"""
