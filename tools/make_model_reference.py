#!/usr/bin/python3
"""Reference data for the model zoo (models/), read by tests/models/test_model_parity.cpp and
tests/models/test_model_names.cpp. Needs PyTorch 1.13 + torchvision 0.14 (Debian's /usr/bin/python3); the "timm"
layout needs timm too (e.g. a venv with --system-site-packages and `pip install --no-deps timm`).

Numerical reference (one safetensors file, written atomically by the small writer below):
    make_model_reference.py --arch mobilenet_v2 --resolution 64 --out ref.safetensors
        [--classes 10] [--width 1.0] [--padding symmetric|same] [--layout torchvision|timm] [--seed 0]
  builds the model the way torchvision (or timm) does, with its own random initialisation (torch.manual_seed),
  sets every BatchNorm's weight and bias to random values and its running statistics to those of another random
  batch (calibrate_batch_norms), and writes
    weight.<name>   every state_dict entry but num_batches_tracked (float32; conv weights OIHW -> ours OHWI)
    input           a seeded batch of 2 images, NCHW -> NHWC (float32)
    targets         i32 [2] class indices
    logits          eval-mode logits
    train_logits    train-mode logits (dropout and stochastic depth set to 0, BatchNorm on batch statistics)
    loss            mean cross-entropy of train_logits
    grad.<name>     d loss / d parameter, in our layout
  The outputs are PyTorch's in float64 from the float32 weights and images; the metadata's gradient_sensitivity
  says how far the gradients move under a 1e-6 relative perturbation of the parameters (see numerical_reference).
  --padding same replaces PyTorch's padding of every stride-2 convolution by an F.pad the TensorFlow way (the odd
  pixel after) in front of it; stride-1 odd-kernel convolutions pad the same either way.

Names and shapes (no numbers):
    make_model_reference.py --arch efficientnet_b0 --names-only --out names.txt [--classes N] [--width W] [--layout L]
  writes one line "name d0,d1,..." per state_dict entry (num_batches_tracked left out; our layout's shapes).
    make_model_reference.py --digest-table --out tests/fixtures/models/state_dict_digests.txt
  writes, for every architecture the zoo mirrors, "architecture width layout classes tensors parameters digest",
  where digest is the 64-bit FNV-1a (hex) of the names-only text; the test recomputes it from our models.

Architectures: mobilenet_v2, efficientnet_b0..b7, efficientnet_v2_s/m/l (torchvision) and efficientnet_v2_b0..b3:
layout "timm" is timm's tf_efficientnetv2_b0..b3; layout "torchvision" builds torchvision's EfficientNet class from
the stage table of Keras' EfficientNetV2B0..B3 (written out below, independently of models/efficientnet_v2.cpp).
"""
import argparse
import copy
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models import efficientnet as tv_efficientnet

SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int32: "I32"}


def write_safetensors(path, tensors, metadata):
    """u64 little-endian header length, JSON header (padded with spaces to 8 bytes), packed little-endian data;
    written to a temporary file that is renamed over `path`."""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous().cpu()
        array = tensor.numpy()
        blob = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    temporary = "%s.tmp-%d" % (path, os.getpid())
    with open(temporary, "wb") as file:
        file.write(struct.pack("<Q", len(text)))
        file.write(text)
        for blob in blobs:
            file.write(blob)
    os.replace(temporary, path)


def write_text(path, text):
    temporary = "%s.tmp-%d" % (path, os.getpid())
    with open(temporary, "w") as file:
        file.write(text)
    os.replace(temporary, path)


def ours(tensor):
    """Our layout: conv weights OIHW -> OHWI; everything else unchanged."""
    return tensor.permute(0, 2, 3, 1) if tensor.dim() == 4 else tensor


