"""The autoencoder's building blocks, under the names they have always been imported by.

Each lives in its own module: the Koopman layer in
:mod:`~koopkit.backends.autoencoder.koopman`, the MLP and convolutional networks in
:mod:`~koopkit.backends.autoencoder.networks`, the paper's vision encoder in
:mod:`~koopkit.backends.autoencoder.vision`, and the loading of pretrained weights from local
files in :mod:`~koopkit.backends.autoencoder.weights`.
"""

from __future__ import annotations

from koopkit.backends.autoencoder.koopman import KoopmanLayer
from koopkit.backends.autoencoder.networks import (
    MLP,
    ConvDecoder,
    ConvEncoder,
    PaperDecoder,
    activation,
)
from koopkit.backends.autoencoder.vision import SEGMENTATION, TRUNKS, VisionEncoder
from koopkit.backends.autoencoder.weights import cache_file, load_weights

__all__ = [
    "SEGMENTATION",
    "TRUNKS",
    "ConvDecoder",
    "ConvEncoder",
    "KoopmanLayer",
    "MLP",
    "PaperDecoder",
    "VisionEncoder",
    "activation",
    "cache_file",
    "load_weights",
]
