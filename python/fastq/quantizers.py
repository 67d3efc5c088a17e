"""larq's quantizers on NumPy arrays, forward and backward, computed by native kernels.

Every class follows docs/semantics.md: larq's numbers (forward and pseudo-gradient), larq's registry
names and config formats. ``q(x)`` is the forward pass; ``q.grad(x, dy)`` the input gradient
(vector-Jacobian product) for an upstream gradient ``dy`` of the same shape. Both take an
optional ``out=`` array (in place, ``out=x``, is allowed) and keep the input's float dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

from . import _core
from . import context as _context
from ._arrays import F16, F32, F64, as_array, as_like, check_out, finish, output_for, to_work

__all__ = [
    "ApproxSign",
    "DoReFa",
    "DoReFaQuantizer",
    "MagnitudeAwareSign",
    "NoOp",
    "NoOpQuantizer",
    "Quantizer",
    "SteHeaviside",
    "SteSign",
    "SteTern",
    "SwishSign",
    "approx_sign",
    "deserialize",
    "get",
    "register_quantizer",
    "serialize",
    "ste_heaviside",
    "ste_sign",
    "ste_tern",
    "swish_sign",
]

if TYPE_CHECKING:
    from .metrics import FlipRatio

_IDS = _core.quantizer_ids
_ACTIVE = _core.active
# Keys a config written by larq/Keras carries besides the quantizer's own parameters.
_KERAS_KEYS = frozenset({"name", "trainable", "dtype"})


def _param(value: float, rd: np.dtype[Any]) -> float:
    """A user parameter as the kernels see it: converted to the input's dtype (docs/semantics.md),
    which for float16 input means rounded to float16 before the float32 computation."""
    return float(rd.type(value))


def _clip_params(clip_value: float | None, rd: np.dtype[Any]) -> dict[str, float]:
    """The clipped straight-through mask's kernel parameters; clip_value=None: no mask."""
    if clip_value is None:
        return {"clip_value": 0.0, "no_clip": 1.0}
    return {"clip_value": _param(clip_value, rd), "no_clip": 0.0}