# ---- building the reference models --------------------------------------------------------------------------------
def keras_round_filters(filters, width):
    """Keras' EfficientNetV2 round_filters (= timm's round_channels with round_limit 0)."""
    return max(8, int(filters * width + 4) // 8 * 8)


# Keras' EfficientNetV2B0..B3 blocks: (fused, expand, kernel, stride, in, out, repeats); SE 0.25 on MBConv stages.
V2_B_BLOCKS = [(True, 1, 3, 1, 32, 16, 1), (True, 4, 3, 2, 16, 32, 2), (True, 4, 3, 2, 32, 48, 2),
               (False, 4, 3, 2, 48, 96, 3), (False, 6, 3, 1, 96, 112, 5), (False, 6, 3, 2, 112, 192, 8)]
V2_B_SCALING = {"b0": (1.0, 1.0), "b1": (1.0, 1.1), "b2": (1.1, 1.2), "b3": (1.2, 1.4)}


def torchvision_v2_b(size, classes):
    width, depth = V2_B_SCALING[size]
    setting = []
    for fused, expand, kernel, stride, cin, cout, repeats in V2_B_BLOCKS:
        cin, cout = keras_round_filters(cin, width), keras_round_filters(cout, width)
        repeats = int(math.ceil(repeats * depth))
        if fused:
            setting.append(tv_efficientnet.FusedMBConvConfig(expand, kernel, stride, cin, cout, repeats))
        else:
            setting.append(tv_efficientnet.MBConvConfig(expand, kernel, stride, cin, cout, repeats))
    norm = lambda channels: torch.nn.BatchNorm2d(channels, eps=1e-3)
    return tv_efficientnet.EfficientNet(setting, dropout=0.2, num_classes=classes,
                                        last_channel=keras_round_filters(1280, width), norm_layer=norm)


def build(arch, classes, width, layout):
    if layout == "timm":
        if not arch.startswith("efficientnet_v2_b"):
            sys.exit("layout timm: only efficientnet_v2_b0..b3 (timm's tf_efficientnetv2_b0..b3)")
        import timm
        return timm.create_model("tf_" + arch.replace("efficientnet_v2_", "efficientnetv2_"), num_classes=classes)
    if arch == "mobilenet_v2":
        return torchvision.models.mobilenet_v2(width_mult=width, num_classes=classes)
    if width != 1.0:
        sys.exit("--width is for mobilenet_v2 only")
    if arch.startswith("efficientnet_v2_b"):
        return torchvision_v2_b(arch[len("efficientnet_v2_"):], classes)
    if arch.startswith("efficientnet_"):
        return getattr(torchvision.models, arch)(num_classes=classes)
    sys.exit("unknown architecture " + arch)


def tf_same_pad_hook(module, inputs):
    """F.pad the TensorFlow SAME way (odd pixel at the bottom/right) before a stride-2 conv whose own padding is 0."""
    (x,) = inputs
    pads = []
    for size, kernel, stride in reversed(list(zip(x.shape[2:], module.kernel_size, module.stride))):
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return (F.pad(x, pads),)


def use_tf_same_padding(model):
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d) and module.stride != (1, 1):
            module.padding = (0, 0)
            module.register_forward_pre_hook(tf_same_pad_hook)


def disable_dropout(model):
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if type(module).__name__ in ("StochasticDepth", "DropPath"):
            for attribute in ("p", "drop_prob"):
                if hasattr(module, attribute):
                    setattr(module, attribute, 0.0)
        if hasattr(module, "drop_rate"):  # timm's EfficientNet applies its classifier dropout functionally
            module.drop_rate = 0.0


