"""Training budgets that fit the data: what ``koopkit fit --backend autoencoder`` chooses.

The estimator's own defaults (60 epochs x 100 steps x batch 64, frames at full size) suit
vector series and GPUs. On video and a few CPU cores they run for hours (figures in
``benchmarks/ae_notes.md``). The command line therefore chooses, where the user did not:

* **the frame size** (:func:`frame_size`): the longer side is capped at
  :data:`MAX_SIDE` = 64 pixels, the aspect ratio kept (320 x 240 becomes 64 x 48); video
  frames are shrunk in the decoder (area averaging) as they are read. The conv encoder and
  decoder cost grows with the pixels; at 64 pixels one training window of 21 RGB frames is
  about 0.2 million values;
* **the batch, steps and epochs** (:func:`training_budget`), so that the whole training
  passes about :data:`WORK` = 3e8 frame values through the network (windows x
  (``horizon`` + ``delays``) frames x values per frame), a short run for the conv networks
  on one CPU core: the batch aims at :data:`STEP_WORK` values per step (at
  least :data:`MIN_BATCH` windows, at most the 64 of the estimator and the number of
  training windows); the epochs are as many passes over the windows as the budget allows,
  between :data:`MIN_EPOCHS` (the warm-up and the alpha ramp, then as many at the target
  alpha) and the estimator's 60; the steps per epoch share the remaining budget (at
  most the estimator's 100). Given values are kept, and a given batch or step count
  changes the others; given epochs do not change the steps (a checkpoint must see the same
  steps and batch when a run is resumed with more epochs). Small vector series get the
  estimator's defaults. Many small steps train further than a few large ones for the same
  work.

Examples
--------
>>> frame_size(240, 320)
(48, 64)
>>> b = training_budget([36], 48 * 64 * 3, horizon=20)
>>> b.windows, b.batch_size, b.epochs, b.steps_per_epoch
(12, 8, 60, 3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from koopkit._errors import KoopkitError
from koopkit.backends.autoencoder.data import make_windows

__all__ = [
    "MAX_SIDE",
    "MIN_BATCH",
    "MIN_EPOCHS",
    "STEP_WORK",
    "WORK",
    "TrainingBudget",
    "frame_size",
    "training_budget",
]

#: Longest frame side (pixels) chosen by default.
MAX_SIDE = 64
#: Frame values passed through the network in a whole default training run.
WORK = 3e8
#: Frame values per optimizer step that the default batch aims at.
STEP_WORK = 1.6e6
#: Fewest windows per default batch (fewer only when the data have fewer).
MIN_BATCH = 8
#: Fewest default epochs: 5 warm-up and 5 ramp epochs, then 10 at the target alpha.
MIN_EPOCHS = 20
#: The estimator's defaults, the most the chooser picks.
MAX_EPOCHS, MAX_STEPS, MAX_BATCH = 60, 100, 64


def frame_size(height: int, width: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """``(height, width)`` with the longer side at most ``max_side``, aspect ratio kept.

    Examples
    --------
    >>> frame_size(720, 1280), frame_size(144, 176), frame_size(32, 40)
    ((36, 64), (52, 64), (32, 40))
    """
    h, w = int(height), int(width)
    if h < 1 or w < 1 or max_side < 1:
        raise KoopkitError(f"frame size {h}x{w} (cap {max_side}) must be positive")
    if max(h, w) <= max_side:
        return h, w
    f = max_side / max(h, w)
    return max(1, round(h * f)), max(1, round(w * f))


@dataclass(frozen=True)
class TrainingBudget:
    """The training run :func:`training_budget` chose (or was given).

    Attributes
    ----------
    epochs, steps_per_epoch, batch_size : int
        The estimator's parameters.
    windows : int
        Training windows in the data (``make_windows``).
    window_values : int
        Frame values through the network per window: ``(horizon + delays)`` frames.
    chosen : tuple of str
        Which of the three were chosen here (the others were given).
    """

    epochs: int
    steps_per_epoch: int
    batch_size: int
    windows: int
    window_values: int
    chosen: tuple[str, ...]

    @property
    def work(self) -> float:
        """Frame values through the network over the whole run."""
        return float(self.epochs * self.steps_per_epoch * self.batch_size * self.window_values)


def training_budget(
    lengths: Sequence[int],
    frame_values: int,
    *,
    horizon: int = 20,
    delays: int = 1,
    val_fraction: float = 0.1,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    batch_size: int | None = None,
    work: float | None = None,
) -> TrainingBudget:
    """Epochs, steps per epoch and batch size for sequences of ``lengths`` frames.

    Those given are kept; the others follow the rules of the module notes. The steps per
    epoch never depend on given ``epochs`` (a checkpoint requires the same steps and batch,
    so a run resumed with more epochs must choose the same ones).

    Parameters
    ----------
    lengths : sequence of int
        Frames per sequence.
    frame_values : int
        Values per frame (pixels x channels, or features), at the size trained on.
    horizon, delays, val_fraction :
        The estimator's, which set the training windows.
    epochs, steps_per_epoch, batch_size : int, optional
        Given values (kept).
    work : float, optional
        Frame values through the network over the whole run (default :data:`WORK`).

    Returns
    -------
    TrainingBudget

    Examples
    --------
    >>> b = training_budget([1000], 64 * 48 * 3)
    >>> b.batch_size, b.epochs, b.steps_per_epoch
    (8, 20, 9)
    >>> training_budget([200], 8).steps_per_epoch  # a small vector series: the defaults
    100
    """
    train, _ = make_windows(list(lengths), int(delays), int(horizon), float(val_fraction))
    windows = int(train.size)
    per_window = (int(horizon) + int(delays)) * int(frame_values)
    chosen = []
    if batch_size is None:
        aim = max(MIN_BATCH, int(STEP_WORK // max(per_window, 1)))
        batch_size = max(1, min(MAX_BATCH, windows, aim))
        chosen.append("batch_size")
    cover = max(1, math.ceil(windows / batch_size))  # steps for one pass over the windows
    total = int((WORK if work is None else work) // (batch_size * per_window))
    total = min(max(total, MIN_EPOCHS), MAX_EPOCHS * MAX_STEPS)
    per_epoch = steps_per_epoch if steps_per_epoch is not None else cover
    default_epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, total // per_epoch))
    if steps_per_epoch is None:
        # from the default epochs even when epochs are given: a checkpoint needs the same
        # steps and batch, so a run resumed with more epochs must choose the same ones
        steps_per_epoch = min(MAX_STEPS, max(1, total // default_epochs))
        chosen.append("steps_per_epoch")
    if epochs is None:
        epochs = default_epochs
        chosen.append("epochs")
    order = ("epochs", "steps_per_epoch", "batch_size")
    return TrainingBudget(
        epochs=int(epochs),
        steps_per_epoch=int(steps_per_epoch),
        batch_size=int(batch_size),
        windows=windows,
        window_values=per_window,
        chosen=tuple(k for k in order if k in chosen),
    )
