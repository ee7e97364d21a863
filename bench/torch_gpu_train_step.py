#!/usr/bin/env python3
"""PyTorch eager baseline for bench/cuda_train_step.cpp: whole-model training throughput of torchvision's
mobilenet_v2 and efficientnet_v2_s (random init, 1000 classes, training mode with their default dropout and
stochastic depth), one step = forward + cross-entropy + backward + optimizer step on one fixed batch already on the
device, in channels_last memory format (NHWC, as pneuma), fp32 and bf16 mixed precision (torch.autocast, no loss
scaling: bf16 has fp32's range). bench/run_gpu_bench.sh runs it beside pneuma's side in the same call.

Method (the same as the C++ side): --warmup steps (cuDNN autotuning with cudnn.benchmark on, allocator warm), one
timed step to size the rounds, then --rounds rounds of n steps (n from --steps, lowered so a row stays near
--seconds-per-row), each timed on the host between two synchronisations; images/s from the median round. Memory:
torch.cuda.max_memory_allocated() since the model reached the device (tensor bytes, as pneuma's allocator peak),
max_memory_reserved(), and the device-wide memory in use at the end minus before the model was built
(torch.cuda.mem_get_info). PyTorch's own defaults for fp32 are kept (cuDNN convolutions may use TF32,
torch.backends.cudnn.allow_tf32; plain matmuls do not unless set) and recorded in each row.

Output: one JSON object per line on stdout, one per (model, precision), with versions. A row that fails (e.g. out of
memory) has "status": "error" and a "reason". Runs on the CPU too, for checking the script on a machine without a GPU:
  python3 bench/torch_gpu_train_step.py --device cpu --batch 2 --resolution 64 --steps 2 --warmup 1 --rounds 1
"""
import argparse
import gc
import json
import platform
import statistics
import sys
import time

import torch
import torchvision

MODELS = ("mobilenet_v2", "efficientnet_v2_s")
PRECISIONS = ("fp32", "bf16")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="comma-separated: fp32, bf16")
    parser.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    parser.add_argument("--memory-format", default="channels_last", choices=("channels_last", "contiguous"))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="steps per round at most")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds-per-row", type=float, default=20.0)
    args = parser.parse_args()
    args.models = [m for m in args.models.split(",") if m]
    args.precisions = [p for p in args.precisions.split(",") if p]
    for model in args.models:
        if model not in MODELS:
            parser.error(f"unknown model '{model}' (known: {', '.join(MODELS)})")
    for precision in args.precisions:
        if precision not in PRECISIONS:
            parser.error(f"unknown precision '{precision}' (known: {', '.join(PRECISIONS)})")
    for name in ("batch", "resolution", "warmup", "steps", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def versions(device):
    facts = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
    }
    if device.type == "cuda":
        facts["device_name"] = torch.cuda.get_device_name(device)
    return facts


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_bytes_in_use(device):
    free, total = torch.cuda.mem_get_info(device)
    return total - free


def measure(args, device, architecture, precision):
    row = {"side": "pytorch", "model": architecture, "precision": precision, "batch": args.batch,
           "resolution": args.resolution, "optimizer": args.optimizer, "memory_format": args.memory_format,
           "device": str(device)}
    memory_format = torch.channels_last if args.memory_format == "channels_last" else torch.contiguous_format
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        row["cudnn_benchmark"] = True
        row["cudnn_allow_tf32"] = torch.backends.cudnn.allow_tf32
        row["matmul_allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
        gc.collect()
        torch.cuda.empty_cache()
        synchronize(device)
        device_before = device_bytes_in_use(device)
    torch.manual_seed(2024)
    model = getattr(torchvision.models, architecture)(weights=None, num_classes=1000)
    row["parameters"] = sum(p.numel() for p in model.parameters())
    model = model.to(device=device, memory_format=memory_format)
    model.train()
    images = torch.randn(args.batch, 3, args.resolution, args.resolution, device=device)
    images = images.contiguous(memory_format=memory_format)
    targets = torch.tensor([(i * 7919) % 1000 for i in range(args.batch)], device=device)
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        row["optimizer_settings"] = "lr 0.01, momentum 0.9"
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        row["optimizer_settings"] = "lr 1e-3, betas (0.9, 0.999)"
    criterion = torch.nn.CrossEntropyLoss()
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        if precision == "bf16":
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                loss = criterion(model(images), targets)
        else:
            loss = criterion(model(images), targets)
        loss.backward()
        optimizer.step()
        return loss

    start = time.perf_counter()
    for _ in range(args.warmup):
        loss = step()
    synchronize(device)
    row["warmup_seconds"] = time.perf_counter() - start
    row["first_loss"] = loss.item()
    start = time.perf_counter()
    loss = step()
    synchronize(device)
    estimate = time.perf_counter() - start
    per_round = int(min(args.steps, max(2, args.seconds_per_row / args.rounds // estimate)))
    rounds = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            loss = step()
        synchronize(device)
        rounds.append((time.perf_counter() - start) / per_round)
    final_loss = loss.item()
    if final_loss != final_loss or abs(final_loss) == float("inf"):
        raise RuntimeError(f"the loss is not finite after training ({final_loss})")
    median = statistics.median(rounds)
    row.update(status="ok", steps_per_round=per_round, round_ms_per_step=[r * 1e3 for r in rounds],
               ms_per_step=median * 1e3, images_per_s=args.batch / median, final_loss=final_loss)
    if device.type == "cuda":
        row["peak_allocated_bytes"] = torch.cuda.max_memory_allocated(device)
        row["peak_reserved_bytes"] = torch.cuda.max_memory_reserved(device)
        row["device_memory_used_bytes"] = device_bytes_in_use(device) - device_before
    return row


def main():
    args = parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("torch_gpu_train_step.py: error: PyTorch sees no CUDA device (use --device cpu to check the script)",
              file=sys.stderr)
        return 2
    facts = versions(device)
    failures = 0
    for architecture in args.models:
        for precision in args.precisions:
            try:
                row = measure(args, device, architecture, precision)
            except Exception as error:  # one failed row (out of memory, an op missing on CPU) must not end the run
                row = {"side": "pytorch", "model": architecture, "precision": precision, "batch": args.batch,
                       "resolution": args.resolution, "status": "error", "reason": f"{type(error).__name__}: {error}"}
                failures += 1
            row["versions"] = facts
            print(json.dumps(row), flush=True)
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
