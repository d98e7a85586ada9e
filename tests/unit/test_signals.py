"""A signal while `bench plot` saves a figure leaves no truncated PNG."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_ctrl_c_while_a_plot_is_saved_leaves_no_truncated_png(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    from bench.drawing.style import save_figure

    def interrupted_save(self: Figure, fname: object, **kwargs: object) -> None:
        Path(str(fname)).write_bytes(b"\x89PNG half")  # the write had begun
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", interrupted_save)
    target = tmp_path / "timeline.png"
    with pytest.raises(KeyboardInterrupt):
        save_figure(Figure(), target)
    assert list(tmp_path.iterdir()) == []
