"""`python -m wattdesk` is the same as the `wattdesk` console script."""

import sys

from wattdesk.interfaces.cli import main

sys.exit(main())
