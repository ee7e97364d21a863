#!/usr/bin/env bash
# Reproduces the four studies (issue 7) with the recipes in recipes/, sized for the machine at hand, and collects
# each run's metrics.json, history and options under docs/results/<run>/ plus run.json (command, wall time, machine).
# docs/results.md's tables are then rebuilt from those files by scripts/results_table.py.
#
#   scripts/run_studies.sh [--data DIR] [--weights FILE] [--only REGEX] [--force] [--list]
#
#   --data DIR      the folder holding kermany_cxr224/, covid_cxr224/, ct_sarscov2_256/, ct_ucsd_covidct/
#                   (default ../shared/data)
#   --weights FILE  the ImageNet MobileNetV2 checkpoint (default ../shared/weights/mobilenet_v2_imagenet/
#                   mobilenet_v2_1.0_224_tfslim.safetensors)
#   --only REGEX    run only the runs whose name matches (e.g. '^s3_')
#   --force         rerun runs that already have results (default: skip them, so an interrupted batch continues)
#   --list          print the runs and their flags, run nothing
#
# CPU sizing (no GPU was available when these were run): resolutions and epoch caps are reduced from the studies'
# (each row names its own); every other hyper-parameter is the recipe's. On a GPU machine add --device cuda through
# PNEUMA_STUDY_FLAGS and raise the resolution, e.g. PNEUMA_STUDY_FLAGS='--device cuda --resolution 224'.
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data
weights=../shared/weights/mobilenet_v2_imagenet/mobilenet_v2_1.0_224_tfslim.safetensors
only=.
force=0
list=0
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="${2:?--data needs a folder}"; shift 2 ;;
    --weights) weights="${2:?--weights needs a file}"; shift 2 ;;
    --only) only="${2:?--only needs a regular expression}"; shift 2 ;;
    --force) force=1; shift ;;
    --list) list=1; shift ;;
    *) echo "run_studies.sh: unknown option '$1' (see the comment at the top of the script)" >&2; exit 2 ;;
  esac
done
for folder in kermany_cxr224 covid_cxr224 ct_sarscov2_256 ct_ucsd_covidct; do
  [ -d "$data/$folder" ] || { echo "run_studies.sh: no $folder/ under '$data'" >&2; exit 1; }
done
[ -f "$weights" ] || { echo "run_studies.sh: ImageNet weights '$weights' not found (--weights FILE)" >&2; exit 1; }

pneuma=build/tools/pneuma
[ -x "$pneuma" ] || { echo "run_studies.sh: $pneuma not built: run scripts/build.sh first" >&2; exit 1; }
export OMP_WAIT_POLICY=PASSIVE

# The TF-slim MobileNetV2's BatchNorms are folded into biases (../shared/README.md): when the whole model trains,
# they must stay on their running statistics (--frozen-batch-norm), or batch statistics erase the weights.
imagenet=(--weights "$weights" --weights-from torchvision --padding same --normalization minus_one_one
          --frozen-batch-norm)
scratch=(--weights '')  # no ImageNet weights: random initialisation
kermany=(--data "$data/kermany_cxr224")
sarscov2=(--data "$data/ct_sarscov2_256")
# UCSD COVID-CT with its official patient-disjoint train / val / test split.
ucsd=(--data "$data/ct_ucsd_covidct" --use-existing-splits --group-by patient_id --val-fraction 0 --test-fraction 0
      --cache runs/cache/ct_ucsd_64.pcache)

machine="$(uname -m), $(nproc) cores, $(awk '/model name/ {sub(/^[^:]*: /, ""); print; exit}' /proc/cpuinfo)"
failed=()

# run NAME RECIPE FLAGS...: one training run, its results copied to docs/results/NAME/.
run() {
  local name="$1" recipe="$2"
  shift 2
  [[ "$name" =~ $only ]] || return 0
  local out="runs/studies/$name" results="docs/results/$name"
  # shellcheck disable=SC2206  # PNEUMA_STUDY_FLAGS is a space-separated list of extra flags
  local args=(train --recipe "recipes/$recipe" "$@" ${PNEUMA_STUDY_FLAGS:-} --out "$out")
  if [ $list -eq 1 ]; then echo "$name: $pneuma ${args[*]}"; return 0; fi
  if [ $force -eq 0 ] && [ -f "$results/metrics.json" ]; then
    echo "== $name: done before (docs/results/$name), skipped"
    return 0
  fi
  rm -rf "$out"
  mkdir -p "$out"
  echo "== $name"
  local start seconds
  start=$(date +%s)
  if ! "$pneuma" "${args[@]}" >"$out/train.log" 2>&1; then
    tail -n 3 "$out/train.log" >&2
    echo "== $name FAILED (log: $out/train.log)" >&2
    failed+=("$name")
    return 0
  fi
  seconds=$(( $(date +%s) - start ))
  grep -E '^(accuracy|restored|pneuma train: done)' "$out/train.log" || true
  mkdir -p "$results"
  cp "$out/metrics.json" "$out/history.csv" "$out/options.json" "$results/"
  python3 - "$out/train.log" "$results/run.json" "$name" "$seconds" "$machine" "$pneuma" "${args[@]}" <<'PY'
import json, re, sys
log, path, name, seconds, machine, *command = sys.argv[1:]
checks = [line.strip() for line in open(log, errors="replace")
          if re.match(r"(splits:|grouped by|duplicate check|\d+ \S+ keys occur|\d+ images? (skipped|dropped)|model:)", line)]
with open(path, "w") as f:
    json.dump({"name": name, "seconds": int(seconds), "machine": machine, "command": command,
               "data_checks": checks}, f, indent=2)
PY
  echo "== $name: ${seconds}s"
}

