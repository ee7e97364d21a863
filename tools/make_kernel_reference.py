#!/usr/bin/python3
"""Writes PyTorch reference numbers for the CPU loss and optimizer kernels into a C++ header.

Regenerate (Debian's python3-torch / python3-torchvision, PyTorch 1.13):
    /usr/bin/python3 tools/make_kernel_reference.py
which rewrites tests/fixtures/kernel_reference.h (read by tests/kernels/test_loss_kernels.cpp and
tests/kernels/test_optim_kernels.cpp). Inputs are fixed by a seeded generator, so the output only changes when
this script or PyTorch changes.

Contents:
  * losses (float64): value and d(loss)/d(logits) of torch.nn.functional.cross_entropy (with/without class
    weights and label smoothing), binary_cross_entropy_with_logits (with/without pos_weight),
    torchvision.ops.sigmoid_focal_loss (reduction='mean'), and the multi-class focal loss of kernels/loss.h
    written out in torch ops; gradients by autograd.
  * optimizers: a few steps of torch.optim.SGD / Adam / AdamW / RMSprop (foreach=False, the single-tensor path)
    on a fixed parameter vector with fixed per-step gradients, in float32 and float64.
"""
import os

import torch
import torch.nn.functional as F
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "tests", "fixtures", "kernel_reference.h")

LOSS_ROWS, LOSS_CLASSES = 5, 7
BINARY_ROWS, BINARY_CLASSES = 4, 6
OPTIM_COUNT, OPTIM_STEPS = 11, 4


def literal(value):
    return repr(float(value))


def array(name, values, ctype="double"):
    dtype = torch.int64 if ctype == "int32_t" else torch.float64  # never float32: lists would round-trip through it
    values = torch.as_tensor(values, dtype=dtype).flatten().tolist()
    items = [literal(v) if ctype != "int32_t" else str(int(v)) for v in values]
    lines = [", ".join(items[i:i + 5]) for i in range(0, len(items), 5)]
    body = ",\n    ".join(lines)
    return f"inline constexpr {ctype} {name}[] = {{\n    {body}}};\n"


def loss_inputs():
    generator = torch.Generator().manual_seed(20240611)
    logits = torch.randn(LOSS_ROWS, LOSS_CLASSES, generator=generator, dtype=torch.float64) * 2.5
    targets = torch.tensor([3, 0, 6, 5, 3])  # first and last class included, one class repeated
    class_weights = torch.rand(LOSS_CLASSES, generator=generator, dtype=torch.float64) * 1.5 + 0.25
    binary_logits = torch.randn(BINARY_ROWS, BINARY_CLASSES, generator=generator, dtype=torch.float64) * 2.0
    # Hard 0/1 targets in the first two rows, soft targets in the last two.
    binary_targets = torch.rand(BINARY_ROWS, BINARY_CLASSES, generator=generator, dtype=torch.float64)
    binary_targets[:2] = (binary_targets[:2] > 0.5).double()
    pos_weight = torch.rand(BINARY_CLASSES, generator=generator, dtype=torch.float64) * 3.0 + 0.2
    focal_alpha = torch.rand(LOSS_CLASSES, generator=generator, dtype=torch.float64) * 0.8 + 0.1
    return logits, targets, class_weights, binary_logits, binary_targets, pos_weight, focal_alpha


def value_and_grad(function, logits):
    x = logits.clone().requires_grad_(True)
    loss = function(x)
    loss.backward()
    return [loss.item()] + x.grad.flatten().tolist()


def multiclass_focal(logits, targets, alpha, gamma):
    log_p = F.log_softmax(logits, dim=1).gather(1, targets[:, None])[:, 0]
    weight = alpha[targets] if alpha is not None else torch.ones_like(log_p)
    return (-weight * (1 - log_p.exp()) ** gamma * log_p).mean()


def loss_section():
    logits, targets, class_weights, binary_logits, binary_targets, pos_weight, focal_alpha = loss_inputs()
    out = "// ---- losses: each case row is {loss, d(loss)/d(logits) row-major} ----\n"
    out += f"inline constexpr int kLossRows = {LOSS_ROWS}, kLossClasses = {LOSS_CLASSES};\n"
    out += array("kLossLogits", logits)
    out += array("kLossTargets", targets, "int32_t")
    out += array("kLossClassWeights", class_weights)
    out += array("kFocalAlpha", focal_alpha)

    out += "// cross_entropy cases: {weighted (0/1), label_smoothing}\n"
    ce_cases = [(0, 0.0), (0, 0.2), (1, 0.0), (1, 0.2), (1, 1.0)]
    out += array("kCrossEntropyCases", [v for case in ce_cases for v in case])
    ce_values = []
    for weighted, smoothing in ce_cases:
        weight = class_weights if weighted else None
        ce_values += value_and_grad(
            lambda x: F.cross_entropy(x, targets, weight=weight, label_smoothing=smoothing), logits)
    out += array("kCrossEntropyExpected", ce_values)

    out += "// focal_loss (multi-class) cases: {use alpha (0/1), gamma}\n"
    focal_cases = [(0, 0.0), (0, 2.0), (1, 2.0), (1, 0.5), (1, 1.0)]
    out += array("kFocalCases", [v for case in focal_cases for v in case])
    focal_values = []
    for use_alpha, gamma in focal_cases:
        alpha = focal_alpha if use_alpha else None
        focal_values += value_and_grad(lambda x: multiclass_focal(x, targets, alpha, gamma), logits)
    out += array("kFocalExpected", focal_values)

    out += f"inline constexpr int kBinaryRows = {BINARY_ROWS}, kBinaryClasses = {BINARY_CLASSES};\n"
    out += array("kBinaryLogits", binary_logits)
    out += array("kBinaryTargets", binary_targets)
    out += array("kBinaryPosWeight", pos_weight)
    bce_values = []
    for weighted in (0, 1):
        pw = pos_weight if weighted else None
        bce_values += value_and_grad(
            lambda x: F.binary_cross_entropy_with_logits(x, binary_targets, pos_weight=pw), binary_logits)
    out += "// bce_with_logits: without, then with pos_weight\n"
    out += array("kBceExpected", bce_values)

    out += "// binary focal (torchvision sigmoid_focal_loss, mean) cases: {alpha, gamma}\n"
    binary_focal_cases = [(0.25, 2.0), (-1.0, 0.0), (0.6, 1.5), (-1.0, 0.5), (0.25, 1.0)]
    out += array("kBinaryFocalCases", [v for case in binary_focal_cases for v in case])
    binary_focal_values = []
    for alpha, gamma in binary_focal_cases:
        binary_focal_values += value_and_grad(
            lambda x: torchvision.ops.sigmoid_focal_loss(x, binary_targets, alpha=alpha, gamma=gamma,
                                                         reduction="mean"), binary_logits)
    out += array("kBinaryFocalExpected", binary_focal_values)
    return out


