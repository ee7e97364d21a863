#!/usr/bin/env bash
# The README's main command: installs the dependencies, builds pneuma and runs the main job on real data —
# fine-tuning the ImageNet MobileNetV2 from ../shared/weights on DIR/kermany_cxr224 (normal / bacterial / viral),
# recipes/main_cpu.json, on the CPU in about 10 minutes on 2 cores. It prints the test metrics and writes the run
# folder runs/main_cpu-DATE-TIME/ (best/last checkpoints, history, metrics.json, report.html).
# Usage: scripts/run_main_job.sh [--data DIR] [--out RUN_DIR]   (DIR defaults to ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data
out="runs/main_cpu-$(date +%Y%m%d-%H%M%S)"  # a new folder per run; train refuses to overwrite one
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="${2:?--data needs a folder}"; shift 2 ;;
    --data=*) data="${1#--data=}"; shift ;;
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    *) echo "run_main_job.sh: unknown option '$1' (usage: scripts/run_main_job.sh [--data DIR] [--out RUN_DIR])" >&2
       exit 2 ;;
  esac
done
[ -d "$data/kermany_cxr224" ] || { echo "run_main_job.sh: no kermany_cxr224/ under '$data'" >&2; exit 1; }
scripts/install_deps.sh
scripts/build.sh
export OMP_WAIT_POLICY=PASSIVE
build/tools/pneuma train --recipe recipes/main_cpu.json --data "$data/kermany_cxr224" --out "$out"
echo "report: $out/report.html"
