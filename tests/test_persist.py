"""Saved models: model.save(path) / koopkit.load_model(path) give the same forecasts, bit for bit.

Each fitted model is saved and loaded, and everything it computes from its fitted state is
compared exactly (``np.testing.assert_array_equal`` and ``xr.testing.assert_identical``):
``predict`` (from the end, from ``initial=`` and at ``times=``), ``reconstruct``, the
spectrum with its residuals, and the pseudospectrum from ``residual_matrices_``. The truth
the saved models are held to besides their originals: the known eigenvalues and the
analytic continuation of a constructed linear system, the reference ``safetensors``
package (where installed) on the weight files, and PyDMD refitting the rebuilt estimator.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from conftest import make_linear, match

import koopkit
from koopkit import DMD, EDMD, ExactDMD, KoopkitError, backends
from koopkit._safetensors import read_safetensors, write_safetensors
from koopkit.backends.saving import load_model
from koopkit.cli import main
from koopkit.observables import RBF, Delays, Identity, Polynomial, RandomFourier

#: Two damped oscillations and a decaying real mode, seen by 6 sensors
LAM = np.array([0.99 * np.exp(0.3j), 0.99 * np.exp(-0.3j), 0.97 * np.exp(0.9j)])
LAM = np.concatenate([LAM, LAM[2:].conj(), [0.9]])
DT = 0.1


@pytest.fixture(scope="module")
def system() -> xr.DataArray:
    """Labelled like real data: string sensor names, attrs on the data and on time."""
    data = make_linear(LAM, n_features=6, n_snapshots=140, dt=DT)
    data = data.rename(feature="sensor").assign_coords(
        sensor=[f"s{i}" for i in range(6)], height=("sensor", np.linspace(0.0, 1.0, 6))
    )
    data.attrs.update(units="K", long_name="temperature", history=["a", "b"])
    return data


@pytest.fixture(scope="module")
def noisy(system) -> xr.DataArray:
    rng = np.random.default_rng(1)
    return system + 1e-3 * rng.standard_normal(system.shape)


def round_trip(model, path: Path):
    model.save(path)
    loaded = koopkit.load_model(path)
    assert type(loaded) is type(model)
    return loaded


def assert_same(model, loaded, data: xr.DataArray, delays: int = 1) -> None:
    """Everything computed from the fitted state is identical, bit for bit."""
    history = data.isel(time=slice(20, 20 + max(delays, 3)))
    t_last = float(model._data_info.times[-1])
    calls = [
        dict(steps=9),
        dict(times=[t_last + 0.05, t_last + 0.73, t_last + 3 * DT]),
        dict(steps=4, initial=history),
    ]
    for kwargs in calls:
        want, got = model.predict(**kwargs), loaded.predict(**kwargs)
        np.testing.assert_array_equal(got.values, want.values)
        xr.testing.assert_identical(got, want)
    xr.testing.assert_identical(loaded.reconstruct(), model.reconstruct())
    xr.testing.assert_identical(loaded.spectrum_.to_dataset(), model.spectrum_.to_dataset())
    np.testing.assert_array_equal(
        loaded.spectrum_.residuals.values, model.spectrum_.residuals.values
    )
    if hasattr(model, "residual_matrices_"):
        grid = (np.linspace(-1.1, 1.1, 7), np.linspace(-1.1, 1.1, 5))
        np.testing.assert_array_equal(
            koopkit.pseudospectrum(loaded, grid).values, koopkit.pseudospectrum(model, grid).values
        )
        for key in ("G", "A", "L"):
            np.testing.assert_array_equal(
                getattr(loaded.residual_matrices_, key), getattr(model.residual_matrices_, key)
            )


# ------------------------------------------------------------------------ DMD
@pytest.mark.parametrize(
    "make",
    [
        lambda: DMD(rank=5, solver="svd"),
        lambda: DMD(rank=5, solver="gram"),
        lambda: DMD(rank=8, solver="svd", delays=3, residual_rank=10),
        lambda: DMD(rank=6, solver="randomized", delays=2),
        lambda: DMD(rank=5, tlsq_rank=6, forward_backward=True, amplitudes="first"),
        lambda: ExactDMD(rank=5),
        lambda: ExactDMD(rank="auto", delays=2, solver="gram"),
        lambda: ExactDMD(rank=0.999),
    ],
    ids=["svd", "gram", "delays", "randomized", "tlsq-fb", "exact", "exact-auto", "energy"],
)
def test_dmd_round_trip_is_bit_for_bit(make, noisy, tmp_path):
    model = make().fit(noisy.isel(time=slice(0, 120)))
    loaded = round_trip(model, tmp_path / "m.nc")
    assert_same(model, loaded, noisy, model.delays)
    assert loaded.get_params() == model.get_params()
    assert loaded.rank_ == model.rank_ and loaded.solver_ == model.solver_
    np.testing.assert_array_equal(loaded.singular_values_, model.singular_values_)


def test_a_loaded_dmd_still_forecasts_the_true_system(system, tmp_path):
    """The saved file carries the physics: eigenvalues and the analytic continuation."""
    loaded = round_trip(DMD(rank=5).fit(system.isel(time=slice(0, 100))), tmp_path / "m.nc")
    assert match(loaded.spectrum_.eigenvalues.values, LAM).max() < 1e-9
    truth = system.isel(time=slice(100, 120))
    np.testing.assert_allclose(loaded.predict(steps=20).values, truth.values, atol=1e-9)
    # from a state of the held-out part, at fractional steps of the true system
    steps = np.array([0.5, 2.25, 7.0])
    exact = make_linear(LAM, n_features=6, n_snapshots=0, dt=DT, steps=110 + steps)
    got = loaded.predict(times=(110 + steps) * DT, initial=system.isel(time=slice(109, 111)))
    np.testing.assert_allclose(got.values, exact.values, atol=1e-9)


def test_weights_float32_and_several_trajectories(noisy, tmp_path):
    w = xr.DataArray(np.linspace(1.0, 3.0, 6), dims="sensor", coords={"sensor": noisy.sensor})
    model = DMD(rank=5, delays=2).fit(noisy, weights=w)
    assert model._linear.weights is not None
    assert_same(model, round_trip(model, tmp_path / "w.nc"), noisy, 2)

    single = ExactDMD(rank=5).fit(noisy.astype(np.float32))
    loaded = round_trip(single, tmp_path / "f32.nc")
    assert loaded.predict(steps=3).dtype == np.float32
    assert_same(single, loaded, noisy.astype(np.float32))

    parts = [noisy.isel(time=slice(0, 50)), noisy.isel(time=slice(60, 140))]
    several = DMD(rank=5, delays=3, solver="gram").fit(parts, residual_data=noisy[50:60])
    assert_same(several, round_trip(several, tmp_path / "t.nc"), noisy, 3)


def test_lazy_modes_are_computed_once_while_saving(noisy, tmp_path):
    pytest.importorskip("dask")
    from dask.callbacks import Callback

    model = DMD(rank=5, delays=2).fit(noisy.chunk({"time": 35}))
    assert type(model._linear.modes).__module__.startswith("dask")
    computes = []

    class Count(Callback):
        def _start(self, dsk):
            computes.append(1)

    with Count():
        model.save(tmp_path / "lazy.nc")
    assert len(computes) == 1  # the forecast's modes and the spectrum's in one pass
    loaded = koopkit.load_model(tmp_path / "lazy.nc")
    assert isinstance(loaded._linear.modes, np.ndarray)
    np.testing.assert_array_equal(loaded.predict(steps=6).values, model.predict(steps=6).values)
    np.testing.assert_array_equal(loaded.reconstruct().values, model.reconstruct().values)
    np.testing.assert_array_equal(
        loaded.spectrum_.modes.values, np.asarray(model.spectrum_.modes.values)
    )
    # and the lazy fit itself equals the in-memory fit it streams (truth: the same data)
    eager = DMD(rank=5, delays=2).fit(noisy)
    np.testing.assert_allclose(
        np.sort_complex(loaded.spectrum_.eigenvalues.values),
        np.sort_complex(eager.spectrum_.eigenvalues.values),
        atol=1e-9,
    )


def test_labels_of_every_kind_survive(system, tmp_path):
    """Coordinates and attributes as files bring them: strings as objects, datetimes, bytes."""
    data = system.assign_coords(
        sensor=np.array([f"s{i}" for i in range(6)], dtype=object),
        installed=("sensor", np.arange(6).astype("datetime64[D]")),
        flag=("sensor", np.arange(6) % 2 == 0),
    )
    data.attrs.update(raw=b"\x00\xff", nested={"a": [1, 2.5, None]}, count=np.int16(3))
    data["time"].attrs.update(calendar_note="uniform")
    model = DMD(rank=5).fit(data)
    loaded = round_trip(model, tmp_path / "labels.nc")
    got, want = loaded.predict(steps=2), model.predict(steps=2)
    xr.testing.assert_identical(got, want)
    assert got.sensor.dtype == object and got.installed.dtype == want.installed.dtype
    assert got.attrs["raw"] == b"\x00\xff" and isinstance(got.attrs["count"], np.int16)


def test_modes_are_stored_once(system, tmp_path):
    model = DMD(rank=5, delays=4).fit(system)
    model.save(tmp_path / "m.nc")
    with h5py.File(tmp_path / "m.nc") as f:
        names = list(f)
    assert "_linear.modes.real" in names
    assert not [n for n in names if n.startswith(("spectrum_.modes.real", "spectrum_.modes.imag"))]


# ------------------------------------------------------------------------ EDMD
@pytest.mark.parametrize(
    "make",
    [
        lambda: EDMD(Delays(2) + Polynomial(2), rank=10),
        lambda: EDMD(Polynomial(2, include_bias=False), rank=8, regularization=1e-8),
        lambda: EDMD(RBF(40, seed=2), rank=12),
        lambda: EDMD(RandomFourier(300, seed=1), form="kernel", rank=12),
        lambda: EDMD(Identity() + RBF(20, width=2.0), form="primal"),
    ],
    ids=["delays-poly", "poly-reg", "rbf", "fourier-kernel", "identity-rbf"],
)
def test_edmd_round_trip_is_bit_for_bit(make, noisy, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", koopkit.backends.edmd.ResidualWarning)
        model = make().fit(noisy.isel(time=slice(0, 120)))
    loaded = round_trip(model, tmp_path / "e.nc")
    lag = model.observables_.lag
    assert_same(model, loaded, noisy, lag + 1)
    assert loaded.form_ == model.form_ and repr(loaded.observables_) == repr(model.observables_)
    xr.testing.assert_identical(loaded.eigenfunctions(noisy), model.eigenfunctions(noisy))
    # the unfitted dictionary parameter comes back unfitted, and refits to the same model
    assert not hasattr(loaded.observables, "n_features_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", koopkit.backends.edmd.ResidualWarning)
        again = loaded.fit(noisy.isel(time=slice(0, 120)))
    np.testing.assert_array_equal(
        again.spectrum_.eigenvalues.values, model.spectrum_.eigenvalues.values
    )


def test_edmd_with_the_state_finds_the_true_eigenvalues_after_loading(system, tmp_path):
    loaded = round_trip(EDMD(Identity(), rank=5).fit(system), tmp_path / "e.nc")
    assert match(loaded.spectrum_.eigenvalues.values, LAM).max() < 1e-9


@pytest.mark.parametrize(
    "obs",
    [
        Identity(),
        Delays(3),
        Polynomial(3),
        Polynomial(2, include_bias=False),
        RBF(10, seed=4),
        RBF(5, width=0.3),
        RandomFourier(25, seed=2),
        Delays(2) + (Polynomial(2) + RBF(6)),
    ],
    ids=repr,
)
def test_observable_state_restores_the_same_functions(obs, rng):
    x = rng.standard_normal((40, 3))
    obs.fit(x)
    twin = obs.clone().set_state(obs.get_state())
    np.testing.assert_array_equal(twin.transform(x), obs.transform(x))
    assert twin.lag == obs.lag


def test_polynomial_state_is_its_exponents():
    poly = Polynomial(2).fit(np.ones((3, 2)))
    np.testing.assert_array_equal(
        poly.get_state()["powers"], [[0, 0], [1, 0], [0, 1], [2, 0], [1, 1], [0, 2]]
    )


def test_an_encoder_dictionary_cannot_be_saved_without_its_autoencoder(noisy, tmp_path):
    from koopkit.observables import Encoder

    with pytest.raises(KoopkitError, match="Encoder observable cannot be saved") as err:
        Encoder(object()).get_state()
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------ PyDMD
def test_pydmd_adapter_round_trips(noisy, tmp_path):
    pydmd = pytest.importorskip("pydmd")
    data = noisy.isel(time=slice(0, 120))
    cases = [
        (pydmd.DMD(svd_rank=5), True),
        (pydmd.HODMD(svd_rank=5, d=3, exact=True), False),  # svd_rank_extra is not kept
        (pydmd.BOPDMD(svd_rank=5, eig_constraints={"stable", "conjugate_pairs"}), True),
    ]
    for i, (estimator, rebuilt) in enumerate(cases):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = backends.get("pydmd", estimator=estimator).fit(data)
        loaded = round_trip(model, tmp_path / f"p{i}.nc")
        assert_same(model, loaded, noisy, model.delays_)
        assert loaded.estimator_ is None and loaded.delays_ == model.delays_
        if not rebuilt:
            assert isinstance(loaded.estimator, str) and "HODMD" in loaded.estimator
            with pytest.raises(KoopkitError, match="could not be rebuilt") as err:
                loaded.fit(data)
            assert "\n" not in str(err.value)
            continue
        assert type(loaded.estimator) is type(estimator)
        # PyDMD refits the rebuilt estimator to the same spectrum as the original
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            again = loaded.fit(data)
        np.testing.assert_array_equal(
            again.spectrum_.eigenvalues.values, model.spectrum_.eigenvalues.values
        )
    # a class plus keywords comes back as exactly that
    model = backends.get("pydmd", estimator=pydmd.HODMD, svd_rank=5, d=2).fit(data)
    loaded = round_trip(model, tmp_path / "cls.nc")
    assert loaded.estimator is pydmd.HODMD and loaded.kwargs == {"svd_rank": 5, "d": 2}
    assert_same(model, loaded, noisy, 2)


# ------------------------------------------------------------------------ autoencoder
def test_autoencoder_round_trip_through_load_model(system, tmp_path):
    pytest.importorskip("torch")
    from koopkit.backends.autoencoder import KoopmanAutoencoder

    model = KoopmanAutoencoder(
        latent_pairs=2, horizon=4, epochs=2, steps_per_epoch=5, hidden=(8,), progress=False
    ).fit(system.isel(time=slice(0, 100)))
    model.save(tmp_path / "ae")
    assert sorted(os.listdir(tmp_path / "ae")) == ["config.json", "model.safetensors"]
    loaded = koopkit.load_model(tmp_path / "ae")
    assert isinstance(loaded, KoopmanAutoencoder)
    assert_same(model, loaded, system)
    weights = read_safetensors(tmp_path / "ae" / "model.safetensors")
    state = model.model_.state_dict()
    for key, value in state.items():  # the network's weights, as they were
        np.testing.assert_array_equal(weights[f"model/{key}"], value.cpu().numpy())


# ------------------------------------------------------------------------ safetensors
def test_safetensors_round_trip_and_the_reference_reader(tmp_path, rng):
    arrays = {
        "w": rng.standard_normal((3, 4)).astype(np.float32),
        "transposed": rng.standard_normal((4, 3)).T,
        "steps": np.arange(5, dtype=np.int64),
        "flag": np.array(True),
        "half": np.ones(3, np.float16),
        "empty": np.zeros((0, 3)),
        "bytes": np.arange(3, dtype=np.uint8),
        "big_endian": np.arange(4, dtype=">i4"),
    }
    write_safetensors(tmp_path / "a.safetensors", arrays, metadata={"who": "koopkit"})
    back = read_safetensors(tmp_path / "a.safetensors")
    assert sorted(back) == sorted(arrays)
    for key, value in arrays.items():
        assert back[key].shape == value.shape and back[key].dtype == value.dtype.newbyteorder("=")
        np.testing.assert_array_equal(back[key], value)
    reference = pytest.importorskip("safetensors.numpy")
    theirs = reference.load_file(str(tmp_path / "a.safetensors"))
    for key, value in arrays.items():
        np.testing.assert_array_equal(theirs[key], value)
    reference.save_file(
        {k: np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("=")) for k, v in arrays.items()},
        str(tmp_path / "b.safetensors"),
    )
    for key, value in read_safetensors(tmp_path / "b.safetensors").items():
        np.testing.assert_array_equal(value, arrays[key])


def test_damaged_safetensors_files_give_one_line(tmp_path):
    good = tmp_path / "g.safetensors"
    write_safetensors(good, {"w": np.ones((4, 4), np.float32)})
    raw = good.read_bytes()
    cases = {
        "short": raw[:5],
        "truncated": raw[:-3],
        "header": raw[:8] + b"[" + raw[9:],
        "longer": raw + b"\0",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(KoopkitError, match="not a valid safetensors file") as err:
            read_safetensors(tmp_path / name)
        assert "\n" not in str(err.value), name
    with pytest.raises(KoopkitError, match="cannot write"):
        write_safetensors(tmp_path / "o.safetensors", {"o": np.array(["text"])})


# ------------------------------------------------------------------------ registered later
def test_a_backend_registered_later_saves_without_code_of_its_own(noisy, tmp_path):
    class Tagged(DMD):
        """A new linear backend with an extra fitted attribute of its own."""

        name = "tagged_dmd_test"

        def fit(self, data, **kwargs):
            super().fit(data, **kwargs)
            self.note_ = {"label": "tagged", "lags": (1, 2), "when": np.datetime64("2020-01")}
            return self

    backends.register(Tagged)
    model = Tagged(rank=5).fit(noisy)
    loaded = round_trip(model, tmp_path / "t.nc")
    assert loaded.note_["lags"] == (1, 2) and loaded.note_["when"] == model.note_["when"]
    assert_same(model, loaded, noisy)


def test_state_koopkit_cannot_write_is_refused_before_writing(noisy, tmp_path):
    model = DMD(rank=5).fit(noisy)
    model.callback_ = print
    with pytest.raises(KoopkitError, match="'callback_' is a builtin_function_or_method") as err:
        model.save(tmp_path / "m.nc")
    assert "\n" not in str(err.value) and not os.listdir(tmp_path)


# ------------------------------------------------------------------------ errors
@pytest.fixture(scope="module")
def saved(tmp_path_factory, noisy) -> Path:
    path = tmp_path_factory.mktemp("saved") / "dmd.nc"
    DMD(rank=5, delays=2).fit(noisy).save(path)
    return path


def _edit(source: Path, target: Path, edit=None, **attrs) -> Path:
    """A copy of a saved model with other root attributes or an edited description."""
    target.write_bytes(source.read_bytes())
    with h5py.File(target, "r+") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        if edit is not None:
            tree = edit(json.loads(f["model"][()].decode()))
            del f["model"]
            f["model"] = json.dumps(tree)
    return target


def test_files_that_are_not_saved_models_give_one_line(saved, noisy, tmp_path):
    (tmp_path / "text.nc").write_text("hello")
    koopkit.save_timeseries(noisy, tmp_path / "data.nc")
    DMD(rank=5).fit(noisy).spectrum_.to_netcdf(tmp_path / "spectrum.nc")
    (tmp_path / "folder").mkdir()
    raw = saved.read_bytes()
    (tmp_path / "cut.nc").write_bytes(raw[: len(raw) // 2])
    modes = koopkit.load_model(saved)._linear.modes.real.tobytes()
    at = raw.index(modes[:64])
    (tmp_path / "flip.nc").write_bytes(raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1 :])
    newer = _edit(saved, tmp_path / "newer.nc", koopkit_model=99)
    other = _edit(saved, tmp_path / "other.nc", lambda t: {**t, "backend": "no_such_backend"})
    cases = [
        (tmp_path / "missing.nc", "no saved model at"),
        (tmp_path / "text.nc", "not a netCDF4 file"),
        (tmp_path / "data.nc", "not a saved koopkit model"),
        (tmp_path / "spectrum.nc", "a koopkit spectrum, not a model"),
        (tmp_path / "folder", "folder without config.json"),
        (tmp_path / "cut.nc", "damaged or truncated"),
        (tmp_path / "flip.nc", "damaged or truncated"),
        (newer, "newer koopkit"),
        (other, "'no_such_backend', which is not registered"),
    ]
    for path, message in cases:
        with pytest.raises(KoopkitError, match=message) as err:
            load_model(path)
            pytest.fail(f"{path.name} loaded")
        assert "\n" not in str(err.value), path


def test_damaged_description_and_wrong_class(saved, tmp_path):
    for i, edit in enumerate(
        [
            lambda t: {**t, "state": {"$nonsense": 1}},
            lambda t: {**t, "state": {"$dict": [["rank_", {"$array": "nowhere"}]]}},
            lambda t: {k: v for k, v in t.items() if k != "backend"},
        ]
    ):
        with pytest.raises(KoopkitError, match="damaged") as err:
            load_model(_edit(saved, tmp_path / f"bad{i}.nc", edit))
        assert "\n" not in str(err.value)
    with pytest.raises(KoopkitError, match="holds a DMD model, not a EDMD"):
        EDMD.load(saved)
    assert isinstance(DMD.load(saved), DMD)


def test_save_errors(noisy, tmp_path):
    with pytest.raises(KoopkitError, match="not fitted"):
        DMD().save(tmp_path / "m.nc")
    model = DMD(rank=5).fit(noisy)
    with pytest.raises(KoopkitError, match="does not exist"):
        model.save(tmp_path / "nowhere" / "m.nc")
    with pytest.raises(KoopkitError, match="is a directory"):
        model.save(tmp_path)
    # an interrupted write leaves the old file as it was
    model.save(tmp_path / "m.nc")
    before = (tmp_path / "m.nc").read_bytes()
    model.callback_ = object()
    with pytest.raises(KoopkitError):
        model.save(tmp_path / "m.nc")
    assert (tmp_path / "m.nc").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.nc"]


# ------------------------------------------------------------------------ CLI
def _run(*args: object):
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(main, [str(a) for a in args], prog_name="koopkit")


def test_cli_fit_save_model_and_predict_model(noisy, tmp_path):
    koopkit.save_timeseries(noisy, tmp_path / "data.nc")
    fit = _run("fit", tmp_path / "data.nc", "--rank", 5, "--save-model", tmp_path / "m.nc")
    assert fit.exit_code == 0, fit.stderr
    assert "wrote" in fit.stderr and (tmp_path / "m.nc").is_file()
    out = _run("predict", "--model", tmp_path / "m.nc", "--steps", 20, "-o", tmp_path / "f.nc")
    assert out.exit_code == 0, out.stderr
    python = ExactDMD(rank=5).fit(koopkit.open_timeseries(tmp_path / "data.nc"))
    forecast = koopkit.open_timeseries(tmp_path / "f.nc")
    np.testing.assert_array_equal(forecast.values, python.predict(steps=20).values)
    np.testing.assert_array_equal(forecast.time.values, python.predict(steps=20).time.values)
    # printed without -o: a column per sensor
    shown = _run("predict", "--model", tmp_path / "m.nc", "--steps", 3)
    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.strip().splitlines()
    assert lines[0].split() == ["time", *[f"s{i}" for i in range(6)]] and len(lines) == 4
    first = np.array(lines[1].split()[1:], dtype=float)
    np.testing.assert_allclose(first, python.predict(steps=1).values[0], rtol=1e-5, atol=1e-9)
    # with DATA: from its last frames (here the held-in part, with --holdout)
    hold = _run(
        "predict", tmp_path / "data.nc", "--model", tmp_path / "m.nc", "--steps", 5, "--holdout"
    )
    assert hold.exit_code == 0, hold.stderr and "MSE" in hold.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["predict", "--steps", 3], "give DATA"),
        (["predict", "--model", "{m}", "--rank", 3], "--rank chooses a fit"),
        (["predict", "--model", "{m}", "--holdout"], "pass DATA too"),
        (["predict", "--model", "{d}/missing.nc"], "no saved model"),
        (["predict", "--model", "{d}/data.nc"], "not a saved koopkit model"),
        (["fit", "{d}/data.nc", "--save-model", "{d}/no/m.nc"], "does not exist"),
    ],
)
def test_cli_model_errors_are_one_line(args, message, noisy, saved, tmp_path):
    koopkit.save_timeseries(noisy, tmp_path / "data.nc")
    result = _run(*[str(a).format(m=saved, d=tmp_path) for a in args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("koopkit: error: "), result.stderr
    assert message in lines[0]
