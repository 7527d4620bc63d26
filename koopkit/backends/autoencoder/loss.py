"""The training loss of the Koopman autoencoder and the schedule of its weights.

A training window starting at frame ``i`` holds the history ``h_i = [x_{i-d+1}, ..., x_i]``
(``d = delays`` frames, stacked as the encoder's input) and the targets
``x_{i+1}, ..., x_{i+T}`` (``T = horizon``). With ``z = E(h_i)`` the losses are
(Sanayei, section 4.3)

    L_recon = MSE(D(z), x_i)
    L_pred  = (1/T) sum_{m=1..T} MSE(D(K^m z), x_{i+m})
    L       = alpha L_recon + (1 - alpha) L_pred
              + w_lin (1/T) sum_m MSE(K^m z, E(h_{i+m}))            (Lusch et al. 2018)
              + w_back (1/T) sum_m MSE(D(K^-m E(h_{i+T})), x_{i+T-m}) (Azencot et al. 2020)

All ``K^m z`` of a batch come from one call of :meth:`KoopmanLayer.advance`, and the
``B (T + 1)`` frames are decoded in one batch.

**Schedule of alpha.** The paper trains "with an alpha value of zero for the first 10
epochs" to "ensure a competent encoder and decoder", yet by its own definition
``alpha = 0`` drops the reconstruction term. We follow the stated intent: for
``warmup_epochs`` the loss is reconstruction only (``alpha = 1``), then alpha falls linearly
from 1 to its target over ``ramp_epochs`` epochs and stays there (:func:`alpha_schedule`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from koopkit.backends.autoencoder.model import KoopmanAE

__all__ = ["alpha_schedule", "frame_mse", "window_losses"]


def alpha_schedule(epoch: int, target: float, warmup: int, ramp: int) -> float:
    """Weight of the reconstruction loss at ``epoch`` (0-based).

    ``1`` (reconstruction only) for the first ``warmup`` epochs, then linearly down to
    ``target`` over ``ramp`` epochs, then ``target``.

    Examples
    --------
    >>> [alpha_schedule(e, 0.5, 2, 2) for e in range(6)]
    [1.0, 1.0, 0.75, 0.5, 0.5, 0.5]
    """
    if epoch < warmup:
        return 1.0
    if ramp <= 0:
        return float(target)
    frac = min(1.0, (epoch - warmup + 1) / ramp)
    return float(1.0 + (target - 1.0) * frac)


class _FrameMSE(torch.autograd.Function):
    """Mean squared error of each frame position of a batch of windows, in one pass.

    ``x, target`` of shape ``(B, F, *frame)`` give ``(F,)``: the mean over the batch and the
    pixels of position ``f``. Equivalent to ``F.mse_loss`` on each ``x[:, f]`` but the
    difference is formed once, the squares are never stored (a norm reduction), and the
    backward pass scales the saved difference in place instead of zero-filling a full-size
    gradient for every slice: fewer full-size passes over large frames. Differentiable once
    (the saved difference is consumed by the backward pass).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = x - target
        ctx.diff = diff
        flat = diff.reshape(diff.shape[0], diff.shape[1], -1)
        per = torch.linalg.vector_norm(flat, dim=2).square().sum(0)
        return per / (flat.shape[0] * flat.shape[2])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        diff = ctx.diff
        if diff is None:
            raise RuntimeError("the window loss can be differentiated only once")
        ctx.diff = None
        b, f = diff.shape[:2]
        scale = grad * (2.0 / (b * diff[0, 0].numel()))
        return diff.mul_(scale.to(diff.dtype).view(1, f, *[1] * (diff.dim() - 2))), None


def frame_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``(F,)`` mean squared error per frame position of ``(B, F, *frame)`` windows."""
    return _FrameMSE.apply(x, target)


def window_losses(
    model: KoopmanAE,
    windows: torch.Tensor,
    alpha: float,
    linearity_weight: float = 0.0,
    backward_weight: float = 0.0,
    autocast: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(total, recon, pred)`` losses of a batch of windows ``(B, delays + T, *frame)``."""
    d = model.delays
    t = windows.shape[1] - d
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        need_all = linearity_weight > 0
        if need_all:
            idx = torch.arange(t + 1, device=windows.device)[:, None] + torch.arange(
                d, device=windows.device
            )
            z_all = model.encode(windows[:, idx])  # (B, T+1, L)
            z0 = z_all[:, 0]
        else:
            z0 = model.encode(windows[:, :d])
        steps = torch.arange(t + 1, device=windows.device, dtype=torch.float64)
        zs = model.koopman.advance(z0.float(), steps)  # (B, T+1, L)
        xs = model.decode(zs)
    target = windows[:, d - 1 :]
    per_frame = frame_mse(xs.float(), target)  # (T + 1,)
    recon = per_frame[0]
    pred = per_frame[1:].mean() if t > 0 else torch.zeros_like(recon)
    total = alpha * recon + (1 - alpha) * pred
    if linearity_weight > 0:
        total = total + linearity_weight * F.mse_loss(zs[:, 1:], z_all[:, 1:].float())
    if backward_weight > 0 and t > 0:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            z_end = z_all[:, t] if need_all else model.encode(windows[:, t : t + d])
            back_steps = -torch.arange(1, t + 1, device=windows.device, dtype=torch.float64)
            xb = model.decode(model.koopman.advance(z_end.float(), back_steps))
        # x_{i+T-m} for m = 1..T is target[:, T-1], ..., target[:, 0]
        total = total + backward_weight * F.mse_loss(xb.float(), target[:, :t].flip(1))
    return total, recon, pred
