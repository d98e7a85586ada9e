"""`python -m ratebench`: the `ratebench` command (see `ratebench.cli`)."""

from ratebench.cli import main

raise SystemExit(main())
