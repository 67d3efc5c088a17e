"""Argument normalisation shared by every entry point.

The dtype rule (docs/semantics.md, "Deliberate differences from larq"): float16/32/64 keep their dtype; integer and
bool inputs become ``np.result_type(x, np.float16)`` (as ``np.sin`` does); anything else is a
TypeError. Kernels run in float32 or float64; float16 is computed in float32 and rounded once.
Every conversion or copy happens here, visibly: the native layer never converts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

F16 = np.dtype(np.float16)
F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
NATIVE = (F32, F64)


def reject_subclass(x: object, name: str) -> None:
    """Masked arrays are refused (fastq has no masked kernels, and np.asarray would silently
    compute on the hidden data): TypeError naming the way out. Other ndarray subclasses are
    computed as plain arrays of their data and return plain arrays."""
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name}: masked arrays are not supported (fastq would compute on the masked-out data and drop "
            f"the mask); pass {name}.filled(value) or np.ma.getdata({name}) explicitly"
        )


def result_dtype(dtype: np.dtype[Any], name: str = "x") -> np.dtype[Any]:
    """The dtype fastq returns for an input of ``dtype``."""
    kind = dtype.kind
    if kind == "f":
        if dtype.itemsize in (2, 4, 8):
            native: np.dtype[Any] = dtype.newbyteorder("=")
            return native
        raise TypeError(
            f"{name}: expected float16, float32 or float64, got {dtype} (extended precision is not supported)"
        )
    if kind in "iub":
        return np.dtype(np.result_type(dtype, np.float16))
    raise TypeError(f"{name}: expected a real-valued array (float, integer or bool), got dtype {dtype}")


def as_array(x: object, name: str = "x") -> tuple[np.ndarray, np.dtype[Any]]:
    """Return ``(array, result_dtype)`` without copying an ndarray: shapes and dtypes can be
    checked before any conversion or allocation."""
    if not isinstance(x, np.ndarray):
        if isinstance(x, (str, bytes)):
            raise TypeError(f"{name}: expected an array of numbers, got {type(x).__name__}")
        if type(x).__name__ == "PackedBits":
            raise TypeError(
                f"{name}: expected real values, got a PackedBits (packed signs); "
                "fastq.unpack_bits(p) gives its +-1 values"
            )
        a = np.asarray(x)
        if a.dtype == object:
            raise TypeError(
                f"{name}: expected an array of numbers, got {type(x).__name__} (NumPy made it dtype object)"
            )
        x = a
    elif type(x) is not np.ndarray:
        reject_subclass(x, name)
    if (x.dtype is F32 or x.dtype is F64) and x.flags.c_contiguous and x.flags.aligned:
        return x, x.dtype
    return x, result_dtype(x.dtype, name)


def to_work(x: np.ndarray, rd: np.dtype[Any]) -> np.ndarray:
    """x as a C-contiguous, aligned float32/float64 array (x itself, or one converted copy)."""
    wd = F32 if rd == F16 else rd
    if x.dtype is wd and x.flags.c_contiguous and x.flags.aligned:
        return x
    return np.require(x, wd, ("C", "A"))


def as_input(x: object, name: str = "x") -> tuple[np.ndarray, np.dtype[Any]]:
    """Return ``(work, result_dtype)``: ``work`` is a C-contiguous, aligned float32/float64
    array with x's values (x itself when it already is one; otherwise a converted copy)."""
    x, rd = as_array(x, name)
    return to_work(x, rd), rd


def as_like(a: object, work: np.ndarray, rd: np.dtype[Any], name: str) -> np.ndarray:
    """A second operand (``dy``) with the shape of ``work``, converted to the result dtype
    ``rd`` and then to the working dtype (so a float64 ``dy`` for a float16 ``x`` is rounded to
    float16 first, as the gradient of a float16 tensor is; overflow gives ±inf, as IEEE says)."""
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    reject_subclass(a, name)
    result_dtype(a.dtype, name)
    if a.shape != work.shape:
        raise ValueError(f"{name}: expected shape {work.shape} (the shape of x), got {a.shape}")
    with np.errstate(over="ignore"):
        if a.dtype != rd:
            a = a.astype(rd)
        return np.require(a, work.dtype, ("C", "A"))


def _data_ptr(a: np.ndarray) -> int:
    return int(a.__array_interface__["data"][0])


def check_out(out: object, shape: tuple[int, ...], rd: np.dtype[Any]) -> None:
    """out= must be a writable ndarray (not masked) of the given shape and result dtype."""
    if out is None:
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out: expected a NumPy array, got {type(out).__name__}")
    reject_subclass(out, "out")
    if out.shape != shape:
        raise ValueError(f"out: expected shape {shape}, got {out.shape}")
    if out.dtype != rd:
        raise ValueError(f"out: expected dtype {rd}, got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("out: the output array is read-only")


def output_for(
    out: np.ndarray | None, work: np.ndarray, rd: np.dtype[Any], *inputs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(target, out)``: the kernel writes ``target``; when it is not ``out`` the caller
    copies it into ``out`` (non-contiguous or float16 ``out``, or ``out`` partially overlapping
    an input)."""
    if out is None:
        out = np.empty(work.shape, rd)
        return (out if rd is work.dtype or rd == work.dtype else np.empty(work.shape, work.dtype)), out
    check_out(out, work.shape, rd)
    flags = out.flags
    direct = flags.c_contiguous and flags.aligned and out.dtype is work.dtype
    if direct:
        for a in inputs:  # same memory is fine (in place); a shifted overlap is not
            if a is not out and np.may_share_memory(a, out) and _data_ptr(a) != _data_ptr(out):
                direct = False
    return (out if direct else np.empty(work.shape, work.dtype)), out


def finish(target: np.ndarray, out: np.ndarray) -> np.ndarray:
    if target is not out:
        with np.errstate(over="ignore"):  # float32 -> float16 overflows to ±inf, as IEEE says
            np.copyto(out, target, casting="same_kind")
    return out
