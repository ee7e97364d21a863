#!/usr/bin/python3
"""Writes tests/fixtures/metrics/grad_cam_reference.json: Grad-CAM computed with PyTorch autograd on a tiny network
with fixed random weights, for tests/explain/test_grad_cam.cpp.

Network (PyTorch NCHW here; the JSON holds everything in OUR layout: image NHWC, conv weights [Cout, KH, KW, Cin]):
  features  = ReLU(conv3x3(1 -> 4, pad 1)) -> ReLU(conv3x3(4 -> 6, stride 2, pad 1))     image 1x13x10x1 -> A 1x7x5x6
  classify  = ReLU(conv1x1(6 -> 5)) -> global average pool -> linear(5 -> 3)
Grad-CAM of class c: A made a leaf, backward from logit c, w_k = mean over (y, x) of dlogit/dA_k,
cam = ReLU(sum_k w_k A_k), upsampled with F.interpolate(bilinear, align_corners=False) to 13x10, divided by its
maximum. Computed in float64. Run with Debian's /usr/bin/python3 (PyTorch 1.13).
"""
import json
import os

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "tests", "fixtures", "metrics", "grad_cam_reference.json")


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def main():
    torch.manual_seed(1234)
    dtype = torch.float64
    image = torch.rand(1, 1, 13, 10, dtype=dtype)
    w1, b1 = torch.randn(4, 1, 3, 3, dtype=dtype) * 0.6, torch.randn(4, dtype=dtype) * 0.1
    w2, b2 = torch.randn(6, 4, 3, 3, dtype=dtype) * 0.4, torch.randn(6, dtype=dtype) * 0.1
    w3, b3 = torch.randn(5, 6, 1, 1, dtype=dtype) * 0.5, torch.randn(5, dtype=dtype) * 0.1
    w4, b4 = torch.randn(3, 5, dtype=dtype), torch.randn(3, dtype=dtype) * 0.1

    def features(x):
        x = F.relu(F.conv2d(x, w1, b1, padding=1))
        return F.relu(F.conv2d(x, w2, b2, stride=2, padding=1))

    def classify(a):
        a = F.relu(F.conv2d(a, w3, b3))
        return F.linear(a.mean(dim=(2, 3)), w4, b4)

    with torch.no_grad():
        activation = features(image)
    cases = []
    for class_index in range(3):
        leaf = activation.clone().requires_grad_(True)
        logits = classify(leaf)
        logits[0, class_index].backward()
        weights = leaf.grad.mean(dim=(2, 3))[0]                          # [k]
        cam = F.relu((weights[None, :, None, None] * leaf.detach()).sum(dim=1, keepdim=True))  # [1, 1, h, w]
        upsampled = F.interpolate(cam, size=image.shape[2:], mode="bilinear", align_corners=False)[0, 0]
        heat_map = upsampled / upsampled.max() if upsampled.max() > 0 else upsampled
        cases.append({"class_index": class_index, "logit": float(logits[0, class_index]),
                      "channel_weights": flat(weights), "low_resolution": flat(cam[0, 0]),
                      "heat_map": flat(heat_map)})

    def ohwi(w):
        return w.permute(0, 2, 3, 1)

    document = {
        "generator": "tools/make_grad_cam_reference.py", "torch": torch.__version__,
        "image_shape": [1, 13, 10, 1], "feature_shape": [1, int(activation.shape[2]), int(activation.shape[3]), 6],
        "image": flat(image.permute(0, 2, 3, 1)),
        "weights": {"conv1.weight": flat(ohwi(w1)), "conv1.bias": flat(b1),
                    "conv2.weight": flat(ohwi(w2)), "conv2.bias": flat(b2),
                    "conv3.weight": flat(ohwi(w3)), "conv3.bias": flat(b3),
                    "linear.weight": flat(w4), "linear.bias": flat(b4)},
        "logits": flat(classify(activation)[0]),
        "cases": cases,
    }
    with open(OUTPUT + ".tmp", "w") as f:
        json.dump(document, f, separators=(",", ":"))
        f.write("\n")
    os.replace(OUTPUT + ".tmp", OUTPUT)
    print(f"wrote {OUTPUT} ({os.path.getsize(OUTPUT)} bytes)")


if __name__ == "__main__":
    main()
