"""``fastq.torch.export``: a trained PyTorch network as a :class:`fastq.models.Model` on packed bits.

    >>> model = fastq.torch.export(net, torch.zeros(1, 4, 8, 8))   # or the shape (1, 4, 8, 8)
    >>> logits = model.predict(images_nchw)                         # NumPy float32, the net's own NCHW input

The network (an ``nn.Module`` traced with :func:`trace`, or a ``torch.fx.GraphModule`` traced so)
is translated, layer by layer, into the layer-level IR the Keras loader reads: a Keras functional
model config (larq class names and configs, fastq quantizer configs) and ``{layer name: [weights]}``
in Keras's layouts (HWIO kernels, ``(in, out)`` dense kernels, batch norm's gamma, beta, mean,
variance). :func:`fastq.models.from_config` then compiles it as it compiles a Keras file: binary
convolutions and dense layers become BinaryConv2D / BinaryDense with their batch norm folded in,
packed bits between binary layers.

Layouts. The fastq model computes in NHWC and takes the module's NCHW input: its first layer is a
``Permute`` to NHWC (a 4-D output is permuted back). ``Flatten`` of a (C, H, W) value gives the
(H, W, C) order in NHWC; the ``Linear`` (and ``BatchNorm1d``) layers that read it get their
weights permuted to that order, so no transpose is spent there; a flattened value that reaches a
model output or an add in another order is put back into PyTorch's order.

Layer names are the fx node names (``predict(x, outputs=[...])`` takes them; 4-D activations
come out in NHWC). Supported: see ``docs/torch.md`` (export).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

import fastq
from fastq.models import Model, UnsupportedModelError, from_config

from . import quantizers as _tq
from .layers import QuantConv2d, QuantLinear

__all__ = ["Tracer", "export", "to_config", "trace"]

_LEAVES = (QuantConv2d, QuantLinear, _tq.Quantizer)


class Tracer(fx.Tracer):
    """torch.fx's tracer with fastq.torch's layers and quantizers as leaves (one node each)."""

    def is_leaf_module(self, m: Any, module_qualified_name: str) -> bool:
        return isinstance(m, _LEAVES) or super().is_leaf_module(m, module_qualified_name)


def trace(module: nn.Module) -> fx.GraphModule:
    """``torch.fx.symbolic_trace`` that keeps QuantConv2d, QuantLinear and quantizers as leaves."""
    graph = Tracer().trace(module)
    return fx.GraphModule(module, graph, type(module).__name__)


@dataclass
class _Value:
    """How a PyTorch value lives in the fastq model."""

    name: str  # the Keras layer (value) name
    shape: tuple[int, ...]  # PyTorch's per-sample shape: (C, H, W) is stored (H, W, C)
    perm: np.ndarray | None = None  # a flattened (C, H, W): fastq element j = PyTorch element perm[j]
    chw: tuple[int, int, int] | None = None  # the (C, H, W) it was flattened from (with perm)


def _pair(v: int | Sequence[int]) -> tuple[int, ...]:
    return (int(v), int(v)) if isinstance(v, int) else tuple(int(x) for x in v)


def _same_pads(size: int, k: int, s: int, d: int) -> tuple[tuple[int, int], int]:
    """TensorFlow's SAME (before, after) along one axis, and the output size."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return (total // 2, total - total // 2), out


def _np(t: torch.Tensor) -> np.ndarray:
    a: np.ndarray = t.detach().cpu().to(torch.float32).numpy().copy()
    return a


def _flat_perm(c: int, h: int, w: int) -> np.ndarray | None:
    """PyTorch index of each element of the NHWC flattening of a (C, H, W) value, or None if equal."""
    if h * w == 1 or c == 1:
        return None
    perm: np.ndarray = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()
    return perm


