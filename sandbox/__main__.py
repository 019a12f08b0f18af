"""``python -m sandbox``: the local Customer API on its own, without the custsync CLI."""

import sys

from sandbox.command import main

sys.exit(main(prog="python -m sandbox"))
