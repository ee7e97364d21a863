#!/usr/bin/python3
"""Reference data for the weights-import tests (tests/weights_import/). Needs PyTorch 1.13 + torchvision 0.14,
numpy and h5py (Debian's /usr/bin/python3; the pyenv `python3` has no torch).

1. Parity files, written at test time into the build folder by tests/weights_import/test_import_parity.cpp:
     make_import_reference.py parity --arch efficientnet_v2_s --resolution 64 --classes 10 \\
         [--padding symmetric|same] [--seed 0] --out-dir DIR
   builds the model the way torchvision does (torch.manual_seed, its own initialisation), gives every BatchNorm
   random weight, bias and running statistics, and writes
     DIR/<case>.pth                 torch.save(model.state_dict()) — PyTorch's own writer
     DIR/<case>.h5                  the same tensors as a Keras 2 save_weights file (h5py), under the names and in
                                    the layouts keras.applications uses (kernels HWIO, depthwise [H, W, C, 1], Dense
                                    [in, out], BatchNorm gamma/beta/moving_mean/moving_variance), with a weightless
                                    activation layer per block and, for EfficientNets, the Normalization layer Keras
                                    puts in front (mean/variance/count, to be skipped)
     DIR/<case>.reference.safetensors
                                    input (a seeded batch of 2, NHWC), logits (eval mode), train_logits and loss
                                    (train mode: batch statistics, dropout and stochastic depth 0, mean
                                    cross-entropy against targets), targets (i32), grad.<name> (d loss / d
                                    parameter, in our layout: conv OIHW -> OHWI)
   <case> is <arch>_<padding>_<resolution>. Architectures: mobilenet_v2, efficientnet_b0..b7,
   efficientnet_v2_s/m/l (torchvision's builders) and efficientnet_v2_b0..b3 (torchvision's EfficientNet class on
   the stage table of Keras' EfficientNetV2B0..B3, written out below). --padding same replaces PyTorch's padding of
   every stride-2 convolution by TensorFlow's SAME padding (F.pad in a forward pre-hook: the odd pixel after).

2. The committed fixture tests/fixtures/import/mobilenet_v2_tfslim_predictions.json:
     pneuma predict CKPT IMAGES... --save-inputs inputs.safetensors     # our preprocessing of the photos
     make_import_reference.py predictions --weights mobilenet_v2_1.0_224_tfslim.pth --inputs inputs.safetensors \\
         --images IMAGES... --out tests/fixtures/import/mobilenet_v2_tfslim_predictions.json
   runs torchvision's mobilenet_v2 with SAME padding on exactly the tensors our preprocessing produced and records,
   per image, the input's statistics (so the test notices if our preprocessing changes) and the probabilities of
   PyTorch's top 10 classes.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torchvision.models import efficientnet as tv_efficientnet

# ---- safetensors, written and read by the few lines here (no safetensors package) -----------------------------
DTYPES = {torch.float32: "F32", torch.int32: "I32"}


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset, blobs = 0, []
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous().cpu()
        raw = tensor.numpy().tobytes()
        header[name] = {"dtype": DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    temporary = path + ".tmp"
    with open(temporary, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    os.replace(temporary, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    start = 8 + length
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", name
        begin, end = entry["data_offsets"]
        out[name] = np.frombuffer(data[start + begin:start + end], dtype=np.float32).reshape(entry["shape"])
    return out


# ---- TensorFlow SAME padding for PyTorch convolutions -------------------------------------------------------------
def same_padding(size, kernel, stride, dilation):
    effective = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def use_same_padding(model):
    """Every stride-2 conv pads like TensorFlow's SAME (stride-1 odd kernels already do)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d) and module.stride[0] > 1:
            module.padding = (0, 0)

            def pad(conv, inputs):
                x = inputs[0]
                top, bottom = same_padding(x.shape[2], conv.kernel_size[0], conv.stride[0], conv.dilation[0])
                left, right = same_padding(x.shape[3], conv.kernel_size[1], conv.stride[1], conv.dilation[1])
                return (F.pad(x, (left, right, top, bottom)),)

            module.register_forward_pre_hook(pad)


