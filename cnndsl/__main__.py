"""Run the command-line interface with `python -m cnndsl`."""

import sys

from cnndsl.cli import main

sys.exit(main())
