"""How many runs the bench runs side by side, and the lanes that run them.

Every run is independent by construction: a server of its own (its own limit,
its own log), reset and reseeded before the run, so run i of every client
faces the same latency draws whichever lane runs it. A run spends nearly all
its time waiting on its limit and its drawn latencies, so several can share a
machine without one's timing disturbing another's, as long as together they
leave the machine idle most of the time. `choose_jobs` decides how many from
what the runs cost; each lane is a thread with a server of its own, taking
the next job of the interleaved schedule (A B C A B C ...) when its run ends,
so that runs in flight at any instant are a mix of clients and a slow patch of
the machine still hits every client alike.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bench.endpoints.registry import endpoint_for
from bench.records.results import RunRecord
from bench.running.plan import BenchPlan, ClientRunner, Job
from clients import spec
from clients.config import ClientConfig
from clients.infra.procs import run_procs
from clients.infra.recorder import Observer
from clients.infra.records import ClientRun
from mock_server.processes.server import MockServer, reset_server

#: CPU seconds one attempt costs the machine, client and server together: the
#: load command measures under 2 ms for the slowest driver (threads); twice that.
CPU_PER_ATTEMPT = 0.004
#: Attempts per request to allow for: a request that meets 429s is sent again.
ATTEMPTS_PER_REQUEST = 3
#: CPU seconds a `--command` program costs when it starts (an interpreter, imports).
COMMAND_START_CPU = 1.0
#: The share of the machine's cores that runs side by side may keep busy together.
CPU_SHARE = 0.25
#: A run that may hold this many requests in flight at once needs the machine alone.
ALONE_IN_FLIGHT = 500
#: Scenario seconds over which the lanes' first runs are spread (`run_lanes`).
STAGGER = 1.0
#: Seconds a lane's first run waits for the others' to be ready before it goes alone.
LINE_UP_TIMEOUT = 120.0
#: The most runs `--jobs` may put side by side.
MAX_JOBS = 64
#: Lanes per core at most: each is a server process of its own, idle but resident
#: (about 60 MB); 16 per core lets the write-up's 30 runs on 2 cores go in one wave.
LANES_PER_CORE = 16


@dataclass(frozen=True, slots=True)
class JobsChoice:
    """How many runs at once, and the reason in words, for the bench's first lines."""

    jobs: int
    why: str


def choose_jobs(plan: BenchPlan, cores: int | None = None) -> JobsChoice:
    """The number of runs to run side by side, from what they cost.

    One at a time against `--url` (one server, one limit, one log: runs side by
    side would share it), and for a run that may hold `ALONE_IN_FLIGHT` requests
    in flight. (A client whose limit lives in Redis takes turns with itself
    whatever the count: `needs_alone`.) Otherwise as many as keep the runs'
    estimated CPU together under `CPU_SHARE` of the cores, at most
    `LANES_PER_CORE` per core and never more than there are runs.
    """
    cores = cores or os.cpu_count() or 1
    names = (*plan.clients, *(name for name, _ in plan.commands))
    total = plan.runs * len(names)
    if plan.url is not None:
        return JobsChoice(1, "one at a time: --url is one server, whose limit they would share")
    if total <= 1:
        return JobsChoice(1, "one run")
    scenario = plan.scenario
    endpoint = endpoint_for(scenario)
    config = plan.client_config("http://127.0.0.1/chat")
    busiest = 0.0  # CPU seconds per wall second of the costliest run
    for name in plan.clients:
        client = spec(name)
        in_flight = min(scenario.n, config.workers) if client.caps_in_flight else scenario.n
        if in_flight >= ALONE_IN_FLIGHT:
            return JobsChoice(
                1, f"one at a time: {name} may hold {in_flight} requests in flight at once"
            )
        seconds = endpoint.estimate(client, scenario, config) * scenario.time_scale
        cpu = scenario.n * ATTEMPTS_PER_REQUEST * CPU_PER_ATTEMPT
        busiest = max(busiest, cpu / max(seconds, 1e-3))
    if plan.commands:
        seconds = scenario.n / scenario.limit.per_second * scenario.time_scale
        cpu = COMMAND_START_CPU + scenario.n * ATTEMPTS_PER_REQUEST * CPU_PER_ATTEMPT
        busiest = max(busiest, cpu / max(seconds, 1e-3))
    by_cpu = math.floor(CPU_SHARE * cores / busiest) if busiest > 0 else total
    jobs = max(1, min(total, by_cpu, LANES_PER_CORE * cores))
    if jobs == 1:
        return JobsChoice(1, "one at a time: a run keeps the machine busy")
    limits = {
        total: f"every run at once ({total})",
        LANES_PER_CORE * cores: f"{LANES_PER_CORE} per core, one server each",
    }
    bound = limits.get(jobs, f"together at most {CPU_SHARE:.0%} of {cores} cores busy")
    return JobsChoice(jobs, f"{jobs} runs side by side, each with a server of its own: {bound}")


def needs_alone(plan: BenchPlan, client: str) -> bool:
    """True for a client whose limit lives in a shared service (Redis): two of its
    runs at once would share one limit, so its runs take turns."""
    return client not in dict(plan.commands) and bool(spec(client).needs)


def terminate_all(servers: list[MockServer]) -> None:
    for server in servers:
        server.terminate()


