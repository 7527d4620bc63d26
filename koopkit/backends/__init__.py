"""Backends by name: ``get(name, **params)``, ``available()``, ``register(name)``.

A backend is one estimator class plus one registry line; nothing else in koopkit names
backends. Backends needing optional packages (torch) are registered as import paths and
imported only when asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

from koopkit._errors import KoopkitError

_REGISTRY: dict[str, str | type] = {
    "autoencoder": "koopkit.backends.autoencoder:KoopmanAutoencoder",
    "dmd": "koopkit.backends.dmd:DMD",
    "edmd": "koopkit.backends.edmd:EDMD",
    "exact_dmd": "koopkit.backends.dmd:ExactDMD",
    "optdmd": "koopkit.backends.optdmd:OptDMD",
    "pydmd": "koopkit.backends.pydmd:PyDMDBackend",
}


def register(backend: str | type) -> Any:
    """Add a backend: ``register(MyBackend)`` (under ``MyBackend.name``), or as a class
    decorator ``@register("name")``.

    Examples
    --------
    >>> from koopkit.backends.dmd import DMD
    >>> class MyDMD(DMD):
    ...     name = "my_dmd"
    >>> register(MyDMD) is MyDMD and "my_dmd" in available()
    True
    """
    if isinstance(backend, type):
        name = getattr(backend, "name", "")
        if not name:
            raise KoopkitError(
                f"{backend.__name__} has no registry name: set the class attribute name = '...'"
            )
        _REGISTRY[name] = backend
        return backend

    def deco(cls: type) -> type:
        _REGISTRY[backend] = cls
        return cls

    return deco


def available() -> list[str]:
    """Names accepted by :func:`get`."""
    return sorted(_REGISTRY)


def get_class(name: str) -> type:
    """The estimator class registered under ``name`` (imported on first use)."""
    try:
        entry = _REGISTRY[name]
    except KeyError:
        raise KoopkitError(
            f"unknown backend {name!r}; available: {', '.join(available())}"
        ) from None
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
        _REGISTRY[name] = entry
    return entry


def get(name: str, **params: Any) -> Any:
    """A new, unfitted estimator: ``get("exact_dmd", rank=10, delays=4)``."""
    return get_class(name)(**params)


def __getattr__(attr: str) -> Any:
    lazy = {
        "DMD": "dmd",
        "EDMD": "edmd",
        "ExactDMD": "exact_dmd",
        "OptDMD": "optdmd",
        "PyDMDBackend": "pydmd",
    }
    if attr in lazy:
        return get_class(lazy[attr])
    raise AttributeError(attr)


__all__ = ["available", "get", "get_class", "register"]
