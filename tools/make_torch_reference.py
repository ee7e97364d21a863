#!/usr/bin/python3
"""Writes PyTorch reference fixtures for every op in engine/ops.h, read by tests/engine/test_torch_parity.cpp.

Regenerate (Debian's python3-torch / python3-torchvision, PyTorch 1.13; the pyenv `python3` has no torch):
    /usr/bin/python3 tools/make_torch_reference.py            # rewrites tests/fixtures/torch_reference/
    /usr/bin/python3 tools/make_torch_reference.py conv2d     # only the cases whose file name starts with conv2d
Each case seeds its own generator from its name, so adding or changing one case leaves the other files unchanged.

One safetensors file per case, tests/fixtures/torch_reference/<op>_<case>.safetensors (written by the few lines in
`write_safetensors` below, no safetensors package):
  __metadata__   {"op": <the engine/ops.h function>, "case": <case>, "params": <JSON of the op's parameters>,
                  "generator": "tools/make_torch_reference.py", "torch": <version>}
  input.<name>   every operand, named as in the engine/ops.h signature (x, weight, bias, a, b, logits, ...)
  output         the op's result
  grad_output    the random d(loss)/d(output) the backward pass starts from (a scalar 1 for losses)
  grad.<name>    d(loss)/d(input.<name>) for every differentiable operand
  after.<name>   state the op updates in place (batch-norm running statistics)
Everything is float32 computed by PyTorch in float32 (integer targets int64), in OUR layout: activations NHWC
(permuted from NCHW), conv weights [Cout, KH, KW, Cin/groups] (from OIHW), linear weights [out, in].
TensorFlow "SAME" padding is computed here with an explicit F.pad (the odd pixel at the bottom/right).
Dropout and drop-path draw from a different RNG than PyTorch's, so only their identity cases (p = 0, eval) exist.
"""
import json
import os
import struct
import sys
import zlib

import torch
import torch.nn.functional as F
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT_DIRECTORY = os.path.join(ROOT, "tests", "fixtures", "torch_reference")

# ---- the safetensors format -------------------------------------------------------------------------------------
SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int32: "I32", torch.int64: "I64",
                      torch.uint8: "U8"}


def write_safetensors(path, tensors, metadata):
    """u64 little-endian header length, JSON header (padded with spaces to 8 bytes), packed little-endian data."""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous().cpu()
        blob = tensor.numpy().astype(tensor.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)))
        file.write(text)
        for blob in blobs:
            file.write(blob)


# ---- layout helpers ---------------------------------------------------------------------------------------------
def nhwc(t):
    return t.permute(0, 2, 3, 1)


def nchw(t):
    return t.permute(0, 3, 1, 2)


def ohwi(w):  # PyTorch OIHW conv weight -> ours [Cout, KH, KW, Cin/groups]
    return w.permute(0, 2, 3, 1)


def same_padding(size, kernel, stride, dilation=1):
    """TensorFlow SAME for one axis: (before, after), the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def same_sides(height, width, kernel, stride, dilation=(1, 1)):
    top, bottom = same_padding(height, kernel[0], stride[0], dilation[0])
    left, right = same_padding(width, kernel[1], stride[1], dilation[1])
    return [top, left, bottom, right]


def pad_nchw(x, sides, value=0.0):
    top, left, bottom, right = sides
    return F.pad(x, (left, right, top, bottom), value=value)


# ---- case registry ----------------------------------------------------------------------------------------------
CASES = []


def case(op, name):
    def register(function):
        CASES.append((op, name, function))
        return function
    return register


class Recorder:
    """Collects one case: leaves (inputs), the op's output in our layout, and gradients by autograd."""

    def __init__(self, seed_name):
        self.generator = torch.Generator().manual_seed(zlib.crc32(seed_name.encode()))
        self.inputs = {}      # name -> tensor in OUR layout (a leaf when differentiable)
        self.leaves = {}      # name -> the leaf gradients are taken for
        self.extra = {}       # after.<name>

    def randn(self, *shape, scale=1.0):
        return torch.randn(tuple(shape), generator=self.generator) * scale

    def uniform(self, low, high, *shape):
        return torch.rand(tuple(shape), generator=self.generator) * (high - low) + low

    def leaf(self, name, value_ours, differentiable=True):
        """Registers an input given in our layout; returns the leaf (callers permute it to PyTorch's layout)."""
        value = value_ours.detach().clone().float() if value_ours.is_floating_point() else value_ours.clone()
        value.requires_grad_(differentiable and value.is_floating_point())
        self.inputs[name] = value
        if value.requires_grad:
            self.leaves[name] = value
        return value

    def finish(self, output_ours, loss=False):
        output_ours = output_ours.contiguous()
        tensors = {f"input.{n}": v for n, v in self.inputs.items()}
        tensors["output"] = output_ours.detach()
        if self.leaves:  # no gradients for the not-recorded helpers
            grad_output = torch.ones(()) if loss else self.randn(*output_ours.shape)
            tensors["grad_output"] = grad_output
            grads = torch.autograd.grad(output_ours, list(self.leaves.values()), grad_output, allow_unused=True)
            for name, grad in zip(self.leaves, grads):
                tensors[f"grad.{name}"] = grad if grad is not None else torch.zeros_like(self.leaves[name])
        for name, value in self.extra.items():
            tensors[f"after.{name}"] = value.detach()
        return tensors


