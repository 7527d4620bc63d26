"""Observables: dictionaries of functions of the state, the first half of every Koopman fit.

An observable maps a snapshot matrix ``x`` (one snapshot per row, shape ``(T, n)``) to
the dictionary evaluated on it, ``psi(x)`` of shape ``(T - lag, N)``: row ``k`` belongs to
the state whose newest snapshot is ``x[k + lag]``. Pointwise dictionaries have
``lag = 0``; ``Delays(d)`` stacks ``d`` frames and has ``lag = d - 1``. ``a + b``
concatenates two dictionaries (rows aligned on the newest snapshot).

Writing one is one class with one method::

    class Sines(Observable):
        def transform(self, x):
            return np.sin(x)

``fit(x)`` is called once on the training snapshots before ``transform``; dictionaries
that choose something from the data (RBF centres, a bandwidth) override it.

The classes follow pysindy's feature libraries and deeptime's bases in spirit; the
functions and the kernel form that uses them are described in ``docs/observables.md``.
"""

from __future__ import annotations

from itertools import combinations_with_replacement
from typing import Any

import numpy as np

from koopkit._errors import KoopkitError
from koopkit._util import ParamsMixin
from koopkit._validation import check_int, is_lazy
from koopkit.backends._linalg import DelayEmbedding, data_gram

#: Most functions a dictionary may build before it refuses (memory guard).
MAX_FUNCTIONS = 1_000_000


class Observable(ParamsMixin):
    """Base class: a fitted map from snapshots ``(T, n)`` to observables ``(T - lag, N)``.

    Subclasses implement :meth:`transform`; those that pick something from the data also
    override :meth:`fit` (calling ``super().fit(x)`` first).
    """

    #: Snapshots of history a state needs besides the newest one.
    lag: int = 0

    def fit(self, x: Any) -> Observable:
        """Learn what the dictionary needs from training snapshots ``(T, n)``; returns self."""
        self.n_features_in_ = int(x.shape[1])
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """The dictionary on ``x`` ``(T, n)``: an array ``(T - lag, N)``."""
        raise NotImplementedError

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        return self.fit(x).transform(x)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.transform(x)

    def __add__(self, other: Observable) -> Concatenated:
        if not isinstance(other, Observable):
            return NotImplemented
        return Concatenated([self, other])

    def clone(self) -> Observable:
        """An unfitted copy with the same parameters (nested observables cloned too)."""
        return type(self)(**{k: _clone(v) for k, v in self.get_params().items()})

    def get_state(self) -> dict[str, Any]:
        """What :meth:`fit` learnt, as numbers and arrays ({} before ``fit``).

        Saving a model writes it (:meth:`koopkit.DMD.save`); :meth:`set_state` puts it
        back. By default the fitted attributes, whose names end in ``_``; a subclass that
        keeps more (or something else) overrides both.

        Examples
        --------
        >>> rbf = RBF(3, width=1.0).fit(np.arange(8.0).reshape(4, 2))
        >>> twin = RBF(3, width=1.0).set_state(rbf.get_state())
        >>> bool((twin.transform([[1.0, 2.0]]) == rbf.transform([[1.0, 2.0]])).all())
        True
        """
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def set_state(self, state: dict[str, Any]) -> Observable:
        """Restore what :meth:`get_state` returned (to an unfitted copy); returns self."""
        for key, value in state.items():
            setattr(self, key, value)
        return self

    def _check(self, x: Any) -> np.ndarray:
        """``x`` as a 2-D array with the fitted number of features."""
        if not hasattr(self, "n_features_in_"):
            raise KoopkitError(f"{self!r} is not fitted yet: call fit(x) first")
        x = np.asarray(x)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise KoopkitError(
                f"{type(self).__name__} was fitted on {self.n_features_in_} features but got "
                f"an array of shape {x.shape}: pass snapshots as rows (time, feature)"
            )
        if x.shape[0] <= self.lag:
            raise KoopkitError(
                f"{self!r} needs {self.lag + 1} snapshots of history per state but got {x.shape[0]}"
            )
        return x


def _clone(value: Any) -> Any:
    if isinstance(value, Observable):
        return value.clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return value


