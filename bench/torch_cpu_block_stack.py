#!/usr/bin/env python3
"""PyTorch CPU baseline for bench/cpu_block_stack: the same MobileNetV2-like block stack, same shapes.

Stack (input 224x224x3): stem conv3x3 s2 3->32 + BN + ReLU6, then MobileNetV2's first inverted-residual stages
(expansion t, out channels c, repeats n, first stride s): (1,16,1,1) (6,24,2,2) (6,32,3,2), each block
1x1 expand + BN + ReLU6 (when t != 1), depthwise 3x3 + BN + ReLU6, 1x1 project + BN, residual when shapes allow.

Prints one JSON object per (threads, layout, measurement) line on stdout:
  {"framework": "pytorch", "threads": 1, "layout": "channels_last", "what": "forward", "batch": 8,
   "ms_median": ..., "images_per_s": ...}
Run with Debian's python3-torch: /usr/bin/python3 bench/torch_cpu_block_stack.py --threads 1 2 --batch 8
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn

STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2)]


class InvertedResidual(nn.Module):
    def __init__(self, inp, out, stride, expand):
        super().__init__()
        hidden = inp * expand
        layers = []
        if expand != 1:
            layers += [nn.Conv2d(inp, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                   nn.ReLU6(), nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and inp == out

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


def build_stack():
    layers = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()]
    channels = 32
    for expand, out, repeats, stride in STAGES:
        for i in range(repeats):
            layers.append(InvertedResidual(channels, out, stride if i == 0 else 1, expand))
            channels = out
    return nn.Sequential(*layers)


def time_it(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    for threads in args.threads:
        torch.set_num_threads(threads)
        for layout in ("channels_last", "contiguous"):
            memory_format = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            model = build_stack().to(memory_format=memory_format)
            x = torch.randn(args.batch, 3, args.resolution, args.resolution).to(memory_format=memory_format)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

            model.eval()
            def forward():
                with torch.no_grad():
                    model(x)
            seconds = time_it(forward, args.repeats)
            emit(threads, layout, "forward", args, seconds)

            model.train()
            def train_step():
                optimizer.zero_grad(set_to_none=True)
                loss = model(x).float().mean()
                loss.backward()
                optimizer.step()
            seconds = time_it(train_step, args.repeats)
            emit(threads, layout, "train_step", args, seconds)


def emit(threads, layout, what, args, seconds):
    print(json.dumps({"framework": "pytorch", "version": torch.__version__, "threads": threads, "layout": layout,
                      "what": what, "batch": args.batch, "resolution": args.resolution,
                      "ms_median": seconds * 1e3, "images_per_s": args.batch / seconds}), flush=True)


if __name__ == "__main__":
    main()
