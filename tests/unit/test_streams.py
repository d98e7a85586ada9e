"""`Reply`, the stream made a chunk at a time: chunks in order, at their times."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

from mock_server.endpoints.openai.api import Reply
from mock_server.endpoints.openai.schema import parse_request
from mock_server.llm_latency import LLMDraw


def reply(counts: tuple[int, ...], include_usage: bool = True) -> Reply:
    body: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "n": len(counts),
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    chat = parse_request(json.dumps(body).encode())
    drawn = LLMDraw(ttft=0.5, token_time=0.1, completion_tokens=counts)
    return Reply(chat, drawn, prompt=4, max_tokens=max(counts), decided=0.0)


def test_a_long_stream_is_made_a_chunk_at_a_time() -> None:
    """The first chunk of 200,000 tokens costs one chunk, not the whole answer."""
    long = reply((200_000,))
    tracemalloc.start()
    try:
        chunks = long.chunks()
        first = next(iter(chunks))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first[1]["choices"][0]["delta"]["role"] == "assistant"
    assert peak < 100_000, f"{peak} bytes to make the first chunk"


def test_chunks_keep_their_order_and_times() -> None:
    """Choice by choice within a token, each choice's finish after its last
    token, the usage chunk last: what the wire carried before."""
    made = [
        (at, c["choices"][0]["index"] if c["choices"] else None, kind(c))
        for at, c in reply((3, 1)).chunks()
    ]
    assert made == [
        (0.5, 0, "role"),
        (0.5, 0, "lorem"),
        (0.5, 1, "role"),
        (0.5, 1, "lorem"),
        (0.5, 1, "stop"),
        (0.6, 0, " ipsum"),
        (0.7, 0, " dolor"),
        (0.7, 0, "length"),
        (0.7, None, "usage"),
    ]
    assert [c for c in reply((3, 1), include_usage=False).chunks()][-1][1]["choices"]


def kind(chunk: dict[str, Any]) -> str:
    if not chunk["choices"]:
        return "usage" if chunk["usage"] else "?"
    choice = chunk["choices"][0]
    if choice["finish_reason"]:
        return str(choice["finish_reason"])
    delta = choice["delta"]
    return "role" if "role" in delta else str(delta["content"])
