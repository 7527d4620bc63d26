"""The linear algebra every linear backend shares: Gram products, rank rules, residuals.

Conventions: a snapshot matrix ``D`` holds one snapshot per *row*; a dictionary evaluated
on snapshot pairs gives ``Psi_X`` and ``Psi_Y`` (one pair per row, one function per
column). ``G = Psi_X^H Psi_X``, ``A = Psi_X^H Psi_Y`` and ``L = Psi_Y^H Psi_Y`` are the
matrices of ResDMD (Colbrook & Townsend, CPAM 2024): the Koopman matrix of EDMD is
``K = G^+ A`` and the residual of an eigenpair ``(lam, v)`` of ``K``, for the function
``g = psi v``, is

    res(lam, g) = ||Psi_Y v - lam Psi_X v|| / ||Psi_X v||,

a relative error of ``K g = lam g`` in the data's inner product (0 for a true eigenpair).

One file per job: ``dense`` (small dense helpers and Gram products), ``outofcore`` (passes
over dask-backed data within a memory limit), ``embedding`` (delay-embedded states),
``eigen`` (every eigenvalue of a Hermitian matrix, the leading vectors only), ``rank``
(rank rules), ``residual`` (ResDMD's matrices). Every name is re-exported here.
"""

from koopkit.backends._linalg.dense import (
    SMALL_ORDER,
    as_index,
    check_finite_gram,
    column_gram,
    complex_of,
    conjugate_columns,
    data_gram,
    max_abs,
    mul,
    one_thread,
    qr_r,
    safe_range,
    squares_safe,
    take,
)
from koopkit.backends._linalg.eigen import GRAM_SAFE, HermitianEig, gram_accurate
from koopkit.backends._linalg.embedding import (
    DelayEmbedding,
)
from koopkit.backends._linalg.outofcore import (
    DASK_BLOCK_BYTES,
    GramPlan,
    dask_gram,
    dask_lift,
    load_block,
    memory_limit,
    time_runs,
)
from koopkit.backends._linalg.rank import (
    GD_MIN_VALUES,
    RankWarning,
    choose_rank,
    has_noise_floor,
    left_eigenvectors,
    rank_rule,
)
from koopkit.backends._linalg.residual import (
    QR_WORK_LIMIT,
    ResidualMatrices,
    reduce_dictionary,
)

__all__ = [
    "DASK_BLOCK_BYTES",
    "DelayEmbedding",
    "GD_MIN_VALUES",
    "GRAM_SAFE",
    "GramPlan",
    "HermitianEig",
    "QR_WORK_LIMIT",
    "RankWarning",
    "ResidualMatrices",
    "SMALL_ORDER",
    "as_index",
    "check_finite_gram",
    "choose_rank",
    "column_gram",
    "complex_of",
    "conjugate_columns",
    "dask_gram",
    "dask_lift",
    "data_gram",
    "gram_accurate",
    "has_noise_floor",
    "left_eigenvectors",
    "load_block",
    "max_abs",
    "memory_limit",
    "mul",
    "one_thread",
    "qr_r",
    "rank_rule",
    "reduce_dictionary",
    "safe_range",
    "squares_safe",
    "take",
    "time_runs",
]
