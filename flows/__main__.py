"""``python -m flows`` runs the custsync CLI (child processes start it with this interpreter)."""

from flows.cli import main

main()
