#!/usr/bin/env bash
# bench/run_gpu_bench.sh — the one command that measures pneuma's CUDA backend beside cuDNN and PyTorch on a GPU
# machine (H100 / H200) and writes bench/results/<device>-<date>.json.
#
#   bench/run_gpu_bench.sh [--deps DIR] [--build-dir DIR] [--jobs N] [--skip-build] [--conv-filter REGEX]
#                          [--seconds-per-row S] [--fallback-benchmark] [--allow-no-gpu]
#
# What it does, within PNEUMA_GPU_BENCH_BUDGET seconds (default 570; each step gets what the earlier ones left):
#   1. builds the CUDA benchmarks for sm_90 (CMake option PNEUMA_GPU_BENCH_ONLY: kernels, engine core, models and
#      bench/cuda_*.cpp; Google Benchmark when installed, else the stand-in bench/fallback/);
#   2. bench/cuda_device_info: device facts and a 1 GiB device-to-device copy (the bandwidth the memory-bound kernels
#      are judged against, read + write bytes);
#   3. bench/cuda_train_step: whole-model training (MobileNetV2, EfficientNetV2-S, batch 128, 224×224, SGD momentum)
#      with pneuma's own convolutions and with cuDNN's; images/s and peak memory; bf16 is reported as absent (the
#      engine has no bf16 yet);
#   4. bench/torch_gpu_train_step.py: PyTorch eager, the same models and step, channels_last, fp32 and bf16 AMP;
#   5. bench/cuda_conv_layers: every convolution layer shape of both networks (forward, input and weight gradient),
#      pneuma vs cuDNN: time, GB/s, TFLOP/s, fraction of the copy bandwidth and of the nominal peak;
#   6. writes the report (device, driver, CUDA, cuDNN, PyTorch versions, per-layer rows with ours/cuDNN speedups,
#      whole-model rows with ours/PyTorch speedups and peak memory, the issue's targets met or not) and prints a
#      summary table.
#
# Needs: an NVIDIA GPU and driver, the CUDA toolkit (nvcc), CMake >= 3.25, g++ >= 12 with OpenMP, a python3 with
# torch and torchvision (found as $PYTHON, python3 or /usr/bin/python3), and nlohmann_json headers (Debian:
# nlohmann-json3-dev) — without them pass --deps DIR holding nlohmann/json.hpp (or include/nlohmann/json.hpp).
# cuDNN for the baseline comes from $CUDNN_ROOT, the CUDA toolkit, or PyTorch's own wheel (site-packages/nvidia/cudnn,
# found automatically); without it the cuDNN rows say so. Ninja is used when present.
#
# Options:
#   --deps DIR             where nlohmann/json.hpp is when the system has none (also $PNEUMA_DEPS_DIR)
#   --build-dir DIR        build folder (default: build-gpu-bench in the repository)
#   --jobs N               parallel build jobs (default: all cores)
#   --skip-build           use the binaries already in the build folder
#   --conv-filter REGEX    only the per-layer rows whose name matches (e.g. '/dw' for depthwise); default all
#   --seconds-per-row S    timed seconds per whole-model row on each side (default 15)
#   --fallback-benchmark   use bench/fallback/ even where Google Benchmark is installed
#   --allow-no-gpu         check the script on a machine without a GPU: builds, runs what can run (PyTorch on the CPU
#                          at batch 2, 64×64), and writes the report into the build folder, not bench/results
# Exit status: 0 when every step produced its rows, 1 when a step failed or ran out of time (the report is still
# written, naming it), 2 when the benchmark could not run (missing tool, no GPU, build error).
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="${PNEUMA_DEPS_DIR:-}"
build="$repo/build-gpu-bench"
jobs="$(nproc 2>/dev/null || echo 4)"
skip_build=0 conv_filter="" seconds_per_row=15 fallback_benchmark=0 allow_no_gpu=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --deps) deps="$(cd "$2" && pwd)" || { echo "run_gpu_bench: --deps $2 is not a folder" >&2; exit 2; }; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --conv-filter) conv_filter="$2"; shift 2 ;;
    --seconds-per-row) seconds_per_row="$2"; shift 2 ;;
    --fallback-benchmark) fallback_benchmark=1; shift ;;
    --allow-no-gpu) allow_no_gpu=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run_gpu_bench: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$seconds_per_row" =~ ^[1-9][0-9]*$ ]] || { echo "run_gpu_bench: --seconds-per-row needs a whole number of seconds" >&2; exit 2; }