@contextlib.contextmanager
def lane_servers(plan: BenchPlan, count: int) -> Iterator[list[MockServer]]:
    """`count` mock servers of the plan's scenario, started side by side before any
    run begins (a starting server is the busiest thing on the machine) and
    stopped on the way out, whatever happens."""
    with contextlib.ExitStack() as stack:
        servers = [MockServer(**plan.server_kwargs()) for _ in range(count)]
        for server in servers:
            stack.callback(server.close)
        # Last in, first out: every server is told to stop before any is waited for.
        stack.callback(terminate_all, servers)
        for server in servers:
            server.spawn()  # from this thread, which outlives every lane
        for server in servers:
            server.wait_ready()
        yield servers


#: What a lane tells the bench: a run started (record None) or finished.
Event = tuple[Job, RunRecord | None, MockServer]
#: The bench's one run (`bench.running.runner.run_one`): a job on a lane's server,
#: its client run by the runner given.
RunOne = Callable[[Job, MockServer, ClientRunner], RunRecord]


def in_own_process(
    name: str,
    config: ClientConfig,
    observer: Observer | None,
    before_go: Callable[[], None] | None = None,
) -> ClientRun:
    """Run client `name` in a process of its own (`clients.infra.procs`), its
    recorder's events relayed to `observer`.

    Lanes share the bench's process: a client that sends 80 requests at once
    holds the interpreter long enough to delay another lane's timed send by a
    quarter of a second (measured: `budget_window` then met 36 × 429 at the
    server's minute edge). Processes of their own leave the sharing to the
    operating system's scheduler, which gives a waiting send the core within
    a few milliseconds. `before_go`: called once the process is ready (see
    `clients.infra.procs.run_procs`).
    """
    return run_procs(name, config, 1, observer=observer, before_go=before_go)


def _reset_at_go(server: MockServer, job: Job, go: Callable[[], None] | None) -> None:
    """Once the run's process is ready (its libraries imported: seconds on a busy
    machine), after the line-up if it is on it: reset the server again, so that its
    clock starts with the batch. Gemini's minutes and days are aligned on the clock
    the server starts at a reset; reset only before the process started, they ran
    8.5 s (85 scenario seconds at time scale 0.1) before its first send."""
    if go is not None:
        go()
    reset_server(server.url, seed=job.seed)


def run_lanes(
    plan: BenchPlan,
    jobs: list[Job],
    servers: list[MockServer],
    run_one: RunOne,
    observe: Callable[[Job], Observer | None],
) -> Iterator[Event]:
    """Run `jobs` in one lane per server; yield each start and finish as it happens.

    The caller consumes the events in its own thread (the records, the display
    and Ctrl-C all stay there). Leaving the generator early (an error, Ctrl-C,
    a dead server) stops the lanes from taking new jobs; the runs in flight end
    when their servers are stopped.
    """
    # Lane k's first run is jobs[k]; after it, each lane takes the next job left.
    first = jobs[: len(servers)]
    todo: queue.SimpleQueue[Job] = queue.SimpleQueue()
    for job in jobs[len(servers) :]:
        todo.put(job)
    events: queue.SimpleQueue[Event | BaseException] = queue.SimpleQueue()
    stop = threading.Event()
    turns = threading.Lock()  # runs of a client that shares a limit through Redis
    commands = dict(plan.commands)

    # The first runs start together, once every one of them is ready: a client's
    # process imports its libraries before it says so, and thirty of those
    # imports at once would keep both cores busy for seconds of other runs'
    # time. Then lane k goes k steps late, the steps spreading one scenario
    # second: runs started together would send, retry and open windows at the
    # same instants on every lane (the latencies are whole seconds, so are the
    # windows), and their bursts would queue behind each other for the cores.
    step = plan.scenario.time_scale * STAGGER / len(servers)
    lined_up = sum(1 for job in first if not needs_alone(plan, job.client))
    start_line = threading.Barrier(max(1, lined_up))

    def line_up(k: int, job: Job) -> None:
        if not needs_alone(plan, job.client):  # it may wait for its turn: not on the line
            with contextlib.suppress(threading.BrokenBarrierError):
                start_line.wait(timeout=LINE_UP_TIMEOUT)
        stop.wait(k * step)

    def lane(server: MockServer, k: int) -> None:
        job: Job | None = first[k]
        try:
            while job is not None and not stop.is_set():
                go = functools.partial(line_up, k, job) if job is first[k] else None
                with turns if needs_alone(plan, job.client) else contextlib.nullcontext():
                    events.put((job, None, server))
                    if job.client in commands and go is not None:
                        go()  # a program's start-up is part of its run, as for hyperfine
                    ready = functools.partial(_reset_at_go, server, job, go)
                    runner = functools.partial(
                        in_own_process, observer=observe(job), before_go=ready
                    )
                    record = run_one(job, server, runner)
                events.put((job, record, server))
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    job = None
        except BaseException as exc:  # handed to the bench's thread, raised there
            start_line.abort()
            events.put(exc)

    threads = [
        threading.Thread(target=lane, args=(server, k), daemon=True)
        for k, server in enumerate(servers)
    ]
    for thread in threads:
        thread.start()
    finished = 0
    try:
        while finished < len(jobs):
            try:
                event = events.get(timeout=0.2)
            except queue.Empty:
                if not any(t.is_alive() for t in threads) and events.empty():
                    return  # every lane ended without finishing: an error was raised
                continue
            if isinstance(event, BaseException):
                raise event
            if event[1] is not None:
                finished += 1
            yield event
    finally:
        stop.set()
        if finished < len(jobs):
            ABANDONED.set()


#: Set when the bench stopped with runs still in flight (Ctrl-C, a dead server):
#: their servers are stopped, and what is left of them (a client sleeping out
#: its retries) must not keep the process alive; `python -m bench` exits at once.
ABANDONED = threading.Event()
