#!/usr/bin/env bash
# Build the documentation site: run every gallery example in quick mode (figures into
# docs/gallery/images/), copy the committed benchmark figures, regenerate the CLI
# reference, then `mkdocs build --strict` into build/site/.
#
#   pip install -e ".[all,docs]" && bash docs/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg NO_MKDOCS_2_WARNING=1
start=$(date +%s)
img=docs/gallery/images
mkdir -p "$img" docs/benchmarks/images

step() { echo "== $* ($(( $(date +%s) - start )) s)"; }

step "figure 4: bouncing balls eigenvalues"
python examples/figure4_balls.py --quick --out "$img"
step "figure 5: cylinder wake spectrum"
python examples/cylinder_wake.py --quick --out "$img/figure5"
step "figure 6: video prediction strip"
python examples/figure6_video.py --quick --out "$img"
step "figure 7: DMD vs autoencoder over the horizon"
python examples/figure7_horizon.py --quick --out "$img"
step "figure 10: eigenvalues outside the unit circle"
python examples/figure10_unstable.py --quick --out "$img"
step "residuals: the demo's eigenvalues by residual and the pseudospectrum"
python examples/figure_residuals.py --quick --out "$img"

step "benchmark figures (from benchmarks/: koopkit benchmark -o benchmarks, noise_study.py)"
cp benchmarks/noise_study.png benchmarks/results_horizon.png benchmarks/results_fit_time.png \
    docs/benchmarks/images/
step "CLI reference"
python docs/gen_cli.py
step "mkdocs build --strict"
python -m mkdocs build --strict --quiet
echo "docs built into build/site in $(( $(date +%s) - start )) s"