def calibrate_batch_norms(model, images):
    """Sets every BatchNorm's running statistics to those of `images` (a batch other than the test batch) by one
    train-mode pass with cumulative averaging. Eval mode then stays well conditioned whatever the framework's
    initialisation (timm's depthwise init with arbitrary statistics lets activations grow ~10^4 and float32 alone
    moves the logits by 10%), and the statistics still differ from the test batch's, so eval really uses them."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        model(images)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum


def state_entries(model):
    return [(name, tensor) for name, tensor in model.state_dict().items() if not name.endswith("num_batches_tracked")]


def names_text(model):
    return "".join("%s %s\n" % (name, ",".join(str(d) for d in ours(t).shape)) for name, t in state_entries(model))


def fnv1a64(text):
    value = 0xcbf29ce484222325
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % value


# ---- modes --------------------------------------------------------------------------------------------------------
PERTURBATION = 1e-6  # relative, on every parameter: about what float32 rounding does to a deep network


def prepared_model(args):
    """The reference model with its own seeded initialisation, random BatchNorm affine parameters and calibrated
    running statistics, and a seeded batch of images and targets."""
    torch.manual_seed(args.seed)
    model = build(args.arch, args.classes, args.width, args.layout)
    if args.padding == "same" and args.layout != "timm":
        use_tf_same_padding(model)
    disable_dropout(model)
    generator = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    images = torch.randn(2, 3, args.resolution, args.resolution, generator=generator)
    targets = torch.randint(0, args.classes, (2,), generator=generator)
    calibrate_batch_norms(model, torch.randn(4, 3, args.resolution, args.resolution, generator=generator) * 1.5)
    return model, images, targets


def run(model, images, targets):
    """Eval-mode logits, then train-mode logits, loss and parameter gradients."""
    model.eval()
    with torch.no_grad():
        logits = model(images)
    model.train()
    train_logits = model(images)
    loss = F.cross_entropy(train_logits, targets)
    loss.backward()
    gradients = {name: parameter.grad for name, parameter in model.named_parameters()}
    return {"logits": logits, "train_logits": train_logits, "loss": loss.detach().reshape([])}, gradients


def gradient_change(gradients, reference):
    """Worst relative change of a gradient, each measured against max(its own max |g|, 1e-4 · the largest)."""
    largest = max(g.abs().max().item() for g in reference.values())
    return max((gradients[name] - g).abs().max().item() / max(g.abs().max().item(), 1e-4 * largest)
               for name, g in reference.items())


def numerical_reference(args):
    """Everything in float64 (weights as float32, which converts exactly). The metadata's gradient_sensitivity is how
    far the gradients move when every parameter is perturbed by a relative 1e-6 (worst of two perturbations): small
    for smooth networks (SiLU), up to ~10% for ReLU6 networks whose train-mode batch norms see few values, where a
    float32 comparison of gradients means nothing — the test then checks gradients in float64 only."""
    model, images, targets = prepared_model(args)
    tensors = {"weight." + name: ours(t).clone() for name, t in state_entries(model)}
    outputs, gradients = run(copy.deepcopy(model).double(), images.double(), targets)
    sensitivity = 0.0
    for k in range(2):
        perturbed = copy.deepcopy(model).double()
        generator = torch.Generator().manual_seed(1000 + k)
        with torch.no_grad():
            for parameter in perturbed.parameters():
                noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
                parameter.mul_(1 + PERTURBATION * noise)
        sensitivity = max(sensitivity, gradient_change(run(perturbed, images.double(), targets)[1], gradients))

    tensors["input"] = images.permute(0, 2, 3, 1)
    tensors["targets"] = targets.to(torch.int32)
    tensors.update(outputs)
    for name, gradient in gradients.items():
        tensors["grad." + name] = ours(gradient)
    metadata = {"arch": args.arch, "resolution": str(args.resolution), "classes": str(args.classes),
                "width": str(args.width), "padding": args.padding, "layout": args.layout, "seed": str(args.seed),
                "gradient_sensitivity": "%.6g" % sensitivity, "generator": "tools/make_model_reference.py",
                "torch": torch.__version__}
    write_safetensors(args.out, tensors, metadata)


def digest_table(args):
    rows = [("mobilenet_v2", w, "torchvision") for w in (0.35, 0.5, 0.75, 1.0, 1.4)]
    rows += [("efficientnet_b%d" % i, 1.0, "torchvision") for i in range(8)]
    rows += [("efficientnet_v2_" + s, 1.0, "torchvision") for s in ("s", "m", "l", "b0", "b1", "b2", "b3")]
    rows += [("efficientnet_v2_b%d" % i, 1.0, "timm") for i in range(4)]
    lines = ["# architecture width layout classes tensors parameters fnv1a64(names-only text)",
             "# written by: tools/make_model_reference.py --digest-table --out <this file>",
             "#   (run with a python that has torch, torchvision and timm; here torch %s, torchvision %s)" % (torch.__version__,
                                                                                 torchvision.__version__)]
    for arch, width, layout in rows:
        model = build(arch, 1000, width, layout)
        entries = state_entries(model)
        parameters = sum(p.numel() for p in model.parameters())
        lines.append("%s %g %s 1000 %d %d %s" % (arch, width, layout, len(entries), parameters,
                                                  fnv1a64(names_text(model))))
    write_text(args.out, "\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--padding", choices=("symmetric", "same"), default="symmetric")
    parser.add_argument("--layout", choices=("torchvision", "timm"), default="torchvision")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--names-only", action="store_true")
    parser.add_argument("--digest-table", action="store_true")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the work is small; more threads only spin on a busy machine
    if args.digest_table:
        digest_table(args)
    elif not args.arch:
        parser.error("--arch is required")
    elif args.names_only:
        write_text(args.out, names_text(build(args.arch, args.classes, args.width, args.layout)))
    else:
        numerical_reference(args)


if __name__ == "__main__":
    main()
