"""Small helpers shared across koopkit: scikit-learn style parameters."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from koopkit._errors import KoopkitError


class ParamsMixin:
    """``get_params``/``set_params``/``repr`` from the constructor's signature.

    ``__init__`` stores each argument under its own name and does nothing else, as in
    scikit-learn; these methods read the names back from the signature.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        return list(_init_param_names(cls.__init__))

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


@functools.cache
def _init_param_names(init: Any) -> tuple[str, ...]:
    """The named parameters of a constructor (read once per class: signatures are slow)."""
    return tuple(
        p.name
        for p in inspect.signature(init).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )


def same(a: Any, b: Any) -> bool:
    """``a == b`` as a bool, falling back to identity for objects that compare oddly."""
    try:
        return bool(a == b)
    except Exception:
        return a is b
