"""Resident-memory readings shared by the benchmark scripts (Linux ``/proc``, else rusage).

``reset_peak()`` resets the kernel's resident-set high-water mark, so ``peak_kib()`` read
after a fit is that fit's own peak; where the reset is not possible the process's lifetime
peak (``getrusage``) is what is left.
"""

from __future__ import annotations

import resource


def status_kib(key: str) -> int | None:
    """A ``/proc/self/status`` field (``VmRSS``, ``VmHWM``) in KiB, or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_kib() -> int:
    """The current resident set size in KiB."""
    now = status_kib("VmRSS")
    return now if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak() -> bool:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_kib(reset_ok: bool = True) -> int:
    """The RSS high-water mark in KiB (since the last :func:`reset_peak` when it worked)."""
    peak = status_kib("VmHWM") if reset_ok else None
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