@overload
def _number(name: str, value: object, *, finite: bool = ..., nonneg: bool = ...) -> float: ...
@overload
def _number(name: str, value: object, *, finite: bool = ..., nonneg: bool = ..., none: bool) -> float | None: ...
def _number(
    name: str, value: object, *, finite: bool = False, nonneg: bool = False, none: bool = False
) -> float | None:
    """A real-number parameter as a plain Python float (JSON-serialisable; NumPy scalars too),
    or a TypeError/ValueError naming the parameter, the expectation and the value."""
    if value is None and none:
        return None
    what = "a number" + (" >= 0" if nonneg else "") + (" (finite)" if finite else "") + (" or None" if none else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected {what}, got {type(value).__name__} {value!r}")
    v = float(value)
    if v != v or (finite and not np.isfinite(v)) or (nonneg and not v >= 0):
        raise ValueError(f"{name}: expected {what}, got {value!r}")
    return v


def _boolean(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def _integer(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer in {lo}..{hi}, got {type(value).__name__} {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name}: expected an integer in {lo}..{hi}, got {value!r}")
    return int(value)


def _check_clip(clip_value: object) -> float | None:
    return _number("clip_value", clip_value, nonneg=True, none=True)


def _check_metrics(metrics: Iterable[str] | None) -> list[str]:
    if metrics is None:
        return _context.get_training_metrics()
    if isinstance(metrics, (str, bytes)):
        raise TypeError(f"metrics: expected a list of metric names such as ['flip_ratio'], got the string {metrics!r}")
    try:
        names = list(metrics)
    except TypeError:
        raise TypeError(
            f"metrics: expected a list of metric names such as ['flip_ratio'], got {type(metrics).__name__}"
        ) from None
    for m in names:
        if not isinstance(m, str):
            raise TypeError(f"metrics: expected metric names (str), got {type(m).__name__} {m!r}")
        if m not in _context.SUPPORTED_METRICS:
            known = sorted(_context.SUPPORTED_METRICS)
            raise ValueError(f"metrics: unknown metric {m!r}; expected a subset of {known}")
    return names


# -- the registry (larq.quantizers.get / serialize / deserialize) ------------------------------
_REGISTRY: dict[str, type[Quantizer]] = {}
_Q = TypeVar("_Q", bound="type[Quantizer]")


@overload
def register_quantizer(cls: _Q, *, name: str | None = ..., aliases: Iterable[str] = ...) -> _Q: ...
@overload
def register_quantizer(
    cls: None = ..., *, name: str | None = ..., aliases: Iterable[str] = ...
) -> Callable[[_Q], _Q]: ...
def register_quantizer(
    cls: _Q | None = None, *, name: str | None = None, aliases: Iterable[str] = ()
) -> _Q | Callable[[_Q], _Q]:
    """Class decorator: make a :class:`Quantizer` subclass known to :func:`get`,
    :func:`serialize` and :func:`deserialize` under its class name (or ``name``) and ``aliases``.
    The built-in quantizers register this way; so can a user's own (a Python quantizer that
    overrides ``__call__``/``grad`` and ``get_config``)::

        @fastq.quantizers.register_quantizer
        class Scaled(fastq.Quantizer):
            def __init__(self, factor=2.0, metrics=None):
                self.factor = float(factor)
                super().__init__(metrics=metrics)
            def __call__(self, x, out=None):
                return np.multiply(x, self.factor, out=out)
            def grad(self, x, dy, out=None):
                return np.multiply(dy, self.factor, out=out)
            def get_config(self) -> dict[str, Any]:
                return {"factor": self.factor}

    A name already taken by another class is a ValueError. ``custom_objects={"Name": cls}``
    given to :func:`get`/:func:`deserialize` works without registering (larq's way).
    """

    def add(c: _Q) -> _Q:
        if not (isinstance(c, type) and issubclass(c, Quantizer)):
            raise TypeError(f"register_quantizer: expected a Quantizer subclass, got {c!r}")
        for key in (name or c.__name__, *aliases):
            if not isinstance(key, str) or not key:
                raise TypeError(f"register_quantizer: names must be non-empty strings, got {key!r}")
            old = _REGISTRY.get(key)
            same = old is not None and (old.__module__, old.__qualname__) == (c.__module__, c.__qualname__)
            if old is not None and not same:  # re-registering a re-defined class (same place) is fine
                raise ValueError(
                    f"register_quantizer: the name {key!r} is taken by {old.__module__}.{old.__qualname__}"
                )
            _REGISTRY[key] = c
        c._registered_name = name or c.__name__
        return c

    return add if cls is None else add(cls)


class _FrozenParameters(type):
    """Quantizers' metaclass: once ``__init__`` has run, public attributes (the parameters) are
    read-only, so the config always describes what the object computes."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__call__(*args, **kwargs)
        object.__setattr__(obj, "_frozen", True)
        return obj


class Quantizer(metaclass=_FrozenParameters):
    """Base class: identity forward and backward, ``precision`` None.

    Subclasses set ``_kernel`` (a native kernel name) and override ``_kernel_params`` (the
    kernel's parameters by the names its C++ file declares, ``_core.quantizer_params``) and
    ``get_config``. Parameters are read-only after construction: build a new object instead.
    """

    precision: int | None = None
    _kernel = "NoOp"
    _registered_name: str
    flip_ratio: FlipRatio  # with metrics=["flip_ratio"]

    def __init__(self, metrics: Iterable[str] | None = None) -> None:
        self._custom_metrics = _check_metrics(metrics)
        self._id = _IDS[self._kernel]
        self._param_cache: dict[np.dtype[Any], dict[str, float]] = {}
        self._bind()
        if "flip_ratio" in self._custom_metrics:
            from .metrics import FlipRatio

            self.flip_ratio = FlipRatio(name=f"flip_ratio/{type(self).__name__}")

    def __setattr__(self, name: str, value: object) -> None:
        if self.__dict__.get("_frozen") and not name.startswith("_"):
            raise AttributeError(
                f"{type(self).__name__}.{name} is read-only: parameters are fixed at construction; "
                f"build a new quantizer instead, e.g. {type(self).__name__}(**{{**q.get_config(), {name!r}: ...}})"
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if self.__dict__.get("_frozen") and not name.startswith("_"):
            raise AttributeError(f"{type(self).__name__}.{name} is read-only: build a new quantizer instead")
        object.__delattr__(self, name)

    def _bind(self) -> None:
        # The native fast path: this quantizer's kernel and its parameters for float32 and
        # float64 input on the active table (parameters never change after __init__).
        self._bound = _core.BoundQuantizer(_ACTIVE, self._id, self._kernel_params(F32), self._kernel_params(F64))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_bound", None)
        state.pop("_frozen", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind()
        object.__setattr__(self, "_frozen", True)

    # -- the passes ------------------------------------------------------------------------
    def __call__(self, x: npt.ArrayLike, out: np.ndarray | None = None) -> np.ndarray:
        """Forward pass: the quantized ``x`` (dtype kept; float16 in gives float16 out)."""
        if self._custom_metrics:  # a shape error must come before out= is written
            self.flip_ratio.check_shape(np.shape(x))
        # One native call for float32/float64 arrays that need no conversion; None sends the
        # call through the general path below (conversions, copies, error messages).
        y: np.ndarray | None = self._bound.forward(x, out)
        if y is None:
            xa, rd = as_array(x)
            check_out(out, xa.shape, rd)  # every check before any conversion or allocation
            work = to_work(xa, rd)
            target, out = output_for(out, work, rd, work)
            self._forward(_ACTIVE, work, target, rd)
            y = finish(target, out)
        if self._custom_metrics:
            self.flip_ratio.update_state(y)
        return y

    def grad(self, x: npt.ArrayLike, dy: npt.ArrayLike, out: np.ndarray | None = None) -> np.ndarray:
        """Input gradient: the pseudo-gradient of the forward pass applied to ``dy``."""
        dx: np.ndarray | None = self._bound.backward(x, dy, out)
        if dx is not None:
            return dx
        xa, rd = as_array(x)
        dya = as_array(dy, "dy")[0]
        if dya.shape != xa.shape:
            raise ValueError(f"dy: expected shape {xa.shape} (the shape of x), got {dya.shape}")
        check_out(out, xa.shape, rd)
        work = to_work(xa, rd)
        dyw = as_like(dya, work, rd, "dy")
        target, out = output_for(out, work, rd, work, dyw)
        self._backward(_ACTIVE, work, dyw, target, rd)
        return finish(target, out)

    # Kernel-level passes, on C-contiguous float32/float64 arrays, with an explicit kernel
    # table (tests run them on every ISA through _core.kernels_for).
    def _forward(self, kernels: _core.Kernels, x: np.ndarray, out: np.ndarray, rd: np.dtype[Any]) -> None:
        kernels.forward(self._id, x, out, self._params(rd))

    def _backward(
        self, kernels: _core.Kernels, x: np.ndarray, dy: np.ndarray, out: np.ndarray, rd: np.dtype[Any]
    ) -> None:
        kernels.backward(self._id, x, dy, out, self._params(rd))

    def _params(self, rd: np.dtype[Any]) -> dict[str, float]:
        """The kernel's parameters for result dtype ``rd``, cached per dtype."""
        try:
            return self._param_cache[rd]
        except KeyError:
            p = self._param_cache[rd] = self._kernel_params(rd)
            return p

    def _kernel_params(self, rd: np.dtype[Any]) -> dict[str, float]:
        """{name: value} for the native kernel, by the names of ``_core.quantizer_params``
        (whole-tensor statistics are the kernel's own ``prepare()``)."""
        return {}

    # -- larq's object protocol ---------------------------------------------------------------
    @property
    def metrics(self) -> list[FlipRatio]:
        return [self.flip_ratio] if "flip_ratio" in self._custom_metrics else []

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Quantizer:
        return cls(**{k: v for k, v in config.items() if k not in _KERAS_KEYS})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantizer):
            return NotImplemented
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self.get_config().items()))))


