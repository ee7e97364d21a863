#!/usr/bin/env bash
# tools/gpu_check.sh — the one command that checks pneuma's CUDA backend on a GPU machine (H100 / H200).
#
#   tools/gpu_check.sh [--deps DIR] [--build-dir DIR] [--jobs N] [--skip-sanitizer] [--allow-no-gpu]
#
# What it does, within PNEUMA_GPU_CHECK_BUDGET seconds (default 570; the test steps get what the build leaves):
#   1. configures and builds the CUDA tests for sm_90 (CMake option PNEUMA_GPU_CHECK_ONLY: the kernels, the
#      engine core, the models and tests/cuda — nothing that needs stb, libzip, HDF5, CLI11 or Google Benchmark);
#   2. runs every CUDA test (each CUDA op forward and backward against the CPU reference, optimizers, memory and
#      transfers, whole MobileNetV2 / EfficientNetV2-S training steps against the CPU);
#   3. runs compute-sanitizer --tool memcheck over the op tests;
#   4. writes one JSON report — device, driver, CUDA version, commit, each test's result and max error, the
#      memcheck summary — to bench/results/gpu-check-<device>-<date>.json, and prints a summary.
#
# Needs: an NVIDIA GPU and driver, the CUDA toolkit (nvcc; compute-sanitizer for step 3), CMake >= 3.25, a C++20
# compiler with OpenMP (g++ >= 12), python3 (to write the report), and two small libraries the system may lack:
# nlohmann_json (header-only) and GoogleTest. Without them, pass --deps DIR where DIR holds nlohmann/json.hpp (or
# include/nlohmann/json.hpp) and googletest/ (a googletest source tree, e.g. a release tarball unpacked); the
# script says which one is missing. Ninja is used when present.
#
# Options:
#   --deps DIR         where to find nlohmann_json headers and a googletest source tree (also $PNEUMA_DEPS_DIR)
#   --build-dir DIR    build folder (default: build-gpu-check in the repository)
#   --jobs N           parallel build jobs (default: all cores)
#   --skip-sanitizer   skip step 3
#   --allow-no-gpu     check the script itself on a machine without a GPU: every test skips and the report goes to
#                      the build folder instead of bench/results
# Exit status: 0 when every test passed and memcheck found no error, 1 when something failed, 2 when the check
# could not run (missing tool or library, no GPU, build error).
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="${PNEUMA_DEPS_DIR:-}"
build="$repo/build-gpu-check"
jobs="$(nproc 2>/dev/null || echo 4)"
sanitizer=1
allow_no_gpu=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --deps) deps="$(cd "$2" && pwd)" || { echo "gpu_check: --deps $2 is not a folder" >&2; exit 2; }; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --skip-sanitizer) sanitizer=0; shift ;;
    --allow-no-gpu) allow_no_gpu=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "gpu_check: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n== %s (%ds)\n' "$*" "$SECONDS"; }
budget="${PNEUMA_GPU_CHECK_BUDGET:-570}"  # seconds for the whole check; the test steps get what the build leaves
remaining() { echo $((budget - SECONDS)); }
fail() { printf 'gpu_check: error: %s\n' "$*" >&2; exit 2; }

# ---- tools -----------------------------------------------------------------------------------------------------
[[ -x /usr/local/cuda/bin/nvcc ]] && export PATH="$PATH:/usr/local/cuda/bin"
command -v nvcc >/dev/null || fail "nvcc not found: install the CUDA toolkit or put its bin/ folder on PATH"
command -v cmake >/dev/null || fail "cmake not found (pip install cmake works too)"
command -v python3 >/dev/null || fail "python3 not found (it writes the JSON report)"
command -v "${CXX:-c++}" >/dev/null || fail "no C++ compiler ('${CXX:-c++}'): install g++ 12 or newer"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cuda_version="$(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"

gpu_name="none" driver="none" gpu_memory=""
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  IFS=',' read -r gpu_name driver gpu_memory < <(nvidia-smi --query-gpu=name,driver_version,memory.total \
    --format=csv,noheader | head -n 1)
  gpu_name="$(echo "$gpu_name" | xargs)" driver="$(echo "$driver" | xargs)" gpu_memory="$(echo "$gpu_memory" | xargs)"
