#!/usr/bin/env bash
# CPU benchmark, ours beside PyTorch in the same call on the same machine: the MobileNetV2 block stack of
# bench/cpu_block_stack.cpp (Google Benchmark) and bench/torch_cpu_block_stack.py (Debian's python3-torch), batch 8,
# 224×224, 1 and 2 threads, forward (inference) and one SGD training step. Writes
# bench/results/cpu-<host>-<date>.json with both sides' medians and the ratio PyTorch time / our time
# (> 1 means pneuma is faster; PyTorch's better memory layout of the two it offers is the baseline).
# Usage: bench/run_cpu_bench.sh [BUILD_DIR]   (default build/; needs scripts/install_deps.sh --with-torch)
# Run it on a quiet machine: check `uptime` first; the load average is recorded in the report.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
[ -x "$build/bench/cpu_block_stack" ] || { echo "run_cpu_bench.sh: build first ($build/bench/cpu_block_stack missing)" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "run_cpu_bench.sh: python3-torch missing (scripts/install_deps.sh --with-torch)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
load_before=$(cut -d' ' -f1 /proc/loadavg)
"$build/bench/cpu_block_stack" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_format=json --benchmark_out="$work/ours.json" --benchmark_out_format=json >/dev/null
/usr/bin/python3 bench/torch_cpu_block_stack.py --threads 1 2 --batch 8 --repeats 10 >"$work/torch.jsonl"
mkdir -p bench/results
out="bench/results/cpu-$(hostname)-$(date +%Y-%m-%d).json"
/usr/bin/python3 - "$work/ours.json" "$work/torch.jsonl" "$out" "$load_before" <<'PY'
import json, os, platform, sys
ours_path, torch_path, out_path, load_before = sys.argv[1:]
ours = json.load(open(ours_path))
rows = {}
for b in ours["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    what = "forward" if "Forward" in b["name"] else "train_step"
    threads = int(b["name"].split("threads:")[1].split("/")[0])
    rows[(what, threads)] = {"pneuma_ms": b["real_time"]}
torch_rows = [json.loads(line) for line in open(torch_path) if line.strip()]
for t in torch_rows:
    key = (t["what"], t["threads"])
    row = rows.setdefault(key, {})
    row[f"pytorch_{t['layout']}_ms"] = t["ms_median"]
    row["pytorch_version"] = t["version"]
results = []
for (what, threads), row in sorted(rows.items()):
    torch_best = min(v for k, v in row.items() if k.startswith("pytorch_") and k.endswith("_ms"))
    row.update(what=what, threads=threads, pytorch_best_ms=torch_best,
               speedup_vs_pytorch=torch_best / row["pneuma_ms"])
    results.append(row)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
report = {"machine": {"host": platform.node(), "cpu": cpu, "logical_cpus": os.cpu_count(),
                      "load_average_before": float(load_before),
                      "load_average_after": float(open("/proc/loadavg").read().split()[0])},
          "benchmark": "MobileNetV2 stem + stages (1,16,1,1)(6,24,2,2)(6,32,3,2), batch 8, 224x224, fp32",
          "results": results}
tmp = out_path + ".tmp"
json.dump(report, open(tmp, "w"), indent=2)
os.replace(tmp, out_path)
for r in results:
    print(f"{r['what']:10s} threads={r['threads']}  pneuma {r['pneuma_ms']:8.1f} ms   "
          f"pytorch(best layout) {r['pytorch_best_ms']:8.1f} ms   speedup {r['speedup_vs_pytorch']:.2f}x")
print("wrote", out_path)
PY
