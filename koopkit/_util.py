"""Small helpers shared across koopkit: scikit-learn style parameters, renamed keywords."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from koopkit._errors import KoopkitError

F = TypeVar("F", bound=Callable[..., Any])


class ParamsMixin:
    """``get_params``/``set_params``/``repr`` from the constructor's signature.

    ``__init__`` stores each argument under its own name and does nothing else, as in
    scikit-learn; these methods read the names back from the signature.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as stored."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Any:
        """Set constructor arguments (takes effect at the next ``fit``); returns ``self``."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise KoopkitError(
                    f"{type(self).__name__} has no parameter {key!r}; valid: {', '.join(valid)}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        changed = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if sig.parameters[k].default is inspect.Parameter.empty
            or not same(v, sig.parameters[k].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"


def same(a: Any, b: Any) -> bool:
    """``a == b`` as a bool, falling back to identity for objects that compare oddly."""
    try:
        return bool(a == b)
    except Exception:
        return a is b


def renamed_kwarg(old: str, new: str) -> Callable[[F], F]:
    """Decorator: keep accepting the keyword ``old`` of a function whose argument is now ``new``.

    A call with ``old=...`` warns (``DeprecationWarning`` naming ``new``) and goes on as if
    ``new=...`` had been passed; passing both raises :class:`~koopkit.KoopkitError`. Old
    names are kept this way for one release, then removed. Stack it for several renames;
    the signature shown by ``inspect`` and the docs stays the new one.

    Examples
    --------
    >>> import warnings
    >>> @renamed_kwarg("n_frames", "n_snapshots")
    ... def frames(n_snapshots=3):
    ...     return n_snapshots
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     frames(n_frames=5), str(caught[0].message)
    (5, "frames(): the keyword 'n_frames' is deprecated; use 'n_snapshots' instead")
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise KoopkitError(
                        f"{func.__name__}() got both {old}= and {new}=: pass only {new}= "
                        f"({old} is its deprecated name)"
                    )
                warnings.warn(
                    f"{func.__name__}(): the keyword {old!r} is deprecated; use {new!r} instead",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