register_quantizer(Quantizer)


@register_quantizer(aliases=("NoOpQuantizer",))
class NoOp(Quantizer):
    """Identity forward and backward with a declared ``precision`` (required, as in larq)."""

    def __init__(self, precision: int, metrics: Iterable[str] | None = None) -> None:
        self.precision = _integer("precision", precision, 1, 2**31 - 1)
        super().__init__(metrics=metrics)

    def get_config(self) -> dict[str, Any]:
        return {"precision": self.precision}


class _ClipValueQuantizer(Quantizer):
    """A quantizer whose only parameter is ``clip_value``, the bound of its clipped
    straight-through gradient mask ``|x| <= clip_value`` (``None``: no mask)."""

    precision = 1

    def __init__(self, clip_value: float | None = 1.0, metrics: Iterable[str] | None = None) -> None:
        self.clip_value = _check_clip(clip_value)
        super().__init__(metrics=metrics)

    def _kernel_params(self, rd: np.dtype[Any]) -> dict[str, float]:
        return _clip_params(self.clip_value, rd)

    def get_config(self) -> dict[str, Any]:
        return {"clip_value": self.clip_value}


@register_quantizer(aliases=("ste_sign",))
class SteSign(_ClipValueQuantizer):
    """sign(x) in {-1, +1} (sign(0) = +1); clipped straight-through gradient, ``dy`` where
    ``|x| <= clip_value`` (``None``: everywhere)."""

    _kernel = "SteSign"


