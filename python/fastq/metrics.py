"""larq's ``FlipRatio`` metric: the fraction of values that changed since the previous update."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class FlipRatio:
    """Each update casts the values to ``values_dtype`` (fractional values truncate toward 0)
    and adds ``1 - count(previous == values) / size`` to a running total; the first update only
    stores the values. ``result()`` is ``total / (count - 1)``, 0 when nothing was compared.
    ``reset_state()`` clears total and count but keeps the previous values (as larq does)."""

    def __init__(self, values_dtype: npt.DTypeLike = "int8", name: str = "flip_ratio") -> None:
        self.values_dtype = np.dtype(values_dtype)
        self.name = name
        self._previous: np.ndarray | None = None
        self.total = 0.0
        self.count = 0

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """ValueError if values of ``shape`` cannot follow the previous update (checked by the
        quantizers before they write ``out=``)."""
        if self._previous is not None and self._previous.shape != tuple(shape):
            raise ValueError(f"FlipRatio: values of shape {tuple(shape)} after values of shape {self._previous.shape}")

    def update_state(self, values: npt.ArrayLike) -> None:
        with np.errstate(invalid="ignore"):
            v = np.asarray(values).astype(self.values_dtype)
        if self._previous is not None and self._previous.shape != v.shape:
            raise ValueError(f"FlipRatio: values of shape {v.shape} after values of shape {self._previous.shape}")
        if self.count > 0 and v.size:
            self.total += 1.0 - np.count_nonzero(self._previous == v) / v.size
        self.count += 1
        self._previous = v

    def result(self) -> float:
        return self.total / (self.count - 1) if self.count > 1 else 0.0

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0

    def __call__(self, values: npt.ArrayLike) -> float:
        self.update_state(values)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"values_dtype": self.values_dtype.name, "name": self.name}

    def __repr__(self) -> str:
        return f"FlipRatio(values_dtype={self.values_dtype.name!r}, name={self.name!r})"
