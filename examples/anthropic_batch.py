"""A batch script of the kind users write: N messages through the `anthropic` SDK.

It knows nothing of ratebench: it reads the SDK's own ANTHROPIC_BASE_URL and
ANTHROPIC_API_KEY, sends every prompt at once, and leaves 429s to the SDK's
built-in retries. Bench it as a command:

    python -m bench --api anthropic --command sdk='python examples/anthropic_batch.py' --runs 3

RATEBENCH_N (the bench's batch size) sets how many prompts it sends; 10 when
run by hand. With RATEBENCH_REQUESTS (the bench's request set, one Messages body
a line) it sends the bench's own requests, so that its makespan can be read
against theory's bound; the set's own `metadata` is taken off first.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any


async def main() -> int:
    from anthropic import AsyncAnthropic

    n = int(os.environ.get("RATEBENCH_N", "10"))
    client = AsyncAnthropic(max_retries=8)  # ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY

    bodies: list[dict[str, Any]] = [
        {
            "model": "claude-sonnet-4-5",
            "messages": [{"role": "user", "content": f"Summarise document {i} in one line."}],
            "max_tokens": 50,
        }
        for i in range(n)
    ]
    if "RATEBENCH_REQUESTS" in os.environ:
        with open(os.environ["RATEBENCH_REQUESTS"]) as f:
            bodies = [json.loads(line) for line in f if line.strip()][:n]
        for body in bodies:
            body.pop("metadata", None)  # the set's own, not the API's `metadata.user_id`

    async def ask(body: dict[str, Any]) -> str:
        reply = await client.messages.create(**body)
        return "".join(getattr(block, "text", "") for block in reply.content)

    answers = await asyncio.gather(*(ask(b) for b in bodies), return_exceptions=True)
    failed = [a for a in answers if isinstance(a, BaseException)]
    for a in failed[:3]:
        print(f"failed: {a!r}", file=sys.stderr)
    print(f"{n - len(failed)}/{n} answered")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
