"""Building blocks of the Koopman autoencoder: the Koopman layer, encoders and decoders.

The Koopman layer follows section 4.2 of Sanayei, *Koopman Autoencoder for Videos*: the
latent vector is a stack of 2-D pairs (plus optional real coordinates) and ``K`` is block
diagonal with blocks

    B(mu, omega) = exp(mu dt) [[cos(omega dt), -sin(omega dt)],
                               [sin(omega dt),  cos(omega dt)]],

so ``K^m`` is known in closed form for every (even non-integer, even negative) ``m``:
``exp(mu m dt)`` times a rotation by ``omega m dt``. :meth:`KoopmanLayer.advance` evaluates
all requested powers in one broadcast operation; no matrix is ever multiplied by itself.

Encoders and decoders:

* :class:`MLP` for vectors (feature time series);
* :class:`ConvEncoder` / :class:`ConvDecoder` for frames; the decoder is lean (a small MLP
  to a low-resolution map, then sub-pixel convolution stages) and returns exactly the
  input frame size;
* :class:`VisionEncoder`: the paper's encoder, a torchvision ResNet18 (or MobileNetV2) trunk
  and a 21-class segmentation network in parallel, with the paper's printed heads;
* :class:`PaperDecoder`: the paper's printed decoder layer list, verbatim.

Pretrained weights are never downloaded: torchvision models are built with ``weights=None``
and :func:`load_weights` reads a local file (a path, or torchvision's file in the torch hub
cache when present).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from koopkit._errors import KoopkitError

__all__ = [
    "ConvDecoder",
    "ConvEncoder",
    "KoopmanLayer",
    "MLP",
    "PaperDecoder",
    "VisionEncoder",
    "cache_file",
    "load_weights",
]

ACTIVATIONS = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (``tanh``, ``relu``, ``elu``, ``gelu``, ``silu``...).

    Examples
    --------
    >>> activation("tanh")
    Tanh()
    """
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise KoopkitError(
            f"activation={name!r} is not one of {', '.join(map(repr, ACTIVATIONS))}"
        ) from None


# ------------------------------------------------------------------ Koopman layer
def _inverse_softplus(y: np.ndarray) -> np.ndarray:
    """``x`` with ``softplus(x) = y`` for ``y > 0`` (accurate for tiny and large ``y``)."""
    y = np.asarray(y, dtype=float)
    return np.where(y > 20, y, np.log(np.expm1(np.clip(y, 1e-300, 20))))