@register_quantizer(aliases=("approx_sign",))
class ApproxSign(Quantizer):
    """sign(x); gradient ``(1 - |x|) * 2 * dy`` where ``|x| <= 1``, else 0 (Bi-Real Net)."""

    precision = 1
    _kernel = "ApproxSign"


@register_quantizer(aliases=("ste_heaviside",))
class SteHeaviside(_ClipValueQuantizer):
    """heaviside(x) in {0, 1} (0 at x <= 0); clipped straight-through gradient."""

    _kernel = "SteHeaviside"


@register_quantizer(aliases=("swish_sign",))
class SwishSign(Quantizer):
    """sign(x); gradient ``dy*β*(2 - βx*tanh(βx/2)) / (1 + cosh(βx))`` (BNN+), no mask."""

    precision = 1
    _kernel = "SwishSign"

    def __init__(self, beta: float = 5.0, metrics: Iterable[str] | None = None) -> None:
        self.beta = _number("beta", beta)
        super().__init__(metrics=metrics)

    def _kernel_params(self, rd: np.dtype[Any]) -> dict[str, float]:
        return {"beta": _param(self.beta, rd)}

    def get_config(self) -> dict[str, Any]:
        return {"beta": self.beta}


@register_quantizer(aliases=("magnitude_aware_sign",))
class MagnitudeAwareSign(_ClipValueQuantizer):
    """``s * sign(x)`` with ``s`` the mean ``|x|`` over all axes but the last (one scale per
    last-axis channel; for 1-D input ``s = |x|``); gradient ``s*dy`` where ``|x| <= clip``.
    The per-channel scale is the kernel's prepare() step, in the same native call."""

    _kernel = "MagnitudeAwareSign"