class Concatenated(Observable):
    """Several dictionaries side by side (what ``a + b`` builds).

    Rows are aligned on the newest snapshot: a part with a smaller lag drops its first
    rows so every part describes the same states. A :class:`Kernel` has no functions to
    put beside others and cannot be a part.
    """

    def __init__(self, parts: list[Observable]) -> None:
        for p in parts:
            if isinstance(p, Kernel):
                raise KoopkitError(
                    f"{p!r} is a kernel, not a list of functions, and cannot be combined "
                    "with other observables: use it alone (GaussianKernel(delays=d) for delays), "
                    "or RandomFourier(n_features) for explicit Gaussian-kernel features"
                )
        self.parts = parts

    @property
    def lag(self) -> int:  # type: ignore[override]
        return max(p.lag for p in self._flat())

    def _flat(self) -> list[Observable]:
        out: list[Observable] = []
        for p in self.parts:
            out.extend(p._flat() if isinstance(p, Concatenated) else [p])
        return out

    def __add__(self, other: Observable) -> Concatenated:
        if not isinstance(other, Observable):
            return NotImplemented
        return Concatenated([*self._flat(), other])

    def fit(self, x: Any) -> Concatenated:
        super().fit(x)
        for p in self._flat():
            p.fit(x)
        return self

    def get_state(self) -> dict[str, Any]:
        """The fitted number of features and each part's state."""
        return {**super().get_state(), "parts": [p.get_state() for p in self.parts]}

    def set_state(self, state: dict[str, Any]) -> Concatenated:
        state = dict(state)
        for part, part_state in zip(self.parts, state.pop("parts", []), strict=True):
            part.set_state(part_state)
        return super().set_state(state)

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        lag = self.lag
        cols = [p.transform(x)[lag - p.lag :] for p in self._flat()]
        return np.concatenate(cols, axis=1)


class Identity(Observable):
    """The state itself: with it EDMD is DMD without a POD truncation.

    Examples
    --------
    >>> Identity().fit_transform(np.array([[1.0, 2.0]]))
    array([[1., 2.]])
    """

    def __init__(self) -> None:
        pass

    def transform(self, x: np.ndarray) -> np.ndarray:
        return self._check(x)


class Delays(Observable):
    """Time-delay (Hankel) embedding: ``[x_{k-n+1}, ..., x_k]``, oldest first.

    ``DMD(delays=n)`` uses the same embedding without ever building it
    (:meth:`embedding`), through the Gram matrix of the snapshots.

    Examples
    --------
    >>> Delays(2).fit_transform(np.array([[1.0], [2.0], [3.0]]))
    array([[1., 2.],
           [2., 3.]])
    """

    def __init__(self, n: int = 2) -> None:
        self.n = n

    @property
    def lag(self) -> int:  # type: ignore[override]
        return check_int("Delays(n)", self.n, 1) - 1

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        return np.asarray(self.embedding(x).matrix())

    def embedding(self, frames: Any, lengths: list[int] | None = None) -> DelayEmbedding:
        """The implicit embedding of trajectories stored end to end in ``frames``."""
        return DelayEmbedding(frames, self.lag + 1, lengths)