class KoopmanLayer(nn.Module):
    """Block-diagonal Koopman operator with learnable growth rates and frequencies.

    The latent layout is ``[a_0, b_0, a_1, b_1, ..., a_{P-1}, b_{P-1}, r_0, ..., r_{R-1}]``:
    ``P = n_pairs`` rotating pairs followed by ``R = n_real`` real coordinates.

    Parameters
    ----------
    n_pairs : int
        Number of complex-conjugate eigenvalue pairs (2-D blocks).
    dt : float
        Time step of one power of ``K``.
    n_real : int, default 0
        Number of real eigenvalues (1-D blocks ``exp(mu dt)``).
    stable : bool, default False
        Constrain every growth rate to ``mu <= 0`` through ``mu = -softplus(raw)``, so no
        mode can grow however long the forecast.

    Attributes
    ----------
    omega : nn.Parameter, shape (n_pairs,)
        Angular frequencies in radians per time unit.
    mu_raw, real_raw : nn.Parameter
        Growth rates of the pairs / real coordinates (``mu`` directly, or ``-softplus`` of
        it when ``stable``); read them through :meth:`rates`.

    Examples
    --------
    >>> import torch
    >>> layer = KoopmanLayer(1, dt=0.5)
    >>> layer.set_rates(mu=[0.0], omega=[np.pi])  # half a turn per time unit
    >>> z = torch.tensor([[1.0, 0.0]])
    >>> out = layer.advance(z, torch.tensor([0.0, 1.0, 2.0])).detach()
    >>> out.round(decimals=6).abs().tolist()  # K^0 z, K^1 z, K^2 z: quarter turns
    [[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]]
    >>> float(out[0, 2, 0])
    -1.0
    """

    def __init__(self, n_pairs: int, dt: float, n_real: int = 0, stable: bool = False) -> None:
        super().__init__()
        if n_pairs < 0 or n_real < 0 or n_pairs + n_real == 0:
            raise KoopkitError(
                f"the Koopman layer needs at least one block (n_pairs={n_pairs}, "
                f"n_real={n_real}): use n_pairs >= 1"
            )
        if not (math.isfinite(dt) and dt > 0):
            raise KoopkitError(f"dt must be a positive number, got {dt!r}")
        self.n_pairs = int(n_pairs)
        self.n_real = int(n_real)
        self.dt = float(dt)
        self.stable = bool(stable)
        nyquist = math.pi / self.dt
        omega = torch.linspace(0.1, 0.9, self.n_pairs, dtype=torch.float64) * nyquist
        self.omega = nn.Parameter(omega.float())
        zero_rate = float(_inverse_softplus(np.array(1e-6))) if stable else 0.0
        self.mu_raw = nn.Parameter(torch.full((self.n_pairs,), zero_rate))
        self.real_raw = nn.Parameter(torch.full((self.n_real,), zero_rate))

    @property
    def latent_dim(self) -> int:
        """``2 * n_pairs + n_real``."""
        return 2 * self.n_pairs + self.n_real

    def extra_repr(self) -> str:
        return f"n_pairs={self.n_pairs}, n_real={self.n_real}, dt={self.dt}, stable={self.stable}"

    # ---------------------------------------------------------------- rates
    def _rate(self, raw: torch.Tensor) -> torch.Tensor:
        return -F.softplus(raw) if self.stable else raw

    def rates(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(mu_pairs, omega_pairs, mu_real)``: growth rates and angular frequencies."""
        return self._rate(self.mu_raw), self.omega, self._rate(self.real_raw)

    @torch.no_grad()
    def set_rates(
        self,
        mu: Sequence[float] | np.ndarray,
        omega: Sequence[float] | np.ndarray,
        real_mu: Sequence[float] | np.ndarray | None = None,
    ) -> None:
        """Set growth rates and angular frequencies (continuous time, per time unit).

        With ``stable=True`` a rate above ``-1e-9`` is clipped to ``-1e-9``.
        """
        mu = np.asarray(mu, dtype=float).reshape(-1)
        omega = np.asarray(omega, dtype=float).reshape(-1)
        real_mu = np.zeros(self.n_real) if real_mu is None else np.asarray(real_mu, float)
        if mu.size != self.n_pairs or omega.size != self.n_pairs or real_mu.size != self.n_real:
            raise KoopkitError(
                f"set_rates needs {self.n_pairs} pair rates and frequencies and {self.n_real} "
                f"real rates; got {mu.size}, {omega.size} and {real_mu.size}"
            )
        if not (np.isfinite(mu).all() and np.isfinite(omega).all() and np.isfinite(real_mu).all()):
            raise KoopkitError("set_rates got NaN or Inf rates: pass finite numbers")

        def raw(rate: np.ndarray) -> np.ndarray:
            if not self.stable:
                return rate
            return _inverse_softplus(np.maximum(-rate, 1e-9))

        self.mu_raw.copy_(torch.as_tensor(raw(mu), dtype=self.mu_raw.dtype))
        self.omega.copy_(torch.as_tensor(omega, dtype=self.omega.dtype))
        self.real_raw.copy_(torch.as_tensor(raw(real_mu), dtype=self.real_raw.dtype))

    def init_from_eigenvalues(self, eigenvalues: Any) -> None:
        """Initialise from discrete-time eigenvalues (one step of ``dt``), e.g. a DMD spectrum.

        Eigenvalues with a positive imaginary part fill the pairs, in the order given
        (conjugates and negative frequencies are skipped); real positive ones fill the real
        coordinates. Blocks left over keep their current values. Growth rates are
        ``log|lam| / dt`` and frequencies ``angle(lam) / dt``.

        Examples
        --------
        >>> layer = KoopmanLayer(1, dt=0.1)
        >>> layer.init_from_eigenvalues([np.exp(0.3j), np.exp(-0.3j)])
        >>> round(float(layer.omega.detach()[0]) * 0.1, 6)
        0.3
        """
        lam = np.asarray(eigenvalues, dtype=complex).reshape(-1)
        lam = lam[np.isfinite(lam) & (lam != 0)]
        mu, omega, rmu = (t.detach().double().cpu().numpy().copy() for t in self.rates())
        tol = 1e-9
        pairs = [z for z in lam if z.imag > tol]
        reals = [z for z in lam if abs(z.imag) <= tol and z.real > 0]
        for j, z in enumerate(pairs[: self.n_pairs]):
            mu[j], omega[j] = np.log(abs(z)) / self.dt, np.angle(z) / self.dt
        for j, z in enumerate(reals[: self.n_real]):
            rmu[j] = np.log(z.real) / self.dt
        self.set_rates(mu, omega, rmu)

    def eigenvalues(self) -> np.ndarray:
        """Discrete-time eigenvalues: ``exp((mu +- i omega) dt)`` per pair, then the real ones."""
        mu, omega, rmu = (t.detach().double().cpu().numpy() for t in self.rates())
        pos = np.exp((mu + 1j * omega) * self.dt)
        out = np.empty(self.latent_dim, dtype=complex)
        out[0 : 2 * self.n_pairs : 2] = pos
        out[1 : 2 * self.n_pairs : 2] = pos.conj()
        out[2 * self.n_pairs :] = np.exp(rmu * self.dt)
        return out

    def eigenfunctions(self) -> np.ndarray:
        """Coefficients ``v_j`` of the Koopman eigenfunctions ``g_j(z) = v_j^T z`` (columns).

        In the order of :meth:`eigenvalues`: a pair's block advances ``a + i b`` by
        ``exp((mu + i omega) dt)`` and ``a - i b`` by its conjugate, so ``v = e_a + i e_b``
        and ``e_a - i e_b``; a real coordinate is its own eigenfunction. These are the left
        eigenvectors of ``K`` (``v_j^T K = lam_j v_j^T`` where ``z_{k+1} = K z_k``).

        Examples
        --------
        >>> KoopmanLayer(1, dt=0.1, n_real=1).eigenfunctions()
        array([[1.+0.j, 1.+0.j, 0.+0.j],
               [0.+1.j, 0.-1.j, 0.+0.j],
               [0.+0.j, 0.+0.j, 1.+0.j]])
        """
        p, n = self.n_pairs, self.latent_dim
        v = np.zeros((n, n), dtype=complex)
        v[0 : 2 * p : 2, 0 : 2 * p] = np.kron(np.eye(p), [1.0, 1.0])
        v[1 : 2 * p : 2, 0 : 2 * p] = np.kron(np.eye(p), [1j, -1j])
        v[2 * p :, 2 * p :] = np.eye(self.n_real)
        return v

    # ---------------------------------------------------------------- powers
    def _factors(self, m: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        """``exp(mu m dt) cos(omega m dt)``, ``... sin(...)`` and the real decays, (M, .)."""
        t = torch.as_tensor(m).to(device=self.omega.device, dtype=torch.float64)
        t = t.reshape(-1, 1) * self.dt
        mu, omega, rmu = self.rates()
        decay = torch.exp(t * mu.double())
        angle = t * omega.double()
        cos = (decay * torch.cos(angle)).to(dtype)
        sin = (decay * torch.sin(angle)).to(dtype)
        real = torch.exp(t * rmu.double()).to(dtype)
        return cos, sin, real

    def advance(self, z: torch.Tensor, m: torch.Tensor | Sequence[float]) -> torch.Tensor:
        """``K^m z`` for every ``m`` at once.

        Parameters
        ----------
        z : Tensor, shape (..., latent_dim)
        m : Tensor or sequence, shape (M,)
            Powers; any real numbers (non-integer powers interpolate in time, negative
            ones run backwards). The angles are formed in float64, so ``m`` in the
            thousands keeps its phase.

        Returns
        -------
        Tensor, shape (..., M, latent_dim)
        """
        p = self.n_pairs
        cos, sin, real = self._factors(torch.as_tensor(m), z.dtype)
        a = z[..., 0 : 2 * p : 2].unsqueeze(-2)
        b = z[..., 1 : 2 * p : 2].unsqueeze(-2)
        pairs = torch.stack((cos * a - sin * b, sin * a + cos * b), dim=-1).flatten(-2)
        if not self.n_real:
            return pairs
        r = z[..., 2 * p :].unsqueeze(-2)
        return torch.cat((pairs, real * r), dim=-1)

    forward = advance

    def matrices(self, m: torch.Tensor | Sequence[float]) -> torch.Tensor:
        """The block-diagonal matrices ``K^m``, shape (M, latent_dim, latent_dim).

        For inspection and tests; :meth:`advance` never forms them.
        """
        m = torch.as_tensor(m, dtype=torch.float64).reshape(-1)
        eye = torch.eye(self.latent_dim, dtype=torch.float64, device=self.omega.device)
        # column j of K^m is K^m e_j
        return self.advance(eye, m).permute(1, 2, 0)


# ------------------------------------------------------------------ MLP
class MLP(nn.Sequential):
    """Fully connected network ``in -> hidden... -> out`` with an activation between layers.

    Examples
    --------
    >>> import torch
    >>> MLP(4, (8, 8), 2)(torch.zeros(3, 4)).shape
    torch.Size([3, 2])
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        activation_name: str = "tanh",
    ) -> None:
        sizes = [int(in_features), *(int(h) for h in hidden), int(out_features)]
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(activation(activation_name))
        super().__init__(*layers)


