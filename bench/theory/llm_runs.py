"""What every LLM endpoint's client models and theory share: the simulator's timing of
the wire, one simulated run and its summary, and what theory says of a client from its
bound and its runs (`bench.endpoints.{openai,anthropic,gemini}.models` and `.theory`)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import clients
from bench.records.results import Expected, SweepPoint
from bench.theory.simulate import Simulation
from clients.infra.attempts import Reply
from clients.infra.virtual import VirtualBatch

# Wall seconds every sleep wakes late, and a send takes to reach the server.
OVERSHOOT, JITTER = 0.001, 0.002
# Wall seconds a 429 takes to come back to the client after reaching the server
# (uniform): with the send's JITTER, 1-13 ms, median about 7 ms, as
# cookbook_parallel's 429s took from send to answer in the reference runs on a
# busy 2-core machine (median 6.5-7.4 ms, 10 % under 3 ms, 10 % over 13-17 ms;
# results/cookbook-published, results/openai-*-cookbook). The cookbook's
# processor sends every 1-2 ms until it sees its first 429, so this sets how
# many go in each burst after its pause.
REFUSED_BACK = (0.001, 0.011)


class DecidesItself:
    """The server handed to the driver by an LLM simulation, which decides every attempt
    in its own `decide` and never asks it."""

    def hit(self, at: float) -> bool:
        raise AssertionError("an LLM simulation decides in `decide`")

    def refused(self, at: float) -> Reply:
        raise AssertionError("an LLM simulation decides in `decide`")


def drawn_per_request(rng: random.Random) -> float:
    """The latency handed to the driver by an LLM simulation, which draws each request's
    own and never asks it."""
    raise AssertionError("an LLM simulation draws per request")


@dataclass(frozen=True, slots=True)
class SimRun:
    """One simulated batch, in scenario seconds: when its last answer came (the
    makespan if nothing was lost), its 429s and the requests it lost."""

    ended: float
    rejections: int
    lost: int


@dataclass(frozen=True, slots=True)
class LLMPrediction:
    """A client's simulated runs, summarised; `ended` is the makespan when no run lost
    a request, else when the batch ended."""

    client: str
    n: int
    runs: int
    mean: float
    stdev: float
    rejections: float
    lost: float

    def words(self) -> str:
        many = f"{self.rejections:.1f} × 429 ({self.runs} simulated runs)"
        if self.lost:
            return (
                f"loses {self.lost:.1f} of {self.n} requests, its batch ending at "
                f"{self.mean:.2f} s ± {self.stdev:.2f}; {many}"
            )
        return f"{self.mean:.2f} s ± {self.stdev:.2f}, {many}"


P = TypeVar("P", bound=LLMPrediction)


def simulated_run(
    client: str, sim: Simulation, batch: VirtualBatch, n: int, scale: float
) -> SimRun:
    """Runs `client`'s own loops on `batch` in `sim` to the end: one batch of `n`
    requests, in scenario seconds (`scale` wall seconds each)."""
    loops = clients.virtual_loops(client)
    if loops is None:
        raise ValueError(f"{client} has no model in virtual time")
    for steps in loops(batch):
        sim.start(steps)
    sim.run()
    answered = {a.request for a in sim.log if a.accepted}
    ended = max((a.finished for a in sim.log), default=0.0)
    rejections = sum(not a.accepted for a in sim.log)
    return SimRun(ended / scale, rejections, n - len(answered))


def summarise(client: str, n: int, done: Sequence[SimRun]) -> LLMPrediction:
    """The simulated runs `done` of `client` on `n` requests, summarised."""
    ended = [r.ended for r in done]
    return LLMPrediction(
        client=client,
        n=n,
        runs=len(done),
        mean=statistics.fmean(ended),
        stdev=statistics.stdev(ended) if len(ended) > 1 else 0.0,
        rejections=statistics.fmean(r.rejections for r in done),
        lost=statistics.fmean(r.lost for r in done),
    )


def expected_of(
    client: str,
    bound: tuple[float, float],
    predicted: tuple[LLMPrediction | None, str],
    sweep: SweepPoint | None = None,
) -> Expected:
    """What theory says of `client`: the (mean, σ) `bound`, and its simulated runs, or
    why it has none."""
    mean, stdev = bound
    p, why = predicted
    if p is None:
        return Expected(client=client, bound=mean, bound_stddev=stdev, sweep=sweep, no_model=why)
    return Expected(
        client=client,
        bound=mean,
        bound_stddev=stdev,
        sweep=sweep,
        predicted_mean=p.mean,
        predicted_stddev=p.stdev,
        predicted_rejections=p.rejections,
        predicted_failed=p.lost,
    )


def simulation_lines(
    names: Sequence[str],
    predicted: Callable[[str], tuple[P | None, str]],
    best: float,
    more: Callable[[P], list[str]] = lambda p: [],
) -> list[str]:
    """`--simulate`'s paragraph a client: its simulated runs (and `more` of them) or
    why it has none, and how far from the `best` possible mean."""
    lines: list[str] = []
    for number, name in enumerate(names, start=1):
        p, why = predicted(name)
        lines.append(f"Model {number}: {name}")
        if p is None:
            lines += [f"  no model: {why}", ""]
            continue
        lines.append(f"  predicted: {p.words()}")
        if not p.lost:
            lines.append(f"  {p.mean / best:.2f} × the best possible")
        lines += [*more(p), ""]
    return lines
