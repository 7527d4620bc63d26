#!/usr/bin/env bash
# Fetch Debian's opencv-doc package and unpack its sample clips, for examples/video_clips.py.
#
#   examples/fetch_debian_clips.sh [DEST]        (default DEST: /tmp/opencv-doc)
#
# The clips land in DEST/usr/share/doc/opencv-doc/examples/data/: tree.avi (a tree swaying;
# 68 frames with irregular timestamps about 0.44 s apart: read it with resample=2.5) and
# vtest.avi (people walking; 795 frames at 10 fps), among others. Needs apt-get and
# dpkg-deb (Debian/Ubuntu); run `apt-get update` first on a fresh machine.
set -euo pipefail

dest="${1:-/tmp/opencv-doc}"
data="$dest/usr/share/doc/opencv-doc/examples/data"
if [[ -f "$data/tree.avi" && -f "$data/vtest.avi" ]]; then
    echo "already there: $data"
    exit 0
fi
mkdir -p "$dest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download opencv-doc)
dpkg-deb -x "$work"/opencv-doc_*.deb "$dest"
ls -l "$data/tree.avi" "$data/vtest.avi"
echo "clips in $data"
