"""Binary (XNOR-popcount) inference: bit-packing, the packed +-1 matrix product, a dense layer.

The packed format is the one docs/packed-format.md fixes, identical on every ISA: the last axis is packed
into ``uint64`` words, element ``i`` of a row in bit ``i % 64`` of word ``i // 64`` (least
significant bit first); the bit is 1 exactly when the value is ``< 0`` (so +0.0, -0.0 and NaN
pack as +1, matching larq's ``sign``); rows are padded with zero bits to whole words. On a
little-endian machine the bytes equal ``np.packbits(x < 0, axis=-1, bitorder="little")``,
padded to a multiple of 8 bytes.

    >>> import numpy as np, fastq
    >>> a = fastq.pack_bits(np.array([[0.5, -1.0, 0.0, -0.0]], np.float32))
    >>> a
    PackedBits(shape=(1, 4), k=4)
    >>> a.words
    array([[2]], dtype=uint64)
    >>> fastq.binary_matmul(a, a)
    array([[4]], dtype=int32)

Conversions are explicit and documented on each function: float32 and float64 C-contiguous
input is read in place; anything else (other dtypes, non-contiguous views, ``axis != -1``) is
first copied into a C-contiguous float32/float64 array, as ``fastq``'s quantizers do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._arrays import as_input, reject_subclass, result_dtype

__all__ = ["BinaryDense", "PackedBits", "binary_matmul", "pack_bits", "unpack_bits"]

_U64 = np.dtype(np.uint64)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def _n_words(k: int) -> int:
    return (k + 63) // 64


class PackedBits:
    """Sign bits of an array, packed along its last axis (see the module docstring).

    Attributes:
        words: read-only C-contiguous ``uint64`` array of shape ``shape[:-1] + (ceil(k / 64),)``.
        k: the number of bits in a row (the true length of the packed axis).
        shape: the logical shape, ``words.shape[:-1] + (k,)``.

    Make one with :func:`pack_bits`, or rebuild one from its words and ``k`` with
    :meth:`from_words`. Save and load::

        np.savez("weights.npz", words=p.words, k=p.k)
        with np.load("weights.npz") as f:
            p = fastq.PackedBits.from_words(f["words"], int(f["k"]))

    Pickling stores the same two things.
    """

    __slots__ = ("_k", "_words")
    _k: int
    _words: np.ndarray

    def __init__(self, words: npt.ArrayLike, k: int) -> None:
        """Same as :meth:`from_words`."""
        words, k = _checked_words(words, k)
        self._words = words
        self._k = k

    @classmethod
    def from_words(cls, words: npt.ArrayLike, k: int) -> PackedBits:
        """Rebuild from packed words (``uint64``, shape ``(..., ceil(k / 64))``) and the bit count k.

        The words are copied into a read-only array the object owns. Raises TypeError for a
        dtype other than uint64 and ValueError for a shape that does not match ``k`` or for
        padding bits (bits ``k % 64`` and up of each row's last word) that are not zero.
        """
        return cls(words, k)

    @property
    def words(self) -> np.ndarray:
        # A read-only view: its WRITEABLE flag cannot be set back (its base is read-only).
        view: np.ndarray = self._words.view()
        return view

    @property
    def k(self) -> int:
        return self._k

    @property
    def shape(self) -> tuple[int, ...]:
        return self._words.shape[:-1] + (self._k,)

    @property
    def ndim(self) -> int:
        return self._words.ndim

    @property
    def nbytes(self) -> int:
        return self._words.nbytes

    def __len__(self) -> int:
        return self.shape[0]

    def unpack(self) -> np.ndarray:
        """The +-1 float32 array (same as :func:`unpack_bits`)."""
        return unpack_bits(self)

    def __repr__(self) -> str:
        return f"PackedBits(shape={self.shape}, k={self._k})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PackedBits):
            return NotImplemented
        return (
            self._k == other._k
            and self._words.shape == other._words.shape
            and bool(np.array_equal(self._words, other._words))
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking value type: unhashable, like ndarray

    def __reduce__(self) -> tuple[Any, ...]:
        return (PackedBits.from_words, (self._words, self._k))


def _wrap(words: np.ndarray, k: int) -> PackedBits:
    """A PackedBits around words the kernels just wrote (trusted: no checks, no copy)."""
    p = object.__new__(PackedBits)
    words.flags.writeable = False
    p._words = words
    p._k = k
    return p


def _checked_words(words: object, k: object) -> tuple[np.ndarray, int]:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k: expected an integer bit count, got {type(k).__name__}")
    k = int(k)
    if not 0 <= k < 2**31:
        raise ValueError(f"k: expected a bit count >= 0 and < 2**31 (what the kernels take), got {k}")
    if not isinstance(words, np.ndarray):
        words = np.asarray(words)
    if words.dtype != _U64:
        raise TypeError(
            f"words: expected a uint64 array of packed words, got dtype {words.dtype} "
            "(reinterpret 8-byte words with .view(np.uint64))"
        )
    if words.ndim == 0:
        raise ValueError("words: expected at least 1 dimension (the packed axis), got a 0-d array")
    if words.shape[-1] != _n_words(k):
        raise ValueError(f"words: expected {_n_words(k)} words per row for k={k} bits, got shape {words.shape}")
    reject_subclass(words, "words")
    words = np.array(words, dtype=_U64, order="C", copy=True)
    if k % 64 and words.size and np.any(words[..., -1] >> np.uint64(k % 64)):
        raise ValueError(f"words: padding bits (bit {k % 64} and up of each row's last word, k={k}) must be zero")
    words.flags.writeable = False
    return words, k


def pack_bits(x: npt.ArrayLike, axis: int = -1) -> PackedBits:
    """Sign-binarize ``x`` and bit-pack it along ``axis``: bit = 1 exactly when ``x < 0``.

    ``x``: any real array-like of at least one dimension. float32 and float64 C-contiguous
    input is read in place, in one pass; other dtypes and layouts are copied first (float16
    and integers to float32 / float64 as fastq's quantizers do, which never changes a sign).
    ``axis``: the axis to pack; it becomes the last axis of the result (``axis != -1`` copies
    the input into that order first).

    Returns a :class:`PackedBits` with ``shape`` = x's shape with ``axis`` moved last.
    """
    if (
        type(x) is np.ndarray
        and axis == -1
        and (x.dtype == _F32 or x.dtype == _F64)
        and x.flags.c_contiguous
        and x.flags.aligned
        and x.ndim
        and x.size
    ):
        return _wrap(_core.active.pack_bits(x), x.shape[-1])  # the fast path: no conversion
    if not isinstance(x, np.ndarray):
        if isinstance(x, PackedBits):
            raise TypeError("x: already packed (PackedBits); pack_bits takes real values")
        x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("x: expected at least 1 dimension (the axis to pack), got a 0-d array")
    reject_subclass(x, "x")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis: expected an integer, got {type(axis).__name__}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis: {axis} is out of bounds for an array of {x.ndim} dimensions")
    if axis % x.ndim != x.ndim - 1:
        x = np.moveaxis(x, axis, -1)
    if x.shape[-1] >= 2**31:  # the kernels' limit, checked before any copy of a (broadcast) view
        raise ValueError(f"x: expected fewer than 2**31 values along the packed axis, got {x.shape[-1]}")
    if x.size == 0:  # cost bounded by the data: no loop over the rows of an empty array
        result_dtype(x.dtype, "x")
        return _wrap(np.zeros(x.shape[:-1] + (_n_words(x.shape[-1]),), _U64), x.shape[-1])
    work, _ = as_input(x, "x")
    return _wrap(_core.active.pack_bits(work), work.shape[-1])


def unpack_bits(p: PackedBits) -> np.ndarray:
    """The +-1 float32 array of shape ``p.shape`` (bit 1 -> -1.0, bit 0 -> +1.0)."""
    if not isinstance(p, PackedBits):
        raise TypeError(f"p: expected a PackedBits (from pack_bits), got {type(p).__name__}")
    if p._words.size == 0 or p._k == 0:
        return np.ones(p.shape, _F32)
    return _core.active.unpack_bits(p._words, p._k)


def _values(x: object, name: str) -> np.ndarray:
    """The real float or signed-integer array a binary operand that is not PackedBits must be
    (masked arrays and other meaning-changing subclasses refused), not yet converted."""
    reject_subclass(x, name)
    if not isinstance(x, np.ndarray):
        if isinstance(x, (str, bytes, dict, set)) or x is None:
            raise TypeError(f"{name}: expected a PackedBits or a float array, got {type(x).__name__}")
        x = np.asarray(x)
    if x.dtype.kind not in "fi":
        hint = " (packed words? wrap them with PackedBits.from_words(words, k))" if x.dtype.kind == "u" else ""
        raise TypeError(f"{name}: expected a PackedBits or a float array, got an array of dtype {x.dtype}{hint}")
    return x


def _operand(x: object, name: str, ndim: int = 0) -> PackedBits | np.ndarray:
    """A binary operand, checked from its shape and dtype but not yet packed (nor copied): a
    PackedBits as is, or the real float or signed-integer array :func:`_packed` will pack."""
    if type(x) is PackedBits:
        if ndim and x.ndim != ndim:
            raise ValueError(f"{name}: expected a {ndim}-D operand, got shape {x.shape}")
        return x
    x = _values(x, name)
    if ndim and x.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {x.shape}")
    if x.ndim and x.shape[-1] >= 2**31:  # pack_bits's limit, here before any other check allocates
        raise ValueError(f"{name}: expected fewer than 2**31 values along the packed axis, got {x.shape[-1]}")
    return x


def _packed(x: PackedBits | np.ndarray) -> PackedBits:
    return x if isinstance(x, PackedBits) else pack_bits(x)


def _bits(x: PackedBits | np.ndarray) -> int:
    """K of an operand from _operand."""
    return x._k if type(x) is PackedBits else x.shape[-1]


def _is_work(x: np.ndarray) -> bool:
    """x is read in place (no conversion copy) by pack_bits and the layers."""
    return (x.dtype == _F32 or x.dtype == _F64) and x.flags.c_contiguous and x.flags.aligned


def binary_matmul(
    a: PackedBits | npt.ArrayLike, b: PackedBits | npt.ArrayLike, out: np.ndarray | None = None
) -> np.ndarray:
    """``int32 (M, N) = sign(A) @ sign(B).T``, exactly, from packed bits (XNOR-popcount).

    ``a``: (M, K) and ``b``: (N, K), each a :class:`PackedBits` or a float array (packed first,
    with :func:`pack_bits`). K may be any length, not only a multiple of 64. Each entry is
    ``K - 2 * popcount(a_i XOR b_j)``. ``out``: an optional C-contiguous int32 (M, N) array to
    write into (saves allocating, and on some systems page-faulting, a new one per call). Runs
    on fastq's thread pool (``fastq.set_num_threads``) with the GIL released; the result does
    not depend on the thread count.
    """
    a = _operand(a, "a", 2)
    b = _operand(b, "b", 2)
    reject_subclass(out, "out")  # a masked out= would have its mask ignored
    if _bits(a) != _bits(b):
        raise ValueError(
            f"binary_matmul: K mismatch: a has K={_bits(a)} bits per row (shape {a.shape}), "
            f"b has K={_bits(b)} (shape {b.shape})"
        )
    if type(a) is not PackedBits or type(b) is not PackedBits:  # out checked (or made) before packing
        out = _core._output((a.shape[0], b.shape[0]), "int32", out)
    a, b = _packed(a), _packed(b)
    return _core.active.binary_matmul(a._words, b._words, a._k, out)


def _per_unit(value: npt.ArrayLike | None, units: int, default: float, name: str) -> np.ndarray:
    if value is None:
        v = np.full(units, default, _F32)
    else:
        reject_subclass(value, name)
        v = np.asarray(value)
        if v.dtype.kind not in "fiu":
            raise TypeError(f"{name}: expected real numbers, got dtype {v.dtype}")
        if v.ndim == 0:
            v = np.full(units, v, _F32)
        elif v.shape != (units,):
            raise ValueError(
                f"{name}: expected a scalar or shape ({units},) (one per output unit), got shape {v.shape}"
            )
        else:
            v = np.array(v, dtype=_F32, copy=True)
    v.flags.writeable = False
    return v


class BinaryDense:
    """Inference layer of a binarized network: ``y = (sign(x) @ sign(W).T) * scale + bias``.

    Args:
        kernel: the weights W, shape ``(units, in_features)`` (``(N, K)``, like ``b`` of
            :func:`binary_matmul` and PyTorch's ``Linear.weight``; pass ``kernel.T`` for a
            Keras/larq kernel of shape ``(in_features, units)``), as a float array or a
            :class:`PackedBits`. It is packed once, into the kernels' own blocked layout.
        scale, bias: None, a scalar or one value per unit (shape ``(units,)``), stored as
            float32: the folded batch norm of a binary network. Defaults 1 and 0.
        packed_output: return the packed signs of ``y`` (a :class:`PackedBits`, bit = y < 0)
            for the next binary layer instead of float32 ``y``.
        activation: None or ``"relu"``: ``y = relu(dot) * scale + bias`` (applied to the integer
            dot product, before the folded batch norm, as larq's ``QuantDense(activation="relu")``).

    ``layer(x)``: ``x`` of shape ``(..., in_features)``, float (sign-binarized and packed in
    one pass; float32/float64 C-contiguous input is read in place, anything else copied first)
    or a :class:`PackedBits`. Returns float32 ``(..., units)`` or, with ``packed_output``, a
    PackedBits of that shape; ``layer(x, out=y)`` writes float output into ``y``. ``y`` is
    computed in float32 as ``float32(act(dot)) * scale + bias`` (two roundings, no fused
    multiply-add), so it equals that NumPy expression exactly; packed output is bit for bit the
    signs of that float (integer thresholds per unit, docs/binary.md).
    """

    def __init__(
        self,
        kernel: PackedBits | npt.ArrayLike,
        scale: npt.ArrayLike | None = None,
        bias: npt.ArrayLike | None = None,
        *,
        packed_output: bool = False,
        activation: str | None = None,
    ) -> None:
        w = _operand(kernel, "kernel", 2)
        if not isinstance(packed_output, (bool, np.bool_)):
            raise TypeError(
                f"packed_output: expected True or False, got {type(packed_output).__name__} {packed_output!r}"
            )
        if activation not in (None, "linear", "relu"):
            raise ValueError(f"activation: expected None, 'linear' or 'relu', got {activation!r}")
        units = w.shape[0]
        # Parameters are read-only (properties below): the plan holds them, so they cannot change.
        # Checked before the kernel is packed (a copy for a non-float32/64 or broadcast kernel).
        self._scale = _per_unit(scale, units, 1.0, "scale")
        self._bias = _per_unit(bias, units, 0.0, "bias")
        w = _packed(w)
        self._kernel = w
        self._packed_output = bool(packed_output)
        self._activation = "relu" if activation == "relu" else None
        blocked = _core.active.pack_blocked(w._words, w._k)
        self._plan = _core.active.dense_plan(
            blocked, w._k, units, self._scale, self._bias, self._packed_output, self._activation == "relu"
        )

    kernel = property(lambda self: self._kernel, doc="The packed weights (PackedBits, read-only).")
    scale = property(lambda self: self._scale.view(), doc="float32 (units,), read-only.")
    bias = property(lambda self: self._bias.view(), doc="float32 (units,), read-only.")
    packed_output = property(lambda self: self._packed_output, doc="Output packed signs (read-only).")
    activation = property(lambda self: self._activation, doc="None or 'relu' (read-only).")
    units = property(lambda self: self._kernel.shape[0], doc="Output units (N).")
    in_features = property(lambda self: self._kernel.shape[1], doc="Input features (K).")

    def __setattr__(self, name: str, value: object) -> None:
        if not name.startswith("_"):
            raise AttributeError(
                f"BinaryDense.{name} is read-only: parameters are fixed at construction; "
                "build a new BinaryDense instead"
            )
        object.__setattr__(self, name, value)

    def __call__(self, x: PackedBits | npt.ArrayLike, out: np.ndarray | None = None) -> np.ndarray | PackedBits:
        """``out``: an optional C-contiguous float32 array of the result's shape to write into
        (float output only)."""
        if out is not None and self._packed_output:
            raise ValueError("out: only for float output (this layer has packed_output=True)")
        reject_subclass(out, "out")
        if type(x) is PackedBits:
            if x._k != self.in_features:
                raise ValueError(f"x: expected {self.in_features} bits per row (in_features), got shape {x.shape}")
            y = self._plan(x._words, out)
        else:
            reject_subclass(x, "x")
            if not isinstance(x, np.ndarray):
                x = np.asarray(x)
            if x.dtype.kind not in "fi":
                raise TypeError(f"x: expected a PackedBits or a float array, got an array of dtype {x.dtype}")
            if x.ndim == 0 or x.shape[-1] != self.in_features:
                raise ValueError(f"x: expected shape (..., {self.in_features}) (in_features last), got {x.shape}")
            if not _is_work(x):  # x is converted (copied): check out, or allocate y, first
                words = _n_words(self.units)
                shape = x.shape[:-1] + ((words,) if self._packed_output else (self.units,))
                out = _core._output(shape, "uint64" if self._packed_output else "float32", out)
            y = self._plan(as_input(x, "x")[0], out)
        return _wrap(y, self.units) if self.packed_output else y

    def __repr__(self) -> str:
        act = "" if self.activation is None else f", activation={self.activation!r}"
        return (
            f"BinaryDense(units={self.units}, in_features={self.in_features}, packed_output={self.packed_output}{act})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_binary_dense, (self.kernel, self.scale, self.bias, self.packed_output, self.activation))


def _binary_dense(
    kernel: PackedBits, scale: np.ndarray, bias: np.ndarray, packed_output: bool, activation: str | None = None
) -> BinaryDense:
    return BinaryDense(kernel, scale, bias, packed_output=packed_output, activation=activation)