# Cheapest rows first, so that an interrupted batch has as many rows as possible.
# Study 2: MobileNetV2, ImageNet, 3 classes, [-1, 1], Adam 1e-4, 10 epochs frozen + top 14 layers 20 epochs at 1e-5.
run s2_mobilenet_v2_imagenet study2_mobilenet_v2.json "${kermany[@]}" --resolution 128 \
  --cache runs/cache/kermany_cxr224_128.pcache
# Study 4: binary pneumonia, frozen base + Dense 512/64/32 sigmoid head, focal loss, augmentation, ES, RLROP x0.3.
run s4_mobilenet_v2_imagenet_frozen study4_binary_focal.json "${kermany[@]}" --resolution 128 \
  --cache runs/cache/kermany_cxr224_128.pcache
# Study 3: lung CT COVID vs healthy at 64x64, transfer vs scratch (MobileNetV2 30 epochs, EfficientNetV2 20; the
# study: 50). Study 1's MobileNetV2 rows come before the costlier EfficientNetV2 rows.
run s3_sarscov2_mobilenet_v2_imagenet study3_ct_efficientnet_v2.json "${sarscov2[@]}" --arch mobilenet_v2 \
  "${imagenet[@]}" --epochs 30
run s3_sarscov2_mobilenet_v2_scratch study3_ct_efficientnet_v2.json "${sarscov2[@]}" --arch mobilenet_v2 --epochs 30
# Study 1: normal / pneumonia / COVID from two sources, and the same-source control within covid_cxr224. The
# pre-trained MobileNetV2 fine-tunes at 1e-4: at the recipe's 1e-3 (meant for training from scratch) Adam wrecks
# the ImageNet features in the first epoch and the model predicts one class.
run s1_mobilenet_v2_imagenet study1_efficientnet_v2_s.json --image-root "$data" --arch mobilenet_v2 "${imagenet[@]}" \
  --lr 0.0001 --resolution 96 --epochs 12 --cache runs/cache/study1_96.pcache
run s1_control_same_source_mobilenet_v2_imagenet study1_same_source_control.json --data "$data/covid_cxr224" \
  --arch mobilenet_v2 --cache runs/cache/covid_cxr224_96.pcache "${imagenet[@]}" --lr 0.0001 --resolution 96 \
  --epochs 12
run s3_ucsd_mobilenet_v2_imagenet study3_ct_efficientnet_v2.json "${ucsd[@]}" --arch mobilenet_v2 "${imagenet[@]}" \
  --epochs 30
run s3_ucsd_mobilenet_v2_scratch study3_ct_efficientnet_v2.json "${ucsd[@]}" --arch mobilenet_v2 --epochs 30
for set in ucsd sarscov2; do
  if [ "$set" = sarscov2 ]; then ct=("${sarscov2[@]}"); else ct=("${ucsd[@]}"); fi
  for arch in efficientnet_v2_b0 efficientnet_v2_b1 efficientnet_v2_b2 efficientnet_v2_b3; do
    run "s3_${set}_${arch}_scratch" study3_ct_efficientnet_v2.json "${ct[@]}" --arch "$arch" --epochs 20
  done
done
run s3_ucsd_efficientnet_v2_s_scratch study3_ct_efficientnet_v2.json "${ucsd[@]}" --arch efficientnet_v2_s --epochs 20
# The expensive rows: EfficientNetV2-S and EfficientNet-B5 from scratch, at 64 px and few epochs on 2 CPU cores.
run s1_efficientnet_v2_s_scratch study1_efficientnet_v2_s.json --image-root "$data" --resolution 64 --epochs 5 \
  --cache runs/cache/study1_64.pcache
run s3_sarscov2_efficientnet_v2_s_scratch study3_ct_efficientnet_v2.json "${sarscov2[@]}" --arch efficientnet_v2_s \
  --epochs 10
run s4_efficientnet_b5_scratch study4_binary_focal.json "${kermany[@]}" --arch efficientnet_b5 "${scratch[@]}" \
  --freeze-backbone=false --padding symmetric --normalization imagenet --resolution 64 --epochs 6 \
  --cache runs/cache/kermany_cxr224_64.pcache

[ $list -eq 1 ] && exit 0
python3 scripts/results_table.py docs/results > docs/results/tables.md
echo "tables: docs/results/tables.md"
if [ ${#failed[@]} -gt 0 ]; then echo "run_studies.sh: failed: ${failed[*]}" >&2; exit 1; fi
