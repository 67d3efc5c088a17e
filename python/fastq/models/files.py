"""Reading Keras model files with h5py and json only (never TensorFlow).

Two formats:

- ``model.save("m.h5")`` (legacy HDF5): the root attribute ``model_config`` holds the model's JSON
  config; weights live under ``model_weights/<layer>/`` and the group's ``weight_names`` attribute
  gives their order (the layer's ``weights``: trainable first, then non-trainable).
- ``model.save("m.keras")`` (a zip): ``config.json``, ``metadata.json`` and ``model.weights.h5``
  whose groups hold each layer's variables as ``vars/0, vars/1, ...`` in the same order. tf_keras
  files nest them under ``_layer_checkpoint_dependencies/<layer>``, Keras 3 under
  ``layers/<layer>``.

The result is ``(config, weights, info)``: the model config (``{"class_name": ..., "config": ...}``),
``{layer name: [arrays in the layer's weight order]}`` and ``{"format", "keras_version", "backend"}``.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from typing import Any

import numpy as np

# (Keras model config, {layer name: [arrays]}, {"format", "keras_version", ...}): what read() returns.
Config = dict[str, Any]
Weights = dict[str, list[np.ndarray]]
FileInfo = dict[str, str]

_H5PY_HINT = 'fastq.models needs h5py to read Keras model files: pip install "fastq-bnn[models]"'


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - exercised in a subprocess test
        raise ImportError(_H5PY_HINT) from e
    return h5py


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return str(value)


def read(path: str | os.PathLike[str]) -> tuple[Config, Weights, FileInfo]:
    """``(config, weights, info)`` of the model file at ``path`` (.h5/.hdf5 or .keras)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"path: no such file: {path!r}")
    if zipfile.is_zipfile(path):
        return _read_keras_zip(path)
    h5py = _h5py()
    if not h5py.is_hdf5(path):
        raise ValueError(f"path: {path!r} is neither a Keras .keras zip nor an HDF5 (.h5) model file")
    return _read_h5(path)


def _read_h5(path: str) -> tuple[Config, Weights, FileInfo]:
    h5py = _h5py()
    with h5py.File(path, "r") as f:
        if "model_config" not in f.attrs:
            raise ValueError(
                f"path: {path!r} is an HDF5 file without a 'model_config' attribute: it holds weights "
                "only (model.save_weights); save the whole model with model.save('m.h5')"
            )
        config = json.loads(_text(f.attrs["model_config"]))
        info = {
            "format": "h5",
            "keras_version": _text(f.attrs.get("keras_version", "")),
            "backend": _text(f.attrs.get("backend", "")),
        }
        weights: Weights = {}
        group = f.get("model_weights", f)
        for name in group:
            g = group[name]
            if not isinstance(g, h5py.Group):
                continue
            names = [_text(n) for n in g.attrs.get("weight_names", [])]
            weights[name] = [np.asarray(g[n]) for n in names]
    return config, weights, info


def _snake_case(name: str) -> str:
    """Keras's object naming in .keras weight files: "QuantConv2D" -> "quant_conv2d"."""
    s = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", s).lower()


def _read_keras_zip(path: str) -> tuple[Config, Weights, FileInfo]:
    h5py = _h5py()
    with zipfile.ZipFile(path) as z:
        members = set(z.namelist())
        if "config.json" not in members:
            raise ValueError(f"path: {path!r} is a zip without config.json: not a Keras .keras file")
        config = json.loads(z.read("config.json"))
        meta = json.loads(z.read("metadata.json")) if "metadata.json" in members else {}
        weights: Weights = {}
        if "model.weights.h5" in members:
            with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
                weights = _keras_zip_weights(config, f, h5py)
    info = {"format": "keras", "keras_version": str(meta.get("keras_version", "")), "backend": ""}
    return config, weights, info


def _vars(group: Any, h5py: Any) -> list[np.ndarray]:
    v = group.get("vars")
    if not isinstance(v, h5py.Group):
        return []
    return [np.asarray(v[k]) for k in sorted(v.keys(), key=int)]


def _keras_zip_weights(config: Config, f: Any, h5py: Any) -> Weights:
    """Layers' variables are stored under ``layers/<object name>/vars``, the object name being the
    snake-cased class name made unique with ``_1``, ``_2``... in the order of the model's layers
    (tf_keras 2.13+ and Keras 3); older tf_keras files use ``_layer_checkpoint_dependencies/<name>``."""
    layers = config.get("config", {}).get("layers", [])
    root = f.get("layers", None)
    old = f.get("_layer_checkpoint_dependencies", None)
    weights: Weights = {}
    seen: dict[str, int] = {}
    for layer_cfg in layers:
        name = layer_cfg.get("name") or layer_cfg["config"]["name"]
        base = _snake_case(layer_cfg["class_name"].split(">")[-1])
        k = seen.get(base, 0)
        seen[base] = k + 1
        obj = base if k == 0 else f"{base}_{k}"
        if root is not None and obj in root:
            weights[name] = _vars(root[obj], h5py)
        elif old is not None and name in old:
            weights[name] = _vars(old[name], h5py)
    return weights
