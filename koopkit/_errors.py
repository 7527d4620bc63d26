"""The one exception type koopkit raises for bad input, and one-line message text.

Every message is a single line that says what is wrong and how to fix it; the CLI prints
it as-is on stderr and exits non-zero.
"""

from __future__ import annotations

__all__ = ["KoopkitError", "one_line"]


class KoopkitError(ValueError):
    """Bad input or an impossible request, with the fix in the message."""


def one_line(text: object) -> str:
    """``text`` collapsed onto one line (runs of whitespace become one space).

    For quoting another library's message inside a one-line koopkit error.

    Examples
    --------
    >>> one_line("no such\\n  file ")
    'no such file'
    >>> one_line("")
    'unknown error'
    """
    return " ".join(str(text).split()) or "unknown error"
