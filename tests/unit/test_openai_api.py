"""The OpenAI endpoint's flags: each bad one refused, naming what is wrong."""

from __future__ import annotations

import re

import pytest

from tests.helpers import BAD_OPENAI_FLAGS


@pytest.mark.parametrize(("args", "fragment"), BAD_OPENAI_FLAGS)
def test_bad_openai_flags_say_what_is_wrong(args: list[str], fragment: str) -> None:
    from mock_server.cli import build_parser, settings_from_args
    from mock_server.vocabulary import RatebenchError

    with pytest.raises(RatebenchError, match=re.escape(fragment)):
        settings_from_args(build_parser().parse_args(args))
