"""How many tokens a chat request is charged at admission, without a tokenizer.

OpenAI counts a request against its tokens-per-minute limit before the
model has answered, from the prompt and the longest answer it may get. The
OpenAI cookbook's parallel request processor estimates the same thing for
a client that wants to stay under the limit; this is its rule, with the
tokenizer replaced by the rule of thumb OpenAI gives for English text (a
token is about 4 characters), so that nothing is downloaded at run time:

- every message costs 4 tokens of framing
  (`<im_start>{role/name}\\n{content}<im_end>\\n`), plus its role, name and
  text content at one token per 4 characters, rounded up (a name replaces
  the role's token: minus 1);
- the reply is primed with 2 tokens (`<im_start>assistant`);
- the answer is charged at its maximum: `n x max_tokens`.

The estimate is deliberately simple and documented: clients that want to
predict their charge can compute it exactly with `charge`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

CHARS_PER_TOKEN = 4
MESSAGE_FRAMING = 4
REPLY_PRIMING = 2


def text_tokens(text: str) -> int:
    """Estimated tokens of `text`: characters / 4, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list
    (`[{"type": "text", "text": ...}, ...]`); images and other parts count nothing."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text") or "")
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return ""


def prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """The prompt's estimated tokens, as the cookbook counts them (see the module)."""
    total = REPLY_PRIMING
    for message in messages:
        total += MESSAGE_FRAMING
        for key in ("role", "name", "content"):
            value = message.get(key)
            if value is None:
                continue
            total += text_tokens(content_text(value))
            if key == "name":
                total -= 1
    return total


def charge(prompt: int, max_tokens: int, n: int = 1) -> int:
    """Tokens counted against the TPM limit at admission."""
    return prompt + n * max_tokens
