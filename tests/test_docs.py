"""The documentation site builds without warnings (every gallery example in quick mode).

The build runs in a copy of the tree, so the test leaves the checkout's committed figures
alone.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_docs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    if shutil.which("bash") is None:
        pytest.skip("bash is needed for docs/build.sh")
    skip = shutil.ignore_patterns("__pycache__", "*.nc", "build")
    for name in ("docs", "examples", "benchmarks", "koopkit"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=skip)
    for name in ("mkdocs.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    res = subprocess.run(
        ["bash", str(tmp_path / "docs" / "build.sh")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (tmp_path / "build" / "site" / "index.html").exists()
    assert (tmp_path / "build" / "site" / "gallery" / "figure4" / "index.html").exists()
