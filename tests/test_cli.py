"""The command line: round trips against the Python API, the demo's accuracy, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from koopkit import ExactDMD
from koopkit.cli import main
from koopkit.datasets import bouncing_balls
from koopkit.io import open_timeseries, save_timeseries
from koopkit.spectrum import open_spectrum

REPO = Path(__file__).resolve().parents[1]
#: Lets subprocesses import this checkout even when koopkit is not installed.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
ENV.pop("KOOPKIT_DEBUG", None)


def _runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def run(*args: object, ok: bool = True):
    result = _runner().invoke(main, [str(a) for a in args], prog_name="koopkit")
    if ok:
        assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    return result


def assert_one_line_error(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("koopkit: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A small balls file (80 frames of 32x32) and a spectrum fitted by the CLI."""
    d = tmp_path_factory.mktemp("cli")
    run("generate", "balls", "-o", d / "balls.nc", "--frames", 80, "--size", 32)
    run("fit", d / "balls.nc", "--delays", 4, "-o", d / "spectrum.nc")
    return d


def test_generate_balls_writes_the_generator_output(work):
    data = open_timeseries(work / "balls.nc")
    assert data.dims == ("time", "y", "x") and data.shape == (80, 32, 32)
    expected = bouncing_balls(n_frames=80, size=32)
    np.testing.assert_array_equal(data.values, expected.values)
    assert list(data.attrs["frequencies"]) == [0.35, 0.9]


def test_fit_matches_the_python_api_and_spectrum_json_matches_the_file(work):
    spec = open_spectrum(work / "spectrum.nc")
    direct = ExactDMD(delays=4).fit(bouncing_balls(n_frames=80, size=32)).spectrum_
    np.testing.assert_allclose(spec.eigenvalues.values, direct.eigenvalues.values, atol=1e-6)
    assert spec.params["delays"] == 4 and spec.backend == "exact_dmd"

    out = run("spectrum", work / "spectrum.nc", "--json").stdout
    doc = json.loads(out)
    assert doc["backend"] == "exact_dmd" and doc["dt"] == pytest.approx(0.05)
    freqs = [m["frequency"] for m in doc["modes"]]
    np.testing.assert_allclose(freqs, spec.sort("rms_amplitude").frequencies.values, rtol=1e-12)
    assert len(freqs) == len(spec)

    top = json.loads(
        run("spectrum", work / "spectrum.nc", "--json", "--sort-by", "frequency", "--top", 3).stdout
    )
    top_f = [m["frequency"] for m in top["modes"]]
    assert len(top_f) == 3 and top_f == sorted(top_f, reverse=True)
    assert top_f[0] == pytest.approx(spec.frequencies.values.max())

    table = run("spectrum", work / "spectrum.nc", "--top", 2).stdout
    assert "KoopmanSpectrum" in table and len(table.strip().splitlines()) == 4


@pytest.mark.parametrize("kind", ["eigenvalues", "spectrum", "modes"])
def test_plot_writes_an_image(work, kind):
    out = work / f"{kind}.png"
    run("plot", work / "spectrum.nc", "-o", out, "--kind", kind)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_writes_the_forecast_of_the_python_api(work):
    out = work / "forecast.nc"
    run("predict", work / "balls.nc", "--delays", 4, "--rank", "auto", "--steps", 5, "-o", out)
    forecast = open_timeseries(out)
    assert forecast.dims == ("time", "y", "x") and forecast.shape == (5, 32, 32)
    np.testing.assert_allclose(forecast["time"].values, 0.05 * np.arange(80, 85))
    model = ExactDMD(rank="auto", delays=4).fit(bouncing_balls(n_frames=80, size=32))
    np.testing.assert_allclose(forecast.values, model.predict(steps=5).values, atol=1e-5)


def test_predict_holdout_strip_compares_with_the_truth(work):
    strip = work / "strip.png"
    result = run(
        "predict", work / "balls.nc", "--delays", 4, "--steps", 8, "-o", work / "f2.nc",
        "--holdout", "--strip", strip,
    )  # fmt: skip
    assert re.search(r"forecast of the last 8 frames: MSE [\d.e-]+", result.stdout)
    assert open_timeseries(work / "f2.nc").shape == (8, 32, 32)
    assert strip.read_bytes()[:4] == b"\x89PNG"