@register_quantizer(aliases=("ste_tern",))
class SteTern(Quantizer):
    """Ternarization to {-1, 0, +1} with threshold Δ (``threshold_value``, or with
    ``ternary_weight_networks=True`` Δ = 0.7 * mean |x| over the whole tensor); clipped
    straight-through gradient with ``clip_value``."""

    precision = 2
    _kernel = "SteTern"

    def __init__(
        self,
        threshold_value: float = 0.05,
        ternary_weight_networks: bool = False,
        clip_value: float | None = 1.0,
        metrics: Iterable[str] | None = None,
    ) -> None:
        self.threshold_value = _number("threshold_value", threshold_value)
        self.ternary_weight_networks = _boolean("ternary_weight_networks", ternary_weight_networks)
        self.clip_value = _check_clip(clip_value)
        super().__init__(metrics=metrics)

    def _kernel_params(self, rd: np.dtype[Any]) -> dict[str, float]:
        # With ternary_weight_networks the kernel's prepare() computes Δ = 0.7 * sum|x| / size,
        # in larq's order in the working dtype (the sum accumulated in float64).
        twn = self.ternary_weight_networks
        return {
            **_clip_params(self.clip_value, rd),
            "threshold": 0.0 if twn else _param(self.threshold_value, rd),
            "twn": float(twn),
        }

    def get_config(self) -> dict[str, Any]:
        return {
            "threshold_value": self.threshold_value,
            "ternary_weight_networks": self.ternary_weight_networks,
            "clip_value": self.clip_value,
        }


@register_quantizer(aliases=("DoReFaQuantizer", "dorefa_quantizer"))
class DoReFa(Quantizer):
    """DoReFa-Net's k-bit quantizer. ``mode="activations"``: ``Q(clip(x, 0, 1))``;
    ``mode="weights"``: ``2*Q(tanh(x)/(2*max|tanh(x)|) + 0.5) - 1``; ``Q(p) = round(p*n)/n``
    with ``n = 2**k_bit - 1`` and ties to even. Straight-through gradient as larq's."""

    precision: int

    def __init__(self, k_bit: int = 2, mode: str = "activations", metrics: Iterable[str] | None = None) -> None:
        self.precision = _integer("k_bit", k_bit, 1, 32)
        if not isinstance(mode, str):
            raise TypeError(f"mode: expected 'activations' or 'weights', got {type(mode).__name__} {mode!r}")
        if mode not in ("activations", "weights"):
            raise ValueError(f"mode: expected 'activations' or 'weights', got {mode!r}")
        self.mode = mode
        self._kernel = "DoReFaWeights" if mode == "weights" else "DoReFaActivations"
        super().__init__(metrics=metrics)

    def _kernel_params(self, rd: np.dtype[Any]) -> dict[str, float]:
        # n = 2**k_bit - 1 in the working dtype (float32 for float16 input); for weights the
        # kernel's prepare() computes d = max|tanh(x)| = tanh(max|x|) itself.
        return {"levels": float((np.float32 if rd == F16 else rd.type)(2**self.precision - 1))}

    @property
    def k_bit(self) -> int:
        return self.precision

    def get_config(self) -> dict[str, Any]:
        return {"k_bit": self.precision, "mode": self.mode}


NoOpQuantizer = NoOp
DoReFaQuantizer = DoReFa


# -- larq's function forms -------------------------------------------------------------------
def ste_sign(x: npt.ArrayLike, clip_value: float | None = 1.0) -> np.ndarray:
    """Function form of :class:`SteSign`."""
    return SteSign(clip_value=clip_value, metrics=())(x)


def approx_sign(x: npt.ArrayLike) -> np.ndarray:
    """Function form of :class:`ApproxSign`."""
    return ApproxSign(metrics=())(x)


def swish_sign(x: npt.ArrayLike, beta: float = 5.0) -> np.ndarray:
    """Function form of :class:`SwishSign`."""
    return SwishSign(beta=beta, metrics=())(x)


def ste_heaviside(x: npt.ArrayLike, clip_value: float | None = 1.0) -> np.ndarray:
    """Function form of :class:`SteHeaviside`."""
    return SteHeaviside(clip_value=clip_value, metrics=())(x)


