"""`ratebench bench --command NAME='...' --check '...'`: a user's own program
gated as CI would gate it. A paced program passes `rejections == 0` (exit 0);
one that sends its whole batch at once breaks the limit and fails it (exit
1); the outcome is in summary.json and the table at the end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RATEBENCH = Path(sys.executable).parent / "ratebench"
CLIENT = (
    f"{sys.executable} -m clients {{}} --url $RATEBENCH_CHAT_URL "
    "--time-scale $RATEBENCH_TIME_SCALE -n $RATEBENCH_N"
)


def bench(out: Path, name: str, client: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            RATEBENCH,
            "bench",
            "--command",
            f"{name}={CLIENT.format(client)}",
            *("--runs", "1", "-n", "6", "--time-scale", "0.05", "--jobs", "1"),
            *("--check", "rejections == 0", "--check", f"{name}:max <= 100"),
            *("--out", str(out), "--name", name),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_check_passes_a_paced_program_and_fails_one_that_breaks_the_limit(
    tmp_path: Path,
) -> None:
    # Side by side: each bench has a server of its own.
    # thread_pool keeps 2 in flight, each at least 2 s long: never more than the
    # limit's 2 sends in a 1 s window, whatever the timing (token_bucket, paced at
    # exactly the limit, can meet a 429 at a window's edge).
    paced, burst = (
        bench(tmp_path, "paced", "thread_pool"),
        bench(tmp_path, "burst", "naive_gather"),
    )
    outputs = {name: p.communicate(timeout=120) for name, p in (("paced", paced), ("burst", burst))}
    assert paced.returncode == 0, outputs["paced"]
    assert burst.returncode == 1, outputs["burst"]

    assert "2 passed, 0 failed" in outputs["paced"][0]
    # Not a terminal: the progress line's last state says no time left.
    assert "1/1 runs" in outputs["paced"][1]
    assert "left" not in outputs["paced"][1]
    table = outputs["burst"][0]
    assert "FAIL  burst   rejections == 0" in table
    assert "PASS  burst   burst:max <= 100" in table
    assert "1 passed, 1 failed: exit status 1" in table
    checks = json.loads((tmp_path / "burst" / "summary.json").read_text())["checks"]
    assert [(c["check"], c["passed"]) for c in checks] == [
        ("rejections == 0", False),
        ("burst:max <= 100", True),
    ]
    assert checks[0]["value"] > 0
