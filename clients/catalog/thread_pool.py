"""Client `thread_pool`: ThreadPoolExecutor(2) + requests, as in the write-up.

Each thread blocks for a whole request (2 to 5 s on the default server), so
at most `workers` requests are ever in flight: throughput is workers over
mean latency (2 / 3.5 s), far below the server's 2 requests per second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clients.config import ClientConfig
from clients.infra.recorder import OnLine
from clients.infra.records import ClientRun
from clients.spec import ClientSpec

if TYPE_CHECKING:
    from clients.infra.steps import Steps
    from clients.infra.virtual import VirtualBatch

NAME = "thread_pool"

SPEC = ClientSpec(
    name=NAME,
    concurrency="threads",
    policy="at most N in flight",
    summary="ThreadPoolExecutor(workers) + requests, as in the write-up",
    explain=(
        "Sends the batch through a pool of `workers` threads with `requests`: at most "
        "`workers` requests are in flight, and a new one goes out only when one returns. "
        "Little's law: throughput = in flight / mean latency, far under the limit when "
        "latencies are long."
    ),
    paces=False,
    caps_in_flight=True,
)


def run(config: ClientConfig, on_line: OnLine | None = None) -> ClientRun:
    """Send the batch; blocks until every request finished or the deadline passed."""
    from clients.infra.thread_batch import run_thread_batch
    from clients.limiters.base import NoLimit

    return run_thread_batch(NAME, config, lambda _config: NoLimit(), on_line, shape="workers")


def virtual_loops(batch: VirtualBatch) -> list[Steps[object]]:
    """Theory's run of it (`clients.infra.virtual`): `workers` pool threads, each
    taking the next request when free, no limit."""
    from clients.infra.virtual import batch_loops
    from clients.limiters.base import NoLimit

    return batch_loops(batch, NoLimit(), shape="workers")
