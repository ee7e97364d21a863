#!/usr/bin/python3
"""Writes the small checkpoint files under tests/fixtures/import/ that tests/weights_import/ reads: one file per
format and layout, written by the frameworks' own writers (torch.save, numpy.savez, h5py), plus files that must be
rejected with a clear message. Every tensor's values follow a formula the C++ tests recompute, so no expected values
are stored.

Regenerate (Debian's python3-torch / python3-numpy / python3-h5py; the pyenv `python3` has no torch):
    /usr/bin/python3 tools/make_import_fixtures.py

Files:
  tensors.pth            torch.save(OrderedDict) covering every supported dtype, views with storage offsets,
                         transposed and expanded (stride 0) views, two tensors sharing one storage, a Parameter,
                         a 0-d and an empty tensor
  wrapped.pth            {"epoch": 7, "model": <state_dict>, "optimizer": {...}}: a training checkpoint
  unsupported_dtype.pth  an int16 tensor (the reader must name it)
  protocol4.pth          the same two tensors as wrapped.pth pickled with protocol 4 (FRAME, SHORT_BINUNICODE,
                         MEMOIZE, STACK_GLOBAL)
  rebuild_v3.pth         a hand-assembled archive in the form newer PyTorch writes for some dtypes:
                         torch._utils._rebuild_tensor_v3 over a torch.UntypedStorage with a torch.float32 dtype
                         global, storage offset 2, plus a byteorder record
  legacy.pth             the same dict in the pre-1.6 non-zip format (must be rejected, naming the format)
  tensors.npz            np.savez: C and Fortran order, <f4 <f8 <i8 <i4 |u1 |b1, 0-d and empty arrays
  compressed.npz         np.savez_compressed of the same arrays
  keras_weights.h5       Keras 2 save_weights layout, fixed-length names, a layer without weights
  keras_model.h5         Keras 2 model.save layout (model_weights group), variable-length names, layer_names
                         split into layer_names0/1 as Keras does for long lists, float16 and float64 datasets
  keras3.weights.h5      the Keras 3 layout (layers/<name>/vars/0), which must be rejected with a clear message
  tensors.safetensors    three tensors and metadata
"""
import collections
import json
import os
import struct
import zipfile

import h5py
import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "import")


def state_dict():
    base = torch.arange(20, dtype=torch.float32) * 0.25
    shared = torch.arange(12, dtype=torch.float32) - 6
    d = collections.OrderedDict()
    d["f32"] = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) * 0.5
    d["f32_transposed"] = (torch.arange(12, dtype=torch.float32).reshape(3, 4) + 100).t()  # stride (1, 4)
    d["f32_offset"] = base[5:11].reshape(2, 3)                                               # storage offset 5
    d["f32_expanded"] = torch.tensor([1.0, 2.0, 3.0]).expand(2, 3)                            # stride (0, 1)
    d["shared_a"] = shared[:6]
    d["shared_b"] = shared[6:].reshape(3, 2).t()                                              # offset 6, strides (1, 2)
    d["f64"] = torch.arange(6, dtype=torch.float64).reshape(2, 3) / 3
    d["f16"] = torch.arange(8, dtype=torch.float16) * 0.25
    d["bf16"] = torch.arange(8, dtype=torch.bfloat16) * 2
    d["i64"] = torch.arange(5, dtype=torch.int64) - 2
    d["i32"] = torch.arange(5, dtype=torch.int32) * 3
    d["u8"] = torch.arange(250, 256, dtype=torch.int32).to(torch.uint8)
    d["bool"] = torch.tensor([True, False, True])
    d["scalar"] = torch.tensor(3.5)
    d["empty"] = torch.zeros(0, 3)
    d["param"] = torch.nn.Parameter(torch.arange(4, dtype=torch.float32) * -1)
    return d