# ------------------------------------------------------------------ conv nets
def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class ConvEncoder(nn.Module):
    """Strided convolutions then a small MLP: frames ``(B, C, H, W)`` to latent ``(B, L)``.

    Parameters
    ----------
    in_channels : int
        Channels of the input (frame channels times ``delays``).
    size : (int, int)
        Frame height and width.
    latent_dim : int
    channels : sequence of int, default (16, 32, 64)
        Output channels of each stride-2 ``3 x 3`` convolution.
    hidden : int, default 128
        Width of the hidden linear layer.
    activation_name : str, default "silu"

    Examples
    --------
    >>> import torch
    >>> ConvEncoder(2, (20, 30), 6)(torch.zeros(1, 2, 20, 30)).shape
    torch.Size([1, 6])
    """

    def __init__(
        self,
        in_channels: int,
        size: Sequence[int],
        latent_dim: int,
        channels: Sequence[int] = (16, 32, 64),
        hidden: int = 128,
        activation_name: str = "silu",
    ) -> None:
        super().__init__()
        h, w = (int(s) for s in size)
        layers: list[nn.Module] = []
        c = int(in_channels)
        for out in channels:
            layers += [nn.Conv2d(c, int(out), 3, stride=2, padding=1), activation(activation_name)]
            c = int(out)
            h, w = _conv_out(h, 3, 2, 1), _conv_out(w, 3, 2, 1)
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * h * w, int(hidden)),
            activation(activation_name),
            nn.Linear(int(hidden), int(latent_dim)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """Lean frame decoder: latent ``(B, L)`` to frames ``(B, C, H, W)`` of exactly ``size``.

    A small MLP maps the latent vector to a ``c0 x h0 x w0`` map with
    ``h0 = ceil(H / 2**n)``; ``n`` sub-pixel stages (a ``3 x 3`` convolution to four times
    the next stage's channels, then ``PixelShuffle(2)``; Shi et al. 2016) each double the
    size, the last one giving the output channels; a centre crop of at most ``2**n - 1``
    pixels gives exactly ``H x W``. No convolution runs at the output resolution and the
    channels halve at each stage (never below ``min_channels``), so most of the work is at
    low resolution: at 224 x 224 it costs about 3% of the paper decoder's multiply-adds,
    and it uses plain convolutions (fast everywhere) rather than transposed ones. It runs in
    ``channels_last`` memory format on every device.

    Parameters
    ----------
    latent_dim : int
    out_channels : int
    size : (int, int)
        Output height and width.
    base_channels : int, default 64
        Channels of the low-resolution map.
    stages : int, optional
        Number of upsampling stages; default ``ceil(log2(min(H, W) / 8))`` (at least 1).
    min_channels : int, default 8
    hidden : int, default 128
    activation_name : str, default "silu"

    Examples
    --------
    >>> import torch
    >>> ConvDecoder(6, 1, (50, 70))(torch.zeros(2, 6)).shape
    torch.Size([2, 1, 50, 70])
    """

    def __init__(
        self,
        latent_dim: int,
        out_channels: int,
        size: Sequence[int],
        base_channels: int = 64,
        stages: int | None = None,
        min_channels: int = 8,
        hidden: int = 128,
        activation_name: str = "silu",
    ) -> None:
        super().__init__()
        self.size = tuple(int(s) for s in size)
        h, w = self.size
        if stages is None:
            stages = max(1, math.ceil(math.log2(max(min(h, w), 1) / 8)))
        self.stages = int(stages)
        self.h0, self.w0 = math.ceil(h / 2**self.stages), math.ceil(w / 2**self.stages)
        self.c0 = int(base_channels)
        self.head = nn.Sequential(
            nn.Linear(int(latent_dim), int(hidden)),
            activation(activation_name),
            nn.Linear(int(hidden), self.c0 * self.h0 * self.w0),
            activation(activation_name),
        )
        layers: list[nn.Module] = []
        c = self.c0
        for _ in range(self.stages - 1):
            out = max(int(min_channels), c // 2)
            layers += [
                nn.Conv2d(c, 4 * out, 3, padding=1),
                nn.PixelShuffle(2),
                activation(activation_name),
            ]
            c = out
        layers += [nn.Conv2d(c, 4 * int(out_channels), 3, padding=1), nn.PixelShuffle(2)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # channels_last: decoding (forward and backward) ran 1.04-1.3x faster in it on a CPU
        # (oneDNN; 32 to 224 px frames) and it is the tensor cores' layout on CUDA
        x = self.head(z).reshape(-1, self.c0, self.h0, self.w0)
        x = x.contiguous(memory_format=torch.channels_last)
        x = self.body(x)
        h, w = self.size
        top = (x.shape[-2] - h) // 2
        left = (x.shape[-1] - w) // 2
        return x[..., top : top + h, left : left + w]


class PaperDecoder(nn.Module):
    """The paper's decoder, layer for layer (section 4.1), with ReLU between layers.

    ``dfc3 Linear(L, 4096) -> df2 Linear(4096, 4096) -> df1 Linear(4096, 9216) ->
    Unflatten(256, 6, 6) -> Upsample(x2) -> dconv5 .. dconv1`` (the five ``ConvTranspose2d``
    with the printed kernel/stride/padding). The printed layers produce **116 x 116** frames,
    not the 224 x 224 the text states (12 -> 14 -> 16 -> 27 -> 27 -> 116), so the output is
    resized bilinearly to ``size`` when it differs (``resized`` is then True). The paper's
    ``dfc3`` takes 256 inputs (its latent size) and ``dconv1`` gives 3 channels; here they
    take ``latent_dim`` and give ``out_channels``.

    Examples
    --------
    >>> PaperDecoder(256, 3, (224, 224)).native_size
    (116, 116)
    """

    native_size = (116, 116)

    def __init__(self, latent_dim: int, out_channels: int = 3, size: Sequence[int] = (224, 224)):
        super().__init__()
        self.size = tuple(int(s) for s in size)
        self.resized = self.size != self.native_size
        self.dfc3 = nn.Linear(int(latent_dim), 4096)
        self.df2 = nn.Linear(4096, 4096)
        self.df1 = nn.Linear(4096, 9216)
        self.unflat = nn.Unflatten(1, (256, 6, 6))
        self.upsample1 = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.dconv5 = nn.ConvTranspose2d(256, 256, kernel_size=3, stride=1)
        self.dconv4 = nn.ConvTranspose2d(256, 384, kernel_size=5, stride=1, padding=1)
        self.dconv3 = nn.ConvTranspose2d(384, 192, kernel_size=3, stride=2, padding=3)
        self.dconv2 = nn.ConvTranspose2d(192, 64, kernel_size=5, stride=1, padding=2)
        self.dconv1 = nn.ConvTranspose2d(64, int(out_channels), kernel_size=12, stride=4)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.dfc3(z))
        x = F.relu(self.df2(x))
        x = F.relu(self.df1(x))
        x = self.upsample1(self.unflat(x))
        for conv in (self.dconv5, self.dconv4, self.dconv3, self.dconv2):
            x = F.relu(conv(x))
        x = self.dconv1(x)
        if self.resized:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        return x


# ------------------------------------------------------------------ vision encoder
SEGMENTATION = ("lraspp", "fcn", "deeplabv3")
TRUNKS = ("resnet18", "mobilenet_v2")


def _torchvision() -> Any:
    try:
        import torchvision
    except ImportError:
        raise KoopkitError(
            "the vision encoder needs torchvision: pip install 'koopkit[torch]'"
        ) from None
    return torchvision


def _weights_enum(kind: str) -> Any:
    tv = _torchvision()
    m, s = tv.models, tv.models.segmentation
    return {
        "resnet18": m.ResNet18_Weights.IMAGENET1K_V1,
        "mobilenet_v2": m.MobileNet_V2_Weights.IMAGENET1K_V1,
        "lraspp": s.LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
        "fcn": s.FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1,
        "deeplabv3": s.DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1,
    }[kind]


def cache_file(kind: str) -> str:
    """Where torchvision would cache the pretrained file of ``kind`` (it may not exist).

    Examples
    --------
    >>> cache_file("resnet18").endswith("resnet18-f37072fd.pth")
    True
    """
    url = _weights_enum(kind).url
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))


