"""Compile a model graph into ops: binary layers become binary ops with batch norm folded in.

Rules (docs/models.md explains them):

- A QuantConv2D / QuantDense is *binary* when its input quantizer's forward pass is sign
  (ste_sign with any clip_value, approx_sign, swish_sign: sign(x) with sign(0) = +1) and its
  kernel quantizer is ste_sign or magnitude_aware_sign (±alpha per output channel, alpha folded
  into the op's scale), and (conv) its SAME padding value is 0 or 1. It becomes a BinaryConv2D /
  BinaryDense computing ``post_relu(pre_relu(dot) * scale + bias)`` with the kernel's signs
  taken once.
- Its own activation: relu without a bias becomes ``pre_relu`` (alpha >= 0, so
  relu(alpha * dot) = alpha * relu(dot)); relu with a bias becomes ``post_relu`` and stops the
  folding. A BatchNormalization that is the only consumer is folded into scale/bias, then a relu
  that is the only consumer of that becomes ``post_relu``.
- Where every consumer of a binary op's result is itself a binary op, the result is emitted as
  bits (packed output).
- Everything else is lowered one layer to one op; other quantizers run as fastq quantizers
  (input) or are applied to the kernel once (weights) before a float op.

A layer named in ``keep`` keeps its own output: nothing is folded across it, so
``predict(x, outputs=[...])`` can return it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import quantizers as _q
from . import layout_ops, ops, reference_ops
from .graph import Graph, Node, UnsupportedModelError

IMPLS = {"native": ops, "reference": reference_ops}
SIGN_FORWARD = (_q.SteSign, _q.ApproxSign, _q.SwishSign)
BINARY_KERNEL = (_q.SteSign, _q.MagnitudeAwareSign)

IDENTITY = {
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "ActivityRegularization",
}
ACTIVATIONS = {"relu", "softmax", "linear", "sigmoid", "tanh"}
TFOP_ADD = {"__operators__.add", "math.add"}
TFOP_MUL = {"math.multiply", "__operators__.mul"}
TFOP_SUB = {"math.subtract", "__operators__.sub"}

SUPPORTED = sorted(
    {
        "InputLayer",
        "QuantConv2D",
        "QuantDense",
        "QuantDepthwiseConv2D",
        "Conv2D",
        "DepthwiseConv2D",
        "Dense",
        "BatchNormalization",
        "Activation",
        "ReLU",
        "Softmax",
        "MaxPooling2D",
        "MaxPool2D",
        "AveragePooling2D",
        "AvgPool2D",
        "GlobalAveragePooling2D",
        "GlobalAvgPool2D",
        "Flatten",
        "Reshape",
        "Add",
        "Concatenate",
        "ZeroPadding2D",
        "TFOpLambda",
        "Permute",
        *IDENTITY,
    }
)


def _err(node: Node, msg: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"layer {node.layer!r} ({node.class_name}): {msg}")


def _pair(v: int | Sequence[int], name: str = "value") -> tuple[int, ...]:
    if isinstance(v, int):
        return (v, v)
    return tuple(int(x) for x in v)


def _quantizer(node: Node, key: str) -> Any:
    cfg = node.config.get(key)
    if cfg is None:
        return None
    try:
        return _q.get(cfg)
    except (ValueError, TypeError) as e:
        raise _err(node, f"{key} {cfg!r} is not a fastq quantizer ({e})") from None


def _activation(node: Node) -> str:
    act = node.config.get("activation", "linear")
    if isinstance(act, dict):  # Keras 3 may serialize an activation as an object
        act = act.get("config", {}).get("name", act.get("class_name"))
    act = act or "linear"
    if act not in ACTIVATIONS:
        raise _err(node, f"activation {act!r} is not supported (supported: {', '.join(sorted(ACTIVATIONS))})")
    return act


def _channels_last(node: Node) -> None:
    fmt = node.config.get("data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise _err(node, f"data_format {fmt!r} is not supported (channels_last only)")


def _padding(node: Node) -> str:
    p = str(node.config.get("padding", "valid")).lower()
    if p not in ("valid", "same"):
        raise _err(node, f"padding {p!r} is not supported (valid or same)")
    return p


def _weights(
    node: Node, weights: dict[str, list[Any]], count_min: int, count_max: int | None = None
) -> list[np.ndarray]:
    w = weights.get(node.layer, [])
    hi = count_min if count_max is None else count_max
    if not (count_min <= len(w) <= hi):
        raise _err(node, f"expected {count_min}..{hi} weight arrays in the file, found {len(w)}")
    return [np.asarray(a, np.float32) for a in w]


def _bn_affine(node: Node, weights: dict[str, list[Any]]) -> tuple[Any, Any, int]:
    """(scale, bias) of an inference batch norm, computed in float64 and rounded once."""
    c = node.config
    axis = c.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if isinstance(axis, (list, tuple)):
        raise _err(node, f"axis {axis!r}: only a single (last) axis is supported")
    w = [np.asarray(a, np.float64) for a in weights.get(node.layer, [])]
    expect = 2 + bool(c.get("scale", True)) + bool(c.get("center", True))
    if len(w) != expect:
        raise _err(node, f"expected {expect} weight arrays in the file, found {len(w)}")
    gamma = w.pop(0) if c.get("scale", True) else 1.0
    beta = w.pop(0) if c.get("center", True) else 0.0
    mean, var = w
    inv = gamma / np.sqrt(var + float(c.get("epsilon", 1e-3)))
    return inv, beta - mean * inv, int(axis)


def _relu_like(node: Node) -> bool:
    """True when the node is a plain relu (foldable)."""
    if node.class_name == "Activation":
        return _activation(node) == "relu"
    if node.class_name == "ReLU":
        c = node.config
        return c.get("max_value") is None and not c.get("negative_slope") and not c.get("threshold")
    if node.class_name == "TFOpLambda":
        return node.config.get("function") == "nn.relu"
    return False


class Compiler:
    def __init__(self, graph: Graph, weights: dict[str, list[Any]], keep: Iterable[str] = (), impl: Any = ops) -> None:
        self.impl = impl  # the ops module: native (ops) or NumPy (reference_ops)
        self.graph = graph
        self.weights = weights
        self.keep = set(keep) | set(graph.outputs)
        self.users = graph.consumers()
        self.by_name = {n.name: n for n in graph.nodes}
        self.alias: dict[str, str] = {}  # identity layer output -> the value it passes on
        self.ops: list[Any] = []
        self.folded: set[str] = set()  # nodes consumed by an earlier op
        self.emitted = set(graph.inputs)  # values computed so far

    # -- public ------------------------------------------------------------------------------------
    def run(self) -> list[Any]:
        for n in self.graph.nodes:
            self._check_supported(n)
        for n in self.graph.nodes:
            if n.name in self.folded or n.class_name == "InputLayer":
                continue
            self._lower(n)
        return self.ops

    def value(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    # -- analysis ----------------------------------------------------------------------------------
    def _check_supported(self, n: Node) -> None:
        if n.class_name not in SUPPORTED:
            raise _err(n, "this layer class is not supported by fastq.models (supported: " + ", ".join(SUPPORTED) + ")")

    def _sole_user(self, name: str) -> Node | None:
        """The node that alone consumes ``name`` (through identity layers), or None."""
        if name in self.keep:
            return None
        users = self.users.get(name, [])
        if len(users) != 1:
            return None
        u = self.by_name[users[0]]
        if u.class_name in IDENTITY:
            nxt = self._sole_user(u.name)
            if nxt is not None:
                self.alias[u.name] = name
                self.folded.add(u.name)
            return nxt
        return u

    def _binary_plan(self, n: Node) -> tuple[_q.Quantizer, _q.Quantizer] | None:
        """(input quantizer, kernel quantizer) if the node compiles to a binary op, else None."""
        if n.class_name not in ("QuantConv2D", "QuantDense"):
            return None
        qi, qk = _quantizer(n, "input_quantizer"), _quantizer(n, "kernel_quantizer")
        if not isinstance(qi, SIGN_FORWARD) or not isinstance(qk, BINARY_KERNEL):
            return None
        if n.class_name == "QuantConv2D":
            pv = float(n.config.get("pad_values", 0.0))
            if _padding(n) == "same" and pv not in (0.0, 1.0):
                return None
        return qi, qk

    def _add_of_two(self, u: Node) -> bool:
        """True when node u adds exactly two tensors (Add or a TFOpLambda add)."""
        if u.class_name == "Add":
            return len(u.inputs) == 2
        return u.class_name == "TFOpLambda" and u.config.get("function") in TFOP_ADD and len(u.inputs) == 2

    def _consumers_binarize(self, name: str) -> bool:
        users = self.users.get(name, [])
        if not users or name in self.keep:
            return False
        for u in users:
            un = self.by_name[u]
            if un.class_name in IDENTITY or self._binary_plan(un) is None:
                return False
        return True

    # -- lowering ----------------------------------------------------------------------------------
    def _emit(self, op: Any, layers: list[str] | None = None) -> Any:
        op.inputs = [self.value(i) for i in op.inputs]
        if layers:
            op.layers = layers
        self.ops.append(op)
        self.emitted.add(op.name)
        return op

    def _lower(self, n: Node) -> Any:
        cls = n.class_name
        if cls in IDENTITY:
            self.alias[n.name] = n.inputs[0]
            return
        plan = self._binary_plan(n)
        if plan is not None:
            return self._lower_binary(n, *plan)
        fn = getattr(self, "_lower_" + cls, None)
        if fn is None:
            raise _err(n, "no lowering")  # pragma: no cover - SUPPORTED and the methods agree
        fn(n)

    def _lower_binary(self, n: Node, qi: _q.Quantizer, qk: _q.Quantizer) -> None:
        c = n.config
        is_conv = n.class_name == "QuantConv2D"
        if is_conv:
            _channels_last(n)
        use_bias = bool(c.get("use_bias", True))
        w = _weights(n, self.weights, 1 + use_bias)
        kernel = w[0]
        cout = kernel.shape[-1]
        if isinstance(qk, _q.MagnitudeAwareSign):
            axes = tuple(range(kernel.ndim - 1))
            alpha = np.mean(np.abs(kernel.astype(np.float64)), axis=axes)
        else:
            alpha = np.ones(cout)
        scale = alpha.astype(np.float64)
        bias = w[1].astype(np.float64) if use_bias else np.zeros(cout)
        act = _activation(n)
        pre = post = False
        if act == "relu":
            if use_bias:
                post = True
            else:
                pre = True
        elif act != "linear":
            raise _err(n, f"activation {act!r} after a binary layer is not supported")
        layers = [n.layer]
        out = n.name
        if not post:
            u = self._sole_user(out)
            if u is not None and u.class_name == "BatchNormalization":
                inv, off, _ = _bn_affine(u, self.weights)
                scale, bias = scale * inv, bias * inv + off
                self.folded.add(u.name)
                layers.append(u.layer)
                out = u.name
            u = self._sole_user(out)
            if u is not None and _relu_like(u):
                post = True
                self.folded.add(u.name)
                layers.append(u.layer)
                out = u.name
        pool = None
        if is_conv and not post and out == n.name:
            pool = self._pool_through(n, scale, bias)
            if pool is not None:
                scale, bias = pool[2], pool[3]
        packed = pool is not None or self._consumers_binarize(out)
        inputs = list(n.inputs)
        if is_conv and not post and not packed:
            # conv (+ BN) -> Add(y, r) with r already computed: r is added in the conv's output
            # transform, (y + r) with one rounding as Keras's Add (the sum of two is commutative).
            u = self._sole_user(out)
            if u is not None and self._add_of_two(u):
                other = [i for i in u.inputs if i != out]
                if len(other) == 1 and self.value(other[0]) in self.emitted:
                    inputs.append(other[0])
                    self.folded.add(u.name)
                    layers.append(u.layer)
                    out = u.name
        if is_conv:
            op = self.impl.BinaryConv2D(
                out,
                inputs,
                kernel,
                strides=_pair(c.get("strides", 1)),
                padding=_padding(n),
                dilation=_pair(c.get("dilation_rate", 1)),
                groups=int(c.get("groups", 1)),
                pad_values=float(c.get("pad_values", 0.0)),
                scale=scale.astype(np.float32),
                bias=bias.astype(np.float32),
                pre_relu=pre,
                post_relu=post,
                packed_output=packed,
            )
        else:
            op = self.impl.BinaryDense(
                out,
                n.inputs,
                kernel,
                scale=scale.astype(np.float32),
                bias=bias.astype(np.float32),
                pre_relu=pre,
                post_relu=post,
                packed_output=packed,
            )
        self._emit(op, layers)
        if pool is not None:
            u, last, _, _, pool_layers = pool
            invert = scale.astype(np.float32) < 0
            self._pool(u, self.impl.MaxPool2D, inputs=[out], layers=pool_layers, name=last, packed=True, invert=invert)

    def _pool_through(
        self, n: Node, scale: np.ndarray, bias: np.ndarray
    ) -> tuple[Node, str, np.ndarray, np.ndarray, list[Any]] | None:
        """Binary conv -> MaxPool2D [-> BatchNormalization] -> only binarizing consumers: the pool
        runs on the conv's signs (bits). The conv's output transform y(dot) (with the batch norm
        folded) is monotone in each channel, and float rounding keeps it so, so
        sign(max_taps y) = max_taps sign(y) where it increases (the AND of the taps' bits) and
        the min where it decreases (a negative folded scale: the OR). Returns
        (pool node, name of the last value, scale, bias, layers) or None."""
        u = self._sole_user(n.name)
        if u is None or u.class_name not in ("MaxPooling2D", "MaxPool2D") or u.name in self.keep:
            return None
        last, layers = u.name, [u.layer]
        v = self._sole_user(u.name)
        if v is not None and v.class_name == "BatchNormalization":
            inv, off, _ = _bn_affine(v, self.weights)
            scale, bias = scale * inv, bias * inv + off
            last = v.name
            layers.append(v.layer)
        if not self._consumers_binarize(last) or not np.all(np.isfinite(scale)):
            return None
        self.folded.update({u.name, last})
        return u, last, scale, bias, layers

    def _input_quantize(self, n: Node, src: str) -> str:
        """Name of the value after the node's input quantizer (a Quantize op), or src."""
        qi = _quantizer(n, "input_quantizer")
        if qi is None:
            return src
        if isinstance(qi, _q.MagnitudeAwareSign) or (isinstance(qi, _q.SteTern) and qi.ternary_weight_networks):
            raise _err(n, f"input quantizer {type(qi).__name__} depends on the whole batch; not supported")
        name = f"{n.name}/input_quantizer"
        self._emit(self.impl.Quantize(name, [src], qi), [n.layer])
        return name

    def _quant_kernel(self, n: Node, kernel: np.ndarray, key: str = "kernel_quantizer") -> np.ndarray:
        qk = _quantizer(n, key)
        if qk is None:
            return kernel
        return np.asarray(qk(np.ascontiguousarray(kernel, np.float32)), np.float32)

    def _conv(self, n: Node, depthwise: bool, quant: bool) -> None:
        c = n.config
        _channels_last(n)
        use_bias = bool(c.get("use_bias", True))
        w = _weights(n, self.weights, 1 + use_bias)
        src = n.inputs[0]
        kernel = w[0]
        pad_value = 0.0
        if quant:
            src = self._input_quantize(n, src)
            kernel = self._quant_kernel(n, kernel, "depthwise_quantizer" if depthwise else "kernel_quantizer")
            pad_value = float(c.get("pad_values", 0.0))
        act = _activation(n)
        fused = act if act in ("relu", "linear") else None
        name = n.name if fused is not None else f"{n.name}/linear"
        layers, scale, bias = [n.layer], None, w[1] if use_bias else None
        if bias is None and act == "linear":
            # conv -> BN [-> relu] without a conv bias: the BN is the epilogue's scale and bias,
            # the same two roundings as the separate op (y * scale, then + bias).
            u = self._sole_user(n.name)
            if u is not None and u.class_name == "BatchNormalization":
                inv, off, _ = _bn_affine(u, self.weights)
                scale, bias = inv.astype(np.float32), off.astype(np.float32)
                self.folded.add(u.name)
                layers.append(u.layer)
                name = u.name
                r = self._sole_user(name)
                if r is not None and _relu_like(r):
                    fused, name = "relu", r.name
                    self.folded.add(r.name)
                    layers.append(r.layer)
        common = dict(
            bias=bias,
            strides=_pair(c.get("strides", 1)),
            padding=_padding(n),
            dilation=_pair(c.get("dilation_rate", 1)),
            activation=fused,
            pad_value=pad_value,
            scale=scale,
        )
        if depthwise:
            op = self.impl.DepthwiseConv2D(name, [src], kernel, **common)
        else:
            op = self.impl.Conv2D(name, [src], kernel, groups=int(c.get("groups", 1)), **common)
        self._emit(op, layers)
        if fused is None:
            self._emit(self.impl.Activation(n.name, [name], act), [n.layer])

    def _lower_QuantConv2D(self, n: Node) -> None:
        self._conv(n, False, True)

    def _lower_Conv2D(self, n: Node) -> None:
        self._conv(n, False, False)

    def _lower_QuantDepthwiseConv2D(self, n: Node) -> None:
        self._conv(n, True, True)

    def _lower_DepthwiseConv2D(self, n: Node) -> None:
        self._conv(n, True, False)

    def _dense(self, n: Node, quant: bool) -> None:
        c = n.config
        use_bias = bool(c.get("use_bias", True))
        w = _weights(n, self.weights, 1 + use_bias)
        src, kernel = n.inputs[0], w[0]
        if quant:
            src = self._input_quantize(n, src)
            kernel = self._quant_kernel(n, kernel)
        act = _activation(n)
        fused = act if act in ("relu", "linear") else None
        name = n.name if fused is not None else f"{n.name}/linear"
        self._emit(self.impl.Dense(name, [src], kernel, w[1] if use_bias else None, fused), [n.layer])
        if fused is None:
            self._emit(self.impl.Activation(n.name, [name], act), [n.layer])

    def _lower_Dense(self, n: Node) -> None:
        self._dense(n, False)

    def _lower_QuantDense(self, n: Node) -> None:
        self._dense(n, True)

    def _lower_BatchNormalization(self, n: Node) -> None:
        scale, bias, _ = _bn_affine(n, self.weights)  # the channel axis is the last one (channels_last)
        layers, out, act = [n.layer], n.name, None
        u = self._sole_user(out)
        if u is not None and _relu_like(u):
            act, out = "relu", u.name
            self.folded.add(u.name)
            layers.append(u.layer)
        self._emit(self.impl.Affine(out, n.inputs, scale.astype(np.float32), bias.astype(np.float32), act), layers)

    def _relu_then_maxpool(self, n: Node) -> bool:
        """A plain relu whose only consumer is a max pool: one fused op (QuickNet's transitions)."""
        u = self._sole_user(n.name) if _relu_like(n) else None
        if u is None or u.class_name not in ("MaxPooling2D", "MaxPool2D"):
            return False
        self._pool(u, self.impl.MaxPool2D, inputs=n.inputs, relu=True, layers=[n.layer, u.layer])
        self.folded.add(u.name)
        return True

    def _lower_Activation(self, n: Node) -> None:
        if self._relu_then_maxpool(n):
            return
        self._emit(self.impl.Activation(n.name, n.inputs, _activation(n)))

    def _lower_Softmax(self, n: Node) -> None:
        axis = n.config.get("axis", -1)
        if axis not in (-1, [-1]):
            raise _err(n, f"axis {axis!r}: only the last axis is supported")
        self._emit(self.impl.Activation(n.name, n.inputs, "softmax"))

    def _lower_ReLU(self, n: Node) -> None:
        if self._relu_then_maxpool(n):
            return
        c = n.config
        mv = c.get("max_value")
        self._emit(
            self.impl.Activation(
                n.name,
                n.inputs,
                "relu",
                None if mv is None else float(mv),
                float(c.get("negative_slope") or 0.0),
                float(c.get("threshold") or 0.0),
            )
        )

    def _pool(
        self,
        n: Node,
        cls: Any,
        inputs: list[str] | None = None,
        layers: list[str] | None = None,
        name: str | None = None,
        **kw: Any,
    ) -> None:
        _channels_last(n)
        c = n.config
        size = _pair(c.get("pool_size", 2))
        strides = c.get("strides") or size
        self._emit(cls(name or n.name, inputs or n.inputs, size, _pair(strides), _padding(n), **kw), layers)

    def _lower_MaxPooling2D(self, n: Node) -> None:
        self._pool(n, self.impl.MaxPool2D)

    _lower_MaxPool2D = _lower_MaxPooling2D

    def _lower_AveragePooling2D(self, n: Node) -> None:
        self._pool(n, self.impl.AvgPool2D)

    _lower_AvgPool2D = _lower_AveragePooling2D

    def _lower_GlobalAveragePooling2D(self, n: Node) -> None:
        _channels_last(n)
        self._emit(self.impl.GlobalAvgPool2D(n.name, n.inputs, n.config.get("keepdims", False)))

    _lower_GlobalAvgPool2D = _lower_GlobalAveragePooling2D

    def _lower_Flatten(self, n: Node) -> None:
        _channels_last(n)
        self._emit(self.impl.Reshape(n.name, n.inputs, (-1,)))

    def _lower_Permute(self, n: Node) -> None:
        dims = n.config.get("dims")
        if (
            not isinstance(dims, (list, tuple))
            or not all(isinstance(d, int) for d in dims)
            or sorted(dims) != list(range(1, len(dims) + 1))
        ):
            raise _err(n, f"dims {dims!r}: expected a permutation of the axes 1..n (the batch axis is 0)")
        self._emit(layout_ops.Permute(n.name, n.inputs, dims))

    def _lower_Reshape(self, n: Node) -> None:
        self._emit(self.impl.Reshape(n.name, n.inputs, tuple(n.config["target_shape"])))

    def _lower_Add(self, n: Node) -> None:
        if len(n.inputs) < 2:
            raise _err(n, "needs at least two inputs")
        self._emit(self.impl.Add(n.name, n.inputs))

    def _lower_Concatenate(self, n: Node) -> None:
        axis = int(n.config.get("axis", -1))
        self._emit(self.impl.Concatenate(n.name, n.inputs, axis if axis < 0 else axis - 1))

    def _lower_ZeroPadding2D(self, n: Node) -> None:
        _channels_last(n)
        p = n.config.get("padding", 1)
        pads: tuple[tuple[int, ...], ...]
        if isinstance(p, int):
            pads = ((p, p), (p, p))
        elif all(isinstance(v, int) for v in p):
            pads = ((p[0], p[0]), (p[1], p[1]))
        else:
            pads = tuple(tuple(int(x) for x in v) for v in p)
        self._emit(self.impl.ZeroPadding2D(n.name, n.inputs, pads))

    def _lower_TFOpLambda(self, n: Node) -> Any:
        fn = n.config.get("function")
        kw = n.kwargs
        if fn == "nn.relu" and len(n.inputs) == 1:
            if self._relu_then_maxpool(n):
                return
            return self._emit(self.impl.Activation(n.name, n.inputs, "relu"))
        kind = "add" if fn in TFOP_ADD else "mul" if fn in TFOP_MUL else "sub" if fn in TFOP_SUB else None
        if kind is None:
            raise _err(
                n,
                f"TensorFlow function {fn!r} is not supported "
                f"(supported: {', '.join(sorted(TFOP_ADD | TFOP_MUL | TFOP_SUB | {'nn.relu'}))})",
            )
        if len(n.inputs) == 2:
            if kind == "add":
                return self._emit(self.impl.Add(n.name, n.inputs))
            return self._emit(self.impl.Binary(n.name, n.inputs, kind))
        y = kw.get("y")
        if len(n.inputs) == 1 and isinstance(y, (int, float)):
            return self._emit(self.impl.Scalar(n.name, n.inputs, kind, y))
        raise _err(n, f"{fn}: expected two tensors or a tensor and a number, got inputs {n.inputs} and {kw}")


def compile_graph(
    graph: Graph, weights: dict[str, list[Any]], keep: Iterable[str] = (), impl: str = "native"
) -> tuple[list[Any], list[str], dict[str, str]]:
    """The ops of ``graph`` in execution order, and the value name of each graph output.
    ``impl``: "native" (fastq.models.ops) or "reference" (the NumPy reference_ops)."""
    c = Compiler(graph, weights, keep, IMPLS[impl])
    op_list = c.run()
    outputs = [c.value(o) for o in graph.outputs]
    aliases = {k: c.value(k) for k in c.alias}
    return op_list, outputs, aliases
