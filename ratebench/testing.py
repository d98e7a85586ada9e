"""A real ratebench server for a user's own tests, and the questions a test
asks its log.

`TestServer` runs `ratebench serve` (`python -m mock_server`) as a child
process on a free port with the limits, latency, seed, time scale and keys
given; the pytest plugin (`ratebench.pytest_plugin`) starts one per test.
`ServerLog` is the server's own record of what it saw, read from `GET /log`:
a test judges the code under test by what reached the server, not by that
code's word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from mock_server.processes.server import MockServer, fetch_log, reset_server

TOO_MANY_REQUESTS = 429
#: The key the SDKs are handed when the server takes any (no `keys` given).
ANY_KEY = "sk-ratebench-test"


@dataclass(frozen=True, slots=True)
class ServerLog:
    """What the server saw since it started (or since its last reset).

    `entries` are `GET /log`'s, in arrival order; `time_scale` the server's,
    so that every duration here is in scenario seconds, as the limits are.
    """

    entries: tuple[Mapping[str, Any], ...]
    time_scale: float

    def __repr__(self) -> str:
        return (
            f"<ServerLog {self.requests} requests, {self.rejections} refused (429), "
            f"{len(self.never_answered)} never answered>"
        )

    def only(self, endpoint: str) -> ServerLog:
        """The entries of one route (`/v1/chat/completions`; `/chat` for the
        write-up's endpoint, whose entries name none)."""
        kept = tuple(e for e in self.entries if e.get("endpoint", "/chat") == endpoint)
        return ServerLog(kept, self.time_scale)

    @property
    def requests(self) -> int:
        """Requests the server saw, answered or not."""
        return len(self.entries)

    @property
    def admitted(self) -> int:
        return sum(1 for e in self.entries if e.get("accepted"))

    @property
    def rejections(self) -> int:
        """Requests a limit refused (429)."""
        return sum(1 for e in self.entries if e.get("status") == TOO_MANY_REQUESTS)

    @property
    def refused_by(self) -> Counter[str]:
        """429s by the limit that refused them ("requests" when the API names none)."""
        return Counter(
            e.get("refused_by") or "requests"
            for e in self.entries
            if e.get("status") == TOO_MANY_REQUESTS
        )

    @property
    def statuses(self) -> Counter[int]:
        return Counter(e["status"] for e in self.entries if e.get("status") is not None)

    @property
    def never_answered(self) -> list[Mapping[str, Any]]:
        """Requests whose answer never left whole: no status, or the client went first."""
        return [e for e in self.entries if e.get("left") is None]

    @property
    def makespan(self) -> float:
        """Scenario seconds from the first arrival to the last answer leaving (0: none)."""
        left = [e["left"] for e in self.entries if e.get("left") is not None]
        if not left:
            return 0.0
        first = min(float(e["arrival"]) for e in self.entries)
        return (float(max(left)) - first) / self.time_scale

    def most_in_window(self, seconds: float = 60.0, *, admitted: bool = True) -> int:
        """The most requests the server admitted (or, `admitted=False`, saw
        arrive) in any span of `seconds` scenario seconds: compare it with a
        limit per that span. Under a fixed-window limit up to twice the limit
        can fall in a span that straddles two windows without breaking it."""
        stamps = sorted(
            e.get("decided") or e["arrival"]
            for e in self.entries
            if e.get("accepted") or not admitted
        )
        return most_within(stamps, seconds * self.time_scale)

    def most_tokens_in_window(self, seconds: float = 60.0) -> int:
        """The most tokens charged (`tokens_charged`) in any span of `seconds`."""
        charged = sorted(
            (e.get("decided") or e["arrival"], e["tokens_charged"])
            for e in self.entries
            if e.get("tokens_charged")
        )
        span, best, total, start = seconds * self.time_scale, 0, 0, 0
        for at, tokens in charged:
            total += tokens
            while charged[start][0] <= at - span:
                total -= charged[start][1]
                start += 1
            best = max(best, total)
        return best

    def assert_no_limit_broken(self) -> None:
        """The code under test stayed within every limit: the server, which
        enforces them, refused none of its requests."""
        if self.rejections:
            first = next(e for e in self.entries if e.get("status") == TOO_MANY_REQUESTS)
            at = (first["arrival"] - self.entries[0]["arrival"]) / self.time_scale
            by = ", ".join(f"{n} by {limit}" for limit, n in self.refused_by.items())
            raise AssertionError(
                f"a limit was broken: {self.rejections} of {self.requests} requests refused "
                f"with 429 ({by}), the first {at:.1f} scenario seconds in"
            )


def most_within(stamps: Sequence[float], span: float) -> int:
    """The most of the sorted `stamps` in any half-open interval of length `span`."""
    best, start = 0, 0
    for end, at in enumerate(stamps):
        while stamps[start] <= at - span:
            start += 1
        best = max(best, end - start + 1)
    return best


class TestServer:
    """`ratebench serve` as a child process for a test: every API it serves,
    on a free port of 127.0.0.1; `with TestServer(...) as server:` stops it
    on the way out, whatever happens.

    `limits`: flag name to value, each passed as `--NAME VALUE` (`rpm=60`,
    `tpm=10_000`, `rate="2/second"` for `/chat`); `keys`: key to project,
    each an `--api-key KEY=PROJECT` (none: any key is taken); `args`: any
    other flags of `ratebench serve`.
    """

    __test__ = False  # not a test class, whatever pytest's name rules say

    def __init__(
        self,
        *,
        limits: Mapping[str, int | float | str] | None = None,
        latency: tuple[float, float] | str = (1, 2),
        seed: int | None = 0,
        time_scale: float = 1.0,
        keys: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        limits = dict(limits or {})
        rate = str(limits.pop("rate", "2/second"))
        strategy = str(limits.pop("strategy", "fixed-window"))
        extra = [f"--{name.replace('_', '-')}={value}" for name, value in limits.items()]
        self.keys = dict(keys or {})
        for key, project in self.keys.items():
            extra.append(f"--api-key={key}={project}")
        self.time_scale = time_scale
        self.process = MockServer(
            rate=rate,
            strategy=strategy,
            latency=latency,
            seed=seed,
            time_scale=time_scale,
            extra_args=(*extra, *args),
        )

    def __repr__(self) -> str:
        return f"<TestServer {self.process!r}>"

    def __enter__(self) -> Self:
        self.process.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.close()

    @property
    def url(self) -> str:
        """The server's base address (`http://127.0.0.1:PORT`)."""
        return self.process.url

    @property
    def key(self) -> str:
        """The key the SDKs are handed: the first of `keys`, else any."""
        return next(iter(self.keys), ANY_KEY)

    @property
    def urls(self) -> dict[str, str]:
        """Base URLs by API, each as its SDK takes it."""
        return {
            "chat": f"{self.url}/chat",
            "openai": f"{self.url}/v1",
            "anthropic": self.url,
            "gemini": self.url,
        }

    @property
    def env(self) -> dict[str, str]:
        """The environment each API's official SDK reads its address and key from."""
        return {
            "OPENAI_BASE_URL": self.urls["openai"],
            "OPENAI_API_KEY": self.key,
            "ANTHROPIC_BASE_URL": self.urls["anthropic"],
            "ANTHROPIC_API_KEY": self.key,
            "GOOGLE_GEMINI_BASE_URL": self.urls["gemini"],
            "GEMINI_API_KEY": self.key,
        }

    def scaled(self, seconds: float) -> float:
        """`seconds` of the scenario in wall seconds, at the server's time scale."""
        return seconds * self.time_scale

    def server_log(self) -> ServerLog:
        """Every request the server saw since it started (or its last reset)."""
        return ServerLog(tuple(fetch_log(self.url)["entries"]), self.time_scale)

    def reset_log(self) -> None:
        """Clear the log and the limits, as between two batches."""
        reset_server(self.url)
