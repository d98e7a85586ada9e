"""What every LLM endpoint's client models share: the simulator's timing of the wire,
and one simulated run and its summary (`bench.endpoints.openai.models`,
`bench.endpoints.anthropic.models`)."""

from __future__ import annotations

from dataclasses import dataclass

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
