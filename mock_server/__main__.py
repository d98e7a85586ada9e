import sys

from mock_server.processes import interrupt

interrupt.install()
try:
    from mock_server.cli import main

    raise SystemExit(main())
except (KeyboardInterrupt, Exception):
    if not interrupt.seen():
        raise
    # Ctrl-C before uvicorn took over its signals (while importing, binding,
    # starting Redis), or the one it caught and re-raised once it had shut down:
    # one line, not a traceback.
    print("mock server: interrupted", file=sys.stderr)
    raise SystemExit(130) from None
