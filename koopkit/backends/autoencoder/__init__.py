"""Koopman autoencoder backend (needs torch): ``KoopmanAutoencoder``.

Importing this package imports torch; the core of koopkit never does. Without torch the
import raises :class:`~koopkit.KoopkitError` with the command that installs it.

Examples
--------
>>> from koopkit.backends.autoencoder import KoopmanAutoencoder
>>> KoopmanAutoencoder(latent_pairs=2).name
'autoencoder'
"""

from __future__ import annotations

from koopkit._errors import KoopkitError

try:
    import torch  # noqa: F401
except ImportError:  # pragma: no cover - exercised only without torch
    raise KoopkitError("the autoencoder needs torch: pip install 'koopkit[torch]'") from None

from koopkit.backends.autoencoder.estimator import KoopmanAutoencoder

__all__ = ["KoopmanAutoencoder"]
