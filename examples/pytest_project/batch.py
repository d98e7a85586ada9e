"""A batch function of the kind users write: one summary per document through
the `openai` SDK, paced to stay under the account's requests per minute.

It knows nothing of ratebench: the SDK reads OPENAI_BASE_URL and
OPENAI_API_KEY. `minute` is there so that a test can run it at a
compressed time scale (a minute of 3 seconds at time scale 0.05).
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

from openai import OpenAI


def summarize_all(
    documents: list[str], per_minute: int, minute: float = 60.0, max_retries: int = 2
) -> list[str]:
    """One line per document, in order; sends at most `per_minute` requests
    in any `minute` (seconds) by spacing the sends evenly."""
    client = OpenAI(max_retries=max_retries)
    gap = minute / per_minute
    futures: list[Future[str]] = []
    with ThreadPoolExecutor(max_workers=16) as pool:
        for document in documents:
            futures.append(pool.submit(summarize, client, document))
            time.sleep(gap)  # after each send: a late send never makes the next one early
    return [f.result() for f in futures]


def summarize(client: OpenAI, document: str) -> str:
    answer = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"Summarise in one line: {document}"}],
        max_tokens=20,
    )
    return answer.choices[0].message.content or ""
