"""Small helpers shared across koopkit: scikit-learn style parameters, atomic file writes,
renamed keywords."""

from __future__ import annotations

import functools
import inspect
import os
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
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


# -------------------------------------------------------------------- atomic writes
def _umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    with suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, make_dirs: bool = False) -> Iterator[Path]:
    """Write a file all at once: yield a temporary path that replaces ``path`` on success.

    The temporary file ``.<name>.XXXX.tmp`` lies beside ``path`` (same directory, so the
    final :func:`os.replace` is atomic). When the block succeeds it is flushed to disk, given
    the permissions a plain ``open`` would (or those of the file it replaces) and renamed onto
    ``path``. If the block raises anything, :class:`KeyboardInterrupt` included, it is
    removed and ``path`` is left as it was. A reader therefore sees the old file or the new
    one, never half of one.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace.
    make_dirs : bool, default False
        Create the directory of ``path`` when missing (otherwise that is an error).

    Yields
    ------
    pathlib.Path
        The temporary path to write to (it exists, empty).

    Raises
    ------
    KoopkitError
        If the directory of ``path`` does not exist (and ``make_dirs`` is False) or ``path``
        is a directory.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
    """
    target = Path(os.fspath(path))
    directory = target.parent
    if make_dirs:
        directory.mkdir(parents=True, exist_ok=True)
    if not directory.is_dir():
        raise KoopkitError(
            f"cannot write {target}: directory {directory} does not exist: create it first"
        )
    if target.is_dir():
        raise KoopkitError(f"cannot write {target}: it is a directory: pass a file path")
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        try:  # mkstemp creates the file 0600
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        with suppress(OSError), open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(
    path: str | os.PathLike[str], data: str | bytes, *, make_dirs: bool = False
) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` through :func:`atomic_path`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a" / "b.json"
    >>> atomic_write(out, '{"ok": true}', make_dirs=True)
    >>> out.read_text()
    '{"ok": true}'
    """
    with atomic_path(path, make_dirs=make_dirs) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)


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
