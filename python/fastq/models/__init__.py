"""Run larq / Keras models saved as .h5 or .keras files, without TensorFlow.

    >>> import fastq.models
    >>> model = fastq.models.load("quicknet.h5")       # h5py + json only
    >>> probs = model.predict(images)                   # float32 NHWC, preprocessed as for Keras
    >>> model.summary()

Reading files needs h5py (``pip install "fastq-bnn[models]"``). See docs/models.md for the
supported layers, what compiling folds, and what "equal to Keras" means.
"""

from __future__ import annotations

import os
from typing import Any

from . import files as _files
from .compile import SUPPORTED as SUPPORTED_LAYERS
from .graph import UnsupportedModelError, parse
from .model import Model

__all__ = ["SUPPORTED_LAYERS", "Model", "UnsupportedModelError", "from_config", "from_keras", "load"]


def from_config(config: dict[str, Any], weights: dict[str, list[Any]], info: dict[str, str] | None = None) -> Model:
    """A Model from a Keras model config (``{"class_name", "config"}``) and ``{layer name: [arrays]}``
    in each layer's weight order."""
    info = dict(info or {})
    try:
        graph = parse(config)
        return Model(graph, weights, info)
    except UnsupportedModelError as e:
        kv = str(info.get("keras_version", ""))
        if kv.startswith("3"):
            raise UnsupportedModelError(f"{e} [file written by Keras {kv}]") from None
        raise


def load(path: str | os.PathLike[str]) -> Model:
    """Load a whole model saved by tf.keras / tf_keras (larq layers included) or Keras 3:
    ``model.save("m.h5")`` (HDF5) or ``model.save("m.keras")`` (zip). Unsupported layers raise
    :class:`UnsupportedModelError` naming the layer and its class, before anything runs."""
    config, weights, info = _files.read(path)
    info["path"] = str(path)
    return from_config(config, weights, info)


def from_keras(keras_model: Any) -> Model:
    """A Model from a Keras model in memory (needs the model's own TensorFlow/Keras)."""
    import json

    config = json.loads(keras_model.to_json())
    weights = {
        layer.name: [w.numpy() if hasattr(w, "numpy") else w for w in layer.weights] for layer in keras_model.layers
    }
    module = type(keras_model).__module__
    version = "3" if module.startswith("keras") else ""  # tf_keras models live in tf_keras.*
    return from_config(config, weights, {"format": "memory", "keras_version": version})
