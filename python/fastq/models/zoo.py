"""larq_zoo's QuickNetSmall, QuickNet, QuickNetLarge and BiRealNet built by fastq itself: the
same layers, options and layer names as larq_zoo 2.4 writes them (larq_zoo.sota.quicknet,
larq_zoo.literature.birealnet), with seeded random weights and no file. For benchmarks and
tests that need the real architectures but no TensorFlow (``scripts/check_zoo.py`` checks the
configs against larq_zoo's own).

    >>> model = fastq.models.zoo.build("QuickNet", seed=0)

Weights: he/glorot-normal kernels; batch-norm statistics from a propagation of each tensor's
mean and mean square through the network (a stand-in for recalibration on a random batch:
activations stay O(1)), with a little seeded jitter on every batch-norm parameter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import from_config
from .model import Model

MODELS = ("QuickNetSmall", "QuickNet", "QuickNetLarge", "BiRealNet")
_QUICKNET = {
    "QuickNetSmall": ((4, 4, 4, 4), (32, 64, 256, 512), "quicknet_small"),
    "QuickNet": ((4, 4, 4, 4), (64, 128, 256, 512), "quicknet"),
    "QuickNetLarge": ((6, 8, 12, 6), (64, 128, 256, 512), "quicknet_large"),
}
_STE125 = {"class_name": "SteSign", "config": {"clip_value": 1.25}}


class _Builder:
    """A tiny functional-API stand-in writing tf_keras's config format, with Keras's default
    layer names, and tracking each tensor's (channels, mean, mean square) for the weights."""

    def __init__(self, seed: int, input_shape: tuple[int, ...]) -> None:
        self.rng = np.random.default_rng(seed)
        self.layers: list[dict[str, Any]] = []
        self.weights: dict[str, list[np.ndarray]] = {}
        self.counts: dict[str, int] = {}
        self.stats: dict[str, tuple[int, float, float]] = {}
        self.input = self._add(
            "InputLayer", {"batch_input_shape": [None, *input_shape], "dtype": "float32"}, [], name="input_1"
        )
        self.stats[self.input] = (input_shape[-1], 0.0, 1.0)

    def _name(self, base: str) -> str:
        k = self.counts.get(base, 0)
        self.counts[base] = k + 1
        return base if k == 0 else f"{base}_{k}"

    def _add(
        self,
        cls: str,
        config: dict[str, Any],
        inputs: list[str],
        base: str | None = None,
        name: str | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> str:
        if not name:
            assert base is not None, "_add: a name or a base name"
            name = self._name(base)
        config = {"name": name, "trainable": True, "dtype": "float32", **config}
        if kwargs is not None:  # TFOpLambda: one entry, the second operand in its kwargs
            nodes = [[inputs[0], 0, 0, kwargs]]
        else:
            nodes = [[[i, 0, 0, {}] for i in inputs]] if inputs else []
        self.layers.append({"class_name": cls, "config": config, "name": name, "inbound_nodes": nodes})
        return name

    def _normal(self, shape: tuple[int, ...], std: float) -> np.ndarray:
        return (self.rng.standard_normal(shape) * std).astype(np.float32)

    # -- layers ------------------------------------------------------------------------------------
    def conv(
        self,
        x: str,
        filters: int,
        k: int,
        strides: int = 1,
        padding: str = "valid",
        quant: bool = True,
        init: str = "he",
        activation: str = "linear",
        input_quantizer: Any = None,
        kernel_quantizer: Any = None,
        pad_values: float = 0.0,
    ) -> str:
        c, _mean, m2 = self.stats[x]
        cfg = {
            "filters": filters,
            "kernel_size": [k, k],
            "strides": [strides, strides],
            "padding": padding,
            "data_format": "channels_last",
            "dilation_rate": [1, 1],
            "groups": 1,
            "activation": activation,
            "use_bias": False,
        }
        if quant:
            cfg.update(input_quantizer=input_quantizer, kernel_quantizer=kernel_quantizer, pad_values=pad_values)
        y = self._add("QuantConv2D" if quant else "Conv2D", cfg, [x], "quant_conv2d" if quant else "conv2d")
        fan_in, fan_out = k * k * c, k * k * filters
        std = math.sqrt(2 / fan_in) if init == "he" else math.sqrt(2 / (fan_in + fan_out))
        self.weights[y] = [self._normal((k, k, c, filters), std)]
        if input_quantizer is not None:  # a ±1 (or ±alpha) product of K terms
            alpha2 = 1.0 if kernel_quantizer == _STE125 else 2 / (math.pi) * std**2
            k2 = fan_in * alpha2
            if activation == "relu":
                self.stats[y] = (filters, math.sqrt(k2 / (2 * math.pi)), k2 / 2)
            else:
                self.stats[y] = (filters, 0.0, k2)
        else:
            self.stats[y] = (filters, 0.0, fan_in * std**2 * m2)
        return y

    def depthwise(self, x: str, k: int, strides: int, quant: bool, blur: bool = False) -> str:
        c, mean, m2 = self.stats[x]
        cfg = {
            "kernel_size": [k, k],
            "strides": [strides, strides],
            "padding": "same",
            "data_format": "channels_last",
            "dilation_rate": [1, 1],
            "groups": 1,
            "depth_multiplier": 1,
            "activation": "linear",
            "use_bias": False,
        }
        if quant:
            cfg.update(input_quantizer=None, depthwise_quantizer=None, pad_values=0.0)
        if blur:
            cfg["trainable"] = False
        y = self._add(
            "QuantDepthwiseConv2D" if quant else "DepthwiseConv2D",
            cfg,
            [x],
            "quant_depthwise_conv2d" if quant else "depthwise_conv2d",
        )
        if blur:
            b = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
            self.weights[y] = [np.repeat(b[:, :, None, None], c, axis=2).astype(np.float32)]
            self.stats[y] = (c, mean, m2)  # an average of correlated neighbours
        else:
            std = math.sqrt(2 / (k * k))
            self.weights[y] = [self._normal((k, k, c, 1), std)]
            self.stats[y] = (c, 0.0, k * k * std**2 * m2)
        return y

    def bn(self, x: str, momentum: float = 0.99, epsilon: float = 1e-3, scale: bool = True, center: bool = True) -> str:
        c, mean, m2 = self.stats[x]
        y = self._add(
            "BatchNormalization",
            {"axis": [3], "momentum": momentum, "epsilon": epsilon, "center": center, "scale": scale},
            [x],
            "batch_normalization",
        )
        var = max(m2 - mean**2, 1e-6)
        jitter = self.rng.standard_normal((4, c)).astype(np.float32)
        w = []
        if scale:
            w.append((1 + 0.1 * jitter[0]).astype(np.float32))
        if center:
            w.append((0.1 * jitter[1]).astype(np.float32))
        w.append((mean + 0.1 * math.sqrt(var) * jitter[2]).astype(np.float32))
        w.append((var * np.exp(0.1 * jitter[3])).astype(np.float32))
        self.weights[y] = w
        self.stats[y] = (c, 0.0, 1.0)
        return y

    def relu(self, x: str) -> str:
        c, _mean, m2 = self.stats[x]
        y = self._add("Activation", {"activation": "relu"}, [x], "activation")
        self.stats[y] = (c, math.sqrt(m2 / (2 * math.pi)), m2 / 2)
        return y

    def maxpool(self, x: str, size: int, strides: int, padding: str = "valid") -> str:
        y = self._add(
            "MaxPooling2D",
            {
                "pool_size": [size, size],
                "padding": padding,
                "strides": [strides, strides],
                "data_format": "channels_last",
            },
            [x],
            "max_pooling2d",
        )
        self.stats[y] = self.stats[x]
        return y

    def avgpool(self, x: str, size: int, strides: int, padding: str = "valid") -> str:
        y = self._add(
            "AveragePooling2D",
            {
                "pool_size": [size, size],
                "padding": padding,
                "strides": [strides, strides],
                "data_format": "channels_last",
            },
            [x],
            "average_pooling2d",
        )
        self.stats[y] = self.stats[x]
        return y

    def add_op(self, x: str, r: str) -> str:
        """``x + r`` as tf_keras saves it: TFOpLambda ``__operators__.add``."""
        y = self._add(
            "TFOpLambda",
            {"function": "__operators__.add"},
            [x],
            name=self._name("tf.__operators__.add"),
            kwargs={"y": [r, 0, 0], "name": None},
        )
        self.stats[y] = self._sum(x, r)
        return y

    def add_layer(self, x: str, r: str) -> str:
        y = self._add("Add", {}, [x, r], "add")
        self.stats[y] = self._sum(x, r)
        return y

    def _sum(self, x: str, r: str) -> tuple[int, float, float]:
        c, m1, s1 = self.stats[x]
        _, m2, s2 = self.stats[r]
        return (c, m1 + m2, s1 + s2 + 2 * m1 * m2)

    def head(self, x: str, classes: int, quant_dense: bool, relu_first: bool) -> str:
        if relu_first:
            x = self.relu(x)
        x = self.avgpool(x, 7, 7)
        c = self.stats[x][0]
        x = self._add("Flatten", {"data_format": "channels_last"}, [x], "flatten")
        cfg = {"units": classes, "activation": "linear", "use_bias": True}
        if quant_dense:
            cfg.update(input_quantizer=None, kernel_quantizer=None)
        x = self._add("QuantDense" if quant_dense else "Dense", cfg, [x], "quant_dense" if quant_dense else "dense")
        self.weights[x] = [self._normal((c, classes), math.sqrt(2 / (c + classes))), np.zeros(classes, np.float32)]
        return self._add("Activation", {"activation": "softmax"}, [x], "activation")

    def config(self, name: str, output: str) -> dict[str, Any]:
        return {
            "class_name": "Functional",
            "config": {
                "name": name,
                "trainable": True,
                "layers": self.layers,
                "input_layers": [[self.input, 0, 0]],
                "output_layers": [[output, 0, 0]],
            },
        }


def _quicknet(b: _Builder, blocks: Sequence[int], filters: Sequence[int], classes: int) -> str:
    f0 = filters[0]
    x = b.conv(b.input, f0 // 4, 3, strides=2, padding="same")
    x = b.relu(b.bn(x))
    x = b.depthwise(x, 3, 2, quant=True)
    x = b.bn(x, scale=False, center=False)
    x = b.conv(x, f0, 1)
    x = b.bn(x)
    for n, f in zip(blocks, filters):
        for _ in range(n):
            if f != b.stats[x][0]:  # transition
                x = b.relu(x)
                x = b.maxpool(x, 2, 1)
                x = b.depthwise(x, 3, 2, quant=False, blur=True)
                x = b.conv(x, f, 1, init="glorot")
                x = b.bn(x, momentum=0.9, epsilon=1e-5)
            r = x
            y = b.conv(
                x,
                b.stats[x][0],
                3,
                padding="same",
                init="glorot",
                activation="relu",
                input_quantizer=_STE125,
                kernel_quantizer=_STE125,
                pad_values=1.0,
            )
            y = b.bn(y, momentum=0.9, epsilon=1e-5)
            x = b.add_op(y, r)
    return b.head(x, classes, quant_dense=True, relu_first=True)


def _birealnet(b: _Builder, classes: int, filters: int = 64) -> str:
    x = b.conv(b.input, filters, 7, strides=2, padding="same", quant=False, init="glorot")
    x = b.bn(x, momentum=0.8)
    x = b.maxpool(x, 3, 2, "same")

    def block(x: str, out: int) -> str:
        cin = b.stats[x][0]
        shortcut = x
        if cin != out:
            shortcut = b.avgpool(shortcut, 2, 2, "same")
            shortcut = b.conv(shortcut, out, 1, quant=False, init="glorot")
            shortcut = b.bn(shortcut, momentum=0.8)
        y = b.conv(
            x,
            out,
            3,
            strides=1 if cin == out else 2,
            padding="same",
            init="glorot",
            input_quantizer="approx_sign",
            kernel_quantizer="magnitude_aware_sign",
        )
        y = b.bn(y, momentum=0.8)
        return b.add_layer(y, shortcut)

    x = block(x, filters)
    for _ in range(3):
        x = block(x, filters)
    for _ in range(3):
        x = block(x, 2 * b.stats[x][0])
        for _ in range(3):
            x = block(x, b.stats[x][0])
    return b.head(x, classes, quant_dense=False, relu_first=False)


def config_and_weights(
    name: str, seed: int = 0, num_classes: int = 1000
) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
    """(Keras-style model config, {layer: [arrays]}) of a zoo model at 224x224x3."""
    if name not in MODELS:
        raise ValueError(f"name: expected one of {', '.join(MODELS)}, got {name!r}")
    b = _Builder(seed, (224, 224, 3))
    if name == "BiRealNet":
        out = _birealnet(b, num_classes)
        model_name = "birealnet18"
    else:
        blocks, filters, model_name = _QUICKNET[name]
        out = _quicknet(b, blocks, filters, num_classes)
    return b.config(model_name, out), b.weights


def build(name: str, seed: int = 0, num_classes: int = 1000) -> Model:
    """A compiled :class:`fastq.models.Model` of a zoo architecture with seeded random weights."""
    config, weights = config_and_weights(name, seed, num_classes)
    return from_config(config, weights, {"format": "fastq.models.zoo", "keras_version": ""})
