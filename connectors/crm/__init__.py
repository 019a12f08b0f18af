"""The CRMs the UUIDs go back into, through their APIs (``[writeback] crm = ...``).

logins.py      who custsync is to each CRM: tokens and URLs from the environment, checked
updates.py     what is pushed (a record id and its UUID, or a clear) and what came back
connection.py  one CRM's HTTP: TLS verified, no proxy, no redirect, one retry policy
salesforce.py  Salesforce: sObject Collections for small sets, Bulk API 2.0 for large ones
hubspot.py     HubSpot: batch/update of 100, paced to its 10-second and daily limits
"""
