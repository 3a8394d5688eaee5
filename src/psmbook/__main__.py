"""`python -m psmbook ...`: see psmbook.cli."""

import sys

from .cli import main

sys.exit(main())
