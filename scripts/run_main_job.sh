#!/usr/bin/env bash
# The README's main command: installs the dependencies, builds pneuma and runs the main job on real data.
# Usage: scripts/run_main_job.sh [--data DIR]   (DIR defaults to ../shared/data, the folder holding kermany_cxr224/)
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="${2:?--data needs a folder}"; shift 2 ;;
    --data=*) data="${1#--data=}"; shift ;;
    *) echo "run_main_job.sh: unknown option '$1' (usage: scripts/run_main_job.sh [--data DIR])" >&2; exit 2 ;;
  esac
done
[ -d "$data/kermany_cxr224" ] || { echo "run_main_job.sh: no kermany_cxr224/ under '$data'" >&2; exit 1; }
scripts/install_deps.sh
scripts/build.sh
build/tools/pneuma smoke "$data/kermany_cxr224"
