import sys

try:
    from mock_server.cli import main

    raise SystemExit(main())
except KeyboardInterrupt:
    # Ctrl-C before uvicorn took over its signals (while importing, binding,
    # starting Redis): one line, as uvicorn's own shutdown is, not a traceback.
    print("mock server: interrupted", file=sys.stderr)
    raise SystemExit(130) from None
