#!/usr/bin/python3
"""Writes tests/fixtures/optim_reference.json: PyTorch's optimizer trajectories and learning-rate sequences that
tests/engine/test_optimizers.cpp and test_lr_schedules.cpp compare against.

Run with Debian's interpreter (it has python3-torch 1.13):  /usr/bin/python3 tools/make_optim_reference.py

Optimizers: two parameters (a [3, 4] "weight" and a [4] "bias") in two groups — the weight with the config's
weight decay, the bias with weight decay 0 and an optional learning-rate multiplier — updated for 5 steps from
fixed per-step gradients. "gradients_with_gap" leaves the bias without a gradient on step 3 (index 2), so the
per-parameter step counts of Adam's bias correction are exercised. TensorFlow/Keras RMSprop variants (eps inside
the square root, optionally TF1's square average starting at 1) have no torch.optim equivalent; they are
computed here with torch float32 ops in PyTorch's RMSprop order.
"""
import json
import math
import os

import numpy as np
import torch

STEPS = 5
SHAPES = [[3, 4], [4]]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "tests", "fixtures", "optim_reference.json")


def floats(tensor):
    return [float(x) for x in tensor.detach().reshape(-1).tolist()]


def make_inputs():
    rng = np.random.default_rng(1234)
    initial = [rng.normal(0, 1, size=shape).astype(np.float32) for shape in SHAPES]
    gradients = [[rng.normal(0, 0.5, size=shape).astype(np.float32) for shape in SHAPES] for _ in range(STEPS)]
    with_gap = [list(step) for step in gradients]
    with_gap[2][1] = None
    return initial, gradients, with_gap


def torch_optimizer(config, weight, bias):
    kind, options = config["type"], dict(config["options"])
    lr = options.pop("learning_rate")
    bias_group = {"params": [bias], "weight_decay": config.get("bias_weight_decay", 0.0),
                  "lr": lr * config.get("bias_lr_multiplier", 1.0)}
    groups = [{"params": [weight], "weight_decay": options.pop("weight_decay", 0.0)}, bias_group]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=lr, **options)
    if kind in ("adam", "adamw"):
        betas = (options.pop("beta1"), options.pop("beta2"))
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        return cls(groups, lr=lr, betas=betas, **options)
    if kind == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, **options)
    raise ValueError(kind)


class TensorflowRmsprop:
    """RMSprop with eps inside the square root (TensorFlow/Keras), in torch.optim.RMSprop's operation order."""

    def __init__(self, config, weight, bias):
        o = config["options"]
        self.alpha, self.eps, self.momentum, self.centered = o["alpha"], o["eps"], o["momentum"], o["centered"]
        lr = o["learning_rate"]
        self.params = [(weight, lr, o["weight_decay"]),
                       (bias, lr * config.get("bias_lr_multiplier", 1.0), config.get("bias_weight_decay", 0.0))]
        self.state = [{"square_avg": torch.full_like(p, o["initial_square_average"]),
                       "momentum_buffer": torch.zeros_like(p), "grad_avg": torch.zeros_like(p)}
                      for p, _, _ in self.params]

    @torch.no_grad()
    def step(self):
        for (param, lr, weight_decay), state in zip(self.params, self.state):
            if param.grad is None:
                continue
            grad = param.grad
            if weight_decay != 0:
                grad = grad.add(param, alpha=weight_decay)
            square_avg = state["square_avg"]
            square_avg.mul_(self.alpha).addcmul_(grad, grad, value=1 - self.alpha)
            if self.centered:
                grad_avg = state["grad_avg"]
                grad_avg.mul_(self.alpha).add_(grad, alpha=1 - self.alpha)
                avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).add_(self.eps).sqrt_()
            else:
                avg = square_avg.add(self.eps).sqrt_()
            if self.momentum > 0:
                buf = state["momentum_buffer"]
                buf.mul_(self.momentum).addcdiv_(grad, avg)
                param.add_(buf, alpha=-lr)
            else:
                param.addcdiv_(grad, avg, value=-lr)


