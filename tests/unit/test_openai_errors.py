"""`--max-output-tokens` and `--default-max-tokens`: bad values refused, naming what
is wrong."""

from __future__ import annotations

import re

import pytest

from mock_server.cli import build_parser, settings_from_args
from mock_server.vocabulary import RatebenchError


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--max-output-tokens", "0"], "--max-output-tokens 0 must be at least 1"),
        (
            ["--max-output-tokens", "100", "--default-max-tokens", "256"],
            "--default-max-tokens 256 is more than the model's --max-output-tokens 100",
        ),
    ],
)
def test_bad_max_output_tokens_say_what_is_wrong(args: list[str], fragment: str) -> None:
    with pytest.raises(RatebenchError, match=re.escape(fragment)):
        settings_from_args(build_parser().parse_args(args))