def ste_tern(
    x: npt.ArrayLike,
    threshold_value: float = 0.05,
    ternary_weight_networks: bool = False,
    clip_value: float | None = 1.0,
) -> np.ndarray:
    """Function form of :class:`SteTern`."""
    return SteTern(threshold_value, ternary_weight_networks, clip_value, metrics=())(x)


for _f, _cls in (
    (ste_sign, SteSign),
    (approx_sign, ApproxSign),
    (swish_sign, SwishSign),
    (ste_heaviside, SteHeaviside),
    (ste_tern, SteTern),
):
    _f.precision = _cls.precision  # type: ignore[attr-defined]  # larq's function forms carry it
del _f, _cls


# -- registry helpers (register_quantizer is above) ---------------------------------------------
def _lookup(name: object, custom_objects: dict[str, Any] | None = None) -> type[Quantizer]:
    if not isinstance(name, str):
        raise ValueError(f"Could not interpret quantizer identifier: class_name must be a str, got {name!r}")
    key = name.split(">")[-1]  # Keras 3 registered names look like "larq>SteSign"
    for table in (custom_objects or {}, _REGISTRY):
        for k in (name, key):
            if k in table:
                found: type[Quantizer] = table[k]
                return found
    known = sorted({*_REGISTRY, *(custom_objects or {})})
    raise ValueError(
        f"Unknown quantizer: {name!r}. Known names: {', '.join(known)} (a custom class: "
        "pass custom_objects={name: cls}, or decorate it with fastq.quantizers.register_quantizer)"
    )


def deserialize(config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Quantizer:
    """A quantizer from a name or a ``{"class_name": ..., "config": {...}}`` dict (larq's legacy
    form, or Keras 3's with ``module``/``registered_name``); larq's ``name``, ``trainable`` and
    ``dtype`` config keys are accepted and ignored. ``custom_objects``: {name: class} for
    classes that are not registered (larq's argument)."""
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"custom_objects: expected a dict of names to classes, got {type(custom_objects).__name__}")
    if isinstance(config, str):
        return _lookup(config, custom_objects)()
    if isinstance(config, dict) and "class_name" in config:
        cfg = config.get("config") or {}
        if not isinstance(cfg, dict):
            raise ValueError(f"Could not interpret quantizer config: 'config' must be a dict, got {type(cfg).__name__}")
        name = config.get("registered_name") if isinstance(config.get("registered_name"), str) else config["class_name"]
        try:
            cls = _lookup(name, custom_objects)
        except ValueError:
            cls = _lookup(config["class_name"], custom_objects)
        return cls.from_config(cfg)
    raise ValueError(f"Could not interpret quantizer identifier: {config!r}")


@overload
def serialize(quantizer: Quantizer) -> dict[str, Any]: ...
@overload
def serialize(quantizer: Callable[..., Any]) -> str | dict[str, Any]: ...
def serialize(quantizer: Quantizer | Callable[..., Any]) -> str | dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a quantizer (a function form: its name). The
    config holds only JSON types (parameters are stored as Python numbers)."""
    if isinstance(quantizer, Quantizer):
        return {
            "class_name": type(quantizer).__dict__.get("_registered_name", type(quantizer).__name__),
            "config": quantizer.get_config(),
        }
    name = getattr(quantizer, "__name__", None)
    if callable(quantizer) and isinstance(name, str) and name in _REGISTRY:
        return name
    raise ValueError(f"Cannot serialize {quantizer!r}: not a fastq quantizer")


def get(
    identifier: str | dict[str, Any] | Callable[..., Any] | None, custom_objects: dict[str, Any] | None = None
) -> Any:
    """larq's ``quantizers.get``: None -> None; a callable -> itself; a name or config -> a new
    instance (``get("NoOp")`` raises TypeError: NoOp needs ``precision``)."""
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier, custom_objects)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret quantizer identifier: {identifier!r}")
