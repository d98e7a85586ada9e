"""ratebench, installed: one import name for the three floors.

In a checkout `bench/`, `clients/` and `mock_server/` sit at the top of the
repository and import each other by those names (`python -m bench`). An
installed ratebench keeps them under this one name instead
(`ratebench.bench`, `ratebench.clients`, `ratebench.mock_server`), so that
a user's environment gains no generic top-level names: the wheel's build
(`hatch_build.py`) places them here and names them so in their imports.
This package holds what a user reaches first: the `ratebench` command
(`ratebench.cli`) and the pytest plugin (`ratebench.testing`).
"""