def write_torch():
    d = state_dict()
    torch.save(d, os.path.join(OUT, "tensors.pth"))
    small = collections.OrderedDict((k, d[k]) for k in ["f32", "i64"])
    torch.save({"epoch": 7, "model": small, "optimizer": {"lr": 0.1, "momentum": [0.9]}},
               os.path.join(OUT, "wrapped.pth"))
    torch.save({"ok": torch.ones(2), "bad": torch.arange(3, dtype=torch.int16)},
               os.path.join(OUT, "unsupported_dtype.pth"))
    torch.save(small, os.path.join(OUT, "legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save(small, os.path.join(OUT, "protocol4.pth"), pickle_protocol=4)
    write_rebuild_v3()


def write_rebuild_v3():
    """{'v3': float32 [2, 3] = 0.5 * arange(6), stored from element 2 of an untyped 8-float storage}."""
    def text(s):
        raw = s.encode()
        return b"X" + struct.pack("<I", len(raw)) + raw

    program = (b"\x80\x02}(" + text("v3") +
               b"ctorch._utils\n_rebuild_tensor_v3\n(" +                 # callable, MARK for its arguments
               b"(" + text("storage") + b"ctorch\nUntypedStorage\n" + text("0") + text("cpu") +
               b"K\x20tQ" +                                               # 32 bytes; BINPERSID
               b"K\x02" + b"K\x02K\x03\x86" + b"K\x03K\x01\x86" +      # offset 2, size (2, 3), stride (3, 1)
               b"\x89ccollections\nOrderedDict\n)R" +                     # requires_grad, hooks
               b"ctorch\nfloat32\n" +                                      # dtype
               b"tRu.")
    storage = (np.arange(-2, 6, dtype=np.float32) * 0.5).tobytes()
    with zipfile.ZipFile(os.path.join(OUT, "rebuild_v3.pth"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("rebuild_v3/data.pkl", program)
        z.writestr("rebuild_v3/byteorder", "little")
        z.writestr("rebuild_v3/data/0", storage)


def arrays():
    return {
        "c_f4": (np.arange(24, dtype=np.float32) * 0.5).reshape(2, 3, 4),
        "fortran_f4": np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4) + 100),
        "fortran_3d": np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)),
        "f8": np.arange(6, dtype=np.float64).reshape(2, 3) / 3,
        "i8": np.arange(5, dtype=np.int64) - 2,
        "i4": np.arange(5, dtype=np.int32) * 3,
        "u1": np.arange(250, 256).astype(np.uint8),
        "b1": np.array([True, False, True]),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def write_npz():
    np.savez(os.path.join(OUT, "tensors.npz"), **arrays())
    np.savez_compressed(os.path.join(OUT, "compressed.npz"), **arrays())


def kernel(shape, offset):
    return (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) * 0.125 + offset).astype(np.float32)


def write_keras():
    # save_weights layout: root attribute layer_names; fixed-length byte strings, as Keras 2 writes them.
    with h5py.File(os.path.join(OUT, "keras_weights.h5"), "w") as f:
        layers = {"Conv1": [("kernel:0", kernel((3, 3, 2, 4), 0))],
                  "bn_Conv1": [("gamma:0", kernel((4,), 1)), ("beta:0", kernel((4,), 2)),
                               ("moving_mean:0", kernel((4,), 3)), ("moving_variance:0", kernel((4,), 4))],
                  "Conv1_relu": [],
                  "predictions": [("kernel:0", kernel((4, 5), 5)), ("bias:0", kernel((5,), 6))]}
        f.attrs["layer_names"] = np.array([n.encode() for n in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.11.0"
        for name, weights in layers.items():
            g = f.create_group(name)
            g.attrs["weight_names"] = np.array([f"{name}/{w}".encode() for w, _ in weights], dtype="S")
            for w, value in weights:
                g.create_dataset(f"{name}/{w}", data=value)
    # model.save layout: model_weights group; variable-length strings; layer_names split in two chunks.
    with h5py.File(os.path.join(OUT, "keras_model.h5"), "w") as f:
        f.attrs["keras_version"] = "2.11.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": "Functional"})
        mw = f.create_group("model_weights")
        layers = {"stem_conv": [("kernel:0", kernel((3, 3, 3, 2), 0).astype(np.float16))],
                  "block1a_dwconv": [("depthwise_kernel:0", kernel((3, 3, 2, 1), 1).astype(np.float64))],
                  "top_bn": [("gamma:0", kernel((2,), 2))]}
        names = list(layers)
        string = h5py.string_dtype()
        mw.attrs.create("layer_names0", names[:2], dtype=string)
        mw.attrs.create("layer_names1", names[2:], dtype=string)
        for name, weights in layers.items():
            g = mw.create_group(name)
            g.attrs.create("weight_names", [f"{name}/{w}" for w, _ in weights], dtype=string)
            for w, value in weights:
                g.create_dataset(f"{name}/{w}", data=value)
        f.create_group("optimizer_weights").attrs["weight_names"] = np.array([b"Adam/iter:0"])
    # Keras 3 layout, to be rejected.
    with h5py.File(os.path.join(OUT, "keras3.weights.h5"), "w") as f:
        f.create_group("layers/dense/vars").create_dataset("0", data=kernel((2, 2), 0))


def write_safetensors():
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.arange(4, dtype=np.int64),
               "c": np.arange(3, dtype=np.float64) / 4}
    names = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64", np.dtype(np.float64): "F64"}
    header, offset, blobs = {"__metadata__": {"writer": "make_import_fixtures.py"}}, 0, []
    for name, value in tensors.items():
        raw = value.tobytes()
        header[name] = {"dtype": names[value.dtype], "shape": list(value.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(OUT, "tensors.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write_torch()
    write_npz()
    write_keras()
    write_safetensors()
    for name in sorted(os.listdir(OUT)):
        print(f"{name:24s} {os.path.getsize(os.path.join(OUT, name)):7d} bytes")
