"""`python -m clients NAME`: see `clients.cli`."""

import sys

from clients.cli import main

sys.exit(main())
