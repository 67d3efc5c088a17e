"""Keras's Permute layer in fastq.models (fastq.torch.export takes NCHW input through it)."""

import numpy as np
import pytest

import fastq.models
from fastq.models import UnsupportedModelError


def _config(dims, shape=(2, 3, 4)):
    def layer(cls, name, config, inputs):
        return {
            "class_name": cls,
            "name": name,
            "config": {"name": name, **config},
            "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else [],
        }

    return {
        "class_name": "Functional",
        "config": {
            "name": "m",
            "input_layers": [["x", 0, 0]],
            "output_layers": [["flat", 0, 0]],
            "layers": [
                layer("InputLayer", "x", {"batch_input_shape": [None, *shape]}, []),
                layer("Permute", "perm", {"dims": list(dims)}, ["x"]),
                layer("Flatten", "flat", {}, ["perm"]),
            ],
        },
    }


@pytest.mark.parametrize("dims", [(2, 3, 1), (3, 1, 2), (1, 2, 3), (3, 2, 1)])
def test_permute_is_numpy_transpose(dims):
    x = np.arange(5 * 24, dtype=np.float32).reshape(5, 2, 3, 4)
    model = fastq.models.from_config(_config(dims), {})
    got, acts = model.predict(x, outputs=["perm"])
    want = np.transpose(x, (0, *dims))
    np.testing.assert_array_equal(acts["perm"], want)
    np.testing.assert_array_equal(got, want.reshape(5, -1))


@pytest.mark.parametrize("dims", [(1, 2), (0, 1, 2), (1, 1, 2), "21"])
def test_permute_bad_dims(dims):
    with pytest.raises((UnsupportedModelError, ValueError), match="dims"):
        model = fastq.models.from_config(_config(dims), {})
        model.predict(np.zeros((1, 2, 3, 4), np.float32))