elif [[ $allow_no_gpu -eq 0 ]]; then
  fail "no NVIDIA GPU visible (nvidia-smi missing or failing); run this on the GPU machine, or pass --allow-no-gpu to check only the build"
fi
say "device: $gpu_name (driver $driver, $gpu_memory); CUDA $cuda_version; $jobs build jobs"

# ---- configure and build -----------------------------------------------------------------------------------------
say "configure ($build)"
mkdir -p "$build" || fail "cannot create the build folder $build"
cmake -S "$repo" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DPNEUMA_CUDA=ON \
  -DPNEUMA_GPU_CHECK_ONLY=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DPNEUMA_DEPS_DIR="$deps" >"$build/configure.log" 2>&1 ||
  { tail -n 30 "$build/configure.log" >&2; fail "configuration failed (full log: $build/configure.log)"; }
say "build (log: $build/build.log)"
start=$SECONDS
cmake --build "$build" -j "$jobs" --target pneuma_tests >"$build/build.log" 2>&1 ||
  { grep -E "error|Error" "$build/build.log" | head -n 30 >&2; fail "build failed (full log: $build/build.log)"; }
build_seconds=$((SECONDS - start))
tests="$build/tests/pneuma_tests"
echo "built in ${build_seconds}s"

# ---- the CUDA tests ------------------------------------------------------------------------------------------------
say "CUDA tests"
start=$SECONDS
test_limit=$(( $(remaining) - 120 ))
(( test_limit > 420 )) && test_limit=420
(( test_limit < 120 )) && test_limit=120
timeout "$test_limit" "$tests" --gtest_output="json:$build/tests.json" >"$build/tests.log" 2>&1
test_status=$?
test_seconds=$((SECONDS - start))
grep -E "^\[  FAILED  \] [A-Za-z]+\.|^\[==========\]|^\[  PASSED  \]" "$build/tests.log" | sort -u
echo "$(grep -c "^\[  SKIPPED \] .*(" "$build/tests.log") skipped; full log: $build/tests.log"
[[ $test_status -eq 124 ]] && echo "the tests ran past ${test_limit}s and were stopped"
[[ -f "$build/tests.json" ]] || fail "the test binary wrote no report (status $test_status; log: $build/tests.log)"

# ---- compute-sanitizer on the op tests -----------------------------------------------------------------------------
memcheck_filter='CudaActivation*:CudaBatchNorm*:CudaElementwise*:CudaPool*:CudaDropout*:CudaSoftmax*:CudaLoss*:CudaOptim*:CudaMemory*:CudaOps*:CudaConv*:CudaLinear*'
memcheck_status="skipped" memcheck_errors=-1 memcheck_seconds=0
if [[ $sanitizer -eq 1 && "$gpu_name" != "none" ]]; then
  sanitizer_tool="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
  if [[ -z "$sanitizer_tool" ]]; then
    echo "compute-sanitizer not found: memcheck skipped (it ships with the CUDA toolkit)"
    memcheck_status="not found"
  else
    say "compute-sanitizer --tool memcheck on the op tests"
    start=$SECONDS
    # No device cache: memcheck then sees each tensor's exact extent; each launch synchronises to name its kernel.
    memcheck_limit=$(( $(remaining) - 15 ))
    (( memcheck_limit < 60 )) && memcheck_limit=60
    PNEUMA_DEVICE_CACHE=0 PNEUMA_DEBUG_SYNC=1 timeout "$memcheck_limit" "$sanitizer_tool" --tool memcheck --leak-check no --print-limit 20 \
      "$tests" --gtest_filter="$memcheck_filter" >"$build/memcheck.log" 2>&1
    status=$?
    memcheck_seconds=$((SECONDS - start))
    memcheck_errors="$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) error.*/\1/p' "$build/memcheck.log" | tail -n 1)"
    if [[ $status -eq 124 ]]; then memcheck_status="timed out after ${memcheck_limit}s"; memcheck_errors=${memcheck_errors:--1}
    elif [[ -z "$memcheck_errors" ]]; then memcheck_status="no summary (status $status)"; memcheck_errors=-1
    elif [[ "$memcheck_errors" -eq 0 && $status -eq 0 ]]; then memcheck_status="clean"
    else memcheck_status="errors (status $status)"; fi
    grep -E "ERROR SUMMARY|Invalid|FAILED" "$build/memcheck.log" | head -n 20
  fi
fi

# ---- the report ----------------------------------------------------------------------------------------------------
slug="$(echo "$gpu_name" | tr '[:upper:]' '[:lower:]' | sed 's/nvidia//; s/[^a-z0-9]\+/-/g; s/^-//; s/-$//')"
[[ -n "$slug" ]] || slug="unknown"
date_stamp="$(date -u +%Y-%m-%d)"
if [[ "$gpu_name" == "none" ]]; then report="$build/gpu-check-no-gpu-$date_stamp.json"
else report="$repo/bench/results/gpu-check-$slug-$date_stamp.json"; fi
mkdir -p "$(dirname "$report")"
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$repo" status --porcelain 2>/dev/null | grep -qv '^??' && echo true || echo false)"
GPU_NAME="$gpu_name" DRIVER="$driver" GPU_MEMORY="$gpu_memory" CUDA_VERSION="$cuda_version" COMMIT="$commit" \
DIRTY="$dirty" BUILD_SECONDS="$build_seconds" TEST_SECONDS="$test_seconds" TEST_STATUS="$test_status" \
MEMCHECK_STATUS="$memcheck_status" MEMCHECK_ERRORS="$memcheck_errors" MEMCHECK_SECONDS="$memcheck_seconds" \
MEMCHECK_FILTER="$memcheck_filter" TESTS_JSON="$build/tests.json" REPORT="$report" python3 - <<'PY'
import datetime, json, math, os, tempfile

env = os.environ
with open(env["TESTS_JSON"]) as f:
    gtest = json.load(f)
tests, counts = [], {"passed": 0, "failed": 0, "skipped": 0}
for suite in gtest.get("testsuites", []):
    for case in suite.get("testsuite", []):
        if case.get("failures"):
            result = "failed"
        elif case.get("result") == "SKIPPED" or case.get("status") == "NOTRUN":
            result = "skipped"
        else:
            result = "passed"
        counts[result] += 1
        standard = {"name", "file", "line", "status", "result", "timestamp", "time", "classname", "failures"}
        properties = {k: v for k, v in case.items() if k not in standard}  # RecordProperty: errors, device facts
        entry = {"test": f"{suite['name']}.{case['name']}", "result": result, "seconds": case.get("time", "")}
        max_abs = [float(v) for k, v in properties.items() if k.startswith("max_abs_error.")]
        max_abs = [v for v in max_abs if math.isfinite(v)]
        if max_abs:
            entry["max_abs_error"] = max(max_abs)
        if properties:
            entry["properties"] = properties
        if case.get("failures"):
            entry["failures"] = [f.get("failure", "")[:2000] for f in case["failures"]]
        tests.append(entry)
report = {
    "kind": "pneuma gpu_check",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "device": {"name": env["GPU_NAME"], "driver": env["DRIVER"], "memory": env["GPU_MEMORY"]},
    "cuda_version": env["CUDA_VERSION"],
    "commit": env["COMMIT"],
    "uncommitted_changes": env["DIRTY"] == "true",
    "build_seconds": int(env["BUILD_SECONDS"]),
    "tests_seconds": int(env["TEST_SECONDS"]),
    "summary": counts,
    "memcheck": {"status": env["MEMCHECK_STATUS"], "errors": int(env["MEMCHECK_ERRORS"]),
                 "seconds": int(env["MEMCHECK_SECONDS"]), "filter": env["MEMCHECK_FILTER"]},
    "tests": tests,
}
directory = os.path.dirname(env["REPORT"])
with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as f:
    json.dump(report, f, indent=1)
    f.write("\n")
os.replace(f.name, env["REPORT"])
print(f"\n{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped; "
      f"memcheck: {env['MEMCHECK_STATUS']}")
for t in tests:
    if t["result"] == "failed":
        print(f"  FAILED {t['test']}")
PY
[[ $? -eq 0 ]] || fail "could not write the report"
echo "report: $report"

failed="$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['summary']['failed'])" "$report")"
if [[ "$failed" -ne 0 || $test_status -ne 0 ]]; then exit 1; fi
if [[ "$memcheck_status" != "clean" && "$memcheck_status" != "skipped" ]]; then exit 1; fi
if [[ "$gpu_name" == "none" ]]; then echo "no GPU: the tests that need one skipped; nothing on a GPU was verified"; fi
exit 0
