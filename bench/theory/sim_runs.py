"""How many virtual runs theory spends on a prediction, by batch size."""

from __future__ import annotations

#: Virtual runs per client for a small batch (standard error of the predicted
#: mean about 0.01 s for the write-up's 10 requests, σ 0.72 s / √4000).
SIM_RUNS = 4000
#: Simulated requests per client that theory may spend: runs = budget / n.
SIM_BUDGET = 50_000
#: Fewest virtual runs behind a prediction, however large the batch.
MIN_SIM_RUNS = 10


def sim_runs_for(n: int) -> int:
    """Virtual runs per client for a batch of `n` requests: SIM_BUDGET // n, within
    [MIN_SIM_RUNS, SIM_RUNS] (4000 up to n = 12, 1000 at 50, 166 at 300, 50 at
    1,000, 10 from 5,000 on).

    A virtual run costs about 40 µs per attempt, so theory costs about 2 s per
    client at any n from 12 to 5,000 and 0.4 s per 1,000 requests beyond (more
    for a client whose 429s multiply its attempts: naive_gather's five
    attempts per request make 14 s at 10,000 requests). The standard error of
    the predicted mean is σ/√runs, where σ is the run-to-run spread theory
    prints beside the mean; σ shrinks as n grows, since a long batch's
    makespan is its send schedule (fixed by the limit) plus the slowest of its
    last few latencies. At 20 per second and latencies uniform on 1-2 s, the
    bound's σ is 0.045 s at 300 requests and at 10,000; token_bucket's is
    0.13 s at 300 (standard error 0.010 s over 166 runs) and 0.09 s at 10,000
    (0.03 s over 10 runs), sliding_window's 0.04 s at both (0.003 s and
    0.011 s): against makespans of 16 s and 500 s. At the write-up's 10
    requests σ is 0.72 s, 0.011 s over 4000 runs.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1 request, got {n}")
    return max(MIN_SIM_RUNS, min(SIM_RUNS, SIM_BUDGET // n))