# ---- models ---------------------------------------------------------------------------------------------------
def keras_round_filters(channels, width):
    """Keras' EfficientNetV2 round_filters (divisor 8, minimum 8, no 90% rule)."""
    return int(max(8, int(channels * width + 4) // 8 * 8))


def efficientnet_v2_b(variant, classes):
    width, depth = {"b0": (1.0, 1.0), "b1": (1.0, 1.1), "b2": (1.1, 1.2), "b3": (1.2, 1.4)}[variant]
    base = [("F", 1, 3, 1, 32, 16, 1), ("F", 4, 3, 2, 16, 32, 2), ("F", 4, 3, 2, 32, 48, 2),
            ("M", 4, 3, 2, 48, 96, 3), ("M", 6, 3, 1, 96, 112, 5), ("M", 6, 3, 2, 112, 192, 8)]
    settings = []
    for kind, expand, kernel, stride, cin, cout, repeats in base:
        args = (expand, kernel, stride, keras_round_filters(cin, width), keras_round_filters(cout, width),
                int(math.ceil(repeats * depth)))
        settings.append(tv_efficientnet.FusedMBConvConfig(*args) if kind == "F" else tv_efficientnet.MBConvConfig(*args))
    norm = lambda channels: torch.nn.BatchNorm2d(channels, eps=1e-3)  # noqa: E731 (as torchvision's V2 models)
    return tv_efficientnet.EfficientNet(settings, 0.2, 0.2, num_classes=classes, norm_layer=norm,
                                        last_channel=keras_round_filters(1280, width))


def build(arch, classes):
    if arch.startswith("efficientnet_v2_b"):
        return efficientnet_v2_b(arch[-2:], classes)
    return getattr(torchvision.models, arch)(num_classes=classes)


def randomise_batch_norms(model, generator):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                c = module.num_features
                module.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(c, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(c, generator=generator) + 0.5)


def no_regularisation(model):
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if type(module).__name__ == "StochasticDepth":
            module.p = 0.0


def ours(name, tensor):
    """A torchvision tensor in our layout: conv weights OIHW -> OHWI."""
    return tensor.permute(0, 2, 3, 1) if tensor.dim() == 4 else tensor


# ---- Keras names and layouts ------------------------------------------------------------------------------------
def keras_layers(arch, model):
    """[(keras layer name, [(weight name, numpy array in Keras layout)])] in the order Keras lists its layers."""
    layers = []

    def conv(name, module):
        w = module.weight.detach().numpy()
        if module.groups > 1:  # depthwise [C, 1, KH, KW] -> [KH, KW, C, 1]
            weights = [("depthwise_kernel", w.transpose(2, 3, 0, 1))]
        else:                  # OIHW -> HWIO
            weights = [("kernel", w.transpose(2, 3, 1, 0))]
        if module.bias is not None:
            weights.append(("bias", module.bias.detach().numpy()))
        layers.append((name, weights))

    def bn(name, module):
        layers.append((name, [("gamma", module.weight.detach().numpy()), ("beta", module.bias.detach().numpy()),
                              ("moving_mean", module.running_mean.numpy()),
                              ("moving_variance", module.running_var.numpy())]))

    def act(name):
        layers.append((name, []))

    def cna(sequence, conv_name, bn_name, activation_name=None):
        conv(conv_name, sequence[0])
        bn(bn_name, sequence[1])
        if activation_name:
            act(activation_name)

    features = model.features
    if arch == "mobilenet_v2":
        cna(features[0], "Conv1", "bn_Conv1", "Conv1_relu")
        for i in range(1, len(features) - 1):
            p = "expanded_conv" if i == 1 else f"block_{i - 1}"
            c = features[i].conv
            if len(c) == 4:
                cna(c[0], f"{p}_expand", f"{p}_expand_BN", f"{p}_expand_relu")
            dw = c[len(c) - 3]
            cna(dw, f"{p}_depthwise", f"{p}_depthwise_BN", f"{p}_depthwise_relu")
            conv(f"{p}_project", c[len(c) - 2])
            bn(f"{p}_project_BN", c[len(c) - 1])
        cna(features[-1], "Conv_1", "Conv_1_bn", "out_relu")
    else:
        layers.append(("normalization", [("mean", np.zeros(3, np.float32)), ("variance", np.ones(3, np.float32)),
                                         ("count", np.array(0, np.int64))]))
        cna(features[0], "stem_conv", "stem_bn", "stem_activation")
        depthwise = "dwconv2" if arch.startswith("efficientnet_v2") else "dwconv"
        for s in range(1, len(features) - 1):
            for j, block in enumerate(features[s]):
                p = f"block{s}{chr(97 + j)}_"
                parts = list(block.block)
                if type(block).__name__ == "FusedMBConv":
                    if len(parts) == 2:
                        cna(parts[0], p + "expand_conv", p + "expand_bn", p + "expand_activation")
                    cna(parts[-1], p + "project_conv", p + "project_bn")
                    continue
                if len(parts) == 4:
                    cna(parts.pop(0), p + "expand_conv", p + "expand_bn", p + "expand_activation")
                cna(parts[0], p + depthwise, p + "bn", p + "activation")
                conv(p + "se_reduce", parts[1].fc1)
                conv(p + "se_expand", parts[1].fc2)
                cna(parts[2], p + "project_conv", p + "project_bn")
        cna(features[-1], "top_conv", "top_bn", "top_activation")
    linear = model.classifier[1]
    layers.append(("predictions", [("kernel", linear.weight.detach().numpy().T), ("bias", linear.bias.detach().numpy())]))
    return layers


def write_keras_h5(path, layers):
    import h5py
    temporary = path + ".tmp"
    with h5py.File(temporary, "w") as f:
        f.attrs["layer_names"] = np.array([name.encode() for name, _ in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.11.0"
        for name, weights in layers:
            group = f.create_group(name)
            group.attrs["weight_names"] = np.array([f"{name}/{w}:0".encode() for w, _ in weights], dtype="S")
            for w, value in weights:
                group.create_dataset(f"{name}/{w}:0", data=np.ascontiguousarray(value))
    os.replace(temporary, path)


# ---- commands ---------------------------------------------------------------------------------------------------
def parity(args):
    case = f"{args.arch}_{args.padding}_{args.resolution}"
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed + 1)
    model = build(args.arch, args.classes)
    randomise_batch_norms(model, generator)
    os.makedirs(args.out_dir, exist_ok=True)
    base = os.path.join(args.out_dir, case)
    torch.save(model.state_dict(), base + ".pth.tmp")
    os.replace(base + ".pth.tmp", base + ".pth")
    write_keras_h5(base + ".h5", keras_layers(args.arch, model))

    if args.padding == "same":
        use_same_padding(model)
    no_regularisation(model)
    images = torch.randn(2, 3, args.resolution, args.resolution, generator=generator)
    targets = torch.randint(0, args.classes, (2,), generator=generator)
    model.eval()
    with torch.no_grad():
        logits = model(images)
    model.train()
    train_logits = model(images)
    loss = F.cross_entropy(train_logits, targets)
    loss.backward()
    tensors = {"input": images.permute(0, 2, 3, 1), "logits": logits, "train_logits": train_logits,
               "loss": loss.reshape([]), "targets": targets.to(torch.int32)}
    for name, parameter in model.named_parameters():
        tensors["grad." + name] = ours(name, parameter.grad)
    write_safetensors(base + ".reference.safetensors", tensors,
                      {"generator": "tools/make_import_reference.py", "arch": args.arch, "padding": args.padding,
                       "torch": torch.__version__, "torchvision": torchvision.__version__})
    print(f"{case}: {len(model.state_dict())} state_dict entries, loss {loss.item():.5f}")


def predictions(args):
    model = torchvision.models.mobilenet_v2(num_classes=1000)
    model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    use_same_padding(model)
    model.eval()
    inputs = torch.from_numpy(read_safetensors(args.inputs)["inputs"].copy()).permute(0, 3, 1, 2)
    assert inputs.shape[0] == len(args.images), "one input per image"
    with torch.no_grad():
        probabilities = F.softmax(model(inputs), dim=1)
    records = []
    for image, x, p in zip(args.images, inputs, probabilities):
        top = torch.topk(p, 10)
        records.append({"image": os.path.basename(image),
                        "input_mean": [round(float(v), 6) for v in x.mean(dim=(1, 2))],
                        "input_std": [round(float(v), 6) for v in x.std(dim=(1, 2))],
                        "top10": [[int(i), round(float(v), 6)] for v, i in zip(top.values, top.indices)]})
        print(f"{os.path.basename(image)}: top-1 {int(top.indices[0])} p={float(top.values[0]):.4f}")
    out = {"generator": "tools/make_import_reference.py predictions", "weights": os.path.basename(args.weights),
           "padding": "same (TensorFlow)", "torch": torch.__version__, "torchvision": torchvision.__version__,
           "preprocessing": "pneuma predict --save-inputs of the checkpoint imported with --normalization "
                            "minus_one_one --crop 0.875 --size 224",
           "images": records}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("parity")
    p.add_argument("--arch", required=True)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--padding", choices=["symmetric", "same"], default="symmetric")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(run=parity)
    q = commands.add_parser("predictions")
    q.add_argument("--weights", required=True)
    q.add_argument("--inputs", required=True)
    q.add_argument("--images", nargs="+", required=True)
    q.add_argument("--out", required=True)
    q.set_defaults(run=predictions)
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