OPTIMIZERS = [
    {"name": "sgd_plain", "type": "sgd", "options": {"learning_rate": 0.1}},
    {"name": "sgd_momentum", "type": "sgd", "gradients": "with_gap",
     "options": {"learning_rate": 0.1, "momentum": 0.9}},
    {"name": "sgd_momentum_dampening", "type": "sgd",
     "options": {"learning_rate": 0.05, "momentum": 0.8, "dampening": 0.3}},
    {"name": "sgd_nesterov", "type": "sgd",
     "options": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}},
    {"name": "sgd_weight_decay", "type": "sgd", "bias_weight_decay": 0.02,
     "options": {"learning_rate": 0.1, "momentum": 0.5, "weight_decay": 0.05}},
    {"name": "adam", "type": "adam", "gradients": "with_gap",
     "options": {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}},
    {"name": "adam_weight_decay", "type": "adam", "bias_lr_multiplier": 0.5,
     "options": {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1}},
    {"name": "adamw", "type": "adamw", "bias_lr_multiplier": 0.5,
     "options": {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1}},
    {"name": "rmsprop_plain", "type": "rmsprop",
     "options": {"learning_rate": 0.01, "alpha": 0.99, "eps": 1e-8}},
    {"name": "rmsprop_momentum", "type": "rmsprop",
     "options": {"learning_rate": 0.01, "alpha": 0.9, "eps": 1e-8, "momentum": 0.9, "weight_decay": 0.01}},
    {"name": "rmsprop_centered", "type": "rmsprop",
     "options": {"learning_rate": 0.01, "alpha": 0.95, "eps": 1e-6, "momentum": 0.5, "centered": True}},
    {"name": "rmsprop_keras", "type": "rmsprop_tensorflow",
     "options": {"learning_rate": 0.01, "alpha": 0.9, "eps": 1e-3, "momentum": 0.0, "centered": False,
                 "weight_decay": 0.0, "initial_square_average": 0.0}},
    {"name": "rmsprop_tf1_momentum_centered", "type": "rmsprop_tensorflow",
     "options": {"learning_rate": 0.016, "alpha": 0.9, "eps": 1e-3, "momentum": 0.9, "centered": True,
                 "weight_decay": 1e-5, "initial_square_average": 1.0}},
]


def run_optimizer(config, initial, gradients):
    weight = torch.tensor(initial[0], requires_grad=True)
    bias = torch.tensor(initial[1], requires_grad=True)
    if config["type"] == "rmsprop_tensorflow":
        optimizer = TensorflowRmsprop(config, weight, bias)
    else:
        optimizer = torch_optimizer(config, weight, bias)
    trajectory = []
    for step_gradients in gradients:
        for param, grad in zip((weight, bias), step_gradients):
            param.grad = None if grad is None else torch.tensor(grad)
        optimizer.step()
        trajectory.append([floats(weight), floats(bias)])
    return trajectory