# ---- conv2d and linear ------------------------------------------------------------------------------------------
def conv2d_case(r, batch, height, width, in_channels, out_channels, kernel, stride, padding, dilation, groups,
                bias):
    x = r.leaf("x", r.randn(batch, height, width, in_channels))
    weight = r.leaf("weight", r.randn(out_channels, kernel[0], kernel[1], in_channels // groups,
                                      scale=(in_channels // groups * kernel[0] * kernel[1]) ** -0.5))
    b = r.leaf("bias", r.randn(out_channels, scale=0.5)) if bias else None
    sides = same_sides(height, width, kernel, stride, dilation) if padding == "same" else padding
    y = F.conv2d(pad_nchw(nchw(x), sides), weight.permute(0, 3, 1, 2), b, stride=stride, dilation=dilation,
                 groups=groups)
    params = {"stride": list(stride), "padding": padding, "resolved_padding": sides, "dilation": list(dilation),
              "groups": groups}
    return r.finish(nhwc(y)), params


@case("conv2d", "stride2_same")
def _(r):
    return conv2d_case(r, 2, 8, 7, 3, 5, (3, 3), (2, 2), "same", (1, 1), 1, True)  # SAME pads (0, 1) rows


@case("conv2d", "depthwise_dilated")
def _(r):
    return conv2d_case(r, 2, 8, 9, 6, 6, (3, 3), (1, 1), [2, 2, 2, 2], (2, 2), 6, True)


@case("conv2d", "grouped_asymmetric")
def _(r):
    return conv2d_case(r, 1, 7, 10, 4, 6, (3, 2), (1, 2), [0, 1, 1, 0], (1, 1), 2, False)


@case("linear", "batch")
def _(r):
    x = r.leaf("x", r.randn(5, 7))
    weight = r.leaf("weight", r.randn(3, 7, scale=7 ** -0.5))
    bias = r.leaf("bias", r.randn(3))
    return r.finish(F.linear(x, weight, bias)), {}


@case("linear", "rank3_no_bias")
def _(r):
    x = r.leaf("x", r.randn(2, 3, 4))
    weight = r.leaf("weight", r.randn(6, 4, scale=0.5))
    return r.finish(F.linear(x, weight)), {}


# ---- batch norm ---------------------------------------------------------------------------------------------------
def batch_norm_case(r, shape, training, affine, running, momentum, eps):
    channels = shape[-1]
    x = r.leaf("x", r.randn(*shape, scale=2.0) + 0.5)
    gamma = r.leaf("gamma", r.uniform(0.5, 1.5, channels)) if affine else None
    beta = r.leaf("beta", r.randn(channels, scale=0.3)) if affine else None
    running_mean = running_variance = None
    if running:
        running_mean = r.leaf("running_mean", r.randn(channels, scale=0.2), differentiable=False).clone()
        running_variance = r.leaf("running_variance", r.uniform(0.5, 2.0, channels), differentiable=False).clone()
    flat = x.reshape(-1, channels)
    y = F.batch_norm(flat, running_mean, running_variance, gamma, beta, training=training, momentum=momentum,
                     eps=eps)
    if running and training:
        r.extra["running_mean"] = running_mean
        r.extra["running_variance"] = running_variance
    params = {"use_batch_statistics": training, "momentum": momentum, "eps": eps}
    return r.finish(y.reshape(shape)), params


@case("batch_norm", "training")
def _(r):
    return batch_norm_case(r, (2, 3, 5, 7), True, True, True, 0.1, 1e-5)


@case("batch_norm", "inference")
def _(r):
    return batch_norm_case(r, (2, 4, 3, 5), False, True, True, 0.1, 1e-3)


@case("batch_norm", "training_no_affine_no_running")
def _(r):
    return batch_norm_case(r, (3, 2, 2, 6), True, False, False, 0.01, 1e-3)


# ---- activations ------------------------------------------------------------------------------------------------
ACTIVATIONS = {
    "relu": F.relu,
    "relu6": F.relu6,
    "sigmoid": torch.sigmoid,
    "silu": F.silu,
    "hard_sigmoid": F.hardsigmoid,
    "hard_swish": F.hardswish,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "tanh": torch.tanh,
}


def activation_case(kind):
    def build(r):
        x = r.leaf("x", r.randn(3, 4, 5, scale=4.0))  # spans relu6's 6 and hard_*'s ±3
        return r.finish(ACTIVATIONS[kind](x)), {"kind": kind}
    return build


for _kind in ACTIVATIONS:
    case("activation", _kind)(activation_case(_kind))


# ---- squeeze-excitation pieces ----------------------------------------------------------------------------------
@case("global_avg_pool", "odd")
def _(r):
    x = r.leaf("x", r.randn(2, 5, 3, 7))
    return r.finish(x.mean(dim=(1, 2))), {}


@case("channel_scale", "odd")
def _(r):
    x = r.leaf("x", r.randn(2, 4, 3, 5))
    scale = r.leaf("scale", torch.sigmoid(r.randn(2, 5, scale=2.0)))
    return r.finish(x * scale[:, None, None, :]), {}


# ---- elementwise ------------------------------------------------------------------------------------------------
def binary_case(function, a_shape, b_shape, b_away_from_zero=False):
    def build(r):
        a = r.leaf("a", r.randn(*a_shape))
        b_value = r.randn(*b_shape)
        if b_away_from_zero:
            b_value = torch.sign(b_value) * (b_value.abs() + 0.5)
        b = r.leaf("b", b_value)
        return r.finish(function(a, b)), {}
    return build


case("add", "broadcast_channels")(binary_case(torch.add, (2, 3, 4, 5), (5,)))
case("add", "broadcast_both")(binary_case(torch.add, (3, 1, 5), (4, 1)))
case("subtract", "broadcast_both")(binary_case(torch.sub, (2, 3, 1), (1, 3, 4)))
case("multiply", "same_shape")(binary_case(torch.mul, (3, 5), (3, 5)))
case("multiply", "broadcast_middle")(binary_case(torch.mul, (2, 3, 4), (2, 1, 4)))
case("divide", "broadcast_rows")(binary_case(torch.div, (3, 4), (4,), b_away_from_zero=True))
case("divide", "broadcast_scalar")(binary_case(torch.div, (2, 3), (), b_away_from_zero=True))


@case("scale", "negative")
def _(r):
    x = r.leaf("x", r.randn(3, 5))
    return r.finish(x * -1.7), {"alpha": -1.7}


# ---- reductions and shape ---------------------------------------------------------------------------------------
@case("sum", "rank3")
def _(r):
    x = r.leaf("x", r.randn(3, 4, 5))
    return r.finish(x.sum()), {}


@case("mean", "rank3")
def _(r):
    x = r.leaf("x", r.randn(2, 3, 7))
    return r.finish(x.mean()), {}


@case("reshape", "infer")
def _(r):
    x = r.leaf("x", r.randn(2, 3, 4))
    return r.finish(x.reshape(4, -1)), {"shape": [4, -1]}


@case("flatten", "from_axis1")
def _(r):
    x = r.leaf("x", r.randn(2, 3, 4, 5))
    return r.finish(torch.flatten(x, 1)), {"start_axis": 1}


@case("flatten", "from_axis2")
def _(r):
    x = r.leaf("x", r.randn(2, 3, 4, 5))
    return r.finish(torch.flatten(x, 2)), {"start_axis": 2}


@case("concat", "three_axis1")
def _(r):
    parts = [r.leaf(f"x{i}", r.randn(2, rows, 4)) for i, rows in enumerate((3, 1, 5))]
    return r.finish(torch.cat(parts, dim=1)), {"axis": 1, "count": 3}


@case("concat", "channels_negative_axis")
def _(r):
    parts = [r.leaf(f"x{i}", r.randn(2, 2, 3, channels)) for i, channels in enumerate((2, 5))]
    return r.finish(torch.cat(parts, dim=-1)), {"axis": -1, "count": 2}


# ---- pooling ----------------------------------------------------------------------------------------------------
def pool_params(kernel, stride, padding, sides, count_include_pad=None):
    params = {"kernel": list(kernel), "stride": list(stride), "padding": padding, "resolved_padding": sides}
    if count_include_pad is not None:
        params["count_include_pad"] = count_include_pad
    return params


@case("max_pool2d", "k3_s2_pad1")
def _(r):
    x = r.leaf("x", r.randn(2, 9, 8, 3))
    y = F.max_pool2d(nchw(x), 3, 2, 1)
    return r.finish(nhwc(y)), pool_params((3, 3), (2, 2), [1, 1, 1, 1], [1, 1, 1, 1])


@case("max_pool2d", "k3_s2_same")
def _(r):
    x = r.leaf("x", r.randn(1, 8, 7, 4))
    sides = same_sides(8, 7, (3, 3), (2, 2))
    y = F.max_pool2d(pad_nchw(nchw(x), sides, value=float("-inf")), 3, 2)  # TF: padding never wins
    return r.finish(nhwc(y)), pool_params((3, 3), (2, 2), "same", sides)


@case("avg_pool2d", "k3_s2_pad1_include_pad")
def _(r):
    x = r.leaf("x", r.randn(2, 7, 8, 3))
    y = F.avg_pool2d(nchw(x), 3, 2, 1, count_include_pad=True)
    return r.finish(nhwc(y)), pool_params((3, 3), (2, 2), [1, 1, 1, 1], [1, 1, 1, 1], True)


@case("avg_pool2d", "k3_s2_same_exclude_pad")
def _(r):
    x = r.leaf("x", r.randn(2, 8, 7, 3))
    sides = same_sides(8, 7, (3, 3), (2, 2))
    # TF/Keras average: the window sum over the valid pixels only, as (sum pool of x) / (sum pool of ones).
    window_sum = F.avg_pool2d(pad_nchw(nchw(x), sides), 3, 2) * 9
    counts = F.avg_pool2d(pad_nchw(torch.ones(1, 1, 8, 7), sides), 3, 2) * 9
    return r.finish(nhwc(window_sum / counts)), pool_params((3, 3), (2, 2), "same", sides, False)


@case("avg_pool2d", "k2_s2_odd_floor")
def _(r):
    x = r.leaf("x", r.randn(1, 7, 5, 2))
    y = F.avg_pool2d(nchw(x), 2, 2)
    return r.finish(nhwc(y)), pool_params((2, 2), (2, 2), [0, 0, 0, 0], [0, 0, 0, 0], True)


# ---- regularisation: identity cases only -------------------------------------------------------------------------
def identity_case(p, training):
    def build(r):
        x = r.leaf("x", r.randn(2, 3, 3, 4))
        return r.finish(x * 1.0), {"p": p, "training": training}
    return build


case("dropout", "p0_training")(identity_case(0.0, True))
case("dropout", "eval")(identity_case(0.5, False))
case("drop_path", "p0_training")(identity_case(0.0, True))
case("drop_path", "eval")(identity_case(0.3, False))


# ---- softmax ----------------------------------------------------------------------------------------------------
@case("softmax", "rows")
def _(r):
    x = r.leaf("x", r.randn(4, 7, scale=3.0))
    return r.finish(F.softmax(x, dim=-1)), {}


@case("softmax", "rank3")
def _(r):
    x = r.leaf("x", r.randn(2, 3, 5, scale=3.0))
    return r.finish(F.softmax(x, dim=-1)), {}


@case("log_softmax", "rows")
def _(r):
    x = r.leaf("x", r.randn(4, 7, scale=3.0))
    return r.finish(F.log_softmax(x, dim=-1)), {}


@case("log_softmax", "rank3")
def _(r):
    x = r.leaf("x", r.randn(2, 3, 5, scale=3.0))
    return r.finish(F.log_softmax(x, dim=-1)), {}


# ---- losses -----------------------------------------------------------------------------------------------------
def class_targets(r, rows, classes):
    targets = torch.randint(0, classes, (rows,), generator=r.generator)
    targets[0], targets[-1] = 0, classes - 1  # first and last class present
    return targets


def cross_entropy_case(weighted, label_smoothing):
    def build(r):
        logits = r.leaf("logits", r.randn(6, 5, scale=2.5))
        targets = r.leaf("targets", class_targets(r, 6, 5))
        weights = r.leaf("class_weights", r.uniform(0.25, 1.75, 5), differentiable=False) if weighted else None
        loss = F.cross_entropy(logits, targets, weight=weights, label_smoothing=label_smoothing)
        return r.finish(loss, loss=True), {"label_smoothing": label_smoothing}
    return build


case("cross_entropy", "plain")(cross_entropy_case(False, 0.0))
case("cross_entropy", "label_smoothing")(cross_entropy_case(False, 0.2))
case("cross_entropy", "weighted_label_smoothing")(cross_entropy_case(True, 0.1))


def binary_targets(r, *shape):
    """Half hard 0/1 targets, half soft ones."""
    targets = r.uniform(0.0, 1.0, *shape)
    hard = r.uniform(0.0, 1.0, *shape) < 0.5
    return torch.where(hard, (targets > 0.5).float(), targets)


def bce_case(shape, with_pos_weight):
    def build(r):
        logits = r.leaf("logits", r.randn(*shape, scale=2.0))
        targets = r.leaf("targets", binary_targets(r, *shape), differentiable=False)
        pos_weight = r.leaf("pos_weight", r.uniform(0.2, 3.0, shape[-1]), differentiable=False) \
            if with_pos_weight else None
        loss = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight)
        return r.finish(loss, loss=True), {}
    return build


case("bce_with_logits", "plain")(bce_case((4, 6), False))
case("bce_with_logits", "pos_weight")(bce_case((4, 6), True))
case("bce_with_logits", "rank4_pos_weight")(bce_case((2, 3, 2, 5), True))


def binary_focal_case(alpha, gamma):
    def build(r):
        logits = r.leaf("logits", r.randn(5, 4, scale=2.0))
        targets = r.leaf("targets", binary_targets(r, 5, 4), differentiable=False)
        loss = torchvision.ops.sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma, reduction="mean")
        return r.finish(loss, loss=True), {"alpha": alpha, "gamma": gamma}
    return build


case("binary_focal_loss", "alpha025_gamma2")(binary_focal_case(0.25, 2.0))
case("binary_focal_loss", "no_alpha_gamma1_5")(binary_focal_case(-1.0, 1.5))


def focal_case(with_alpha, gamma):
    # kernels/loss.h: FL_i = −α[t_i]·(1−p_{t_i})^γ·log p_{t_i}, plain mean over rows.
    def build(r):
        logits = r.leaf("logits", r.randn(7, 5, scale=2.0))
        targets = r.leaf("targets", class_targets(r, 7, 5))
        alpha = r.leaf("alpha", r.uniform(0.2, 1.0, 5), differentiable=False) if with_alpha else None
        log_p = F.log_softmax(logits, dim=-1).gather(1, targets[:, None])[:, 0]
        loss = -((1 - log_p.exp()) ** gamma) * log_p
        if alpha is not None:
            loss = loss * alpha[targets]
        return r.finish(loss.mean(), loss=True), {"gamma": gamma}
    return build


case("focal_loss", "alpha_gamma2")(focal_case(True, 2.0))
case("focal_loss", "no_alpha_gamma0_5")(focal_case(False, 0.5))


# ---- in-place helpers (not recorded: output only) -----------------------------------------------------------------
@case("add_in_place", "basic")
def _(r):
    destination = r.leaf("destination", r.randn(3, 4), differentiable=False)
    source = r.leaf("source", r.randn(3, 4), differentiable=False)
    return r.finish(destination + source), {}


@case("scale_in_place", "basic")
def _(r):
    x = r.leaf("x", r.randn(2, 5), differentiable=False)
    return r.finish(x * 0.3), {"alpha": 0.3}


@case("sum_of_squares", "basic")
def _(r):
    x = r.leaf("x", r.randn(4, 6), differentiable=False)
    return r.finish(x.double().pow(2).sum()), {}


def all_finite_case(poison):
    def build(r):
        x = r.randn(3, 4)
        if poison is not None:
            x[1, 2] = poison
        r.leaf("x", x, differentiable=False)
        return r.finish(torch.tensor(int(torch.isfinite(x).all()), dtype=torch.uint8)), {}
    return build


case("all_finite", "finite")(all_finite_case(None))
case("all_finite", "nan")(all_finite_case(float("nan")))
case("all_finite", "inf")(all_finite_case(float("-inf")))


# ---- driver -----------------------------------------------------------------------------------------------------
def main():
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    os.makedirs(OUTPUT_DIRECTORY, exist_ok=True)
    torch.set_grad_enabled(True)
    total = 0
    for op, name, build in CASES:
        file_name = f"{op}_{name}"
        if not file_name.startswith(only):
            continue
        tensors, params = build(Recorder(file_name))
        metadata = {"op": op, "case": name, "params": json.dumps(params, sort_keys=True),
                    "generator": "tools/make_torch_reference.py", "torch": torch.__version__.split("+")[0]}
        path = os.path.join(OUTPUT_DIRECTORY, file_name + ".safetensors")
        write_safetensors(path, tensors, metadata)
        total += os.path.getsize(path)
    print(f"wrote {len(CASES) if not only else 'selected'} fixtures, {total} bytes, into {OUTPUT_DIRECTORY}")


if __name__ == "__main__":
    main()
