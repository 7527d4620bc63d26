"""The Koopman autoencoder on data read lazily from netCDF4/HDF5 (dask-backed DataArrays).

A lazy fit reads the file in blocks and batches (koopkit/backends/autoencoder/data.py) and
must give the in-memory fit of the same data. The frames it trains on are the in-memory
frames to the bit (same normalisation: the per-feature mean is summed in NumPy's order, the
scale agrees to float64 round-off, and frames are rounded to float32 the same way); what
differs is the DMD initialisation of the Koopman layer, which a lazy fit computes with the
Gram solver (a dask Gram pass) where the in-memory fit of small float64 data may take the
SVD solver. Measured (CPU, one thread): in the two fits below the loss curves, the weights
and the eigenvalues of the lazy fit equal the in-memory ones exactly (relative difference
0); on a 120-snapshot series the DMD start differed by 1.5e-9 relative in eigenvalues (8e-8
in the layer's raw growth parameter) and the losses of 30 steps were still identical. Two
DDP ranks reading the file lazily against one in-memory process: at most 6e-8 relative on
the per-epoch losses (float32 summation order, as in tests/test_ddp.py). The tolerances
(1e-5 relative on losses and eigenvalues, 1e-4 on weights; 1e-4 for DDP) leave a margin
for other BLAS builds, while a real difference in the data moves the losses far more
(measured on the first fit's data: windows shifted by one step, 2% on the training and 7%
on the validation curve; one frame of 160 replaced by its neighbour, 0.4% and 0.5%).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

torch = pytest.importorskip("torch")
dask = pytest.importorskip("dask")
pytest.importorskip("h5netcdf")
from conftest import kill_training_after, make_linear, torchrun_env  # noqa: E402
from dask.callbacks import Callback  # noqa: E402

import koopkit  # noqa: E402
from koopkit import KoopkitError  # noqa: E402
from koopkit.backends import _linalg as linalg_module  # noqa: E402
from koopkit.backends.autoencoder import KoopmanAutoencoder  # noqa: E402
from koopkit.backends.autoencoder import data as data_module  # noqa: E402
from koopkit.backends.autoencoder import estimator as est_module  # noqa: E402
from koopkit.datasets import pendulum  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LAM = np.array(
    [0.995 * np.exp(0.25j), 0.995 * np.exp(-0.25j), 0.99 * np.exp(0.7j), 0.99 * np.exp(-0.7j)]
)
RTOL = 1e-5
FAST = dict(progress=False, steps_per_epoch=10, batch_size=16, seed=3)


def _rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _assert_same_fit(lazy: KoopmanAutoencoder, eager: KoopmanAutoencoder) -> None:
    for key in ("train", "train_recon", "train_pred", "val"):
        assert _rel(lazy.history_[key], eager.history_[key]) < RTOL, key
    la = np.sort_complex(lazy.spectrum_.eigenvalues.values)
    le = np.sort_complex(eager.spectrum_.eigenvalues.values)
    assert _rel(la, le) < RTOL
    for name, w in eager.model_.state_dict().items():
        v = lazy.model_.state_dict()[name]
        if w.numel():
            assert _rel(v.numpy(), w.numpy()) < 1e-4, name
    np.testing.assert_array_equal(
        lazy.scaling_.mean, eager.scaling_.mean
    )  # summed in NumPy's order
    assert lazy.scaling_.scale == pytest.approx(eager.scaling_.scale, rel=1e-14)
    assert lazy.data_reads_ is not None and eager.data_reads_ is None


@pytest.fixture(scope="module")
def linear_file(tmp_path_factory):
    data = make_linear(LAM, n_features=6, n_snapshots=160, dt=0.1).astype(np.float32)
    path = tmp_path_factory.mktemp("lazy") / "linear.nc"
    koopkit.save_timeseries(data, path, chunks=16)  # stored in time chunks
    return data, path


def test_streaming_stats_equal_numpy_on_the_whole_array(monkeypatch):
    """The one-pass statistics (used in memory and lazily) against NumPy on the stacked
    float64 array: the mean to the bit, the RMS scale and the fingerprint sums to
    round-off, with blocks much smaller than a sequence and ragged at the ends."""
    rng = np.random.default_rng(7)
    seqs = [
        (rng.standard_normal((n, 5)) * [1, 10, 100, 0.1, 3] + 50).astype(np.float32)
        for n in (37, 53)
    ]
    monkeypatch.setattr(data_module, "BLOCK_BYTES", 7 * 5 * 4)  # 7 rows per block
    import dask.array as da

    lazy = [da.from_array(x, chunks=(11, 5)) for x in seqs]
    stacked = np.concatenate(seqs).astype(np.float64)
    mean = stacked.mean(axis=0)
    scale = np.sqrt(np.mean((stacked - mean) ** 2))
    for matrices in (seqs, lazy):
        got_mean, got_scale, sig = data_module.streaming_stats(matrices)
        np.testing.assert_array_equal(got_mean, mean)
        assert got_scale == pytest.approx(scale, rel=1e-14)
        for x, (shape, total, absolute) in zip(seqs, sig, strict=True):
            assert shape == list(x.shape)
            assert total == pytest.approx(x.astype(np.float64).sum(), rel=1e-12)
            assert absolute == pytest.approx(np.abs(x.astype(np.float64)).sum(), rel=1e-12)


def test_lazy_vector_fit_equals_in_memory_fit(linear_file):
    data, path = linear_file
    params = dict(latent_pairs=2, horizon=6, epochs=5, warmup_epochs=1, ramp_epochs=1, lr=1e-2)
    eager = KoopmanAutoencoder(hidden=(16,), **params, **FAST).fit(data)
    with xr.open_dataset(path, engine="h5netcdf", chunks={"time": 16}) as ds:
        assert type(ds["x"].data).__module__.startswith("dask")
        lazy = KoopmanAutoencoder(hidden=(16,), **params, **FAST).fit(ds["x"])
    _assert_same_fit(lazy, eager)
    assert eager.history_["train"][-1] < eager.history_["train"][0]  # it trained
    # the model answers like the in-memory one, and no longer refers to the file
    np.testing.assert_allclose(lazy.predict(steps=5).values, eager.predict(steps=5).values, 1e-5)
    np.testing.assert_allclose(lazy.reconstruct().values, eager.reconstruct().values, 1e-5)
    assert lazy._data_info.matrix.shape == (0, 6)
    assert lazy.predict(steps=2).time.values[0] == pytest.approx(data.time.values[-1] + 0.1)


def test_lazy_frames_with_channels_delays_and_sequences(tmp_path):
    """Conv frames (y, x, channel): the channel permutation, delays and several sequences."""
    t = np.arange(90) * 0.1
    y, x = np.arange(10)[:, None], np.arange(8)[None, :]
    blob = np.stack([np.exp(-((y - 5 - 3 * np.sin(2 * s)) ** 2 + (x - 4) ** 2) / 4) for s in t])
    video = xr.DataArray(
        np.stack([blob, 0.5 * blob + 0.1], axis=-1).astype(np.float32),
        dims=("time", "y", "x", "channel"),
        coords={"time": t},
        name="v",
    )
    path = tmp_path / "video.nc"
    koopkit.save_timeseries(video, path, chunks=7)
    params = dict(
        encoder="conv",
        delays=2,
        horizon=4,
        epochs=3,
        latent_pairs=1,
        encoder_options={"channels": (4, 8)},
        decoder_options={"base_channels": 8},
        **FAST,
    )
    parts = (slice(0, 50), slice(50, 90))
    eager = KoopmanAutoencoder(**params).fit([video.isel(time=p) for p in parts])
    with xr.open_dataset(path, engine="h5netcdf", chunks={"time": 7}) as ds:
        lazy = KoopmanAutoencoder(**params).fit([ds["v"].isel(time=p) for p in parts])
    assert lazy.model_.frame_shape == (2, 10, 8)
    _assert_same_fit(lazy, eager)
    np.testing.assert_allclose(lazy.reconstruct().values, eager.reconstruct().values, atol=1e-5)


class _LargestResult(Callback):
    """Largest array any dask task returns (the Gram matrices of DMD's pass excepted)."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0
        self.tasks = 0

    def _posttask(self, key, result, dsk, state, worker_id):
        name = key[0] if isinstance(key, tuple) else key
        if str(name).startswith(("data_gram", "add-")):  # T x T Gram matrices: not data
            return
        self.tasks += 1
        if isinstance(result, np.ndarray):
            self.largest = max(self.largest, result.nbytes)


def test_lazy_source_reads_in_bounded_blocks(tmp_path, monkeypatch):
    n_time, n_feat = 240, 1024
    data = make_linear(LAM, n_features=n_feat, n_snapshots=n_time, dt=0.1).astype(np.float32)
    total = data.values.nbytes
    path = tmp_path / "wide.nc"
    koopkit.save_timeseries(data, path, chunks=16)
    frame = 4 * n_feat
    monkeypatch.setattr(data_module, "BLOCK_BYTES", 8 * frame)
    monkeypatch.setattr(data_module, "BATCH_BYTES", 8 * frame)
    monkeypatch.setattr(linalg_module, "DASK_BLOCK_BYTES", 2**17)
    batch, span = 8, 1 + 5
    params = dict(latent_pairs=2, horizon=5, epochs=2, hidden=(8,), progress=False)
    params.update(steps_per_epoch=5, batch_size=batch, seed=1)
    with xr.open_dataset(path, engine="h5netcdf", chunks={"time": 16}) as ds:
        probe = _LargestResult()
        with probe:  # the probe sees a whole-array read (so it can fail)
            ds["x"].values  # noqa: B018
        assert probe.largest == total
        with _LargestResult() as rec:
            model = KoopmanAutoencoder(**params).fit(ds["x"])
    assert rec.tasks > 100  # every pass went through dask
    bound = batch * span * frame  # the largest request: one batch of windows
    assert rec.largest <= bound < total / 4
    reads = model.data_reads_
    train = [b for b in reads["batches"] if b[0] == batch]
    assert len(train) == 2 * 5  # one gather of batch_size windows per step
    assert all(frames <= batch * span for _, frames in train)  # only the windows' frames
    # frames read through the source: the batches plus the encoding pass over every frame
    # (the statistics pass, with the fingerprint, streams the matrix directly)
    assert reads["frames"] >= n_time + sum(frames for _, frames in reads["batches"])


@pytest.mark.slow
def test_ddp_on_a_lazily_read_file_matches_one_in_memory_process(tmp_path):
    dist = pytest.importorskip("torch.distributed")
    if not (dist.is_available() and dist.is_gloo_available()):
        pytest.skip("torch.distributed with the gloo backend is unavailable")
    path = tmp_path / "pendulum.nc"
    koopkit.save_timeseries(pendulum(theta0=0.8, n_snapshots=200), path, chunks=16)
    module = "koopkit.backends.autoencoder.ddp"
    args = ["--epochs", "3", "--steps", "10", "--batch-size", "16", "--seed", "3"]
    args += ["--data", str(path)]
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    runs = [
        [sys.executable, "-m", module, *args, "--chunks", "0", "--out", str(one)],
        [
            *[sys.executable, "-m", "torch.distributed.run", "--standalone"],
            *["--nproc_per_node=2", "-m", module, *args, "--chunks", "16", "--out", str(two)],
        ],
    ]
    for cmd in runs:
        out = subprocess.run(
            cmd, cwd=ROOT, env=torchrun_env(), capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr[-3000:]
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert (a["world_size"], a["lazy"], b["world_size"], b["lazy"]) == (1, False, 2, True)
    # 2 ranks on half batches each, reading lazily: the in-memory single-process curve up to
    # float32 summation order (tests/test_ddp.py; measured here about 1e-7 relative)
    for key in ("train", "train_recon", "train_pred", "val"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-4, err_msg=key)
    ea, eb = (np.asarray(r["eigenvalues"]) for r in (a, b))
    assert _rel(eb, ea) < 1e-4
    # each rank gathered only its own share (8 of the 16 windows) of every global batch
    span = 1 + 10  # delays + the script's horizon
    for reads in b["reads"]:
        train = [w for w in reads["batches"] if w[0] == 8]
        assert len(train) == 3 * 10
        assert all(frames <= 8 * span for _, frames in train)
        assert not [w for w in reads["batches"] if w[0] == 16]


@pytest.fixture
def no_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(est_module, "train", fail)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_in_a_lazy_file_gives_the_in_memory_error(tmp_path, bad, no_training):
    data = make_linear(LAM, n_features=6, n_snapshots=120, dt=0.1).astype(np.float32)
    data[37, 2] = bad
    path = tmp_path / "bad.nc"
    koopkit.save_timeseries(data, path, chunks=16)
    model = KoopmanAutoencoder(latent_pairs=2, horizon=5, **FAST)
    with pytest.raises(KoopkitError) as eager:
        model.fit(data)
    with xr.open_dataset(path, engine="h5netcdf", chunks={"time": 16}) as ds:
        with pytest.raises(KoopkitError) as lazy:
            model.fit(ds["x"])
        assert "first in snapshot 37" in str(lazy.value)
        assert str(lazy.value) == str(eager.value)
        assert "\n" not in str(lazy.value)
        # several sequences: the error names the sequence, as in memory
        parts = [data.isel(time=slice(0, 30)), data.isel(time=slice(30, 120))]
        lazy_parts = [ds["x"].isel(time=slice(0, 30)), ds["x"].isel(time=slice(30, 120))]
        with pytest.raises(KoopkitError) as eager_seq:
            model.fit(parts)
        with pytest.raises(KoopkitError) as lazy_seq:
            model.fit(lazy_parts)
    assert str(lazy_seq.value) == str(eager_seq.value)
    assert str(lazy_seq.value).startswith("sequence 1: ") and "snapshot 7" in str(lazy_seq.value)


def test_constant_lazy_data_is_rejected(tmp_path, no_training):
    data = xr.DataArray(
        np.ones((40, 3), dtype=np.float32), dims=("time", "f"), coords={"time": np.arange(40.0)}
    )
    with pytest.raises(KoopkitError, match="constant in time"):
        KoopmanAutoencoder(latent_pairs=1, horizon=3, **FAST).fit(data.chunk({"time": 8}))


def test_resume_across_lazy_and_in_memory_and_changed_data(linear_file, tmp_path, monkeypatch):
    """The fingerprint is the raw data's sums, formed in one pass with the statistics (lazy)
    or directly (in memory): a lazy run killed after epoch 2 resumes in memory and ends
    where the uninterrupted run does; data changed by one value in 960 are refused."""
    from koopkit.backends.autoencoder import train as train_module

    data, path = linear_file
    params = dict(hidden=(16,), latent_pairs=2, horizon=6, epochs=4, warmup_epochs=1)
    params.update(ramp_epochs=1, lr=1e-2, **FAST)
    full = KoopmanAutoencoder(**params).fit(data)
    ckpt = tmp_path / "ckpt"
    real = train_module.window_losses
    kill_training_after(monkeypatch, train_module, 2 * FAST["steps_per_epoch"])  # epoch 3
    with xr.open_dataset(path, engine="h5netcdf", chunks={"time": 16}) as ds:
        with pytest.raises(KeyboardInterrupt):
            KoopmanAutoencoder(checkpoint_dir=ckpt, **params).fit(ds["x"])
    monkeypatch.setattr(train_module, "window_losses", real)
    resumed = KoopmanAutoencoder(checkpoint_dir=ckpt, resume=True, **params).fit(data)
    assert resumed.resumed_from_ == 2
    assert _rel(resumed.history_["train"], full.history_["train"]) < RTOL
    changed = data.copy()
    changed[40, 3] += 1e-3
    with pytest.raises(KoopkitError, match="written with data="):
        KoopmanAutoencoder(checkpoint_dir=ckpt, resume=True, **params).fit(changed)


def test_lazy_residual_data_and_encode_match_in_memory(linear_file):
    """Held-out sequences read lazily give the residuals of the same data in memory, and
    ``encode`` of a lazy series equals ``encode_matrix`` of its values."""
    data, path = linear_file
    params = dict(hidden=(16,), latent_pairs=2, horizon=6, epochs=2, **FAST)
    train = data.isel(time=slice(0, 100))
    eager = KoopmanAutoencoder(**params).fit(train, residual_data=data.isel(time=slice(100, 160)))
    with xr.open_dataset(path, engine="h5netcdf", chunks={"time": 16}) as ds:
        held = ds["x"].isel(time=slice(100, 160))
        lazy = KoopmanAutoencoder(**params).fit(train, residual_data=held)
        z = lazy.encode(held)
    # frames equal to the bit (module notes); blocks may batch the encoder differently
    res = lazy.spectrum_.residuals.values
    np.testing.assert_allclose(res, eager.spectrum_.residuals.values, rtol=1e-5)
    fitted = KoopmanAutoencoder(**params).fit(train).spectrum_.residuals.values
    assert not np.allclose(res, fitted, rtol=1e-3)  # the held-out pairs made a difference
    np.testing.assert_allclose(z.values, lazy.encode_matrix(data.values[100:160]), rtol=1e-6)
