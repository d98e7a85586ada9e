"""The 2 × 3 matrix, from a hand-made summary."""

from __future__ import annotations

from typing import Any

from bench.matrix import format_matrix, has_matrix, matrix_markdown


def result(client: str, mean: float, rejections: list[int]) -> dict[str, Any]:
    return {"command": client, "mean": mean, "rejections": rejections}


SUMMARY = {
    "results": [
        result("thread_pool", 18.5, [0, 0]),
        result("naive_gather", 49.0, [20, 20]),
        result("token_bucket", 9.1, [0, 1]),
        result("async_semaphore", 18.4, [0, 0]),
        result("aiolimiter", 9.4, [3, 2]),
    ]
}


def test_cells_sit_in_their_row_and_column() -> None:
    text = format_matrix(SUMMARY)
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
    lines = matrix_markdown(SUMMARY)
    assert lines[0] == "|  | at most N in flight | no limit | token bucket |"
    assert "`thread_pool`: 18.50 s, 0.0 × 429" in lines[2]
    assert has_matrix(SUMMARY)
    assert not has_matrix({"results": [result("thread_pool", 18.5, [0])]})