class Polynomial(Observable):
    """Every monomial of the state's features up to ``degree`` (and the constant).

    Columns are ordered by degree, then lexicographically by feature index:
    ``1, x0, x1, x0^2, x0 x1, x1^2, ...`` (:meth:`powers` gives the exponents).

    Examples
    --------
    >>> Polynomial(2).fit_transform(np.array([[2.0, 3.0]]))
    array([[1., 2., 3., 4., 6., 9.]])
    """

    def __init__(self, degree: int = 2, include_bias: bool = True) -> None:
        self.degree = degree
        self.include_bias = include_bias

    def fit(self, x: Any) -> Polynomial:
        super().fit(x)
        degree = check_int("degree", self.degree, 1)
        n = self.n_features_in_
        from math import comb

        count = comb(n + degree, degree) - (0 if self.include_bias else 1)
        if count > MAX_FUNCTIONS:
            raise KoopkitError(
                f"Polynomial(degree={degree}) of {n} features has {count} monomials: reduce "
                "the state first (e.g. DMD's POD coordinates) or lower the degree"
            )
        combos = [
            c
            for k in range(0 if self.include_bias else 1, degree + 1)
            for c in combinations_with_replacement(range(n), k)
        ]
        self._combos = combos
        return self

    def get_state(self) -> dict[str, Any]:
        """The fitted number of features and the exponents of the columns (:meth:`powers`)."""
        state = super().get_state()
        if hasattr(self, "_combos"):
            state["powers"] = self.powers()
        return state

    def set_state(self, state: dict[str, Any]) -> Polynomial:
        state = dict(state)
        powers = state.pop("powers", None)
        super().set_state(state)
        if powers is not None:  # each row back to its monomial (feature indices, ascending)
            self._combos = [
                tuple(j for j, p in enumerate(row) for _ in range(int(p)))
                for row in np.asarray(powers)
            ]
        return self

    def powers(self) -> np.ndarray:
        """Exponents ``(N, n_features)`` of each column."""
        out = np.zeros((len(self._combos), self.n_features_in_), dtype=int)
        for i, c in enumerate(self._combos):
            for j in c:
                out[i, j] += 1
        return out

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        dtype = np.result_type(x.dtype, np.float64)
        out = np.empty((x.shape[0], len(self._combos)), dtype=dtype)
        where: dict[tuple[int, ...], int] = {}
        for i, c in enumerate(self._combos):
            if not c:
                out[:, i] = 1.0
            elif len(c) == 1:
                out[:, i] = x[:, c[0]]
            else:  # each monomial is a lower one (already computed) times one feature
                prefix = c[:-1]
                base = out[:, where[prefix]] if prefix in where else np.prod(x[:, prefix], axis=1)
                np.multiply(base, x[:, c[-1]], out=out[:, i])
            where[c] = i
        return out


