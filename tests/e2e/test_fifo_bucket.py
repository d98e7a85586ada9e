"""The queued bucket against a real server: the limit kept, from the server's log."""

from __future__ import annotations

from clients import ClientConfig, run_client
from tests.helpers import StartServer


def test_fifo_bucket_keeps_the_limit_against_a_real_server(start_server: StartServer) -> None:
    """60 requests at 20 per second (time scale 0.25: 20 per 0.25 s, a token every
    12.5 ms) from an empty bucket of 20: every one answered, every attempt in the
    server's log, and the k-th attempt never on the wire before k tokens were made.
    Zero 429s is not asserted: a bucket paced at exactly the limit has no margin,
    and a send that opens its connection late can cross a window edge (the
    README's "A connection opened late")."""
    scale = 0.25
    server = start_server(seed=1, time_scale=scale, rate="20/second", latency=(1, 2))
    config = ClientConfig(
        url=server.chat_url, n=60, rate=20.0, capacity=20, workers=20, time_scale=scale
    )
    run = run_client("fifo_bucket", config)
    log = server.log()
    assert run.completed == 60
    assert len(log) == len(run.attempts)
    assert sum(not e["accepted"] for e in log) == run.rejections
    # The pace, judged where lateness cannot flatter it: an attempt reaches the
    # wire (`sent`) at or after its grant, so the k-th send on the wire can be no
    # earlier than the k-th token. A busy machine delays sends (never a failure of
    # the bucket); a bucket that let a burst go would put sends ahead of their
    # tokens. (Pairwise gaps between sends are not its property: one late send
    # lands next to the punctual one after it.)
    token = scale / 20
    sent = sorted(a.sent for a in run.attempts)
    early = [(k, t) for k, t in enumerate(sent, start=1) if t < k * token - 1e-3]
    assert not early, f"sends ahead of their tokens (k, sent): {early[:5]}"
    # 60 tokens at 12.5 ms: at least 0.75 s of wall time, however busy the machine.
    assert sent[-1] >= 60 * token - 1e-3
