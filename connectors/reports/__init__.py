"""What a run leaves for people: its artefacts and the readiness page.

artifacts.py   rejects.csv, report.json, mappings.csv, crm-update.csv, unmatched.csv
readiness.py   the 3-D Secure readiness report: figures, readiness.csv, an HTML page
"""