say() { printf '\n== %s (%ds)\n' "$*" "$SECONDS"; }
budget="${PNEUMA_GPU_BENCH_BUDGET:-570}"
remaining() { echo $((budget - SECONDS)); }
fail() { printf 'run_gpu_bench: error: %s\n' "$*" >&2; exit 2; }
# A step's time limit: what is left minus `reserve` for the later steps, at least `floor` seconds.
limit() { local left=$(( $(remaining) - $1 )); (( left < $2 )) && left=$2; echo "$left"; }

# ---- tools -------------------------------------------------------------------------------------------------------
[[ -x /usr/local/cuda/bin/nvcc ]] && export PATH="$PATH:/usr/local/cuda/bin"
command -v nvcc >/dev/null || fail "nvcc not found: install the CUDA toolkit or put its bin/ folder on PATH"
command -v cmake >/dev/null || fail "cmake not found (pip install cmake works too)"
command -v "${CXX:-c++}" >/dev/null || fail "no C++ compiler ('${CXX:-c++}'): install g++ 12 or newer"
python=""
for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c "import torch, torchvision" 2>/dev/null; then
    python="$candidate"; break
  fi
done
[[ -n "$python" ]] || fail "no python3 with torch and torchvision found (set PYTHON=/path/to/python3)"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cuda_version="$(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"

gpu_name="none" driver="none" gpu_memory=""
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  IFS=',' read -r gpu_name driver gpu_memory < <(nvidia-smi --query-gpu=name,driver_version,memory.total \
    --format=csv,noheader | head -n 1)
  gpu_name="$(echo "$gpu_name" | xargs)" driver="$(echo "$driver" | xargs)" gpu_memory="$(echo "$gpu_memory" | xargs)"
elif [[ $allow_no_gpu -eq 0 ]]; then
  fail "no NVIDIA GPU visible (nvidia-smi missing or failing); run this on the GPU machine, or pass --allow-no-gpu to check the script"
fi
say "device: $gpu_name (driver $driver, $gpu_memory); CUDA $cuda_version; python $python"

# cuDNN for the baseline: $CUDNN_ROOT, else PyTorch's wheel (nvidia-cudnn-*), else whatever CMake finds.
cudnn_root="${CUDNN_ROOT:-}"
if [[ -z "$cudnn_root" ]]; then
  cudnn_root="$("$python" - <<'PY' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
for root in roots:
    for header in sorted(glob.glob(os.path.join(root, "nvidia", "**", "cudnn.h"), recursive=True)):
        print(os.path.dirname(os.path.dirname(header)))
        raise SystemExit
PY
)"
fi
if [[ -n "$cudnn_root" ]]; then
  echo "cuDNN for the baseline: $cudnn_root"
  for lib in "$cudnn_root/lib" "$cudnn_root/lib64"; do
    [[ -d "$lib" ]] && export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
fi
# nlohmann_json: the system's, --deps, or a copy shipped inside a Python package (some wheels carry one).
if [[ -z "$deps" && ! -f /usr/include/nlohmann/json.hpp ]]; then
  found="$("$python" - <<'PY' 2>/dev/null
import glob, os, site
for root in site.getsitepackages():
    for header in sorted(glob.glob(os.path.join(root, "*", "**", "nlohmann", "json.hpp"), recursive=True)):
        print(os.path.dirname(os.path.dirname(header)))
        raise SystemExit
PY
)"
  [[ -n "$found" ]] && { deps="$found"; echo "nlohmann_json headers found in $deps"; }
fi

# ---- configure and build -------------------------------------------------------------------------------------------
mkdir -p "$build" || fail "cannot create the build folder $build"
build_seconds=0
if [[ $skip_build -eq 0 ]]; then
  say "configure ($build)"
  extra=()
  [[ -n "$cudnn_root" ]] && extra+=(-DCUDNN_ROOT="$cudnn_root")
  [[ $fallback_benchmark -eq 1 ]] && extra+=(-DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON)
  cmake -S "$repo" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DPNEUMA_CUDA=ON \
    -DPNEUMA_GPU_BENCH_ONLY=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DPNEUMA_DEPS_DIR="$deps" "${extra[@]}" \
    >"$build/configure.log" 2>&1 ||
    { tail -n 30 "$build/configure.log" >&2; fail "configuration failed (full log: $build/configure.log)"; }
  grep -E "cuDNN|Google Benchmark" "$build/configure.log" | sed 's/^-- //'
  say "build (log: $build/build.log)"
  start=$SECONDS
  cmake --build "$build" -j "$jobs" --target cuda_device_info cuda_train_step cuda_conv_layers \
    >"$build/build.log" 2>&1 ||
    { grep -E "error|Error" "$build/build.log" | head -n 30 >&2; fail "build failed (full log: $build/build.log)"; }
  build_seconds=$((SECONDS - start))
  echo "built in ${build_seconds}s"
