"""The 2 × 3 matrix: cells found from the clients' specs, figures from hand-made stats."""

from __future__ import annotations

from bench.output.matrix import cell_client, format_matrix, has_matrix, matrix_markdown
from bench.records.stats import ClientStats


def stats(client: str, mean: float, rejections: tuple[int, ...]) -> ClientStats:
    times = (mean,) * len(rejections)
    return ClientStats(client, times, rejections, rejections, (0,) * len(rejections))


MEASURED = {
    s.client: s
    for s in (
        stats("thread_pool", 18.5, (0, 0)),
        stats("naive_gather", 49.0, (20, 20)),
        stats("token_bucket", 9.1, (0, 1)),
        stats("async_semaphore", 18.4, (0, 0)),
        stats("aiolimiter", 9.4, (3, 2)),
    )
}


def test_each_cell_is_the_client_whose_spec_sits_there() -> None:
    assert cell_client("threads", "at most N in flight", {}) == "thread_pool"
    assert cell_client("asyncio", "at most N in flight", {}) == "async_semaphore"
    assert cell_client("threads", "no limit", {}) == "threads_unbounded"
    assert cell_client("asyncio", "token bucket", {}) == "token_bucket"
    assert cell_client("threads", "sliding log", {}) is None


def test_cells_sit_in_their_row_and_column() -> None:
    text = format_matrix(MEASURED)
    lines = text.splitlines()
    threads = next(line for line in lines if line.strip().startswith("threads"))
    asyncio_row = next(line for line in lines if line.strip().startswith("asyncio"))
    assert threads.index("thread_pool: 18.50 s, 0.0 × 429") < threads.index("threads_unbounded")
    assert "threads_unbounded: not run" in threads
    assert "threads_bucket: not run" in threads
    assert asyncio_row.index("async_semaphore: 18.40 s") < asyncio_row.index(
        "naive_gather: 49.00 s, 20.0 × 429"
    )
    assert "token_bucket: 9.10 s, 0.5 × 429" in asyncio_row
    assert "also: aiolimiter: 9.40 s, 2.5 × 429" in text


def test_markdown_and_when_to_show_it() -> None:
    lines = matrix_markdown(MEASURED)
    assert lines[0] == "|  | at most N in flight | no limit | token bucket |"
    assert "`thread_pool`: 18.50 s, 0.0 × 429" in lines[2]
    assert lines[-1] == "Also measured: `aiolimiter`: 9.40 s, 2.5 × 429."
    assert has_matrix(MEASURED)
    assert not has_matrix({"thread_pool": MEASURED["thread_pool"]})
