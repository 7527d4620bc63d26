"""The one exception type koopkit raises for bad input.

Every message is a single line that says what is wrong and how to fix it; the CLI prints
it as-is on stderr and exits non-zero.
"""

from __future__ import annotations


class KoopkitError(ValueError):
    """Bad input or an impossible request, with the fix in the message."""
