"""Streams made a chunk at a time, and the log of what a client really got:
a real server process cut off by its client."""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from mock_server import llm_latency, tokens
from mock_server.processes.server import MockServer
from mock_server.vocabulary import Latency
from tests.helpers import ended_entry

SEED = 3
TOKEN_TIME = 0.01  # wall seconds a token: the answers below take seconds
MAX_TOKENS = 2_000


# -- a real server, cut off by its client ------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    args = ("--rpm", "1000", "--tpm", "10000000", "--ttft", "0-0")
    args += ("--token-time", str(TOKEN_TIME))
    with MockServer(seed=SEED, extra_args=args) as running:
        yield running


def drawn_tokens() -> int:
    """Output tokens of the first answer after a reset: known from the seed."""
    draw = llm_latency.draw_for(SEED, 1, Latency(0, 0), TOKEN_TIME, MAX_TOKENS)
    assert draw.completion_tokens[0] > 200  # seconds of answer, so the client leaves first
    return draw.completion_tokens[0]


def post_and_leave(server: MockServer, stream: bool, read: int, linger: float = 0.0) -> bytes:
    """POST a completion, read at least `read` bytes of the answer, wait
    `linger` seconds, hang up."""
    body = json.dumps(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": MAX_TOKENS,
            "stream": stream,
        }
    ).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    address = urllib.parse.urlsplit(server.url)
    got = b""
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head + body)
        while len(got) < read:
            got += sock.recv(65536)
        time.sleep(linger)
    return got


def ended(server: MockServer) -> dict[str, Any]:
    """The one completion request's entry, once it has ended."""

    def the_completion(log: list[dict[str, Any]]) -> dict[str, Any]:
        [entry] = [e for e in log if e.get("endpoint")]
        return entry

    return ended_entry(server, the_completion, wait=5.0)


def test_a_cut_stream_logs_the_tokens_it_sent(server: MockServer) -> None:
    server.reset()
    got = post_and_leave(server, stream=True, read=2_000)
    sent_before_leaving = got.count(b'"content":"') - 1  # the role chunk's is empty
    entry = ended(server)
    drawn = drawn_tokens()
    assert entry["left"] is None
    assert entry["disconnected"] > entry["first_token"]
    # The server saw the client go within a few tokens' time.
    assert sent_before_leaving <= entry["completion_tokens"] < drawn / 2
    assert entry["tokens_used"] == entry["prompt_tokens"] + entry["completion_tokens"]
    assert entry["tokens_charged"] == entry["prompt_tokens"] + MAX_TOKENS


def test_an_answer_abandoned_before_it_left_sent_no_tokens(server: MockServer) -> None:
    server.reset()
    # Accepted and waiting for its tokens (two seconds and more) when the client goes.
    post_and_leave(server, stream=False, read=0, linger=0.2)
    entry = ended(server)
    assert entry["left"] is None
    assert entry["disconnected"] is not None
    assert entry["completion_tokens"] == 0
    prompt = tokens.prompt_tokens([{"role": "user", "content": "hi"}])
    assert entry["tokens_used"] == prompt