def _sample_rows(x: Any, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct rows of ``x`` at random (only those rows are read from dask data)."""
    idx = np.sort(rng.choice(x.shape[0], size=k, replace=False))
    rows = x[idx]
    return np.asarray(rows.compute() if is_lazy(rows) else rows)


def _square_distances(a: Any, b: Any = None) -> np.ndarray:
    """``||a_i - b_j||^2`` between rows, in double precision.

    From the squared norms and one product of the rows centred on the mean of ``b`` (of
    ``a`` for ``b=None``): the distances are unchanged and the cancellation in
    ``|a|^2 + |b|^2 - 2 a.b`` is that of the spread of the data, not of their offset;
    clipped at 0. ``b=None``: symmetric, one rank-k update, an exact zero diagonal.
    """
    a = np.asarray(a, dtype=np.float64)
    centre = (a if b is None else np.asarray(b, dtype=np.float64)).mean(axis=0)
    a = a - centre
    if b is None:
        d2 = data_gram(a)  # its diagonal holds the squared norms
        sq_a = sq_b = np.diag(d2).copy()
    else:
        b = np.asarray(b, dtype=np.float64) - centre
        d2 = a @ b.T
        sq_a, sq_b = np.einsum("ij,ij->i", a, a), np.einsum("ij,ij->i", b, b)
    d2 *= -2.0
    d2 += sq_a[:, None]
    d2 += sq_b[None, :]
    np.maximum(d2, 0.0, out=d2)
    if b is None:
        np.fill_diagonal(d2, 0.0)
    return d2


def _median_of(d2: np.ndarray, symmetric: bool) -> float:
    """Median of the positive distances whose squares are ``d2`` (``symmetric``: the upper
    triangle only, each pair once); 1.0 when there are none."""
    d = d2[np.triu_indices(len(d2), 1)] if symmetric else d2.ravel()
    d = np.sqrt(d[d > 0])
    return float(np.median(d)) if d.size else 1.0


def _median_distance(a: np.ndarray, b: np.ndarray | None = None) -> float:
    """Median Euclidean distance between the rows of ``a`` and ``b`` (distinct pairs)."""
    return _median_of(_square_distances(a, b), b is None)


#: Training states whose median distance is the default bandwidth of the Gaussian dictionaries.
MEDIAN_SAMPLE = 500


def _sample_states(x: Any, k: int, delays: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct delay-embedded states of ``x`` at random (rows ``(k, delays * n)``);
    with ``delays=1`` the same draw as :func:`_sample_rows`."""
    n_states = x.shape[0] - delays + 1
    idx = np.sort(rng.choice(n_states, size=min(k, n_states), replace=False))
    blocks = [x[idx + j] for j in range(delays)]
    blocks = [np.asarray(b.compute() if is_lazy(b) else b) for b in blocks]
    return blocks[0] if delays == 1 else np.concatenate(blocks, axis=1)


def _bandwidth(value: Any, x: Any, delays: int, rng: np.random.Generator, name: str) -> float:
    """``value`` checked, or (None) the median distance between up to
    :data:`MEDIAN_SAMPLE` training states drawn with ``rng``."""
    if value is None:
        sample = _sample_states(x, MEDIAN_SAMPLE, delays, rng)
        _check_real(sample, name)
        return _median_distance(sample)
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        if np.isfinite(value) and value > 0:
            return float(value)
    raise KoopkitError(f"bandwidth={value!r} must be a positive number or None")


def _check_real(x: np.ndarray, name: str) -> None:
    if np.iscomplexobj(x):
        raise KoopkitError(f"{name} needs real data: use Identity() or Polynomial() for complex")


class RBF(Observable):
    """Gaussian radial basis functions ``exp(-||x - c_i||^2 / (2 width^2))``.

    Parameters
    ----------
    n_centers : int
        Number of functions; the centres are that many training snapshots drawn at
        random without replacement (``seed``).
    width : float, optional
        Default: the median distance between the centres.
    seed : int

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((50, 2))
    >>> RBF(10).fit_transform(x).shape
    (50, 10)
    """

    def __init__(self, n_centers: int = 100, width: float | None = None, seed: int = 0) -> None:
        self.n_centers = n_centers
        self.width = width
        self.seed = seed

    def fit(self, x: Any) -> RBF:
        super().fit(x)
        k = check_int("n_centers", self.n_centers, 1)
        if k > x.shape[0]:
            raise KoopkitError(
                f"RBF(n_centers={k}) needs at least {k} training snapshots, got {x.shape[0]}"
            )
        centres = _sample_rows(x, k, np.random.default_rng(self.seed))
        _check_real(centres, "RBF")
        self.centers_ = centres
        if self.width is not None and not (np.isfinite(self.width) and self.width > 0):
            raise KoopkitError(f"width={self.width!r} must be a positive number or None")
        width = self.width or (
            _median_distance(centres) if k > 1 else _median_distance(centres, np.asarray(x))
        )
        self.width_ = float(width)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        _check_real(x, "RBF")
        c = self.centers_
        d2 = (x**2).sum(1)[:, None] + (c**2).sum(1)[None, :] - 2 * (x @ c.T)
        return np.exp(-np.clip(d2, 0, None) / (2 * self.width_**2))


class RandomFourier(Observable):
    """Random Fourier features ``sqrt(2/N) cos(w_i . x + b_i)`` (Rahimi & Recht 2007).

    Their inner products approximate the Gaussian kernel of width ``bandwidth``, so a
    large ``n_features`` with EDMD's kernel form approaches Gaussian-kernel EDMD.

    Parameters
    ----------
    n_features : int
        Number of functions ``N``.
    bandwidth : float, optional
        Length scale ``sigma`` (``w ~ N(0, I / sigma^2)``); default the median distance
        between up to :data:`MEDIAN_SAMPLE` training snapshots (drawn with ``seed``).
    seed : int

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((50, 2))
    >>> RandomFourier(20).fit_transform(x).shape
    (50, 20)
    """

    def __init__(
        self, n_features: int = 100, bandwidth: float | None = None, seed: int = 0
    ) -> None:
        self.n_features = n_features
        self.bandwidth = bandwidth
        self.seed = seed

    def fit(self, x: Any) -> RandomFourier:
        super().fit(x)
        n = check_int("n_features", self.n_features, 1)
        rng = np.random.default_rng(self.seed)
        bandwidth = _bandwidth(self.bandwidth, x, 1, rng, "RandomFourier")
        self.bandwidth_ = bandwidth
        self.weights_ = rng.standard_normal((self.n_features_in_, n)) / bandwidth
        self.offsets_ = rng.uniform(0, 2 * np.pi, n)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        _check_real(x, "RandomFourier")
        out = x @ self.weights_
        out += self.offsets_
        np.cos(out, out=out)
        out *= np.sqrt(2.0 / self.weights_.shape[1])
        return out


class Kernel(Observable):
    """Base class of dictionaries given by their kernel ``k(u, v) = <psi(u), psi(v)>`` rather
    than by a finite list of functions.

    EDMD fits them in its kernel form from the Gram matrix of the states alone (no
    features are evaluated); :meth:`transform` and composition with ``+`` refuse. A
    subclass implements :meth:`kernel` on rows of states; :meth:`states` turns a series of
    snapshots into them (delay-embedded for ``delays > 1``).
    """

    delays: int = 1

    @property
    def lag(self) -> int:  # type: ignore[override]
        return check_int("delays", self.delays, 1) - 1

    def states(self, x: Any) -> np.ndarray:
        """The states of the series ``x`` ``(T, n)`` as rows ``(T - lag, delays * n)``,
        oldest frame first (the order of :class:`Delays`), in double precision."""
        x = self._check(x)
        _check_real(x, type(self).__name__)
        x = np.asarray(x, dtype=np.float64)
        return x if self.lag == 0 else DelayEmbedding(x, self.lag + 1).matrix()

    def kernel(self, a: Any, b: Any = None) -> np.ndarray:
        """The Gram matrix ``k(a_i, b_j)`` ``(len(a), len(b))`` of two sets of states (rows,
        as :meth:`states` gives them); ``b=None``: of ``a`` with itself."""
        raise NotImplementedError

    def fit_kernel(self, x: Any) -> np.ndarray:
        """:meth:`fit` on the series ``x``, then the Gram matrix of its states
        (``kernel(states(x))``); a subclass may share work between the two."""
        self.fit(x)
        return self.kernel(self.states(x))

    def transform(self, x: np.ndarray) -> np.ndarray:
        name = type(self).__name__
        raise KoopkitError(
            f"{name} has no finite list of functions to evaluate: EDMD({name}()) fits it from "
            "its Gram matrix (kernel(a, b)); for explicit Gaussian features use "
            "RandomFourier(n_features, bandwidth=...)"
        )

    def _check_states(self, a: Any, name: str) -> np.ndarray:
        if not hasattr(self, "n_features_in_"):
            raise KoopkitError(f"{self!r} is not fitted yet: call fit(x) first")
        a = np.asarray(a)
        a = a[None, :] if a.ndim == 1 else a
        width = (self.lag + 1) * self.n_features_in_
        if a.ndim != 2 or a.shape[1] != width:
            raise KoopkitError(
                f"{name} of shape {a.shape} are not states of {width} features: pass rows of "
                "states, e.g. states(x) of snapshots x (time, feature)"
            )
        _check_real(a, type(self).__name__)
        return np.asarray(a, dtype=np.float64)


class GaussianKernel(Kernel):
    """The Gaussian kernel ``k(u, v) = exp(-||u - v||^2 / (2 sigma^2))`` as a dictionary.

    EDMD with it is Gaussian-kernel EDMD (Williams, Rowley & Kevrekidis 2015; deeptime's
    ``KernelEDMD``): the exact kernel between the states, the limit that
    ``RandomFourier(n_features)`` (the same ``sigma``) approaches as ``n_features`` grows,
    without its sampling error or its ``M N n`` cost: the Gram matrix of ``M`` states
    costs ``M^2 n``.

    Parameters
    ----------
    bandwidth : float, optional
        Length scale ``sigma``; default the median distance between up to
        :data:`MEDIAN_SAMPLE` training states (drawn with ``seed``): RandomFourier's rule,
        so both pick the same ``sigma`` on the same data and seed.
    delays : int
        Frames per state: ``delays > 1`` is the kernel of the delay-embedded states
        ``[x_{k-d+1}, ..., x_k]`` (as ``Delays(d)`` stacks them).
    seed : int
        Draws the states of the default bandwidth.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((50, 2))
    >>> gauss = GaussianKernel(bandwidth=1.0).fit(x)
    >>> k = gauss.kernel(x[:3], x)
    >>> k.shape, bool(np.allclose(k[0, 0], 1.0))
    ((3, 50), True)
    >>> d2 = ((x[1] - x[7]) ** 2).sum()
    >>> bool(np.isclose(k[1, 7], np.exp(-d2 / 2)))
    True
    """

    def __init__(self, bandwidth: float | None = None, delays: int = 1, seed: int = 0) -> None:
        self.bandwidth = bandwidth
        self.delays = delays
        self.seed = seed

    def fit(self, x: Any) -> GaussianKernel:
        super().fit(x)
        lag = self.lag
        if x.shape[0] <= lag:
            raise KoopkitError(f"{self!r} needs {lag + 1} snapshots per state but got {x.shape[0]}")
        rng = np.random.default_rng(self.seed)
        self.bandwidth_ = _bandwidth(self.bandwidth, x, lag + 1, rng, "GaussianKernel")
        return self

    def kernel(self, a: Any, b: Any = None) -> np.ndarray:
        """The Gram matrix ``exp(-||a_i - b_j||^2 / (2 sigma^2))`` ``(len(a), len(b))``.

        In double precision, from the squared norms and one product of the states
        centred on the mean of ``b`` (``a`` for ``b=None``): distances are unchanged and
        the cancellation in ``|a|^2 + |b|^2 - 2 a.b`` is that of the spread of the data,
        not of their offset; clipped at 0. ``b=None``: the symmetric Gram of ``a``, with
        an exact unit diagonal.
        """
        a = self._check_states(a, "a")
        b = None if b is None else self._check_states(b, "b")
        return self._gaussian(_square_distances(a, b))

    def fit_kernel(self, x: Any) -> np.ndarray:
        """:meth:`fit`, then ``kernel(states(x))``: when the default bandwidth is the median
        over every state of ``x`` (at most :data:`MEDIAN_SAMPLE` of them), both come from
        one computation of the distances (the same bandwidth as :meth:`fit`'s)."""
        n_states = x.shape[0] - self.lag
        if self.bandwidth is not None or not 1 <= n_states <= MEDIAN_SAMPLE or is_lazy(x):
            return super().fit_kernel(x)
        Observable.fit(self, x)
        d2 = _square_distances(self.states(x))
        self.bandwidth_ = _median_of(d2, symmetric=True)
        return self._gaussian(d2)

    def _gaussian(self, d2: np.ndarray) -> np.ndarray:
        """``exp(-d2 / (2 sigma^2))``, in place."""
        d2 *= -0.5 / self.bandwidth_**2
        return np.exp(d2, out=d2)


class Encoder(Observable):
    """A trained Koopman autoencoder's encoder as a dictionary (its latent coordinates).

    Parameters
    ----------
    model : KoopmanAutoencoder
        A fitted autoencoder; its ``delays`` set the lag. Snapshots are given in the
        data's own units (the encoder's scaling is applied inside).
    """

    def __init__(self, model: Any = None) -> None:
        self.model = model

    @property
    def lag(self) -> int:  # type: ignore[override]
        return int(getattr(self.model, "delays", 1)) - 1

    def fit(self, x: Any) -> Encoder:
        if not hasattr(self.model, "model_"):
            raise KoopkitError(
                "Encoder(model) needs a fitted KoopmanAutoencoder: call model.fit(data) first"
            )
        super().fit(x)
        if self.n_features_in_ != self.model.n_features_in_:
            raise KoopkitError(
                f"the autoencoder was fitted on {self.model.n_features_in_} features but the "
                f"data have {self.n_features_in_}: use data of the same system"
            )
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        return self.model.encode_matrix(x)

    def get_state(self) -> dict[str, Any]:
        raise KoopkitError(
            "an Encoder observable cannot be saved without its autoencoder: save the "
            "autoencoder (model.save), load it and fit EDMD(Encoder(model)) again"
        )


__all__ = [
    "RBF",
    "Concatenated",
    "Delays",
    "Encoder",
    "GaussianKernel",
    "Identity",
    "Kernel",
    "Observable",
    "Polynomial",
    "RandomFourier",
]
