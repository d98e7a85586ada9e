"""Bad input is one line `error: ...` and exit status 2, never a traceback (issue 23, 12).

Each case failed before its fix: a traceback (a request file's `[1,2,3]`,
`"max_tokens": "abc"`, a lognormal of SIGMA 50, a GIF named without `.gif`),
a wrong line number, an absurd value taken (a latency of 401 digits read as
infinity, a time scale of 1e308 that only failed once the server started) or
a value quietly replaced (`--max-tokens fixed:0` wrote max_tokens 1). Every
command runs in this process: no interpreter start, no server.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import bench.records.requests_file
from clients.config import ClientConfig, ConfigError
from clients.infra.llm_batch import load_request_set
from mock_server.cli import build_parser, settings_from_args
from mock_server.vocabulary import RatebenchError
from tests.helpers import BenchMain, naive_gather

GOOD = '{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}'
DIGITS_401 = "9" * 401  # float() reads it as infinity


def one_line(status: int, err: str, *fragments: str) -> None:
    assert status == 2, (status, err)
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


# -- a request file (--requests) ---------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "fragments"),
    [
        ([GOOD, "[1,2,3]"], ("line 2", "not a request body")),
        ([GOOD.replace('"max_tokens": 5', '"max_tokens": "abc"')], ("line 1", "'max_tokens'")),
        ([GOOD, "", "{bad"], ("line 3", "not JSON", "column 2")),  # a blank line counts
        ([GOOD[:-1] + ', "metadata": {"charge": "x"}}'], ("line 1", "charge")),
    ],
    ids=["list", "max_tokens_abc", "bad_json_line_3", "bad_charge"],
)
def test_a_bad_request_file_line_is_named_by_its_line(
    tmp_path: Path, bench_main: BenchMain, lines: list[str], fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    status, err = bench_main("--api", "openai", "--requests", str(path), "--out", str(out))
    one_line(status, err, str(path), *fragments)
    assert not out.exists()
    # A client run alone (`python -m clients NAME --requests FILE`) reads it the same way.
    with pytest.raises(ConfigError, match=fragments[0]):
        load_request_set(ClientConfig(n=1, requests_file=str(path)))


# -- python -m bench requests --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--prompt-tokens", "lognormal:200,50"), ("SIGMA 50",)),
        (("--prompt-tokens", "fixed:99999999999"), ("--prompt-tokens", "1000000")),
        (("--max-tokens", "uniform:1-99999999999"), ("--max-tokens", "1000000")),
        (("--n", "100000000"), ("--n 100000000", "100000")),
        (("--n", "30000", "--prompt-tokens", "fixed:1000000"), ("prompt tokens", "--n")),
        (("--max-tokens", "fixed:0"), ("max_tokens 0", "start at 1")),
        (("--prompt-tokens", "uniform:0-50"), ("start at 7",)),
    ],
    ids=["sigma", "prompt_huge", "answer_huge", "n_huge", "set_too_big", "max_0", "prompt_0"],
)
def test_a_request_set_out_of_range_is_refused_before_drawing(
    tmp_path: Path, bench_main: BenchMain, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    out = tmp_path / "set.jsonl"
    status, err = bench_main("requests", "--n", "3", "--out", str(out), *args)
    one_line(status, err, *fragments)
    assert not out.exists()


def test_a_lognormal_draw_stays_within_the_limit(tmp_path: Path, bench_main: BenchMain) -> None:
    most = 1_000_000  # bench.records.requests_file.MAX_TOKENS
    wide = bench.records.requests_file.parse_distribution(f"lognormal:{most},3", "--max-tokens")
    rng = random.Random(0)
    assert max(wide.draw(rng) for _ in range(1000)) == most
    out = tmp_path / "set.jsonl"
    status, _ = bench_main("requests", "--n", "3", "--out", str(out), "--max-tokens", "fixed:1")
    assert status == 0
    assert '"max_tokens":1,' in out.read_text()


# -- python -m bench animate ---------------------------------------------------------


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    from bench.records.results import RunLog

    RunLog(tmp_path / "runs.jsonl").append(naive_gather(0))
    return tmp_path


@pytest.mark.parametrize(
    ("out", "fragment"),
    [(".", "is a directory"), ("race", "race.gif"), ("nowhere/race.gif", "does not exist")],
    ids=["directory", "no_extension", "no_folder"],
)
def test_animate_checks_out_before_drawing_a_frame(
    results_dir: Path, bench_main: BenchMain, out: str, fragment: str
) -> None:
    status, err = bench_main("animate", str(results_dir), "--out", str(results_dir / out))
    one_line(status, err, "--out", fragment)


# -- durations: the shared parsers of the bench and the mock server --------------------


def server_settings(*args: str) -> None:
    settings_from_args(build_parser().parse_args(list(args)))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--time-scale", "1e308"), "at most 100"),
        (("--latency", DIGITS_401), "3600 seconds"),
        (("--latency", f"1-{DIGITS_401}"), "3600 seconds"),
        (("--ttft", DIGITS_401), "--ttft"),
        (("--token-time", "1e300"), "--token-time"),
    ],
    ids=["time_scale", "latency", "latency_high", "ttft", "token_time"],
)
def test_absurd_durations_are_refused_by_server_and_bench(
    tmp_path: Path, bench_main: BenchMain, args: tuple[str, ...], fragment: str
) -> None:
    with pytest.raises(RatebenchError, match=fragment):
        server_settings(*args)
    if args[0] == "--time-scale":  # a client run alone (`python -m clients`) waited forever
        with pytest.raises(ConfigError, match="at most 100"):
            ClientConfig(time_scale=float(args[1]))
    if args[0] in ("--time-scale", "--latency"):  # the bench's own flags
        out = tmp_path / "out"
        status, err = bench_main(*args, "--out", str(out))
        one_line(status, err, fragment)
        assert not out.exists()  # refused before a run folder was made


@pytest.mark.parametrize("flag", ["--rpm", "--tpm"])
def test_a_limit_of_401_digits_is_refused_by_server_and_bench(
    tmp_path: Path, bench_main: BenchMain, flag: str
) -> None:
    # With --quantize the server divided it into slices: an OverflowError traceback.
    with pytest.raises(RatebenchError, match=f"{flag} 99999999... \\(401 digits\\)"):
        server_settings(flag, DIGITS_401, "--quantize", "1s")
    out = tmp_path / "out"
    status, err = bench_main("--api", "openai", flag, DIGITS_401, "--out", str(out))
    one_line(status, err, flag, "401 digits")
    assert not out.exists()


def test_a_request_above_the_models_maximum_output_is_refused_before_the_bench(
    tmp_path: Path, bench_main: BenchMain
) -> None:
    # Every attempt was a 400, and the run failed as "the server misbehaved".
    path = tmp_path / "set.jsonl"
    path.write_text(GOOD + "\n" + GOOD.replace('"max_tokens": 5', '"max_tokens": 20000') + "\n")
    out = tmp_path / "out"
    status, err = bench_main(
        "--api", "openai", "--tpm", "1000000", "--requests", str(path), "--out", str(out)
    )
    one_line(status, err, "request 1 asks for max_tokens 20000", "16,384")
    assert not out.exists()
