"""``python -m wattprint`` is the ``wattprint`` command."""

import sys

from .cli import main

sys.exit(main())
