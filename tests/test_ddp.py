"""Distributed (DDP, gloo, CPU) autoencoder training matches the single-process run.

Both runs draw the same global batches from the same seeded generator; under DDP each of
the 2 ranks takes half of every batch, its loss is the mean over its half, and DDP averages
the gradients over the ranks, which is the gradient of the mean over the whole batch. The
two runs therefore differ only in float32 summation order (the batch mean computed as one
sum or as two half sums averaged, and the gloo all-reduce), about 1e-7 relative per step,
which Adam carries through the 80 steps (measured: at most about 1e-7 relative on the
per-epoch train and validation losses). The tolerance, 1e-4 relative per epoch, leaves
three orders of magnitude for other BLAS builds and thread counts, while training on
other windows than the single-process global batch (ranks drawing their own batches, or
all ranks on the same half) moves the curve by several percent (measured for
half-size batches: about 4%).
Adam is nearly invariant to a constant scale of the gradient, so a sum-instead-of-mean
gradient convention would hardly show in the curve; the logged losses are checked
against the single-process ones, which would catch a sum in the logging.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
from conftest import torchrun_env  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with the gloo backend is unavailable",
)

ROOT = Path(__file__).resolve().parents[1]
MODULE = "koopkit.backends.autoencoder.ddp"
ARGS = ["--epochs", "4", "--steps", "20", "--batch-size", "32", "--seed", "3"]
RTOL = 1e-4


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, cwd=ROOT, env=torchrun_env(), capture_output=True, text=True, timeout=120, check=False
    )


def _torchrun(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        MODULE,
        *args,
    ]


@pytest.mark.slow
def test_ddp_loss_curve_matches_single_process(tmp_path):
    single, ddp = tmp_path / "single.json", tmp_path / "ddp.json"
    ckpt = tmp_path / "ckpt"
    one = _run([sys.executable, "-m", MODULE, *ARGS, "--out", str(single)])
    assert one.returncode == 0, one.stderr[-3000:]
    two = _run(_torchrun(*ARGS, "--out", str(ddp), "--checkpoint-dir", str(ckpt)))
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = json.loads(single.read_text()), json.loads(ddp.read_text())
    assert (a["world_size"], b["world_size"]) == (1, 2)
    assert a["global_batch"] == b["global_batch"] == 32
    for key in ("train", "train_recon", "train_pred", "val"):
        x, y = np.asarray(a[key]), np.asarray(b[key])
        assert x.shape == y.shape == (4,)
        np.testing.assert_allclose(y, x, rtol=RTOL, err_msg=key)
    assert a["train"][-1] < a["train"][0]  # it trained
    # rank 0 wrote the checkpoint, and its loss history is the curve
    from koopkit.backends.autoencoder.train import load_checkpoint

    tensors, _ = load_checkpoint(ckpt)
    assert int(tensors["train/epoch"]) == 4
    np.testing.assert_allclose(tensors["train/history"][:, 0].numpy(), b["train"], rtol=1e-12)
    assert not [p for p in os.listdir(ckpt) if p.startswith(".tmp-")]

    # DDP for 2 epochs, then resumed to 4 under DDP: exactly the uninterrupted DDP run
    part_dir, part, resumed = tmp_path / "part", tmp_path / "part.json", tmp_path / "res.json"
    for extra in (["--epochs", "2", "--out", str(part)], ["--resume", "--out", str(resumed)]):
        out = _run(_torchrun(*ARGS, "--checkpoint-dir", str(part_dir), *extra))
        assert out.returncode == 0, out.stderr[-3000:]
    c = json.loads(resumed.read_text())
    assert (c["train"], c["val"]) == (b["train"], b["val"])


@pytest.mark.slow
def test_ddp_global_batch_must_divide(tmp_path):
    out = _run(
        _torchrun(
            "--epochs", "1", "--steps", "1", "--batch-size", "33", "--out", str(tmp_path / "x.json")
        )
    )
    assert out.returncode != 0
    assert "batch_size=33 must be divisible by the 2 distributed processes" in out.stderr
