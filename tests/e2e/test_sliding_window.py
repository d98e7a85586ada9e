"""The `sliding_window` client against a real mock server at time scale 0.1: nothing
rejected, the limit kept, from the server's log."""

from __future__ import annotations

import pytest

from clients import ClientConfig, run_client
from clients.catalog.sliding_window import NAME
from mock_server.vocabulary import WINDOW_STRATEGIES
from tests.helpers import StartServer

L, T, M = 2, 1.0, 0.01


# --- end to end, checked from the server's log ---------------------------------------

SCALE = 0.1
WINDOW = T * SCALE


@pytest.mark.parametrize("strategy", WINDOW_STRATEGIES)
def test_never_rejected_and_never_more_than_two_per_window(
    start_server: StartServer, strategy: str
) -> None:
    server = start_server(strategy=strategy, seed=1, time_scale=SCALE)
    config = ClientConfig(url=server.chat_url, time_scale=SCALE, server_strategy=strategy)  # type: ignore[arg-type]
    run = run_client(NAME, config)
    log = server.log()
    assert [e["status"] for e in log] == [200] * 10
    assert run.completed == 10
    assert run.rejections == 0
    # The client's rule, on its own wire times: any 3 sends span at least a
    # window. (The server's decision stamps can come closer on a busy machine:
    # a first send decided a few ms late, the third at once. The margin is for
    # that, and the server's 200s above show it held.)
    sends = sorted(a.sent for a in run.attempts)
    for first, third in zip(sends, sends[L:], strict=False):
        assert third - first >= WINDOW, (first, third)
    # Two go at once (well within a window, however busy the machine), then
    # the third waits for the first to leave the window: no waiting when
    # there is no need to.
    assert sends[1] - sends[0] < WINDOW / 2
    assert sends[2] - sends[0] >= WINDOW
