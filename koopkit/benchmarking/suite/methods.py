"""The methods of the benchmark suite: koopkit's estimators, their peers and a baseline.

koopkit's DMD and exact DMD (without and with delays, forward-backward, TLS), optimized DMD
(``OptDMD``), the Koopman
autoencoder (where importable, a small training budget), koopkit's EDMD with four
dictionaries; PyDMD's DMD (projected and exact modes), HODMD (exact modes; plain,
forward-backward and TLS) and BOPDMD through :class:`~koopkit.backends.PyDMDBackend`;
deeptime's DMD (``mode`` "standard" and "exact") through
:class:`~koopkit.benchmarking.peers.DeeptimeDMD`, its EDMD and kernel EDMD through
:class:`~koopkit.benchmarking.peers.DeeptimeEDMD` (where deeptime is installed: the
``benchmark`` extra; otherwise listed as not available); and the persistence baseline
(:class:`koopkit.evaluation.Persistence`: copy the last fitted frame). Each case fixes one
rank and one number of delays for every method.

Method families (:data:`FAMILIES`): each koopkit method is timed against the fastest peer
of its family on the same case. A family fixes the algorithm and the size of the problem,
so that the fits compared do the same work: DMD (projected modes) -- ``pydmd DMD``,
``deeptime DMD``; exact DMD -- ``pydmd exact DMD``, ``deeptime exact DMD``; DMD with delays
-- ``pydmd HODMD`` (``d`` = the case's delays, exact modes; like HODMD, koopkit's delay
methods first project the frames on their leading POD directions, ``frame_rank="auto"``,
the Gavish-Donoho rule of HODMD's default ``svd_rank_extra=0``); forward-backward with delays
-- ``pydmd HODMD FB`` (PyDMD's ``FbDMD`` class has no delays, so its ``HODMD(...,
forward_backward=True)`` is the peer); TLS with delays -- ``pydmd HODMD TLS``; optimized
DMD (koopkit ``OptDMD``) -- ``pydmd BOPDMD``; EDMD on monomials, EDMD on the same RBFs, and
Gaussian-kernel EDMD -- deeptime's three rows below. ``EDMD Fourier`` (random features of the
Gaussian kernel) is in no family: no peer runs that algorithm.

EDMD rows (no rank truncation: the whole dictionary, as deeptime fits it):

* ``EDMD poly`` -- ``Polynomial(degree)``: degree 1 on ``linear`` (the state and a
  constant: a linear system's eigenfunctions are linear, so this dictionary is closed),
  degree 2 on ``pendulum`` (2145 monomials of the 64 lifted features, only 6 independent
  on the rank-2 data: the kernel form is chosen automatically). Peer: ``deeptime EDMD
  poly``, ``deeptime.basis.Monomials`` of the same degree (the same span, so the same
  eigenvalues); in ``--quick`` it is skipped above :data:`QUICK_MAX_FUNCTIONS` monomials
  (deeptime's primal form costs ``N^3``);
* ``EDMD RBF`` -- ``RBF(100)`` (centres drawn from the training snapshots, width the
  median distance between them) with ``regularization`` :data:`EDMD_REGULARIZATION`.
  Peer: ``deeptime EDMD RBF``, deeptime's EDMD given koopkit's fitted RBF as its basis
  callable (the same 100 functions; deeptime has no regularization, it takes ``pinv``);
* ``EDMD Gaussian kernel`` -- ``GaussianKernel()`` (bandwidth the median distance between
  training states), the same regularization: Gaussian-kernel EDMD from the exact kernel
  between the states. Peer: ``deeptime kernel EDMD``, ``KernelEDMD`` with deeptime's
  Gaussian kernel of the same bandwidth (that of koopkit's fitted ``GaussianKernel``) and
  ``epsilon`` :data:`EDMD_REGULARIZATION`: the same problem;
* ``EDMD Fourier`` -- ``RandomFourier(2000)``, the same regularization and the same
  bandwidth: more functions than pairs, so koopkit's kernel form, approximating
  Gaussian-kernel EDMD by 2000 random features. A different algorithm from the exact
  kernel (it evaluates ``M x 2000`` cosines), so it has no family: its errors and time are
  reported, not compared with a peer.

Without the Tikhonov term the Gaussian dictionaries give eigenvalues far outside the unit
circle on the pendulum (its data lie on one closed orbit, so the RBFs are nearly
dependent). EDMD is not run on the image cases (``balls``, ``cylinder``, ``video``,
``clip``): a polynomial dictionary of >= 1024 pixels has >= 525,000 monomials of degree
2 (4096 pixels: 8.4 million, above :data:`koopkit.observables.MAX_FUNCTIONS`), and a
Gaussian dictionary of one frame cannot tell which way a ball moves (plain DMD without
delays fails on the balls for the same reason); the cylinder's 60,000 features would need
a 1 GB ``RandomFourier(2000)`` weight matrix.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from koopkit.benchmarking.suite.cases import BenchCase
from koopkit.evaluation import Persistence

__all__ = [
    "BenchMethod",
    "EDMD_REGULARIZATION",
    "FAMILIES",
    "FOURIER_FEATURES",
    "Persistence",
    "QUICK_MAX_FUNCTIONS",
    "RBF_CENTERS",
    "build_methods",
    "dmd_peers",
    "edmd_methods",
]


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


def _autoencoder_status() -> str:
    """ "" when the autoencoder backend can be built, else why not."""
    try:
        from koopkit import backends

        backends.get_class("autoencoder")
    except Exception as exc:  # noqa: BLE001 -- any failure means "not available"
        return f"{type(exc).__name__}: {exc}"
    return ""


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
        "higher-order DMD: exact DMD of the delay-embedded states, the frames first projected "
        "on their Gavish-Donoho-ranked POD directions: koopkit exact DMD delays "
        "(frame_rank='auto'); pydmd HODMD (d = delays, exact=True, its default "
        "svd_rank_extra=0)"
    ),
    "forward-backward, delays": (
        "forward-backward higher-order DMD: koopkit FB DMD delays (frame_rank='auto'); pydmd "
        "HODMD (forward_backward=True; pydmd's FbDMD class has no delays)"
    ),
    "TLS, delays": (
        "total-least-squares higher-order DMD: koopkit TLS DMD delays (frame_rank='auto'); "
        "pydmd HODMD (tlsq_rank = rank)"
    ),
    "optimized DMD (BOP)": (
        "optimized DMD by variable projection, conjugate pairs, no bags: koopkit OptDMD; "
        "pydmd BOPDMD (eig_constraints={'conjugate_pairs'})"
    ),
    "EDMD, monomials": "EDMD on the monomials of the state: koopkit EDMD poly; deeptime EDMD poly",
    "EDMD, RBF": "EDMD on the same 100 RBFs: koopkit EDMD RBF; deeptime EDMD RBF",
    "kernel EDMD": (
        "Gaussian-kernel EDMD, the exact kernel of the same bandwidth on both sides: koopkit "
        "EDMD Gaussian kernel; deeptime KernelEDMD (koopkit's EDMD Fourier, random features "
        "approximating the kernel, is a different algorithm and in no family)"
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
    from koopkit.observables import RBF, GaussianKernel, Polynomial, RandomFourier

    reg = EDMD_REGULARIZATION
    missing = deeptime_status()

    def deeptime_poly(case: BenchCase) -> Any:
        from deeptime.basis import Monomials

        return DeeptimeEDMD(basis=Monomials(case.degree, int(np.prod(case.data.shape[1:]))))

    def deeptime_rbf(case: BenchCase) -> Any:
        return DeeptimeEDMD(basis=RBF(RBF_CENTERS))

    def deeptime_kernel(case: BenchCase) -> Any:
        return DeeptimeEDMD(kernel=GaussianKernel(), epsilon=reg)

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
            "EDMD Gaussian kernel",
            lambda c: EDMD(GaussianKernel(), regularization=reg),
            skip=_no_edmd,
            family=kernel,
        ),
        BenchMethod(
            "EDMD Fourier",
            lambda c: EDMD(RandomFourier(FOURIER_FEATURES), regularization=reg),
            skip=_no_edmd,
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
    from koopkit.backends.optdmd import OptDMD

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
            lambda c: ExactDMD(rank=c.rank, delays=c.delays, frame_rank="auto"),
            family="DMD with delays",
        ),
        BenchMethod(
            "FB DMD delays",
            lambda c: ExactDMD(
                rank=c.rank, delays=c.delays, frame_rank="auto", forward_backward=True
            ),
            family="forward-backward, delays",
        ),
        BenchMethod(
            "TLS DMD delays",
            lambda c: ExactDMD(rank=c.rank, delays=c.delays, frame_rank="auto", tlsq_rank=c.rank),
            family="TLS, delays",
        ),
        BenchMethod("OptDMD", lambda c: OptDMD(rank=c.rank), family="optimized DMD (BOP)"),
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
