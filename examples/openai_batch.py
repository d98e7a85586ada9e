"""A batch script of the kind users write: N chat completions through the `openai` SDK.

It knows nothing of ratebench: it reads the SDK's own OPENAI_BASE_URL and
OPENAI_API_KEY, sends every prompt at once, and leaves 429s to the SDK's
built-in retries. Bench it as a command:

    python -m bench --api openai --command sdk='python examples/openai_batch.py' --runs 3

RATEBENCH_N (the bench's batch size) sets how many prompts it sends; 10 when
run by hand. With RATEBENCH_REQUESTS (a file of request bodies, one JSON
object a line, which the bench sets with --api openai) it sends the bench's
own requests, so that its makespan can be read against theory's bound.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any


async def main() -> int:
    from openai import AsyncOpenAI

    n = int(os.environ.get("RATEBENCH_N", "10"))
    client = AsyncOpenAI(max_retries=8)  # OPENAI_BASE_URL and OPENAI_API_KEY from the env

    bodies = [
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": f"Summarise document {i} in one line."}],
            "max_tokens": 50,
        }
        for i in range(n)
    ]
    if "RATEBENCH_REQUESTS" in os.environ:
        with open(os.environ["RATEBENCH_REQUESTS"]) as f:
            bodies = [json.loads(line) for line in f if line.strip()][:n]

    async def ask(body: dict[str, Any]) -> str:
        reply = await client.chat.completions.create(**body)
        return reply.choices[0].message.content or ""

    answers = await asyncio.gather(*(ask(b) for b in bodies), return_exceptions=True)
    failed = [a for a in answers if isinstance(a, BaseException)]
    for a in failed[:3]:
        print(f"failed: {a!r}", file=sys.stderr)
    print(f"{n - len(failed)}/{n} answered")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
