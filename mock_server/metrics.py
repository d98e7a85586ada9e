"""`GET /metrics`: the server's log, counted, in Prometheus' text format.

Every figure is counted from the arrival log at scrape time, the same
entries `GET /log` shows, so the two never disagree, and with --workers N
every worker answers for the whole server from the log they share in Redis
(N separate counters would need prometheus_client's multiprocess mode: a
directory of files set up before the import and wiped between runs, and a
second record of every request beside the log). The request path pays
nothing; a scrape pays for reading the log (see the docs' "Watch it" page
for its cost). Counters follow the log: `POST /reset` starts them again at
zero, which Prometheus reads as a counter reset, as after a restart.

Labels: `endpoint` (the route; the write-up's `/chat` entries name none),
`project` (the project whose budget a request counted against with
--api-key, else ""; never a key), `limit` (on a 429: the limit that
refused it, as the entry's `refused_by` says; "requests" when it says
nothing, `/chat`'s only limit).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from mock_server.log import LogEntry

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: The route of an entry that names none: the write-up's `/chat`.
UNNAMED_ENDPOINT = "/chat"
#: Upper bounds of the latency histograms, seconds.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0)
TOO_MANY_REQUESTS = 429


class Histogram:
    """Observations of one labelled histogram, as cumulative bucket counts."""

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        bounds = [repr(b) for b in LATENCY_BUCKETS] + ["+Inf"]
        cumulative, running = [], 0
        for bound, count in zip(bounds, self.counts, strict=True):
            running += count
            cumulative.append((bound, float(running)))
        return cumulative


class LogCounts:
    """What `GET /metrics` shows, counted from log entries (objects or the
    dictionaries the shared log holds)."""

    def __init__(self, entries: Iterable[LogEntry | Mapping[str, Any]]) -> None:
        self.responses: Counter[tuple[str, str, str]] = Counter()
        self.admitted: Counter[tuple[str, str]] = Counter()
        self.refused: Counter[tuple[str, str, str]] = Counter()
        self.tokens: Counter[tuple[str, str]] = Counter()
        self.disconnected: Counter[tuple[str, str]] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.drawn: defaultdict[str, Histogram] = defaultdict(Histogram)
        self.served: defaultdict[str, Histogram] = defaultdict(Histogram)
        for entry in entries:
            # An entry's own attributes, or the shared log's dictionary: read alike.
            self.add(entry.get if isinstance(entry, Mapping) else partial(getattr, entry))

    def add(self, field: Callable[..., Any]) -> None:
        """Count one entry, given as `field(name, None)`: its value of `name`, or None."""
        endpoint = field("endpoint", None) or UNNAMED_ENDPOINT
        project = field("project", None) or ""
        status, left, accepted = field("status", None), field("left", None), field("accepted", None)
        disconnected = field("disconnected", None)
        # Every endpoint seen has its gauge, 0 when nothing is in flight.
        self.in_flight[endpoint] += left is None and disconnected is None
        if disconnected is not None:
            self.disconnected[endpoint, project] += 1
        if status is not None:
            self.responses[endpoint, project, str(status)] += 1
        if accepted:
            self.admitted[endpoint, project] += 1
            drawn = field("drawn", None)
            if drawn is not None:
                self.drawn[endpoint].observe(drawn)
            if left is not None:
                self.served[endpoint].observe(left - field("arrival", None))
        elif status == TOO_MANY_REQUESTS:
            self.refused[endpoint, project, field("refused_by", None) or "requests"] += 1
        tokens = field("tokens_charged", None)
        if tokens:
            self.tokens[endpoint, project] += tokens

    def collect(self) -> Iterator[Metric]:
        """The metric families, for a prometheus_client registry."""
        yield counter(
            "ratebench_responses",
            "Responses the server sent, by status code.",
            ["endpoint", "project", "status"],
            self.responses,
        )
        yield counter(
            "ratebench_admitted",
            "Requests every limit admitted.",
            ["endpoint", "project"],
            self.admitted,
        )
        yield counter(
            "ratebench_refused",
            "Requests refused with a 429, by the limit that refused them.",
            ["endpoint", "project", "limit"],
            self.refused,
        )
        yield counter(
            "ratebench_tokens_charged",
            "Tokens counted against the token limit by admitted requests.",
            ["endpoint", "project"],
            self.tokens,
        )
        yield counter(
            "ratebench_disconnected",
            "Requests whose client went before the whole answer had left.",
            ["endpoint", "project"],
            self.disconnected,
        )
        in_flight = GaugeMetricFamily(
            "ratebench_in_flight",
            "Requests arrived whose answer has not left yet (nor their client gone).",
            labels=["endpoint"],
        )
        for endpoint, count in sorted(self.in_flight.items()):
            in_flight.add_metric([endpoint], count)
        yield in_flight
        yield histogram(
            "ratebench_latency_drawn_seconds",
            "Latency drawn for admitted requests, in scenario seconds.",
            self.drawn,
        )
        yield histogram(
            "ratebench_latency_served_seconds",
            "Arrival to the last byte leaving, admitted requests, in wall seconds.",
            self.served,
        )


def counter(
    name: str, documentation: str, labels: Sequence[str], counts: Mapping[Any, float]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=list(labels))
    for key, value in sorted(counts.items()):
        family.add_metric(list(key), value)
    return family


def histogram(
    name: str, documentation: str, by_endpoint: Mapping[str, Histogram]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=["endpoint"])
    for endpoint, observed in sorted(by_endpoint.items()):
        family.add_metric([endpoint], observed.buckets(), observed.total)
    return family


def metrics_text(entries: Iterable[LogEntry | Mapping[str, Any]]) -> bytes:
    """The exposition of `entries` (the log since the last reset)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LogCounts(entries))
    return generate_latest(registry)
