#!/usr/bin/env python3
"""Writes the report of bench/run_gpu_bench.sh from the files its steps left in $WORK, and prints a summary table.

Inputs (missing or broken ones become "missing" notes, never a crash): device.json (bench/cuda_device_info),
pneuma.jsonl (bench/cuda_train_step), pytorch.jsonl (bench/torch_gpu_train_step.py), conv-<net>.json
(bench/cuda_conv_layers, Google Benchmark JSON), steps.tsv (step, exit status, seconds) and <step>.err.
Facts from the shell come in the environment (GPU_NAME, DRIVER, GPU_MEMORY, CUDA_VERSION, COMMIT, DIRTY,
BUILD_SECONDS, CUDNN_ROOT_USED); the report goes to $REPORT (temporary file + rename).

Ratios: speedup_vs_cudnn = cuDNN time / pneuma time and speedup_vs_pytorch = pneuma images/s / PyTorch images/s
(> 1: pneuma is faster); memory_vs_pytorch = pneuma peak allocated / PyTorch peak allocated (< 1: pneuma uses less).
Exit status: 0 when every step succeeded, 1 when one failed or timed out, 2 when the report could not be written.
"""
import datetime
import json
import os
import re
import statistics
import sys
import tempfile

RUN_OPTION = re.compile(r"^((min_time|min_warmup_time|iterations|repeats|threads):.*|manual_time|real_time|process_time)$")
UNIT_TO_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
# The targets (H100): depthwise passes against the copy bandwidth, whole models against PyTorch.
DEPTHWISE_COPY_TARGET = {"forward": 0.70, "backward_input": 0.70, "backward_weight": 0.50}
MODEL_TARGET = {"fp32": 1.0, "bf16": 1.3}


def load_json(path, notes):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        notes.append(f"{os.path.basename(path)}: {error}")
        return None


def load_json_lines(path, notes):
    rows = []
    try:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError as error:
                        notes.append(f"{os.path.basename(path)} line {number}: {error}")
    except OSError as error:
        notes.append(f"{os.path.basename(path)}: {error}")
    return rows


def read_steps(work):
    steps = {}
    try:
        with open(os.path.join(work, "steps.tsv")) as f:
            for line in f:
                name, status, seconds = line.rstrip("\n").split("\t")
                entry = {"exit_status": int(status), "seconds": int(seconds),
                         "result": "ok" if status == "0" else "timed out" if status == "124" else "failed"}
                try:
                    with open(os.path.join(work, name + ".err")) as err:
                        tail = err.read().strip().splitlines()[-5:]
                    if tail and status != "0":
                        entry["stderr_tail"] = tail
                except OSError:
                    pass
                steps[name] = entry
    except OSError:
        pass
    return steps


def layer_rows(work, notes):
    """Per-layer rows paired native / cuDNN, and the copy bandwidth the layer runs measured."""
    pairs, copy_gbps = {}, []
    for net in ("mbv2", "effv2s"):
        path = os.path.join(work, f"conv-{net}.json")
        if not os.path.exists(path):
            notes.append(f"conv-{net}.json missing: the {net} layer step did not finish")
            continue
        data = load_json(path, notes)
        for b in (data or {}).get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            # Google Benchmark appends run options to the name (".../min_time:0.100/manual_time"); drop them.
            parts = [p for p in b["name"].split("/") if not RUN_OPTION.match(p)]
            if parts[0].startswith("device_copy"):
                if "GB/s" in b:
                    copy_gbps.append(b["GB/s"])
                continue
            if len(parts) != 4:
                continue
            net_name, layer, pass_name, impl = parts
            entry = pairs.setdefault((net_name, layer, pass_name),
                                     {"net": net_name, "layer": layer, "pass": pass_name,
                                      "depthwise": layer.startswith("dw")})
            if b.get("error_occurred"):
                entry[impl] = {"error": b.get("error_message", "error")}
                continue
            entry[impl] = {"time_us": b["real_time"] * UNIT_TO_US[b.get("time_unit", "ns")],
                           "gb_per_s": b.get("GB/s"), "tflop_per_s": b.get("TFLOP/s"),
                           "copy_fraction": b.get("copy_fraction"), "peak_fraction": b.get("peak_fraction")}
    rows = []
    for entry in pairs.values():
        native, cudnn = entry.get("native", {}), entry.get("cudnn", {})
        if "time_us" in native and "time_us" in cudnn:
            entry["speedup_vs_cudnn"] = cudnn["time_us"] / native["time_us"]
        rows.append(entry)
    return rows, copy_gbps