def test_generate_linear_parses_complex_eigenvalues_and_fit_recovers_them(tmp_path):
    path = tmp_path / "lin.nc"
    run(
        "generate", "linear", "-o", path, "--eigenvalues", "0.97+0.2j,0.9",
        "--features", 12, "--snapshots", 40,
    )  # fmt: skip
    spectrum = tmp_path / "lin_spectrum.nc"
    run("fit", path, "--rank", 3, "--backend", "dmd", "-o", spectrum)
    doc = json.loads(run("spectrum", spectrum, "--json").stdout)
    lam = np.sort_complex([complex(*m["eigenvalue"]) for m in doc["modes"]])
    expected = np.sort_complex([0.97 + 0.2j, 0.97 - 0.2j, 0.9 + 0j])  # conjugate was added
    np.testing.assert_allclose(lam, expected, atol=1e-8)
    run("generate", "pendulum", "-o", tmp_path / "p.nc", "--snapshots", 50, "--features", 8)
    assert open_timeseries(tmp_path / "p.nc").shape == (50, 8)


def test_demo_quick_writes_its_files_and_finds_both_frequencies_within_1_percent(tmp_path):
    out = tmp_path / "demo"
    result = run("demo", "--quick", "-o", out)
    for name in (
        "balls.nc", "spectrum.nc", "eigenvalues.png", "spectrum.png", "modes.png",
        "forecast.png", "forecast_error.png",
    ):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    assert "rising or falling" in result.stdout
    rows = re.findall(
        r"^\s+(dmd|exact_dmd)\s+\d+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)%$", result.stdout, re.M
    )
    assert sorted((b, float(t)) for b, t, _, _ in rows) == [
        ("dmd", 0.35), ("dmd", 0.9), ("exact_dmd", 0.35), ("exact_dmd", 0.9),
    ]  # fmt: skip
    for _, true, found, err in rows:
        assert abs(float(found) / float(true) - 1) < 0.01
        assert float(err) < 1.0
    # the spectrum file is the exact DMD fit and agrees with the printout
    lead = np.sort(open_spectrum(out / "spectrum.nc").leading_frequencies(2))
    np.testing.assert_allclose(lead, [0.35, 0.9], rtol=0.01)
    assert "[7/7]" in result.stderr  # progress lines go to stderr


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, work) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "corrupt.nc").write_bytes(b"this is not a netCDF file\n" * 10)
    nan = bouncing_balls(n_frames=20, size=16)
    nan[5, 3, 3] = np.nan
    save_timeseries(nan, d / "nan.nc")
    return d


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "{bad}/missing.nc"], "no such file"),
        (["fit", "{bad}/corrupt.nc"], "cannot read"),
        (["fit", "{work}/balls.nc", "--variable", "nope"], "no variable 'nope'"),
        (["fit", "{work}/balls.nc", "--rank", "0"], "--rank"),
        (["fit", "{work}/balls.nc", "--rank", "10000"], "rank=10000 is impossible"),
        (["fit", "{work}/balls.nc", "--rank", "lots"], "--rank"),
        (["fit", "{bad}/nan.nc"], "NaN"),
        (["fit", "{work}/balls.nc", "--no-such-option"], "no such option"),
        (["fit", "{work}/balls.nc", "--backend", "nope"], "unknown backend"),
        (["spectrum", "{work}/balls.nc"], "not a koopkit spectrum"),
        (["spectrum", "{bad}/corrupt.nc"], "corrupt.nc"),
        (["plot", "{work}/spectrum.nc", "-o", "{bad}/e.unknownext"], "image format"),
        (["fit", "{work}/balls.nc", "-o", "{bad}/no/such/dir/s.nc"], "does not exist"),
        (["predict", "{work}/balls.nc", "-o", "{bad}/f.nc", "--strip", "{bad}/s.png"], "holdout"),
        (["generate", "balls", "-o", "{bad}/b.nc", "--frames", "0"], "n_frames"),
    ],
)
def test_bad_input_gives_one_line_error(work, bad_files, args, message):
    args = [a.format(work=work, bad=bad_files) for a in args]
    line = assert_one_line_error(run(*args, ok=False))
    assert message.lower() in line.lower()


def test_failed_fit_leaves_the_existing_output_untouched(work, tmp_path):
    out = tmp_path / "s.nc"
    out.write_bytes(b"old")
    assert_one_line_error(run("fit", work / "balls.nc", "--rank", 10000, "-o", out, ok=False))
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.nc"]  # no temporary files left


def test_python_m_koopkit_error_is_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "koopkit", "fit", str(tmp_path / "missing.nc")],
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    missing = tmp_path / "missing.nc"
    assert proc.stderr.strip().splitlines() == [f"koopkit: error: no such file: {missing}"]
    assert proc.stdout == ""


def test_help_does_not_import_matplotlib():
    code = (
        "import sys; from click.testing import CliRunner; from koopkit.cli import main; "
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
        "assert 'matplotlib' not in sys.modules and 'pydmd' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV, timeout=120)
