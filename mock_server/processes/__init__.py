"""Servers as processes, as opposed to serving: starting, waiting for and stopping them.

- `child.py`: a server as a child process of its own session, waited for
  until it answers and stopped on exit (`ChildServer`), the one way the two
  below are run.
- `server.py`: the mock server as a child process (`MockServer`), for tests,
  the bench and the CLI, and its `/log` and `/reset` over HTTP.
- `redis_server.py`: a real Redis as a child process (`RedisServer`).
- `workers.py`: `--workers N`, N uvicorn worker processes forked behind one
  listening socket, supervised by the server's own process.
- `interrupt.py`: Ctrl-C on the server's own process, one line however early
  or late it lands.
"""