def _read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KoopkitError(f"no weights file at {path!r}: check the path")
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise KoopkitError(f"{path!r} is a safetensors file: pip install safetensors") from None
        return dict(load_file(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a state dict"
        raise KoopkitError(
            f"could not read {path!r} as a tensors-only state dict ({type(exc).__name__}): "
            "pass a file saved with torch.save(model.state_dict())"
        ) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise KoopkitError(f"{path!r} does not hold a state dict of tensors")
    return dict(obj)


def _match_state_dict(
    target: Mapping[str, torch.Tensor], source: Mapping[str, torch.Tensor], what: str
) -> tuple[dict[str, torch.Tensor], str]:
    """Map ``source`` tensors onto ``target``'s names: by name (prefixes stripped) or by order."""
    prefixes = ("", "module.", "features.", "backbone.", "model.", "encoder.")
    for prefix in prefixes:
        renamed = {k[len(prefix) :]: v for k, v in source.items() if k.startswith(prefix)}
        if all(k in renamed and renamed[k].shape == v.shape for k, v in target.items()):
            return {k: renamed[k] for k in target}, "name"
    tk, sk = list(target), list(source)
    pairs = list(zip(tk, sk, strict=False))
    if len(tk) == len(sk) and all(target[a].shape == source[b].shape for a, b in pairs):
        return {a: source[b] for a, b in zip(tk, sk, strict=True)}, "order"
    missing = [k for k in target if k not in source]
    raise KoopkitError(
        f"the weights file does not fit the {what}: {len(source)} tensors for {len(target)} "
        f"parameters/buffers ({len(missing)} names unmatched, e.g. {missing[:1]}), and their "
        "shapes differ in order: pass the weights of the same architecture"
    )


def load_weights(
    module: nn.Module, source: Any, *, kind: str = "", what: str = "network"
) -> str | None:
    """Load pretrained weights into ``module`` without downloading anything.

    Parameters
    ----------
    module : nn.Module
    source : str, os.PathLike, bool or None
        A path to a state-dict file (``torch.save`` of tensors, read with
        ``weights_only=True``, or ``.safetensors``); ``True`` for torchvision's file of
        ``kind`` in the torch hub cache (random initialisation with a warning when it is
        not there); ``False``/``None`` to keep the random initialisation.
    kind : str
        Which torchvision weights ``True`` looks for (see :func:`cache_file`).
    what : str
        Name used in messages.

    Returns
    -------
    str or None
        How the tensors were matched: ``"name"`` (names equal after stripping a prefix such
        as ``features.``) or ``"order"`` (same number of tensors with the same shapes in
        order, e.g. MobileNetV2 feature weights saved under other names); None if nothing
        was loaded.

    Examples
    --------
    >>> import torch, tempfile, os
    >>> net = torch.nn.Linear(2, 2)
    >>> p = os.path.join(tempfile.mkdtemp(), "w.pt")
    >>> torch.save({"module.weight": torch.ones(2, 2), "module.bias": torch.zeros(2)}, p)
    >>> load_weights(net, p)
    'name'
    >>> float(net.weight.detach().sum())
    4.0
    """
    if source is None or source is False:
        return None
    if source is True:
        path = cache_file(kind)
        if not os.path.isfile(path):
            warnings.warn(
                f"no pretrained {kind} weights in the torch cache ({path}); the {what} starts "
                "from a random initialisation (pass a weights file path, or pretrained=False "
                "to silence this)",
                stacklevel=3,
            )
            return None
        source = path
    if not isinstance(source, (str, os.PathLike)):
        raise KoopkitError(
            f"pretrained weights for the {what} must be a file path, True or False; got "
            f"{type(source).__name__}"
        )
    target = module.state_dict()
    mapped, how = _match_state_dict(target, _read_state_dict(source), what)
    module.load_state_dict(mapped, strict=True)
    return how


class _Trunk(nn.Module):
    """ResNet18 (512 features) or MobileNetV2 (1280 features) without its classifier."""

    def __init__(self, kind: str, weights: Any) -> None:
        super().__init__()
        tv = _torchvision()
        if kind == "resnet18":
            net = tv.models.resnet18(weights=None)
            net.fc = nn.Identity()
            self.net = net
            self.out_features = 512
            self.pool = None
            how = load_weights(net, weights, kind=kind, what="ResNet18 trunk")
        elif kind == "mobilenet_v2":
            self.net = tv.models.mobilenet_v2(weights=None).features
            self.out_features = 1280
            self.pool = nn.AdaptiveAvgPool2d(1)
            how = load_weights(self.net, weights, kind=kind, what="MobileNetV2 trunk")
        else:
            raise KoopkitError(f"trunk={kind!r} is not one of {', '.join(map(repr, TRUNKS))}")
        self.loaded = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.net(x)
        if self.pool is not None:
            x = torch.flatten(self.pool(x), 1)
        return x


def _segmentation_net(kind: str, weights: Any) -> tuple[nn.Module, str | None]:
    seg = _torchvision().models.segmentation
    builders = {
        "lraspp": seg.lraspp_mobilenet_v3_large,
        "fcn": seg.fcn_resnet50,
        "deeplabv3": seg.deeplabv3_resnet50,
    }
    if kind not in builders:
        raise KoopkitError(
            f"segmentation={kind!r} is not one of {', '.join(map(repr, SEGMENTATION))} or None"
        )
    kwargs: dict[str, Any] = {"weights": None, "weights_backbone": None, "num_classes": 21}
    if kind != "lraspp":
        kwargs["aux_loss"] = False
    net = builders[kind](**kwargs)
    if weights is not None and weights is not False:
        # torchvision's COCO files carry the auxiliary classifier too; drop what we lack
        source = cache_file(kind) if weights is True else weights
        if weights is True and not os.path.isfile(source):
            load_weights(net, True, kind=kind, what=f"{kind} segmentation net")
            return net, None
        state = {k: v for k, v in _read_state_dict(source).items() if not k.startswith("aux")}
        mapped, how = _match_state_dict(net.state_dict(), state, f"{kind} segmentation net")
        net.load_state_dict(mapped, strict=True)
        return net, how
    return net, None


class VisionEncoder(nn.Module):
    """The paper's encoder: a pretrained trunk and a segmentation net in parallel, with heads.

    Heads (section 4.1, layer names as printed; ReLU between linear layers)::

        trunk (512) -> lin1_res Linear(512, 512) -> lin2_res Linear(512, 256)
        segmentation (21 x H x W) -> conv1_seg Conv2d(21, 10, 4, 2, 2) -> maxpool1(2, 2, pad 1)
            -> conv2_seg Conv2d(10, 5, 4, 2, 2) -> maxpool2(2, 2) -> flat (980 at 224 x 224)
            -> lin1_seg Linear(980, 512) -> lin2_seg Linear(512, 256)
        concat (512) -> lin1_com Linear(512, 512) -> lin2_com Linear(512, 256)
            -> lin3_com Linear(256, latent_dim)        (256 in the paper)

    ``lin1_seg`` takes however many features the segmentation branch gives at ``size``
    (980 at 224 x 224). With the MobileNetV2 trunk ``lin1_res`` takes 1280 inputs. Frames
    with other than 3 channels (grey frames, or ``delays`` stacked frames) pass through a
    learned ``1 x 1`` convolution to 3 channels first.

    **Segmentation resolution.** torchvision's segmentation nets compute their 21 class
    logits at 1/8 of the frame size (28 x 28 at 224 x 224) and upsample them bilinearly to
    the frame size; the paper's heads then shrink that map by 16 again. With
    ``segmentation_resolution="native"`` (koopkit's default) the heads take the logits at
    their own stride, with the same channels and the same 5 x 14 x 14 = 980 features at
    224 x 224::

        logits (21 x H/8 x W/8) -> conv1_seg Conv2d(21, 10, 3, 1, 1) -> maxpool1(2, 2)
            -> conv2_seg Conv2d(10, 5, 3, 1, 1) -> flat -> lin1_seg ...

    The upsampled map holds no information the native one lacks, and skipping it saves the
    interpolation and the heads' work on a 64 times larger map (forward and backward).
    ``"input"`` is the paper's layout, layer for layer.

    Parameters
    ----------
    in_channels : int
    size : (int, int)
    latent_dim : int
    trunk : {"resnet18", "mobilenet_v2"}
    segmentation : {"lraspp", "fcn", "deeplabv3"} or None
        torchvision's ``lraspp_mobilenet_v3_large``, ``fcn_resnet50`` or
        ``deeplabv3_resnet50`` with 21 classes; None drops the branch.
    pretrained, segmentation_pretrained : str, os.PathLike or bool
        Weights of the trunk / segmentation net: a file path, True for torchvision's file in
        the torch cache (random initialisation with a warning when absent), False for random.
    freeze : bool, default False
        Freeze the trunk and segmentation net (no gradients; kept in eval mode so their
        batch-norm statistics do not move).
    segmentation_resolution : {"native", "input"}, default "native"
        Feed the heads the class logits at the segmentation net's stride, or upsampled to
        the frame size as in the paper (see above).

    Examples
    --------
    >>> import torch
    >>> enc = VisionEncoder(1, (64, 64), 8, trunk="mobilenet_v2", segmentation=None,
    ...                     pretrained=False)
    >>> enc(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2, 8])
    """

    def __init__(
        self,
        in_channels: int,
        size: Sequence[int],
        latent_dim: int,
        trunk: str = "resnet18",
        segmentation: str | None = "lraspp",
        pretrained: Any = True,
        segmentation_pretrained: Any = True,
        freeze: bool = False,
        segmentation_resolution: str = "native",
    ) -> None:
        super().__init__()
        h, w = (int(s) for s in size)
        if segmentation_resolution not in ("native", "input"):
            raise KoopkitError(
                f"segmentation_resolution={segmentation_resolution!r} is not 'native' or 'input'"
            )
        self.native = segmentation_resolution == "native"
        self.stem = nn.Conv2d(int(in_channels), 3, 1) if int(in_channels) != 3 else None
        self.trunk = _Trunk(trunk, pretrained)
        self.lin1_res = nn.Linear(self.trunk.out_features, 512)
        self.lin2_res = nn.Linear(512, 256)
        self.segmentation = None
        self.segmentation_loaded = None
        if segmentation is not None:
            self.segmentation, self.segmentation_loaded = _segmentation_net(
                segmentation, segmentation_pretrained
            )
            if self.native:
                self.conv1_seg = nn.Conv2d(21, 10, kernel_size=3, stride=1, padding=1)
                self.maxpool1 = nn.MaxPool2d(kernel_size=2, stride=2)
                self.conv2_seg = nn.Conv2d(10, 5, kernel_size=3, stride=1, padding=1)
                self.maxpool2 = nn.Identity()
                sh, sw = h, w
                for _ in range(3):  # the nets' three stride-2 stages (rounding up)
                    sh, sw = _conv_out(sh, 3, 2, 1), _conv_out(sw, 3, 2, 1)
                sh, sw = sh // 2, sw // 2
            else:
                self.conv1_seg = nn.Conv2d(21, 10, kernel_size=4, stride=2, padding=2)
                self.maxpool1 = nn.MaxPool2d(kernel_size=2, stride=2, padding=1)
                self.conv2_seg = nn.Conv2d(10, 5, kernel_size=4, stride=2, padding=2)
                self.maxpool2 = nn.MaxPool2d(kernel_size=2, stride=2, padding=0)
                sh, sw = h, w
                for k, s, p in ((4, 2, 2), (2, 2, 1), (4, 2, 2), (2, 2, 0)):
                    sh, sw = _conv_out(sh, k, s, p), _conv_out(sw, k, s, p)
            self.flat = nn.Flatten()
            if sh < 1 or sw < 1:
                raise KoopkitError(f"frames of {h} x {w} are too small for the vision encoder")
            self.lin1_seg = nn.Linear(5 * sh * sw, 512)
            self.lin2_seg = nn.Linear(512, 256)
        self.lin1_com = nn.Linear(512 if segmentation is not None else 256, 512)
        self.lin2_com = nn.Linear(512, 256)
        self.lin3_com = nn.Linear(256, int(latent_dim))
        self.freeze = bool(freeze)
        if self.freeze:
            for net in self._backbones():
                net.requires_grad_(False)

    def _backbones(self) -> list[nn.Module]:
        return [n for n in (self.trunk, self.segmentation) if n is not None]

    def train(self, mode: bool = True) -> VisionEncoder:
        super().train(mode)
        if self.freeze:
            for net in self._backbones():
                net.eval()
        return self

    def _segment(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, at the net's own stride (native) or at the frame size."""
        net = self.segmentation
        if not self.native:
            return net(x)["out"]
        features = net.backbone(x)
        if isinstance(net, _torchvision().models.segmentation.LRASPP):
            return net.classifier(features)  # uses the "low" and "high" feature maps
        return net.classifier(features["out"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stem is not None:
            x = self.stem(x)
        r = F.relu(self.lin1_res(self.trunk(x)))
        r = F.relu(self.lin2_res(r))
        if self.segmentation is not None:
            s = self._segment(x)
            s = self.maxpool1(F.relu(self.conv1_seg(s)))
            s = self.maxpool2(F.relu(self.conv2_seg(s)))
            s = F.relu(self.lin1_seg(self.flat(s)))
            s = F.relu(self.lin2_seg(s))
            r = torch.cat((r, s), dim=1)
        r = F.relu(self.lin1_com(r))
        r = F.relu(self.lin2_com(r))
        return self.lin3_com(r)
