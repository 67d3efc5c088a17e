"""The model's graph: Keras's functional (or Sequential) config turned into layer calls.

A :class:`Graph` is a list of :class:`Node` in topological order. A node is one call of a Keras
layer; its output is named by the layer name (``name#k`` for the k-th call of a shared layer).
Inputs are node outputs (a layer's output tensors other than the first are not supported: none of
the supported layers has more than one).

Both inbound-node formats are read: tf_keras's nested lists ``[layer, node, tensor, kwargs]``
(where TFOpLambda keeps its other operands in ``kwargs``, e.g. ``{"y": [layer, node, tensor]}``)
and Keras 3's ``{"args": [...], "kwargs": {...}}`` with ``__keras_tensor__`` entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class UnsupportedModelError(ValueError):
    """The model uses a layer, a layer option or a structure fastq.models cannot run."""


@dataclass
class Node:
    name: str  # the output's name (the layer name for its first call)
    layer: str  # Keras layer name
    class_name: str  # Keras class, without a "module>" prefix
    config: dict[str, Any]
    inputs: list[str] = field(default_factory=list)  # names of the input nodes' outputs, in call order
    kwargs: dict[str, Any] = field(default_factory=dict)  # non-tensor call arguments (TFOpLambda)


@dataclass
class Graph:
    nodes: list[Node]
    inputs: list[str]  # names of the model's inputs
    outputs: list[str]  # names of the model's outputs
    input_shapes: dict[str, tuple[int | None, ...]]  # input name -> shape without the batch axis (None: unknown)
    name: str = "model"

    def consumers(self) -> dict[str, list[str]]:
        users: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                users[i].append(n.name)
        return users

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


def _class_name(layer_cfg: dict[str, Any]) -> str:
    name: str = layer_cfg["class_name"]
    return name.split(">")[-1]


def _out_name(layer: str, node_index: int) -> str:
    return layer if node_index == 0 else f"{layer}#{node_index}"


def _is_ref(v: object) -> bool:
    return (
        isinstance(v, (list, tuple))
        and len(v) in (3, 4)
        and isinstance(v[0], str)
        and isinstance(v[1], int)
        and isinstance(v[2], int)
    )


def _keras3_refs(obj: object, out: list[str]) -> None:
    """Keras 3: collect ``__keras_tensor__`` histories in order."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            h = obj["config"]["keras_history"]
            out.append(_ref(h[0], h[1], h[2]))
            return
        for v in obj.values():
            _keras3_refs(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _keras3_refs(v, out)


def _ref(layer: str, node_index: int, tensor_index: int) -> str:
    if tensor_index != 0:
        raise UnsupportedModelError(
            f"layer {layer!r}: its output tensor {tensor_index} is used; only single-output layers are supported"
        )
    return _out_name(layer, node_index)


def _strip_refs(obj: dict[str, Any]) -> dict[str, Any]:
    """A tf_keras kwargs dict without its tensor references (TFOpLambda keeps plain arguments)."""
    return {k: v for k, v in obj.items() if not _is_ref(v)}


def _parse_inbound(node_cfg: Any) -> tuple[list[str], dict[str, Any]]:
    """(input names, plain kwargs) of one inbound node in either format."""
    if isinstance(node_cfg, dict):  # Keras 3
        refs: list[str] = []
        _keras3_refs(node_cfg.get("args", []), refs)
        kw = node_cfg.get("kwargs", {}) or {}
        _keras3_refs(kw, refs)
        plain = {k: v for k, v in kw.items() if not (isinstance(v, dict) and v.get("class_name") == "__keras_tensor__")}
        return refs, plain
    refs, plain = [], {}
    if node_cfg and isinstance(node_cfg[0], str):  # TFOpLambda's node is one entry, not a list of them
        node_cfg = [node_cfg]
    for entry in node_cfg:  # tf_keras: [[layer, node, tensor, kwargs], ...]
        refs.append(_ref(entry[0], entry[1], entry[2]))
        if len(entry) > 3 and isinstance(entry[3], dict):
            for k, v in entry[3].items():
                if _is_ref(v):
                    refs.append(_ref(v[0], v[1], v[2]))
                elif isinstance(v, (list, tuple)) and v and all(_is_ref(x) for x in v):
                    refs.extend(_ref(x[0], x[1], x[2]) for x in v)
                else:
                    plain[k] = v
    return refs, plain


def _io_refs(spec: Any) -> list[str]:
    """Model input/output layer lists: [[name, node, tensor], ...], a single [name, node, tensor],
    or (Keras 3) a dict/nested structure of them."""
    if _is_ref(spec):
        return [_ref(spec[0], spec[1], spec[2])]
    if isinstance(spec, dict):
        return [r for v in spec.values() for r in _io_refs(v)]
    out: list[str] = []
    for s in spec:
        out.extend(_io_refs(s))
    return out


def _input_shape(layer_cfg: dict[str, Any]) -> tuple[int | None, ...]:
    c = layer_cfg["config"]
    shape = c.get("batch_input_shape") or c.get("batch_shape")
    if shape is None:
        shape = [None] + list(c.get("input_shape") or c.get("shape") or [])
    return tuple(shape[1:])


def parse(model_config: dict[str, Any]) -> Graph:
    """The :class:`Graph` of a Keras model config (``{"class_name": ..., "config": ...}``)."""
    cls = _class_name(model_config)
    cfg = model_config.get("config", {})
    if cls == "Sequential":
        return _parse_sequential(cfg)
    if cls not in ("Functional", "Model"):
        raise UnsupportedModelError(
            f"model: class {model_config.get('class_name')!r} is not a Functional or Sequential model; "
            "subclassed models cannot be loaded without their Python code"
        )
    return _parse_functional(cfg)


def _parse_functional(cfg: dict[str, Any]) -> Graph:
    nodes: list[Node] = []
    shapes: dict[str, tuple[int | None, ...]] = {}
    for layer_cfg in cfg["layers"]:
        cls = _class_name(layer_cfg)
        lname = layer_cfg.get("name") or layer_cfg["config"]["name"]
        if cls in ("Functional", "Sequential", "Model"):
            raise UnsupportedModelError(
                f"layer {lname!r} ({cls}): nested models are not supported; save the flattened model"
            )
        if cls == "InputLayer":
            shapes[lname] = _input_shape(layer_cfg)
            nodes.append(Node(lname, lname, cls, layer_cfg["config"]))
            continue
        for k, node_cfg in enumerate(layer_cfg.get("inbound_nodes", [])):
            refs, plain = _parse_inbound(node_cfg)
            nodes.append(Node(_out_name(lname, k), lname, cls, layer_cfg["config"], refs, plain))
    graph = Graph(
        _toposort(nodes),
        _io_refs(cfg["input_layers"]),
        _io_refs(cfg["output_layers"]),
        shapes,
        cfg.get("name", "model"),
    )
    return graph


def _parse_sequential(cfg: dict[str, Any]) -> Graph:
    layers = cfg["layers"]
    nodes: list[Node] = []
    shapes: dict[str, tuple[int | None, ...]] = {}
    prev: str | None = None
    for layer_cfg in layers:
        cls = _class_name(layer_cfg)
        lname = layer_cfg["config"]["name"]
        if cls == "InputLayer":
            shapes[lname] = _input_shape(layer_cfg)
            nodes.append(Node(lname, lname, cls, layer_cfg["config"]))
            prev = lname
            continue
        if prev is None:  # tf_keras Sequential without an InputLayer: the first layer holds the shape
            shape = _input_shape(layer_cfg) if ("batch_input_shape" in layer_cfg["config"]) else None
            if not shape:
                raise UnsupportedModelError("model: a Sequential model without an input shape cannot be loaded")
            shapes["input"] = shape
            nodes.append(Node("input", "input", "InputLayer", {"name": "input"}))
            prev = "input"
        nodes.append(Node(lname, lname, cls, layer_cfg["config"], [prev]))
        prev = lname
    if prev is None:  # (found by mypy: it loaded as a model with no input and the output None)
        raise UnsupportedModelError("model: a Sequential model without layers cannot be loaded")
    inputs = [n.name for n in nodes if n.class_name == "InputLayer"]
    return Graph(nodes, inputs, [prev], shapes, cfg.get("name", "sequential"))


def _toposort(nodes: list[Node]) -> list[Node]:
    by_name = {n.name: n for n in nodes}
    for n in nodes:
        for i in n.inputs:
            if i not in by_name:
                raise UnsupportedModelError(f"layer {n.layer!r}: input {i!r} is not produced by any layer of the model")
    done: set[str] = set()
    order: list[Node] = []
    for n in nodes:  # the config lists layers in a valid order almost always; this makes sure
        stack = [(n, False)]
        while stack:
            cur, expanded = stack.pop()
            if cur.name in done:
                continue
            if expanded:
                done.add(cur.name)
                order.append(cur)
                continue
            stack.append((cur, True))
            for i in reversed(cur.inputs):
                if i not in done:
                    stack.append((by_name[i], False))
    return order
