"""Argument normalisation shared by every entry point.

The dtype rule (docs/semantics.md, "Deliberate differences from larq"): float16/32/64 keep their dtype; integer and
bool inputs become ``np.result_type(x, np.float16)`` (as ``np.sin`` does); anything else is a
TypeError. Kernels run in float32 or float64; float16 is computed in float32 and rounded once.
Every conversion or copy happens here, visibly: the native layer never converts.
"""

from __future__ import annotations

import numpy as np

F16 = np.dtype(np.float16)
F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
NATIVE = (F32, F64)


def result_dtype(dtype: np.dtype, name: str = "x") -> np.dtype:
    """The dtype fastq returns for an input of ``dtype``."""
    kind = dtype.kind
    if kind == "f":
        if dtype.itemsize in (2, 4, 8):
            return dtype.newbyteorder("=")
        raise TypeError(f"{name}: expected float16, float32 or float64, got {dtype} (extended precision is not supported)")
    if kind in "iub":
        return np.result_type(dtype, np.float16)
    raise TypeError(f"{name}: expected a real-valued array (float, integer or bool), got dtype {dtype}")


def as_input(x, name: str = "x"):
    """Return ``(work, result_dtype)``: ``work`` is a C-contiguous, aligned float32/float64
    array with x's values (x itself when it already is one; otherwise a converted copy)."""
    if not isinstance(x, np.ndarray):
        if isinstance(x, (str, bytes)):
            raise TypeError(f"{name}: expected an array of numbers, got {type(x).__name__}")
        x = np.asarray(x)
    elif (x.dtype is F32 or x.dtype is F64) and x.flags.c_contiguous and x.flags.aligned:
        return x, x.dtype  # already what the kernels take
    rd = result_dtype(x.dtype, name)
    wd = F32 if rd == F16 else rd
    return np.require(x, wd, ("C", "A")), rd


def as_like(a, work: np.ndarray, rd: np.dtype, name: str) -> np.ndarray:
    """A second operand (``dy``) with the shape of ``work``, converted to the result dtype
    ``rd`` and then to the working dtype (so a float64 ``dy`` for a float16 ``x`` is rounded to
    float16 first, as the gradient of a float16 tensor is; overflow gives ±inf, as IEEE says)."""
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    result_dtype(a.dtype, name)
    if a.shape != work.shape:
        raise ValueError(f"{name}: expected shape {work.shape} (the shape of x), got {a.shape}")
    with np.errstate(over="ignore"):
        if a.dtype != rd:
            a = a.astype(rd)
        return np.require(a, work.dtype, ("C", "A"))


def _data_ptr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def output_for(out, work: np.ndarray, rd: np.dtype, *inputs: np.ndarray):
    """Return ``(target, out)``: the kernel writes ``target``; when it is not ``out`` the caller
    copies it into ``out`` (non-contiguous or float16 ``out``, or ``out`` partially overlapping
    an input)."""
    if out is None:
        out = np.empty(work.shape, rd)
        return (out if rd is work.dtype or rd == work.dtype else np.empty(work.shape, work.dtype)), out
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out: expected a NumPy array, got {type(out).__name__}")
    if out.shape != work.shape:
        raise ValueError(f"out: expected shape {work.shape}, got {out.shape}")
    if out.dtype != rd:
        raise ValueError(f"out: expected dtype {rd}, got {out.dtype}")
    flags = out.flags
    if not flags.writeable:
        raise ValueError("out: the output array is read-only")
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
