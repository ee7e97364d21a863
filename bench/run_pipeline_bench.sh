#!/usr/bin/env bash
# Which one limits a CPU training run, the data loader or the training step? Runs, in the same call on the same
# machine, bench/data_loader_throughput (Kermany JPEGs decoded or read from the image cache, with and without the
# training augmentation, 1 and 2 threads) and bench/train_step_throughput (MobileNetV2 Adam steps, batch 32,
# fine-tune and frozen backbone, 1 and 2 threads), and writes bench/results/pipeline-<host>-<date>.json with both
# rates per resolution. Run it on a quiet machine (the load average is recorded).
# Usage: bench/run_pipeline_bench.sh [BUILD_DIR]   (default build/)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
for b in data_loader_throughput train_step_throughput; do
  [ -x "$build/bench/$b" ] || { echo "run_pipeline_bench.sh: build first ($build/bench/$b missing)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_WAIT_POLICY=PASSIVE
load_before=$(cut -d' ' -f1 /proc/loadavg)
"$build/bench/data_loader_throughput" --benchmark_format=json --benchmark_out="$work/loader.json" \
  --benchmark_out_format=json >/dev/null
"$build/bench/train_step_throughput" --benchmark_format=json --benchmark_out="$work/step.json" \
  --benchmark_out_format=json >/dev/null
mkdir -p bench/results
out="bench/results/pipeline-$(hostname)-$(date +%Y-%m-%d).json"
python3 - "$work/loader.json" "$work/step.json" "$out" "$load_before" <<'PY'
import json, os, platform, sys
loader_path, step_path, out_path, load_before = sys.argv[1:]
def rows(path):
    data = json.load(open(path))
    return data["context"], [{"label": b["label"], "images_per_s": round(b["images_per_s"], 1)}
                             for b in data["benchmarks"] if b.get("run_type") == "iteration"]
context, loader = rows(loader_path)
_, step = rows(step_path)
report = {"machine": {"host": platform.node(), "cpus": context.get("num_cpus"), "mhz": context.get("mhz_per_cpu"),
                      "load_average_before": float(load_before)},
          "data_loader": loader, "train_step_mobilenet_v2_batch32": step}
tmp = out_path + ".tmp"
with open(tmp, "w") as f:
    json.dump(report, f, indent=2)
os.replace(tmp, out_path)
print(f"{'data loader':40s} images/s")
for r in loader:
    print(f"  {r['label']:38s} {r['images_per_s']:10.1f}")
print(f"{'MobileNetV2 train step (batch 32)':40s} images/s")
for r in step:
    print(f"  {r['label']:38s} {r['images_per_s']:10.1f}")
print(f"wrote {out_path}")
PY
