"""A Redis shared with others: the server shows no password and touches only
its own keys.

`--storage redis://:PASSWORD@host/0` printed the password in the ready line
and in `GET /log`, which anyone who can reach the server may read; at start-up
the server deleted every `LIMITS:*` key of the database (another
application's limits too) and `/reset` did again. Against a real Redis that
requires a password (the packaged server, `--requirepass`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from mock_server.processes.redis_server import RedisServer, RedisUnavailable
from tests.helpers import BenchMain, StartServer, assert_one_line_error, fire, run_cli

PASSWORD = "s3cret-Pa55word"
# Another application's keys (limits' default prefix among them) and an
# earlier ratebench's, all in the database the server is given.
FOREIGN = {
    "LIMITS:LIMITER/billing-app/10/1/minute": "7",
    "ratebench:server:log": "an older server's",
    "sessions:42": "alive",
}


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    try:
        with RedisServer(password=PASSWORD) as server:
            yield server.url
    except RedisUnavailable as exc:
        pytest.fail(f"these tests need a Redis server: {exc}")


def test_the_password_is_in_no_output_and_not_in_the_log(
    start_server: StartServer, redis_url: str
) -> None:
    assert PASSWORD in redis_url
    server = start_server(time_scale=0.1, extra_args=("--workers", "2", "--storage", redis_url))
    shown = redis_url.replace(PASSWORD, "***")
    assert shown in server.output()  # the ready line says where it counts...
    assert PASSWORD not in server.output()  # ...without the password
    settings = server.get("/log")["settings"]
    assert settings["storage"] == shown

    wrong = redis_url.replace(PASSWORD, "not-the-Pa55word")
    result = run_cli("mock_server", "--port", "0", "--storage", wrong)
    assert_one_line_error(result, "cannot use redis at redis://:***@")
    assert "not-the-Pa55word" not in result.stderr + result.stdout


def test_the_server_touches_only_keys_it_made(start_server: StartServer, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    client.mset(FOREIGN)
    # Windows of 6 s: limits' counters are still there when the test looks.
    server = start_server(
        rate="2/minute",
        seed=1,
        time_scale=0.1,
        extra_args=("--workers", "2", "--storage", redis_url),
    )
    for _ in range(5):  # until both workers have written to the log
        fire(server.chat_url, [0.0] * 12)
        if len({e["worker"] for e in server.log()}) == 2:
            break
    assert len({e["worker"] for e in server.log()}) == 2
    answer = requests.post(
        f"{server.url}/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5},
        timeout=10,
    )
    assert answer.status_code == 200
    server.reset()
    fire(server.chat_url, [0.0] * 4)
    assert len(server.log()) == 4

    assert client.mget(list(FOREIGN)) == list(FOREIGN.values())
    own = set(client.keys()) - set(FOREIGN)
    # One prefix for everything the server wrote, whichever worker wrote it:
    # limits' counters, the log and the draws.
    prefixes = {":".join(key.split(":")[:3]) for key in own}
    assert len(prefixes) == 1, own
    (prefix,) = prefixes
    assert prefix.startswith("ratebench:server:")
    assert prefix != "ratebench:server:log"
    assert any(key.startswith(f"{prefix}:limits:") for key in own)
    assert f"{prefix}:log" in own

    # Stopped, it leaves nothing of its own behind, and the rest as it was.
    server.stop()
    assert set(client.keys()) == set(FOREIGN)
    assert client.mget(list(FOREIGN)) == list(FOREIGN.values())


def test_bench_redis_at_a_dead_url_hides_the_password_and_makes_no_folder(
    tmp_path: Path, bench_main: BenchMain
) -> None:
    out = tmp_path / "out"
    status, err = bench_main(
        "redis", "--redis", f"redis://:{PASSWORD}@127.0.0.1:1/0", "--out", str(out)
    )
    assert status == 2
    assert err.startswith("error: no Redis answers at redis://:***@127.0.0.1:1/0 ")
    assert err.count("\n") == 1
    assert PASSWORD not in err
    assert not out.exists()
