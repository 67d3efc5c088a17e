"""Layout ops: Keras's ``Permute`` (used by ``fastq.torch.export`` to take PyTorch's NCHW input).

Kept apart from ops.py (the compute ops) so that file can change without touching this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .reference_ops import Op


class Permute(Op):
    """Keras's ``Permute(dims)``: the per-image axes reordered, ``dims`` counted from 1 (the batch
    axis stays first). One copy."""

    inplace = False

    def __init__(self, name: str, inputs: list[str], dims: Iterable[int]) -> None:
        super().__init__(name, inputs)
        self.dims = tuple(int(d) for d in dims)

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        shape = in_shapes[0]
        if sorted(self.dims) != list(range(1, len(shape) + 1)):
            raise ValueError(
                f"layer {self.name!r}: dims {self.dims} is not a permutation of the axes 1..{len(shape)} "
                f"of an input of shape {tuple(shape)}"
            )
        return tuple(shape[d - 1] for d in self.dims)

    def describe(self) -> str:
        return f"Permute{self.dims}"

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        np.copyto(out, np.transpose(inputs[0], (0,) + self.dims))