def depthwise_targets(rows):
    summary = {}
    for pass_name, target in DEPTHWISE_COPY_TARGET.items():
        chosen = [r for r in rows if r["depthwise"] and r["pass"] == pass_name and "time_us" in r.get("native", {})]
        if not chosen:
            continue
        fractions = [r["native"]["copy_fraction"] for r in chosen]
        versus = [r["speedup_vs_cudnn"] for r in chosen if "speedup_vs_cudnn" in r]
        summary[pass_name] = {
            "layers": len(chosen), "copy_fraction_target": target,
            "copy_fraction_min": min(fractions), "copy_fraction_median": statistics.median(fractions),
            "layers_at_target": sum(f >= target for f in fractions),
            "layers_compared_with_cudnn": len(versus), "layers_at_least_cudnn": sum(s >= 1 for s in versus),
            "speedup_vs_cudnn_min": min(versus) if versus else None,
            "met": all(f >= target for f in fractions) and len(versus) == len(chosen) and all(s >= 1 for s in versus),
        }
    return summary


def model_rows(pneuma, pytorch):
    keyed = {}
    for row in pneuma:
        side = "pneuma_" + row.get("conv_impl", "?")
        keyed.setdefault((row.get("model"), row.get("precision")), {})[side] = row
    for row in pytorch:
        keyed.setdefault((row.get("model"), row.get("precision")), {})["pytorch"] = row
    rows = []
    for (model, precision), sides in sorted(keyed.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        entry = {"model": model, "precision": precision}
        for key in ("batch", "resolution"):
            entry[key] = next((row[key] for row in sides.values() if key in row), None)
        for side, row in sides.items():
            entry[side] = {k: row[k] for k in ("status", "reason", "images_per_s", "ms_per_step", "round_ms_per_step",
                                                "steps_per_round", "peak_allocated_bytes", "peak_reserved_bytes",
                                                "device_memory_used_bytes", "parameters", "final_loss",
                                                "matmul_precision", "cudnn_allow_tf32", "memory_format")
                           if k in row}
        torch_rate = entry.get("pytorch", {}).get("images_per_s")
        torch_peak = entry.get("pytorch", {}).get("peak_allocated_bytes")
        for side in ("pneuma_native", "pneuma_cudnn"):
            ours = entry.get(side, {})
            if torch_rate and ours.get("images_per_s"):
                ours["speedup_vs_pytorch"] = ours["images_per_s"] / torch_rate
            if torch_peak and ours.get("peak_allocated_bytes"):
                ours["memory_vs_pytorch"] = ours["peak_allocated_bytes"] / torch_peak
        native = entry.get("pneuma_native", {})
        met = None  # not measured (a side missing, or pneuma's row absent)
        if "speedup_vs_pytorch" in native and "memory_vs_pytorch" in native and precision in MODEL_TARGET:
            met = native["speedup_vs_pytorch"] >= MODEL_TARGET[precision] and native["memory_vs_pytorch"] <= 1.0
        entry["target"] = {"speedup_vs_pytorch": MODEL_TARGET.get(precision), "peak_memory_vs_pytorch": 1.0,
                           "met": met}
        rows.append(entry)
    return rows


def fmt(value, pattern="{:.2f}"):
    return pattern.format(value) if isinstance(value, (int, float)) else "-"


def print_summary(report):
    device = report["device"]
    print(f"\n{device['name']} (driver {device['driver']}), CUDA {report['cuda_toolkit']}, "
          f"PyTorch {report['pytorch'].get('torch', '?')}; copy bandwidth {fmt(report['copy_bandwidth_gbps'], '{:.0f}')} GB/s")
    print(f"\n{'model':18s} {'precision':9s} {'pneuma native':>14s} {'pneuma cuDNN':>13s} {'PyTorch':>9s} "
          f"{'speedup':>8s} {'peak GiB ours':>14s} {'peak GiB torch':>15s}")
    for r in report["models"]:
        native, cudnn, torch = r.get("pneuma_native", {}), r.get("pneuma_cudnn", {}), r.get("pytorch", {})

        def rate(side):
            return fmt(side.get("images_per_s"), "{:.0f}") if side.get("status") == "ok" else side.get("status", "-")

        def gib(side):
            return fmt(side.get("peak_allocated_bytes", 0) / 2**30 if side.get("peak_allocated_bytes") else None)
        print(f"{str(r['model']):18s} {str(r['precision']):9s} {rate(native):>14s} {rate(cudnn):>13s} "
              f"{rate(torch):>9s} {fmt(native.get('speedup_vs_pytorch')):>8s} {gib(native):>14s} {gib(torch):>15s}")
    sizes = sorted({(r["batch"], r["resolution"]) for r in report["models"]}, key=str)
    print(f"(images/s at batch x resolution {', '.join(f'{b} x {s}' for b, s in sizes)}; "
          "speedup = pneuma native / PyTorch eager channels_last; peak = allocated tensor bytes)")
    if report["depthwise_targets"]:
        print(f"\n{'depthwise pass':16s} {'layers':>6s} {'copy frac min':>13s} {'median':>7s} {'target':>7s} "
              f"{'>= cuDNN':>9s} {'min speedup':>12s}")
        for pass_name, s in report["depthwise_targets"].items():
            print(f"{pass_name:16s} {s['layers']:6d} {s['copy_fraction_min']:13.2f} {s['copy_fraction_median']:7.2f} "
                  f"{s['copy_fraction_target']:7.2f} {s['layers_at_least_cudnn']:4d}/{s['layers_compared_with_cudnn']:<4d} "
                  f"{fmt(s['speedup_vs_cudnn_min']):>12s}")
    slowest = sorted((r for r in report["layers"] if "speedup_vs_cudnn" in r), key=lambda r: r["speedup_vs_cudnn"])[:8]
    if slowest:
        print("\nlayers furthest behind cuDNN (speedup = cuDNN time / pneuma time):")
        for r in slowest:
            print(f"  {r['net'] + '/' + r['layer'] + '/' + r['pass']:48s} pneuma {r['native']['time_us']:9.1f} us  "
                  f"cuDNN {r['cudnn']['time_us']:9.1f} us  speedup {r['speedup_vs_cudnn']:.2f}")
    for name, step in report["steps"].items():
        if step["result"] != "ok":
            print(f"step {name}: {step['result']} (exit {step['exit_status']}, {step['seconds']} s)")


def main():
    env = os.environ
    work = env["WORK"]
    notes = []
    device_path = os.path.join(work, "device.json")
    device_info = None
    if os.path.exists(device_path) and os.path.getsize(device_path) > 0:
        device_info = load_json(device_path, notes)
    else:
        notes.append("device.json empty or missing: bench/cuda_device_info did not run on a GPU")
    pneuma = load_json_lines(os.path.join(work, "pneuma.jsonl"), notes)
    pytorch = load_json_lines(os.path.join(work, "pytorch.jsonl"), notes)
    layers, conv_copy_gbps = layer_rows(work, notes)
    steps = read_steps(work)
    torch_versions = next((row["versions"] for row in pytorch if "versions" in row), {})
    copy_gbps = (device_info or {}).get("copy_gbps") or (statistics.median(conv_copy_gbps) if conv_copy_gbps else None)
    report = {
        "kind": "pneuma gpu_bench",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": {"name": env.get("GPU_NAME", "none"), "driver": env.get("DRIVER", "none"),
                   "memory": env.get("GPU_MEMORY", ""), "properties": device_info},
        "cuda_toolkit": env.get("CUDA_VERSION", ""),
        "cudnn_baseline_root": env.get("CUDNN_ROOT_USED") or "found by CMake (see the build's configure.log)",
        "pytorch": torch_versions,
        "commit": env.get("COMMIT", "unknown"),
        "uncommitted_changes": env.get("DIRTY") == "true",
        "build_seconds": int(env.get("BUILD_SECONDS", "0")),
        "copy_bandwidth_gbps": copy_gbps,
        "copy_bandwidth_gbps_in_layer_runs": conv_copy_gbps,
        "method": {
            "models": "torchvision mobilenet_v2 / efficientnet_v2_s, 1000 classes, random init, training mode; batch "
                      "128, 224x224, one fixed batch on the device; step = forward + cross-entropy + backward + SGD "
                      "(lr 0.01, momentum 0.9); median of rounds timed between device synchronisations",
            "pytorch": "eager, channels_last, cudnn.benchmark on; fp32 with PyTorch's default TF32 settings "
                       "(recorded per row); bf16 = torch.autocast(bfloat16)",
            "pneuma": "fp32 NHWC; matmul precision recorded per row (tf32 = tensor cores, as PyTorch's cuDNN "
                      "default); conv_impl native = pneuma's kernels, cudnn = the cuDNN/cuBLAS baselines",
            "layers": "bench/cuda_conv_layers: GPU time from CUDA events; GB/s = compulsory traffic / time; "
                      "copy_fraction = GB/s / copy bandwidth of the same run; peak_fraction = TFLOP/s / nominal "
                      "peak (fp32 FFMA for depthwise, dense TF32 otherwise)",
            "ratios": "speedup_vs_cudnn = cuDNN time / pneuma time; speedup_vs_pytorch = pneuma images/s / "
                      "PyTorch images/s; memory_vs_pytorch = pneuma peak allocated / PyTorch peak allocated",
        },
        "models": model_rows(pneuma, pytorch),
        "depthwise_targets": depthwise_targets(layers),
        "layers": sorted(layers, key=lambda r: (r["net"], r["layer"], r["pass"])),
        "steps": steps,
        "notes": notes,
    }
    directory = os.path.dirname(env["REPORT"])
    try:
        with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        os.replace(f.name, env["REPORT"])
    except OSError as error:
        print(f"gpu_bench_report: cannot write {env['REPORT']}: {error}", file=sys.stderr)
        return 2
    print_summary(report)
    return 0 if steps and all(s["result"] == "ok" for s in steps.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