# Optimizer configurations. Each row: kind (0 SGD, 1 Adam, 2 AdamW, 3 RMSprop) then the hyper-parameters in the
# order of the C++ structs: SGD {lr, momentum, dampening, weight_decay, nesterov}; Adam/AdamW {lr, beta1, beta2,
# eps, weight_decay}; RMSprop {lr, alpha, eps, weight_decay, momentum, centered}. Unused slots are 0.
OPTIMIZER_CASES = [
    (0, [0.1, 0.0, 0.0, 0.0, 0]),
    (0, [0.05, 0.9, 0.1, 0.01, 0]),
    (0, [0.05, 0.9, 0.0, 0.02, 1]),
    (1, [1e-2, 0.9, 0.999, 1e-8, 0.0]),
    (1, [3e-3, 0.8, 0.99, 1e-6, 0.05]),
    (2, [1e-2, 0.9, 0.999, 1e-8, 0.1]),
    (3, [1e-2, 0.99, 1e-8, 0.0, 0.0, 0]),
    (3, [5e-3, 0.9, 1e-6, 0.01, 0.8, 1]),
    (3, [1e-2, 0.95, 1e-8, 0.0, 0.5, 0]),
    (3, [1e-2, 0.9, 1e-8, 0.0, 0.0, 1]),
]
HYPER_SLOTS = 6


def make_optimizer(kind, h, params):
    if kind == 0:
        return torch.optim.SGD(params, lr=h[0], momentum=h[1], dampening=h[2], weight_decay=h[3],
                               nesterov=bool(h[4]), foreach=False)
    if kind == 1:
        return torch.optim.Adam(params, lr=h[0], betas=(h[1], h[2]), eps=h[3], weight_decay=h[4], foreach=False)
    if kind == 2:
        return torch.optim.AdamW(params, lr=h[0], betas=(h[1], h[2]), eps=h[3], weight_decay=h[4], foreach=False)
    return torch.optim.RMSprop(params, lr=h[0], alpha=h[1], eps=h[2], weight_decay=h[3], momentum=h[4],
                               centered=bool(h[5]), foreach=False)


def optimizer_section():
    generator = torch.Generator().manual_seed(7)
    initial = torch.randn(OPTIM_COUNT, generator=generator, dtype=torch.float64)
    gradients = torch.randn(OPTIM_STEPS, OPTIM_COUNT, generator=generator, dtype=torch.float64)
    # Make the inputs exactly representable in float32 so both precisions start from the same numbers.
    initial = initial.float().double()
    gradients = gradients.float().double()
    out = "// ---- optimizers: params after each step, [case][step][element] ----\n"
    out += f"inline constexpr int kOptimCount = {OPTIM_COUNT}, kOptimSteps = {OPTIM_STEPS};\n"
    out += f"inline constexpr int kOptimHyperSlots = {HYPER_SLOTS};\n"
    out += array("kOptimInitial", initial)
    out += array("kOptimGradients", gradients)
    out += "// {kind (0 SGD, 1 Adam, 2 AdamW, 3 RMSprop), hyper-parameters (see make_kernel_reference.py)}\n"
    rows = []
    for kind, h in OPTIMIZER_CASES:
        rows += [kind] + h + [0] * (HYPER_SLOTS - len(h))
    out += array("kOptimCases", rows)
    for dtype, suffix in ((torch.float32, "Float"), (torch.float64, "Double")):
        trajectory = []
        for kind, h in OPTIMIZER_CASES:
            param = torch.nn.Parameter(initial.to(dtype).clone())
            optimizer = make_optimizer(kind, h, [param])
            for step in range(OPTIM_STEPS):
                param.grad = gradients[step].to(dtype).clone()
                optimizer.step()
                trajectory += param.detach().double().tolist()
        out += array(f"kOptimExpected{suffix}", trajectory)
    return out


def main():
    torch.set_num_threads(1)
    text = ("// Generated by tools/make_kernel_reference.py with PyTorch " + torch.__version__ + " and torchvision " +
            torchvision.__version__ + ". Do not edit; rerun the script.\n#pragma once\n#include <cstdint>\n\n"
            "namespace pneuma::test_reference {\n")
    text += loss_section() + "\n" + optimizer_section()
    text += "}  // namespace pneuma::test_reference\n"
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w") as f:
        f.write(text)
    print(f"wrote {OUTPUT} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