def lr_sequence(scheduler_factory, steps):
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = scheduler_factory(optimizer)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def schedules():
    out = {}
    out["step"] = {"base_lr": 0.1, "step_size": 3, "gamma": 0.5,
                   "rates": lr_sequence(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 12)}

    def warmup_cosine(o, warmup=5, total=20, start=0.1, eta_min=1e-3):
        linear = torch.optim.lr_scheduler.LinearLR(o, start_factor=start, end_factor=1.0, total_iters=warmup)
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total - warmup, eta_min=eta_min)
        return torch.optim.lr_scheduler.SequentialLR(o, [linear, cosine], milestones=[warmup])

    out["warmup_cosine"] = {"base_lr": 0.1, "total_steps": 20, "warmup_steps": 5, "warmup_start_factor": 0.1,
                            "min_lr": 1e-3, "rates": lr_sequence(warmup_cosine, 20)}
    out["cosine"] = {"base_lr": 0.1, "total_steps": 10, "warmup_steps": 0, "warmup_start_factor": 1.0, "min_lr": 0.0,
                     "rates": lr_sequence(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10), 10)}

    plateaus = []
    metrics_min = [1.0, 0.9, 0.85, 0.849, 0.851, 0.86, 0.84, 0.845, 0.846, 0.847, 0.848, 0.7, 0.71, 0.705, 0.702,
                   0.703, 0.7, 0.699, 0.698, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77, 0.78, 0.79, 0.8, 0.81, 0.82]
    plateaus.append({"name": "min_relative_cooldown", "base_lr": 0.1,
                     "options": {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 0.01,
                                 "threshold_mode": "rel", "cooldown": 1, "min_lr": 0.02, "eps": 1e-8},
                     "metrics": metrics_min})
    metrics_max = [0.5, 0.6, 0.62, 0.64, 0.7, 0.71, 0.72, 0.73, 0.80, 0.81, 0.79, 0.86, 0.86, 0.87, 0.88, 0.9, 0.91,
                   0.92, 0.93, 0.94]
    plateaus.append({"name": "max_absolute", "base_lr": 0.1,
                     "options": {"mode": "max", "factor": 0.3, "patience": 1, "threshold": 0.05,
                                 "threshold_mode": "abs", "cooldown": 0, "min_lr": 0.0, "eps": 1e-8},
                     "metrics": metrics_max})
    # eps larger than the reduction: the learning rate stops changing once a step would move it by < eps.
    plateaus.append({"name": "min_absolute_eps", "base_lr": 0.1,
                     "options": {"mode": "min", "factor": 0.5, "patience": 0, "threshold": 0.0,
                                 "threshold_mode": "abs", "cooldown": 2, "min_lr": 0.0, "eps": 0.01},
                     "metrics": [1.0] * 16})
    for plateau in plateaus:
        param = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([param], lr=plateau["base_lr"])
        o = plateau["options"]
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=o["mode"], factor=o["factor"], patience=o["patience"], threshold=o["threshold"],
            threshold_mode=o["threshold_mode"], cooldown=o["cooldown"], min_lr=o["min_lr"], eps=o["eps"])
        rates = []
        for metric in plateau["metrics"]:
            optimizer.step()
            scheduler.step(metric)
            rates.append(optimizer.param_groups[0]["lr"])
        plateau["rates"] = rates
    out["plateau"] = plateaus
    return out


def check_closed_form(warmup_cosine):
    """The C++ side uses the closed form; make sure PyTorch's recursive schedulers agree with it."""
    w = warmup_cosine
    for step, rate in enumerate(w["rates"]):
        if step < w["warmup_steps"]:
            expected = w["base_lr"] * (w["warmup_start_factor"] +
                                       (1 - w["warmup_start_factor"]) * step / w["warmup_steps"])
        else:
            t = (step - w["warmup_steps"]) / (w["total_steps"] - w["warmup_steps"])
            expected = w["min_lr"] + (w["base_lr"] - w["min_lr"]) * (1 + math.cos(math.pi * t)) / 2
        assert abs(rate - expected) <= 1e-12 + 1e-9 * abs(expected), (step, rate, expected)


def main():
    torch.set_num_threads(1)
    initial, gradients, with_gap = make_inputs()
    fixture = {
        "generated_by": "tools/make_optim_reference.py, torch " + torch.__version__,
        "steps": STEPS,
        "shapes": SHAPES,
        "initial": [[float(x) for x in p.reshape(-1)] for p in initial],
        "gradients": {
            "full": [[[float(x) for x in g.reshape(-1)] for g in step] for step in gradients],
            "with_gap": [[None if g is None else [float(x) for x in g.reshape(-1)] for g in step] for step in with_gap],
        },
        "optimizers": [],
    }
    for config in OPTIMIZERS:
        grads = with_gap if config.get("gradients") == "with_gap" else gradients
        entry = dict(config)
        entry.setdefault("gradients", "full")
        entry.setdefault("bias_weight_decay", 0.0)
        entry.setdefault("bias_lr_multiplier", 1.0)
        entry["trajectory"] = run_optimizer(config, initial, grads)
        fixture["optimizers"].append(entry)
    fixture["schedules"] = schedules()
    check_closed_form(fixture["schedules"]["warmup_cosine"])
    check_closed_form(fixture["schedules"]["cosine"])
    with open(OUTPUT, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUTPUT} ({os.path.getsize(OUTPUT)} bytes)")


if __name__ == "__main__":
    main()