class _Exporter:
    def __init__(self, gm: fx.GraphModule, name: str) -> None:
        self.gm = gm
        self.name = name
        self.modules = dict(gm.named_modules())
        self.layers: list[dict[str, Any]] = []
        self.weights: dict[str, list[np.ndarray]] = {}
        self.values: dict[fx.Node, _Value] = {}
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.used: set[str] = set()

    # -- helpers --------------------------------------------------------------------------------
    def _err(self, node: fx.Node, msg: str) -> UnsupportedModelError:
        what = node.target if node.op == "call_module" else getattr(node.target, "__name__", str(node.target))
        cls = type(self.modules[node.target]).__name__ if node.op == "call_module" else node.op
        return UnsupportedModelError(f"fastq.torch.export: node {node.name!r} ({what}, {cls}): {msg}")

    def _unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name

    def _layer(
        self,
        cls: str,
        name: str,
        config: dict[str, Any],
        inputs: list[str],
        weights: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> str:
        inbound = [[[v, 0, 0, dict(kwargs or {})] for v in inputs]] if inputs else []
        self.layers.append(
            {"class_name": cls, "name": name, "config": {"name": name, **config}, "inbound_nodes": inbound}
        )
        if weights is not None:
            self.weights[name] = [np.asarray(w, np.float32) for w in weights]
        return name

    def _in(self, node: fx.Node, arg: Any) -> _Value:
        if not isinstance(arg, fx.Node) or arg not in self.values:
            raise self._err(node, f"expected a tensor input, got {arg!r}")
        return self.values[arg]

    def _shape(self, node: fx.Node) -> tuple[int, ...]:
        meta = node.meta.get("tensor_meta")
        if meta is None or not hasattr(meta, "shape"):
            raise self._err(node, "its result is not a single tensor")
        return tuple(int(d) for d in meta.shape[1:])

    def _torch_order(self, v: _Value, base: str) -> _Value:
        """A flattened value put back into PyTorch's (C, H, W) order."""
        if v.perm is None:
            return v
        assert v.chw is not None  # set together with perm
        c, h, w = v.chw
        r = self._layer("Reshape", self._unique(base + "/hwc"), {"target_shape": [h, w, c]}, [v.name])
        p = self._layer("Permute", self._unique(base + "/chw"), {"dims": [3, 1, 2]}, [r])
        f = self._layer("Flatten", self._unique(base + "/torch_order"), {"data_format": "channels_last"}, [p])
        return _Value(f, v.shape)

    @staticmethod
    def _qcfg(q: Any, expect_dim: int) -> Any:
        if q is None:
            return None
        if isinstance(q, _tq.MagnitudeAwareSign):
            if q.channel_dim != expect_dim:
                raise ValueError(
                    f"MagnitudeAwareSign with channel_dim={q.channel_dim} (larq's layout needs {expect_dim})"
                )
            # larq's last axis is PyTorch's expect_dim here: the config is larq's, without channel_dim.
            return {
                "class_name": "MagnitudeAwareSign",
                "config": {k: v for k, v in q.get_config().items() if k != "channel_dim"},
            }
        return _tq.serialize(q)

    def _quant_config(self, node: fx.Node, m: Any, input_dim: int) -> dict[str, Any]:
        try:
            return {
                "input_quantizer": self._qcfg(m.input_quantizer, input_dim),
                "kernel_quantizer": self._qcfg(m.kernel_quantizer, 0),
            }
        except ValueError as e:
            raise self._err(node, f"quantizer not exportable: {e}") from None

    # -- run ------------------------------------------------------------------------------------
    def run(self) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                self._placeholder(node)
            elif node.op == "call_module":
                self._module(node, self.modules[node.target])
            elif node.op == "call_function":
                self._function(node, node.target)
            elif node.op == "call_method":
                self._method(node, node.target)
            elif node.op == "output":
                self._output(node)
            else:
                raise self._err(node, f"{node.op} nodes (parameters or buffers used as values) are not supported")
        config = {
            "class_name": "Functional",
            "config": {
                "name": self.name,
                "layers": self.layers,
                "input_layers": [[n, 0, 0] for n in self.inputs],
                "output_layers": [[n, 0, 0] for n in self.outputs],
            },
        }
        return config, self.weights

    def _placeholder(self, node: fx.Node) -> None:
        shape = self._shape(node)
        name = self._unique(node.name)
        self.inputs.append(name)
        self._layer("InputLayer", name, {"batch_input_shape": [None, *shape], "dtype": "float32"}, [])
        if len(shape) == 3:  # NCHW in, NHWC inside
            name = self._layer("Permute", self._unique(node.name + "/nhwc"), {"dims": [2, 3, 1]}, [name])
        elif len(shape) != 1:
            raise self._err(node, f"input of per-sample shape {shape}: expected (C, H, W) or (features,)")
        self.values[node] = _Value(name, shape)

    def _output(self, node: fx.Node) -> None:
        outs = node.args[0]
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        for o in outs:
            v = self._in(node, o)
            if len(v.shape) == 3:
                name = self._layer("Permute", self._unique(v.name + "/nchw"), {"dims": [3, 1, 2]}, [v.name])
                v = _Value(name, v.shape)
            v = self._torch_order(v, v.name)
            self.outputs.append(v.name)

    def _alias(self, node: fx.Node, src: Any) -> None:
        self.values[node] = self._in(node, src)

    def _simple(
        self, node: fx.Node, cls: str, config: dict[str, Any], src: Any, weights: Sequence[Any] | None = None
    ) -> None:
        """A layer that keeps its input's layout (elementwise or per channel)."""
        v = self._in(node, src)
        name = self._layer(cls, self._unique(node.name), config, [v.name], weights)
        self.values[node] = _Value(name, self._shape(node), v.perm, v.chw)

    # -- modules --------------------------------------------------------------------------------
    def _module(self, node: fx.Node, m: Any) -> None:
        if node.kwargs or len(node.args) != 1:
            raise self._err(node, "expected a call with one tensor argument")
        x = node.args[0]
        if isinstance(m, QuantConv2d):
            return self._conv(node, m, True)
        if isinstance(m, nn.Conv2d):
            return self._conv(node, m, False)
        if isinstance(m, QuantLinear):
            return self._linear(node, m, True)
        if isinstance(m, nn.Linear):
            return self._linear(node, m, False)
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            return self._batchnorm(node, m)
        if isinstance(m, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.Identity)):
            return self._alias(node, x)
        if isinstance(m, nn.ReLU):
            return self._simple(node, "Activation", {"activation": "relu"}, x)
        if isinstance(m, nn.Sigmoid):
            return self._simple(node, "Activation", {"activation": "sigmoid"}, x)
        if isinstance(m, nn.Tanh):
            return self._simple(node, "Activation", {"activation": "tanh"}, x)
        if isinstance(m, nn.Softmax):
            v = self._in(node, x)
            if len(v.shape) != 1 or m.dim not in (1, -1):
                raise self._err(node, "softmax is supported over the features of a (batch, features) value only")
            return self._simple(node, "Activation", {"activation": "softmax"}, x)
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            return self._pool(node, m)
        if isinstance(m, nn.AdaptiveAvgPool2d):
            size: Any = m.output_size  # an int or a pair that may hold None ("the input's size")
            if ((size, size) if isinstance(size, int) else tuple(size)) != (1, 1):
                raise self._err(node, f"output_size {m.output_size!r}: only 1 (global average pooling) is supported")
            return self._global_pool(node, x)
        if isinstance(m, nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                raise self._err(node, "only Flatten(start_dim=1, end_dim=-1) is supported")
            return self._flatten(node, x)
        raise self._err(
            node,
            "this module is not supported (supported: QuantConv2d, QuantLinear, Conv2d, Linear, "
            "BatchNorm1d/2d, ReLU, Sigmoid, Tanh, Softmax, MaxPool2d, AvgPool2d, "
            "AdaptiveAvgPool2d(1), Flatten, Dropout, Identity)",
        )

    def _torch_pads(self, m: Any, quant: bool, h: int, w: int) -> tuple[int, ...]:
        """(top, bottom, left, right) padding PyTorch applies to an (h, w) input."""
        if quant:
            left, right, top, bottom = m.explicit_padding(h, w)
            return (top, bottom, left, right)
        if m.padding == "valid":
            return (0, 0, 0, 0)
        if m.padding == "same":  # nn.Conv2d: stride 1, total (k - 1) * d, the smaller half first
            pads = []
            for k, d in zip(m.kernel_size, m.dilation):
                total = (k - 1) * d
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        ph, pw = _pair(m.padding)
        return (ph, ph, pw, pw)

    def _conv(self, node: fx.Node, m: Any, quant: bool) -> None:
        v = self._in(node, node.args[0])
        if len(v.shape) != 3:
            raise self._err(node, f"expected a (batch, C, H, W) input, got per-sample shape {v.shape}")
        _, h, w = v.shape
        kh, kw = m.kernel_size
        pads = self._torch_pads(m, quant, h, w)
        if any(pads) and m.padding_mode != "zeros":
            raise self._err(node, f"padding_mode {m.padding_mode!r}: only 'zeros' is supported")
        same = [_same_pads(size, k, s, d)[0] for size, k, s, d in zip((h, w), (kh, kw), m.stride, m.dilation)]
        pad_value = m.pad_values if quant else 0.0
        src = v.name
        if not any(pads):
            padding = "valid"
        elif pads == (*same[0], *same[1]):
            padding = "same"
        else:
            # Explicit padding: a ZeroPadding2D before the layer is exact when the input quantizer
            # maps 0 to the pad value (sign quantizers with pad_values=1, or no quantizer with 0).
            qi = m.input_quantizer if quant else None
            zero = 0.0 if qi is None else float(qi(torch.zeros(1)).item())
            if zero != pad_value:
                raise self._err(
                    node,
                    f"padding {pads} (top, bottom, left, right) is not TensorFlow's 'same' for "
                    f"this input and pad_values={pad_value} is not the input quantizer's value "
                    f"at 0 ({zero}): not expressible as a Keras layer",
                )
            src = self._layer(
                "ZeroPadding2D",
                self._unique(node.name + "/pad"),
                {"padding": [[pads[0], pads[1]], [pads[2], pads[3]]], "data_format": "channels_last"},
                [v.name],
            )
            padding = "valid"
        kernel = _np(m.weight).transpose(2, 3, 1, 0)  # OIHW -> HWIO
        config = {
            "filters": int(m.out_channels),
            "kernel_size": [kh, kw],
            "strides": list(m.stride),
            "padding": padding,
            "data_format": "channels_last",
            "dilation_rate": list(m.dilation),
            "groups": int(m.groups),
            "activation": "linear",
            "use_bias": m.bias is not None,
        }
        if quant:
            config.update(self._quant_config(node, m, 1), pad_values=float(pad_value))
        weights = [kernel] + ([_np(m.bias)] if m.bias is not None else [])
        name = self._layer("QuantConv2D" if quant else "Conv2D", self._unique(node.name), config, [src], weights)
        self.values[node] = _Value(name, self._shape(node))

    def _linear(self, node: fx.Node, m: Any, quant: bool) -> None:
        v = self._in(node, node.args[0])
        if len(v.shape) != 1:
            raise self._err(
                node, f"expected a (batch, features) input, got per-sample shape {v.shape}; flatten it first"
            )
        weight = _np(m.weight)  # (out, in)
        if v.perm is not None:  # the input is in NHWC's flattening order
            weight = weight[:, v.perm]
        config = {"units": int(m.out_features), "activation": "linear", "use_bias": m.bias is not None}
        if quant:
            config.update(self._quant_config(node, m, -1))
        weights = [np.ascontiguousarray(weight.T)] + ([_np(m.bias)] if m.bias is not None else [])
        name = self._layer("QuantDense" if quant else "Dense", self._unique(node.name), config, [v.name], weights)
        self.values[node] = _Value(name, self._shape(node))

    def _batchnorm(self, node: fx.Node, m: Any) -> None:
        v = self._in(node, node.args[0])
        want = 3 if isinstance(m, nn.BatchNorm2d) else 1
        if len(v.shape) != want:
            raise self._err(node, f"expected per-sample shape of rank {want}, got {v.shape}")
        if m.running_mean is None or m.running_var is None:
            raise self._err(node, "track_running_stats=False normalizes with batch statistics; not supported")
        arrays = ([_np(m.weight), _np(m.bias)] if m.affine else []) + [_np(m.running_mean), _np(m.running_var)]
        if v.perm is not None:
            arrays = [a[v.perm] for a in arrays]
        config = {"axis": -1, "epsilon": float(m.eps), "scale": bool(m.affine), "center": bool(m.affine)}
        self._simple(node, "BatchNormalization", config, node.args[0], arrays)

    def _pool(self, node: fx.Node, m: Any) -> None:
        v = self._in(node, node.args[0])
        if len(v.shape) != 3:
            raise self._err(node, f"expected a (batch, C, H, W) input, got per-sample shape {v.shape}")
        k, s, p = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
        is_max = isinstance(m, nn.MaxPool2d)
        if is_max and _pair(m.dilation) != (1, 1):
            raise self._err(node, "dilation is not supported")
        if not is_max and m.divisor_override is not None:
            raise self._err(node, "divisor_override is not supported")
        out = self._shape(node)[1:]
        valid = tuple((size - kk) // ss + 1 for size, kk, ss in zip(v.shape[1:], k, s))
        same = [_same_pads(size, kk, ss, 1) for size, kk, ss in zip(v.shape[1:], k, s)]
        if p == (0, 0) and out == valid:
            padding = "valid"
        elif (
            all(sp == (pp, pp) for (sp, _), pp in zip(same, p))
            and out == tuple(o for _, o in same)
            and (is_max or not m.count_include_pad)
        ):
            padding = "same"  # TensorFlow's SAME pads with -inf (max) / leaves padding out of the mean
        else:
            raise self._err(
                node, f"padding {p} / ceil_mode={m.ceil_mode} with this input is neither Keras's 'valid' nor its 'same'"
            )
        config = {"pool_size": list(k), "strides": list(s), "padding": padding, "data_format": "channels_last"}
        self._simple(node, "MaxPooling2D" if is_max else "AveragePooling2D", config, node.args[0])

    def _global_pool(self, node: fx.Node, src: Any) -> None:
        v = self._in(node, src)
        if len(v.shape) != 3:
            raise self._err(node, f"expected a (batch, C, H, W) input, got per-sample shape {v.shape}")
        self._simple(node, "GlobalAveragePooling2D", {"keepdims": True, "data_format": "channels_last"}, src)

    def _flatten(self, node: fx.Node, src: Any) -> None:
        v = self._in(node, src)
        if len(v.shape) == 1:
            return self._alias(node, src)
        if len(v.shape) != 3:
            raise self._err(node, f"flattening per-sample shape {v.shape} is not supported")
        name = self._layer("Flatten", self._unique(node.name), {"data_format": "channels_last"}, [v.name])
        self.values[node] = _Value(name, self._shape(node), _flat_perm(*v.shape), v.shape)

    # -- functions and methods ------------------------------------------------------------------
    def _add(self, node: fx.Node, a: Any, b: Any) -> None:
        if not isinstance(b, fx.Node) and isinstance(a, fx.Node):
            a, b = b, a
        if isinstance(a, fx.Node) and isinstance(b, fx.Node):
            va, vb = self._in(node, a), self._in(node, b)
            if va.shape != vb.shape:
                raise self._err(node, f"adding shapes {va.shape} and {vb.shape} (broadcasting) is not supported")
            if va.perm is not None and (vb.perm is None or not np.array_equal(va.perm, vb.perm)):
                va = self._torch_order(va, node.name + "/a")
            if vb.perm is not None and va.perm is None:
                vb = self._torch_order(vb, node.name + "/b")
            name = self._layer("Add", self._unique(node.name), {}, [va.name, vb.name])
            self.values[node] = _Value(name, self._shape(node), va.perm, va.chw)
            return None
        return self._scalar(
            node, "__operators__.add", b if isinstance(b, fx.Node) else a, a if isinstance(b, fx.Node) else b
        )

    def _scalar(self, node: fx.Node, fn: str, src: Any, c: Any) -> None:
        if isinstance(c, bool) or not isinstance(c, (int, float)):
            raise self._err(node, f"expected a tensor and a number, got {c!r}")
        v = self._in(node, src)
        name = self._layer("TFOpLambda", self._unique(node.name), {"function": fn}, [v.name], kwargs={"y": float(c)})
        self.values[node] = _Value(name, self._shape(node), v.perm, v.chw)

    def _function(self, node: fx.Node, fn: Any) -> None:
        args, kw = node.args, dict(node.kwargs)
        if fn in (operator.add, operator.iadd, torch.add):
            if kw.pop("alpha", 1) != 1 or kw or len(args) != 2:
                raise self._err(node, "expected add(x, y) of two tensors (no alpha, no out)")
            return self._add(node, *args)
        if (
            fn in (operator.mul, torch.mul)
            and len(args) == 2
            and not kw
            and isinstance(args[0], fx.Node)
            and not isinstance(args[1], fx.Node)
        ):
            return self._scalar(node, "math.multiply", args[0], args[1])
        if (
            fn in (operator.sub, torch.sub)
            and len(args) == 2
            and not kw
            and isinstance(args[0], fx.Node)
            and not isinstance(args[1], fx.Node)
        ):
            return self._scalar(node, "math.subtract", args[0], args[1])
        if fn in (F.relu, torch.relu):
            return self._simple(node, "Activation", {"activation": "relu"}, args[0])
        if fn is torch.flatten:
            start = args[1] if len(args) > 1 else kw.get("start_dim", 0)
            end = args[2] if len(args) > 2 else kw.get("end_dim", -1)
            if start != 1 or end != -1:
                raise self._err(node, "only torch.flatten(x, 1) is supported")
            return self._flatten(node, args[0])
        if fn is F.dropout:
            return self._alias(node, args[0])
        if str(getattr(fn, "_schema", "")).startswith("fastq::"):
            raise self._err(
                node,
                "a fastq operator called directly: the graph was traced into fastq.torch's "
                "layers or quantizers; trace the module with fastq.torch.trace (or pass the module)",
            )
        raise self._err(
            node,
            "this function is not supported (supported: +, torch.add, x * c, x - c, relu, "
            "torch.flatten(x, 1), dropout)",
        )

    def _method(self, node: fx.Node, name: str) -> None:
        args = node.args
        if name == "relu" and len(args) == 1:
            return self._simple(node, "Activation", {"activation": "relu"}, args[0])
        if name == "flatten" and (args[1:] == (1,) or node.kwargs == {"start_dim": 1}) and len(args) <= 2:
            return self._flatten(node, args[0])
        if name == "add" and len(args) == 2 and not node.kwargs:
            return self._add(node, *args)
        raise self._err(node, f"method .{name}() is not supported (supported: .relu(), .flatten(1), .add(y))")


def _example(example: Any) -> torch.Tensor:
    if isinstance(example, torch.Tensor):
        return example.detach().to("cpu", torch.float32)
    if isinstance(example, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(example, np.float32))
    if isinstance(example, (tuple, list, torch.Size)) and all(isinstance(d, int) for d in example):
        return torch.zeros(tuple(example))
    raise TypeError(
        f"example_input: expected a tensor, an array or a shape (batch first, e.g. (1, 3, 32, 32)), "
        f"got {type(example).__name__}"
    )


def to_config(
    module: nn.Module, example_input: Any, name: str | None = None
) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
    """The layer-level IR :func:`export` compiles: ``(Keras model config, {layer name: [arrays]})``."""
    from torch.fx.passes.shape_prop import ShapeProp

    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    gm = module if isinstance(module, fx.GraphModule) else trace(module)
    several = isinstance(example_input, (list, tuple)) and not all(isinstance(d, int) for d in example_input)
    examples = list(example_input) if several else [example_input]
    xs = [_example(e) for e in examples]
    modes = {m: m.training for m in gm.modules()}
    # The shape-propagation run must not count in the quantizers' flip_ratio metrics.
    metrics = {m: m.flip_ratio for m in gm.modules() if isinstance(m, _tq.Quantizer) and m.flip_ratio is not None}
    try:
        gm.eval()
        for m in metrics:
            m.flip_ratio = None
        with torch.no_grad():
            ShapeProp(gm).propagate(*xs)
    finally:
        for mod, t in modes.items():
            mod.training = t
        for m, metric in metrics.items():
            m.flip_ratio = metric
    return _Exporter(gm, name or type(module).__name__).run()


def export(module: nn.Module, example_input: Any, name: str | None = None) -> Model:
    """A :class:`fastq.models.Model` computing ``module.eval()``'s outputs on packed bits.

    ``module``: an ``nn.Module`` (traced with :func:`trace`: QuantConv2d, QuantLinear and the
    quantizers stay leaves) or a ``torch.fx.GraphModule``. ``example_input``: a tensor (or NumPy
    array) of the module's input, or its shape, batch first (a list of them for several inputs); only its
    per-sample shape matters, and the model is made for that shape. The model takes the module's
    own (NCHW) input as a NumPy array and returns NumPy float32 outputs in PyTorch's layout.
    """
    config, weights = to_config(module, example_input, name)
    return from_config(
        config,
        weights,
        {
            "format": "torch",
            "torch_version": str(torch.__version__),
            "fastq_version": getattr(fastq, "__version__", ""),
        },
    )