fi
for binary in cuda_device_info cuda_train_step cuda_conv_layers; do
  [[ -x "$build/bench/$binary" ]] || fail "$build/bench/$binary is missing (build first, without --skip-build)"
done

# ---- the measurements ------------------------------------------------------------------------------------------------
work="$build/gpu-bench-work"
rm -rf "$work"; mkdir -p "$work" || fail "cannot create $work"
steps_file="$work/steps.tsv"  # step, exit status, seconds
: >"$steps_file"
run_step() {  # name, time limit, output file, command...
  local name="$1" seconds="$2" output="$3" start=$SECONDS status
  shift 3
  say "$name (limit ${seconds}s)"
  timeout "$seconds" "$@" >"$output" 2>"$work/$name.err"
  status=$?
  printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - start))" >>"$steps_file"
  [[ $status -eq 124 ]] && echo "$name ran past ${seconds}s and was stopped"
  [[ $status -ne 0 ]] && tail -n 5 "$work/$name.err"
  return 0
}

model_args=(--batch 128 --resolution 224 --seconds-per-row "$seconds_per_row")
torch_args=(--device cuda "${model_args[@]}")
if [[ "$gpu_name" == "none" ]]; then  # script check only: PyTorch on the CPU, tiny
  torch_args=(--device cpu --batch 2 --resolution 64 --warmup 1 --steps 2 --rounds 1 --seconds-per-row 1)
fi
run_step device_info 60 "$work/device.json" "$build/bench/cuda_device_info"
run_step pneuma_train_step "$(limit 300 120)" "$work/pneuma.jsonl" "$build/bench/cuda_train_step" "${model_args[@]}"
run_step pytorch_train_step "$(limit 200 90)" "$work/pytorch.jsonl" env PYTHONUNBUFFERED=1 "$python" \
  "$repo/bench/torch_gpu_train_step.py" "${torch_args[@]}"
# The layer rows in two processes, so a time-out loses at most one network's rows (the report is written at exit).
for net in mbv2 effv2s; do
  filter="^(device_copy|$net/)"
  [[ -n "$conv_filter" ]] && filter="^(device_copy|$net/.*($conv_filter))"
  reserve=$([[ $net == mbv2 ]] && echo 100 || echo 15)
  run_step "conv_layers_$net" "$(limit "$reserve" 60)" "$work/conv-$net.console" "$build/bench/cuda_conv_layers" \
    --benchmark_filter="$filter" --benchmark_out="$work/conv-$net.json" --benchmark_out_format=json
done

# ---- the report ------------------------------------------------------------------------------------------------------
slug="$(echo "$gpu_name" | tr '[:upper:]' '[:lower:]' | sed 's/nvidia//; s/[^a-z0-9]\+/-/g; s/^-//; s/-$//')"
[[ -n "$slug" ]] || slug="unknown"
date_stamp="$(date -u +%Y-%m-%d)"
if [[ "$gpu_name" == "none" ]]; then report="$build/gpu-bench-no-gpu-$date_stamp.json"
else report="$repo/bench/results/$slug-$date_stamp.json"; fi
mkdir -p "$(dirname "$report")"
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$repo" status --porcelain 2>/dev/null | grep -qv '^??' && echo true || echo false)"
GPU_NAME="$gpu_name" DRIVER="$driver" GPU_MEMORY="$gpu_memory" CUDA_VERSION="$cuda_version" COMMIT="$commit" \
DIRTY="$dirty" BUILD_SECONDS="$build_seconds" CUDNN_ROOT_USED="$cudnn_root" WORK="$work" REPORT="$report" \
  "$python" "$repo/bench/gpu_bench_report.py"
report_status=$?
[[ $report_status -eq 2 ]] && fail "could not write the report"
echo "report: $report"
if [[ "$gpu_name" == "none" ]]; then echo "no GPU: nothing was measured on a GPU; the report only checks the script"; fi
exit $report_status
