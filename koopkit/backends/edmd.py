"""Extended DMD (Williams, Kevrekidis & Rowley 2015) on any dictionary of observables.

The dictionary ``psi`` (:mod:`koopkit.observables`) is evaluated on every state of every
trajectory; consecutive states of a trajectory make the snapshot pairs ``Psi_X``,
``Psi_Y`` (rows). Two forms give the same Koopman matrix in a basis of the dictionary's
leading directions (the rank rule acts on the singular values ``s`` of ``Psi_X``):

* **primal** (``N`` functions <= ``M`` pairs): ``G``, ``A`` (and ``L``) are ``N x N``; a QR
  of ``[Psi_X, Psi_Y]`` where it is cheap, Gram products otherwise. Cost ``M N^2``.
* **kernel** (``N > M``; Williams, Rowley & Kevrekidis 2015): only inner products between
  states, ``k(u, v) = psi(u) psi(v)^H``, are formed: one ``(states x states)`` Gram holds
  ``Psi_X Psi_X^H``, ``Psi_Y Psi_X^H`` and ``Psi_Y Psi_Y^H``. Cost ``M^2 N``.

Either way the reduced dictionary is ``psi Z`` (``Z``: the kept right singular vectors of
``Psi_X``), ``K = (S^2 + reg)^-1 Z^H A Z``, and its eigenvectors ``c`` give the Koopman
eigenfunctions ``g_j = psi Z c_j``. Koopman modes are the state regressed on the
eigenfunctions over every fitted state (``x ~ sum_j g_j(x) phi_j``), so any dictionary
works, with or without the state in it. Residuals are ResDMD's, in the reduced
dictionary (:class:`~koopkit.backends._linalg.ResidualMatrices`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.linalg as sla
import xarray as xr

from koopkit._errors import KoopkitError
from koopkit._validation import (
    TIME,
    Snapshots,
    as_snapshots,
    as_trajectories,
    as_weights,
    check_choice,
    check_rank,
    is_lazy,
    stack_trajectories,
)
from koopkit.backends._device import resolve as resolve_device
from koopkit.backends._edmd_system import (
    System,
    add_sums,
    block_sums,
    floor,
    kernel_regression,
    lstsq_independent,
    pair_grams,
    paired_residuals,
    small_primal,
    solve_pos,
    solve_vectors,
    times_vectors,
)
from koopkit.backends._linalg import (
    DASK_BLOCK_BYTES,
    QR_WORK_LIMIT,
    DelayEmbedding,
    ResidualMatrices,
    as_index,
    choose_rank,
    column_gram,
    data_gram,
    load_block,
    memory_limit,
    mul,
    qr_r,
    rank_rule,
    reduce_dictionary,
    take,
)
from koopkit.backends.base import (
    KoopmanEstimator,
    LinearModelMixin,
    build_linear_model,
    history_from,
    rms_order,
)
from koopkit.observables import Identity, Kernel, Observable
from koopkit.spectrum import MODE

FORMS = ("auto", "primal", "kernel")
#: Largest size of the sums one block of an out-of-core fit returns.
LAZY_SUMS_BYTES = 2 * 2**30


class ResidualWarning(UserWarning):
    """Residuals cannot be measured on the fitted pairs (the dictionary fits them exactly)."""


class EDMD(LinearModelMixin, KoopmanEstimator):
    """Extended dynamic mode decomposition on a dictionary of observables.

    Parameters
    ----------
    observables : Observable, optional
        The dictionary (:mod:`koopkit.observables`), e.g. ``Polynomial(3)``,
        ``RBF(200)``, ``Delays(4) + Polynomial(2)``. Default ``Identity()``. It is cloned
        and fitted on the training snapshots at every ``fit``.
    rank : int, float, "auto" or None
        Truncation of the dictionary to its leading directions on the data (singular
        values of ``Psi_X``), with DMD's rules; None keeps every direction above
        round-off.
    regularization : float
        Tikhonov term: ``K = (S^2 + regularization)^-1 Z^H A Z`` in the reduced basis.
    form : {"auto", "primal", "kernel"}
        "auto" takes the kernel form when the dictionary has more functions than there
        are snapshot pairs (then the cost grows with the pairs, not the functions).
    device : str
        Where the big Gram products of a large in-memory fit run, as for
        :class:`koopkit.DMD`: "auto", "cpu", "cuda", "cuda:N" or "torch:cpu".

    Attributes
    ----------
    spectrum_ : KoopmanSpectrum
        With residuals. Without ``residual_data`` they are NaN (and a
        :class:`ResidualWarning` says so) when the dictionary has at least as many
        functions as there are snapshot pairs (always so in the automatic kernel form):
        such a dictionary can fit the pairs it was fitted on (nearly) exactly, so those
        pairs cannot test it.
    observables_ : Observable
        The fitted dictionary.
    n_observables_ : int
        Functions in the dictionary.
    rank_ : int
    singular_values_ : ndarray
    form_ : str
    residual_matrices_ : ResidualMatrices
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from koopkit.observables import Polynomial
    >>> rng = np.random.default_rng(0)
    >>> x0 = rng.uniform(-1, 1, (200, 1))
    >>> pairs = [np.stack([a, 0.5 * a]) for a in x0]  # x' = 0.5 x, 200 pairs
    >>> model = EDMD(Polynomial(2)).fit(pairs, dt=1.0)
    >>> np.round(np.sort(model.spectrum_.eigenvalues.values.real), 10)
    array([0.25, 0.5 , 1.  ])
    """

    name = "edmd"

    def __init__(
        self,
        observables: Observable | None = None,
        rank: int | float | str | None = None,
        regularization: float = 0.0,
        form: str = "auto",
        device: str = "auto",
    ) -> None:
        self.observables = observables
        self.rank = rank
        self.regularization = regularization
        self.form = form
        self.device = device

    def _check_params(self) -> None:
        if self.observables is not None and not isinstance(self.observables, Observable):
            raise KoopkitError(
                f"observables={self.observables!r} is not an Observable: use one from "
                "koopkit.observables, e.g. Polynomial(2) or RBF(100)"
            )
        check_rank(self.rank)
        reg = self.regularization
        if isinstance(reg, bool) or not isinstance(reg, (int, float)) or not reg >= 0:
            raise KoopkitError(f"regularization={reg!r} must be a number >= 0")
        check_choice("form", self.form, FORMS)
        if isinstance(self.observables, Kernel) and self.form == "primal":
            raise KoopkitError(
                f"{self.observables!r} is a kernel without functions for the primal form: use "
                "form='auto' (or 'kernel'), or RandomFourier(n_features) for explicit features"
            )

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: Any,
        *,
        dt: float | None = None,
        variable: str | None = None,
        weights: Any = None,
        residual_data: Any = None,
        time_unit: str | None = None,
    ) -> EDMD:
        """Fit to a time series or to several trajectories; returns ``self``.

        Parameters
        ----------
        data : xr.DataArray, xr.Dataset, array_like, or a list of them
            As for :meth:`koopkit.DMD.fit`: one series, a list of trajectories, or a
            DataArray with a ``trajectory`` dimension. Trajectories may be 2 snapshots
            long (pairs from many initial conditions). Dask-backed data are read in one
            streaming pass (primal form).
        weights : xr.DataArray or array_like, optional
            Weights over the space dims (as for :meth:`koopkit.DMD.fit`): the dictionary
            sees ``sqrt(w) x`` (weighted distances for RBF and Fourier features); modes
            come back in the data's units with unit weighted norm.
        residual_data : optional
            Held-out trajectories on which residuals are measured.
        time_unit : str, optional
            As for :meth:`koopkit.DMD.fit` (datetime time axes).
        """
        self._check_params()
        trajs = as_trajectories(data, dt=dt, variable=variable, lazy_ok=True, time_unit=time_unit)
        frames, lengths = stack_trajectories(trajs)
        w = as_weights(weights, trajs[-1])
        self._root_w = None if w is None else np.sqrt(w).astype(frames.real.dtype)
        if self._root_w is not None:
            frames = frames * self._root_w  # everything below works on sqrt(w) x
        obs = (self.observables or Identity()).clone()
        if not isinstance(obs, Kernel):  # a kernel is fitted with its Gram (_fit_in_memory)
            obs.fit(frames)
        elif is_lazy(frames):
            raise KoopkitError(
                f"{obs!r} (kernel EDMD) needs the data in memory: load them with data.load(), "
                "or stream dask-backed data with RandomFourier(n_features) and form='primal'"
            )
        lag = obs.lag
        for i, t in enumerate(trajs):
            if t.n_time < lag + 2:
                raise KoopkitError(
                    f"trajectory {i} has {t.n_time} snapshots but the observables need "
                    f"{lag + 2} for one pair (lag {lag}): drop it or use fewer delays"
                )
        states = DelayEmbedding(frames, lag + 1, lengths)  # state and pair numbering
        lazy = is_lazy(frames)
        self._device = None if lazy and self.device == "auto" else resolve_device(self.device)
        if lazy and self._device is not None:
            raise KoopkitError(
                f"device={self.device!r} works on data in memory; dask-backed data stream "
                "through NumPy: use device='cpu' (or load them)"
            )
        self._kernel_rows = None
        if lazy:
            if self.form == "kernel":
                raise KoopkitError(
                    "form='kernel' needs the data in memory: use form='primal' for dask-backed "
                    "data, or load them with data.load()"
                )
            system, state_x, last_values = self._fit_lazy(obs, states)
        else:
            system, self._kernel_rows = self._fit_in_memory(obs, states)
            state_x = last_values = None
        self.observables_ = obs
        self._lag = lag
        lam, c = self._eig(system)
        self._finish(trajs, states, system, lam, c, state_x, last_values, residual_data, frames)
        return self

    def _fit_in_memory(
        self, obs: Observable, states: DelayEmbedding
    ) -> tuple[System, np.ndarray | None]:
        """The reduced system, and (kernel form) what k(u, X) needs: the pairs' psi, or for a
        :class:`~koopkit.observables.Kernel` the pairs' first states."""
        if isinstance(obs, Kernel):  # the exact kernel between the states: no features
            if states.delays == 1:  # the frames are the states: fitted with their Gram
                rows, k = states.data, obs.fit_kernel(states.data)
            else:
                obs.fit(states.data)
                rows = states.matrix()
                k = obs.kernel(rows)
            if not np.isfinite(k).all():
                raise KoopkitError(
                    "the data contain NaN or Inf values: fill or drop them first "
                    "(e.g. data.interpolate_na('time'))"
                )
            # its functions on the data: k(., x_i) of the pairs' first states
            self.n_observables_ = m = len(states.x_index)
            return self._kernel_system(k, states, m), rows[as_index(states.x_index)].copy()
        offsets = np.concatenate([[0], np.cumsum(states.lengths)[:-1]])
        parts = (
            obs.transform(states.data[o : o + n])
            for o, n in zip(offsets, states.lengths, strict=True)
        )
        psi_all = next(parts)
        if len(states.lengths) > 1:  # fill one array, one trajectory at a time
            first, row = psi_all, len(psi_all)
            dtype = np.result_type(first.dtype, np.float64)
            psi_all = np.empty((states.n_states, first.shape[1]), dtype=dtype)
            psi_all[:row] = first
            del first
            for part in parts:
                psi_all[row : row + len(part)] = part
                row += len(part)
            del part
        psi_all = np.asarray(psi_all, dtype=np.result_type(psi_all.dtype, np.float64))
        if not np.isfinite(psi_all).all():
            raise KoopkitError(
                f"the observables {obs!r} are not finite on the data (overflow?): rescale the "
                "data or use a lower degree"
            )
        self.n_observables_ = n = psi_all.shape[1]
        x = states.x_index
        m = len(x)
        kernel = self.form == "kernel" or (self.form == "auto" and n > m)
        if not kernel:
            if m * (2 * n) ** 2 <= QR_WORK_LIMIT:  # small: QR, residuals to round-off
                return small_primal(psi_all, states, self.rank), None
            full, state_gram = pair_grams(psi_all, states, self._device)
            basis, s, s_all = reduce_dictionary(full, self.rank, floor(full), identity_ok=True)
            mats = full if basis is None else full.in_basis(basis)
            system = System(mats, s, s_all, basis, psi_all, slice(None), "primal", state_gram)
            return system, None
        # kernel form: k(u, v) = psi(u) psi(v)^H between states, from one rank-k update
        if self._device is not None:
            from koopkit.backends._device import row_gram, to_device

            k = row_gram(to_device(psi_all, self._device)).conj()
        else:
            k = data_gram(psi_all).conj()
        # k(u, X) = psi(u) Psi_X^H needs the pairs' psi: keep them, let the rest go now
        kernel_rows = psi_all[as_index(x)]
        del psi_all
        return self._kernel_system(k, states, n), kernel_rows

    def _kernel_system(self, k: np.ndarray, states: DelayEmbedding, n: int) -> System:
        """The kernel form's reduced system from the Gram ``k`` of every state (``n``: the
        dictionary's functions, for the rank rule)."""
        x, y = states.x_index, states.y_index
        m = len(x)
        w, q = np.linalg.eigh(take(k, x, x))
        w, q = w[::-1], q[:, ::-1]
        s_all = np.sqrt(np.clip(w, 0, None))
        r = choose_rank(s_all, self.rank, (n, m), np.sqrt(30 * np.finfo(float).eps))
        s, q = s_all[:r], q[:, :r]
        dual = q / s
        # the reduced dictionary on the pairs: Psi_X Z = Q S (orthogonal), Psi_Y Z = K_YX Q / S
        py = take(k, y, x) @ dual
        # G = S^2 exactly, A = S Q^H (Psi_Y Z), L = (Psi_Y Z)^H (Psi_Y Z); where small, the
        # pairs' factor too (their values, or QR of them if tall): residuals to round-off
        factor = None
        if m * (2 * r) ** 2 <= QR_WORK_LIMIT:
            factor = np.concatenate([q * s, py], axis=1)
            factor = qr_r(factor) if m > 2 * r else factor
        a = s[:, None] * (q.conj().T @ py)
        mats = ResidualMatrices(np.diag(s**2), a, column_gram(py), m, factor)
        return System(mats, s, s_all, dual, k, as_index(x), "kernel")

    def _fit_lazy(
        self, obs: Observable, states: DelayEmbedding
    ) -> tuple[System, np.ndarray, np.ndarray]:
        """``G``, ``A``, ``L``, the states' Gram and ``Psi^H X`` over blocks of frames read
        one at a time (each one dask compute) within the memory limit
        (``koopkit.memory-limit``): one pass over data chunked by frames; data chunked by
        features are read once per block."""
        frames, lag = states.data, states.delays - 1
        n_feat = frames.shape[1]
        n_obs = np.asarray(obs.transform(np.asarray(frames[: lag + 1]))).shape[1]
        # each block returns four N x N sums and Psi^H X (N x n_features)
        need = 8 * n_obs * (4 * n_obs + n_feat)
        if need > LAZY_SUMS_BYTES:
            raise KoopkitError(
                f"the dictionary has {n_obs} functions of {n_feat} features: its out-of-core "
                f"sums need {need / 2**30:.1f} GiB per block; use fewer functions (e.g. "
                "Polynomial of a few POD coordinates), or DMD for the state itself"
            )
        # one block at a time, within the memory limit: its frames, the dictionary on them
        # (double precision, and a copy) and its frames in double precision
        limit = memory_limit() or DASK_BLOCK_BYTES
        per_row = n_feat * frames.dtype.itemsize + 16 * (2 * n_obs + n_feat)
        rows = max(lag + 2, limit // max(1, per_row))
        sums = None
        offset = 0
        for length in states.lengths:
            for a in range(offset + lag, offset + length, rows):
                b = min(a + rows, offset + length)
                lo = max(offset, a - 1 - lag)  # one earlier state: the pair across blocks
                first_pair = a > offset + lag  # that earlier state exists in this trajectory
                part = block_sums(obs, load_block(frames[lo:b]), lag, first_pair)
                sums = part if sums is None else add_sums(sums, part)
            offset += length
        g, a_, l_, c_all, psi_x, m = sums
        self.n_observables_ = g.shape[0]
        if not (np.isfinite(g).all() and np.isfinite(l_).all()):
            raise KoopkitError(
                "the data or their observables contain NaN or Inf values: fill or drop them "
                "first (e.g. data.interpolate_na('time'))"
            )
        full = ResidualMatrices(g, a_, l_, m)
        basis, s, s_all = reduce_dictionary(full, self.rank, floor(full))
        mats = full.in_basis(basis)
        # the states' Gram and Psi^H X in the reduced dictionary, for the modes
        gram_states = basis.conj().T @ c_all @ basis
        state_x = basis.conj().T @ psi_x
        ends = states.starts[states.last_states[[0, -1]]]  # first and last state
        blocks = [np.asarray(frames[int(e) : int(e) + lag + 1]) for e in ends]
        last_values = np.concatenate([obs.transform(b) for b in blocks]).astype(complex) @ basis
        system = System(mats, s, s_all, basis, np.zeros((0, len(basis))), slice(None), "primal")
        self._gram_states = gram_states
        return system, state_x, last_values

    def _eig(self, system: System) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues and eigenvectors of the Koopman matrix ``K``.

        Kernel form: ``G = S^2`` exactly and ``A = S Q^H K_YX Q S^-1``, so
        ``K = (S^2 + reg)^-1 A = S K1 S^-1`` with ``K1 = (S^2 + reg)^-1 Q^H K_YX Q``
        (orthogonally similar to ``(K_XX + reg)^-1 K_YX`` when every direction is kept).
        ``K1``'s eigenvectors ``c1`` give ``K``'s, ``S c1``. ``K1`` is the problem deeptime's
        KernelEDMD solves, rotated; without the diagonal scaling by ``S`` (whose entries
        span the kernel's conditioning) LAPACK's eigensolver took 15% less time on the
        benchmark's linear case (159 x 159), and the same on other data.
        """
        reg = float(self.regularization)
        if system.form == "kernel":
            s = system.s
            k1 = system.mats.A / (s * (s**2 + reg))[:, None] * s[None, :]
            self._real = np.isrealobj(k1)
            lam, c1 = np.linalg.eig(k1)
            return lam, s[:, None] * c1
        g = system.mats.G
        k = np.linalg.solve(g + reg * np.eye(g.shape[0]), system.mats.A)
        self._real = np.isrealobj(k)
        return np.linalg.eig(k)

    # ------------------------------------------------------------------ finish
    def _finish(
        self,
        trajs: list[Snapshots],
        states: DelayEmbedding,
        system: System,
        lam: np.ndarray,
        c: np.ndarray,
        state_x: np.ndarray | None,
        last_values: np.ndarray | None,
        residual_data: Any,
        frames: Any,
    ) -> None:
        info = trajs[-1]
        lag = self._lag
        newest = states.starts + lag
        if state_x is None:
            # modes: the newest frame of every state regressed on the eigenfunctions
            # (psi Z) c -- the same fit as on the reduced dictionary psi Z, mapped by c^-1:
            # a real least-squares problem for a real dictionary, and no (states x r)
            # complex product. With every direction kept (Z square and orthogonal) the
            # fit on psi itself, rotated by Z^H, is the same again.
            target = frames[as_index(newest)]
            basis = system.phi_basis
            full = system.form == "primal" and (basis is None or basis.shape[0] == basis.shape[1])
            if system.state_gram is not None:
                # Gram path: the normal equations over every state, from the state Gram
                # already formed (the fit itself is Gram-based, so nothing is lost)
                rhs = mul(target.T, system.source).T if np.isrealobj(target) else None
                if rhs is None:
                    rhs = system.source.conj().T @ target
                if basis is None:
                    coef = solve_pos(system.state_gram, rhs)
                else:
                    bh = basis.conj().T
                    coef = solve_pos(bh @ system.state_gram @ basis, bh @ rhs)
            elif system.form == "kernel":
                coef = kernel_regression(system, states, target)
            else:
                values = system.source if full else system.values(slice(None))
                target = target.astype(np.result_type(values.dtype, target.dtype), copy=False)
                if system.independent:  # every direction kept: plain QR
                    coef = lstsq_independent(values, target)
                else:  # pivoted QR (gelsy): rank-revealing like the SVD, at a third of its cost
                    coef = sla.lstsq(values, target, lapack_driver="gelsy", check_finite=False)[0]
                coef = basis.conj().T @ coef if full and basis is not None else coef
            modes = solve_vectors(lam, c, coef, self._real)
            # b and b_last need the first and the last state of the last trajectory only
            last_values = system.values(states.last_states[[0, -1]]) @ c
        else:
            gram_phi = c.conj().T @ self._gram_states @ c
            modes = np.linalg.lstsq(gram_phi, c.conj().T @ state_x, rcond=None)[0]
            last_values = last_values @ c
        norms = np.linalg.norm(modes, axis=1)
        norms = np.where(norms > 0, norms, 1.0)
        modes = modes / norms[:, None]
        if self._root_w is not None:  # back to the data's units (unit weighted norm)
            modes = modes / self._root_w
        b, b_last = last_values[0] * norms, last_values[-1] * norms

        residuals, mats, pairs = self._residuals(system, lam, c, residual_data, info)
        n_states = len(states.last_states)
        order = rms_order(lam, b, n_states, info.dt)
        dtype = np.result_type(info.matrix.dtype, np.complex64)
        spectrum, self._linear = build_linear_model(
            info,
            lam,
            modes.astype(dtype)[:, None, :],
            b,
            b_last,
            n_states=n_states,
            t0=float(info.times[lag]),
            backend=self.name,
            params={
                **self.get_params(),
                "form_used": system.form,
                "rank_used": len(system.s),
                "rank_rule": rank_rule(
                    system.s_all, self.rank, (self.n_observables_, system.mats.n_pairs)
                ),
                "n_observables": self.n_observables_,
                "residual_pairs": pairs,
            },
            extras={"residuals": residuals},
            order=order,
            weights=None if self._root_w is None else self._root_w.astype(float) ** 2,
        )
        # eigenfunctions scaled like the amplitudes: g_j(x) = sum of what mode j carries
        # phi_basis c: one real product (conjugate pairs of c share it)
        basis = system.phi_basis
        coef = c if basis is None else times_vectors(basis, lam, c, self._real)
        self._coef = (coef * norms)[:, order]
        self._data_info = info
        self.spectrum_ = spectrum
        self.residual_matrices_ = mats
        self.rank_ = len(system.s)
        self.singular_values_ = system.s_all
        self.form_ = system.form
        self.n_features_in_ = int(frames.shape[1])

    def _residuals(
        self,
        system: System,
        lam: np.ndarray,
        c: np.ndarray,
        residual_data: Any,
        info: Snapshots,
    ) -> tuple[np.ndarray, ResidualMatrices, int]:
        if residual_data is not None:
            mats = self._held_out(system, residual_data, info)
            return paired_residuals(mats, lam, c, self._real), mats, mats.n_pairs
        mats = system.mats
        # as many functions as pairs: the dictionary can interpolate the pairs it was fitted on
        overfit = max(self.n_observables_, len(system.s)) >= mats.n_pairs
        if overfit:
            warnings.warn(
                f"the dictionary ({self.n_observables_} functions, {len(system.s)} kept) can "
                f"fit the {mats.n_pairs} snapshot pairs it was fitted on, so their residuals "
                "say little: pass residual_data= (held-out pairs) to measure them; "
                "residuals are NaN",
                ResidualWarning,
                stacklevel=3,
            )
            return np.full(len(lam), np.nan), mats, 0
        return paired_residuals(mats, lam, c, self._real), mats, mats.n_pairs

    def _held_out(self, system: System, residual_data: Any, info: Snapshots) -> ResidualMatrices:
        held = as_trajectories(residual_data, dt=info.dt, noun="residual_data trajectory")
        if held[0].space_shape != info.space_shape:
            raise KoopkitError(
                f"residual_data has frames of shape {held[0].space_shape} but the model was "
                f"fitted on {info.space_shape}: pass held-out data of the same system"
            )
        frames, lengths = stack_trajectories(held)
        states = DelayEmbedding(frames, self._lag + 1, lengths)
        values = np.concatenate([system.reduce(self._dictionary(t.matrix)) for t in held])
        return ResidualMatrices.from_values(
            values[as_index(states.x_index)], values[as_index(states.y_index)]
        )

    # ------------------------------------------------------------------ use
    def _dictionary(self, matrix: np.ndarray) -> np.ndarray:
        """``psi`` on the states of one series ``(T, n)``; in the kernel form ``k(., X)``."""
        if self._root_w is not None:
            matrix = np.asarray(matrix) * self._root_w
        obs = self.observables_
        if isinstance(obs, Kernel):  # k(u, X) from the pairs' first states
            return obs.kernel(obs.states(matrix), self._kernel_rows)
        psi = np.asarray(self.observables_.transform(matrix))
        psi = psi.astype(np.result_type(psi.dtype, np.float64), copy=False)
        if self._kernel_rows is not None:
            psi = psi @ self._kernel_rows.conj().T
        return psi

    def _values(self, matrix: np.ndarray) -> np.ndarray:
        """Eigenfunctions (scaled like the amplitudes) on the states of ``(T, n)``."""
        return self._dictionary(matrix) @ self._coef

    def eigenfunctions(
        self, data: Any, *, dt: float | None = None, variable: str | None = None
    ) -> xr.DataArray:
        """The Koopman eigenfunctions evaluated on any states.

        Parameters
        ----------
        data : xr.DataArray, xr.Dataset or array_like
            A time series (``time`` dimension): one value per state, labelled by the
            time of its newest snapshot. Or, for dictionaries without delays, an array
            of states ``(n_points, *space_shape)``: one value per point.

        Returns
        -------
        xr.DataArray
            Dims ``(time or "point", "mode")``, complex, scaled so that at the first
            fitted state of the last trajectory they equal ``spectrum_.amplitudes``.
        """
        self._check_fitted()
        info = self._data_info
        modes = self.spectrum_.eigenvalues[MODE].values
        timed = isinstance(data, xr.Dataset) or (
            isinstance(data, xr.DataArray) and TIME in data.dims
        )
        if timed:
            series = as_snapshots(data, dt=dt, variable=variable, min_snapshots=self._lag + 1)
            self._check_space(series.space_shape)
            values = self._values(series.matrix)
            return xr.DataArray(
                values,
                dims=(TIME, MODE),
                coords={TIME: series.times[self._lag :], MODE: modes},
                name="eigenfunctions",
            )
        if self._lag:
            raise KoopkitError(
                f"the observables need {self._lag + 1} snapshots of history per state: pass a "
                "time series (a DataArray with a 'time' dimension)"
            )
        points = np.asarray(data.values if isinstance(data, xr.DataArray) else data)
        n = int(np.prod(info.space_shape))
        if points.shape == info.space_shape:
            points = points[None]
        if points.size % n or points.reshape(len(points), -1).shape[1] != n:
            raise KoopkitError(
                f"states of shape {points.shape[1:]} do not match the fitted frames "
                f"{info.space_shape}: pass an array (n_points, *space_shape)"
            )
        values = self._values(points.reshape(len(points), n))
        return xr.DataArray(
            values, dims=("point", MODE), coords={MODE: modes}, name="eigenfunctions"
        )

    def _check_space(self, shape: tuple[int, ...]) -> None:
        if shape != self._data_info.space_shape:
            raise KoopkitError(
                f"data of frame shape {shape} do not match the fitted frames "
                f"{self._data_info.space_shape}: use data of the same system"
            )

    def _initial_state(self, initial: Any) -> tuple[np.ndarray, float]:
        info = self._data_info
        if initial is None:
            return self._linear.last_amplitudes, float(info.times[-1])
        history, t_ref = history_from(initial, info, self._lag + 1)
        return self._values(history)[-1], t_ref

    def _reconstruct(self) -> np.ndarray:
        # the first `lag` frames have no full state: continue the first state backwards
        s = np.arange(-self._lag, self._linear.n_states, dtype=float)
        return self._linear.forecast(self._linear.amplitudes, s)


__all__ = ["EDMD", "ResidualWarning"]
