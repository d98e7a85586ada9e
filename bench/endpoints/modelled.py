"""Which server strategies theory can simulate: the bench asks before it
predicts or replays a run, so that a strategy without a model (the token
bucket, so far) gets a "no model" note instead of an error."""

from __future__ import annotations

from bench.theory.simulate import make_server
from mock_server.vocabulary import Strategy


def simulated(strategy: Strategy) -> bool:
    """Whether the simulator has a server model of `strategy`: it refuses one it
    has none of, so it is asked (and a model added there is used at once)."""
    try:
        make_server(strategy, 1, 1.0)
    except ValueError:
        return False
    return True


def no_server_model(strategy: Strategy) -> str:
    return f"the simulator has no model of the {strategy} server yet"
