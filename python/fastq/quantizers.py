"""larq's quantizers on NumPy arrays, forward and backward, computed by native kernels.

Every class follows docs/semantics.md: larq's numbers (forward and pseudo-gradient), larq's registry
names and config formats. ``q(x)`` is the forward pass; ``q.grad(x, dy)`` the input gradient
(vector-Jacobian product) for an upstream gradient ``dy`` of the same shape. Both take an
optional ``out=`` array (in place, ``out=x``, is allowed) and keep the input's float dtype.
"""

from __future__ import annotations

import numpy as np

from . import _core
from . import context as _context
from ._arrays import F16, F32, F64, as_input, as_like, finish, output_for

__all__ = [
    "Quantizer",
    "NoOp",
    "NoOpQuantizer",
    "SteSign",
    "ApproxSign",
    "SteHeaviside",
    "SwishSign",
    "MagnitudeAwareSign",
    "SteTern",
    "DoReFa",
    "DoReFaQuantizer",
    "ste_sign",
    "approx_sign",
    "swish_sign",
    "ste_heaviside",
    "ste_tern",
    "get",
    "serialize",
    "deserialize",
]

_IDS = _core.quantizer_ids
_ACTIVE = _core.active
# Keys a config written by larq/Keras carries besides the quantizer's own parameters.
_KERAS_KEYS = frozenset({"name", "trainable", "dtype"})


def _param(value, rd: np.dtype) -> float:
    """A user parameter as the kernels see it: converted to the input's dtype (docs/semantics.md),
    which for float16 input means rounded to float16 before the float32 computation."""
    return float(rd.type(value))


def _clip_params(clip_value, rd):
    """(clip, no_clip_flag) for the clipped straight-through mask; clip_value=None: no mask."""
    return (0.0, 1.0) if clip_value is None else (_param(clip_value, rd), 0.0)


def _check_clip(clip_value):
    if clip_value is None:
        return None
    if isinstance(clip_value, (bool, np.bool_)) or not isinstance(clip_value, (int, float, np.integer, np.floating)):
        raise TypeError(f"clip_value: expected a number or None, got {type(clip_value).__name__}")
    if not clip_value >= 0:
        raise ValueError(f"clip_value: expected a number >= 0 or None, got {clip_value!r}")
    return clip_value


class Quantizer:
    """Base class: identity forward and backward, ``precision`` None.

    Subclasses set ``_kernel`` (a native kernel name) and override ``_params`` (the kernel's
    parameters for one call) and ``get_config``.
    """

    precision = None
    _kernel = "NoOp"

    def __init__(self, metrics=None):
        if metrics is None:
            metrics = _context.get_training_metrics()
        self._custom_metrics = list(metrics)
        for m in self._custom_metrics:
            if m not in _context.SUPPORTED_METRICS:
                raise ValueError(f"metrics: unknown metric {m!r}; expected a subset of {sorted(_context.SUPPORTED_METRICS)}")
        self._id = _IDS[self._kernel]
        self._param_cache = {}
        self._bind()
        if "flip_ratio" in self._custom_metrics:
            from .metrics import FlipRatio

            self.flip_ratio = FlipRatio(name=f"flip_ratio/{type(self).__name__}")

    def _bind(self):
        # The native fast path: this quantizer's kernel and its parameters for float32 and
        # float64 input on the active table (parameters never change after __init__).
        self._bound = _core.BoundQuantizer(_ACTIVE, self._id, self._static_params(F32), self._static_params(F64))

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_bound"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._bind()

    # -- the passes ------------------------------------------------------------------------
    def __call__(self, x, out=None):
        """Forward pass: the quantized ``x`` (dtype kept; float16 in gives float16 out)."""
        # One native call for float32/float64 arrays that need no conversion; None sends the
        # call through the general path below (conversions, copies, error messages).
        y = self._bound.forward(x, out)
        if y is None:
            work, rd = as_input(x)
            target, out = output_for(out, work, rd, work)
            self._forward(_ACTIVE, work, target, rd)
            y = finish(target, out)
        if self._custom_metrics:
            self.flip_ratio.update_state(y)
        return y

    def grad(self, x, dy, out=None):
        """Input gradient: the pseudo-gradient of the forward pass applied to ``dy``."""
        dx = self._bound.backward(x, dy, out)
        if dx is not None:
            return dx
        work, rd = as_input(x)
        dyw = as_like(dy, work, rd, "dy")
        target, out = output_for(out, work, rd, work, dyw)
        self._backward(_ACTIVE, work, dyw, target, rd)
        return finish(target, out)

    # Kernel-level passes, on C-contiguous float32/float64 arrays, with an explicit kernel
    # table (tests run them on every ISA through _core.kernels_for).
    def _forward(self, kernels, x, out, rd):
        kernels.forward(self._id, x, out, *self._params(kernels, x, rd))

    def _backward(self, kernels, x, dy, out, rd):
        kernels.backward(self._id, x, dy, out, *self._params(kernels, x, rd))

    def _params(self, kernels, x, rd):
        """The kernel's parameters for input ``x`` (result dtype ``rd``). Quantizers whose
        parameters do not depend on the data define ``_static_params(rd)``, cached per dtype."""
        try:
            return self._param_cache[rd]
        except KeyError:
            p = self._param_cache[rd] = self._static_params(rd)
            return p

    def _static_params(self, rd):
        return ()

    # -- larq's object protocol ---------------------------------------------------------------
    @property
    def metrics(self):
        return [self.flip_ratio] if "flip_ratio" in self._custom_metrics else []

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**{k: v for k, v in config.items() if k not in _KERAS_KEYS})

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self), tuple(sorted(self.get_config().items()))))


class NoOp(Quantizer):
    """Identity forward and backward with a declared ``precision`` (required, as in larq)."""

    def __init__(self, precision, metrics=None):
        if isinstance(precision, bool) or not isinstance(precision, (int, np.integer)) or precision < 1:
            raise ValueError(f"precision: expected an integer >= 1, got {precision!r}")
        self.precision = int(precision)
        super().__init__(metrics=metrics)

    def get_config(self):
        return {"precision": self.precision}


class _ClipValueQuantizer(Quantizer):
    """A quantizer whose only parameter is ``clip_value``, the bound of its clipped
    straight-through gradient mask ``|x| <= clip_value`` (``None``: no mask)."""

    precision = 1

    def __init__(self, clip_value=1.0, metrics=None):
        self.clip_value = _check_clip(clip_value)
        super().__init__(metrics=metrics)

    def _static_params(self, rd):
        return _clip_params(self.clip_value, rd)

    def get_config(self):
        return {"clip_value": self.clip_value}


class SteSign(_ClipValueQuantizer):
    """sign(x) in {-1, +1} (sign(0) = +1); clipped straight-through gradient, ``dy`` where
    ``|x| <= clip_value`` (``None``: everywhere)."""

    _kernel = "SteSign"


class ApproxSign(Quantizer):
    """sign(x); gradient ``(1 - |x|) * 2 * dy`` where ``|x| <= 1``, else 0 (Bi-Real Net)."""

    precision = 1
    _kernel = "ApproxSign"


class SteHeaviside(_ClipValueQuantizer):
    """heaviside(x) in {0, 1} (0 at x <= 0); clipped straight-through gradient."""

    _kernel = "SteHeaviside"


class SwishSign(Quantizer):
    """sign(x); gradient ``dy*β*(2 - βx*tanh(βx/2)) / (1 + cosh(βx))`` (BNN+), no mask."""

    precision = 1
    _kernel = "SwishSign"

    def __init__(self, beta=5.0, metrics=None):
        if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
            raise TypeError(f"beta: expected a number, got {type(beta).__name__}")
        self.beta = beta
        super().__init__(metrics=metrics)

    def _static_params(self, rd):
        return (_param(self.beta, rd),)

    def get_config(self):
        return {"beta": self.beta}


class MagnitudeAwareSign(_ClipValueQuantizer):
    """``s * sign(x)`` with ``s`` the mean ``|x|`` over all axes but the last (one scale per
    last-axis channel; for 1-D input ``s = |x|``); gradient ``s*dy`` where ``|x| <= clip``.
    The per-channel scale is computed natively in the same call (kernels/reductions.hpp)."""

    _kernel = "MagnitudeAwareSign"


class SteTern(Quantizer):
    """Ternarization to {-1, 0, +1} with threshold Δ (``threshold_value``, or with
    ``ternary_weight_networks=True`` Δ = 0.7 * mean |x| over the whole tensor); clipped
    straight-through gradient with ``clip_value``."""

    precision = 2
    _kernel = "SteTern"

    def __init__(self, threshold_value=0.05, ternary_weight_networks=False, clip_value=1.0, metrics=None):
        if isinstance(threshold_value, bool) or not isinstance(threshold_value, (int, float, np.integer, np.floating)):
            raise TypeError(f"threshold_value: expected a number, got {type(threshold_value).__name__}")
        self.threshold_value = threshold_value
        self.ternary_weight_networks = bool(ternary_weight_networks)
        self.clip_value = _check_clip(clip_value)
        super().__init__(metrics=metrics)

    def _static_params(self, rd):
        # With ternary_weight_networks the kernel computes Δ = 0.7 * sum|x| / size itself, in
        # larq's order in the working dtype (the sum accumulated in float64).
        threshold = 0.0 if self.ternary_weight_networks else _param(self.threshold_value, rd)
        return (*_clip_params(self.clip_value, rd), threshold, float(self.ternary_weight_networks))

    def get_config(self):
        return {
            "threshold_value": self.threshold_value,
            "ternary_weight_networks": self.ternary_weight_networks,
            "clip_value": self.clip_value,
        }


class DoReFa(Quantizer):
    """DoReFa-Net's k-bit quantizer. ``mode="activations"``: ``Q(clip(x, 0, 1))``;
    ``mode="weights"``: ``2*Q(tanh(x)/(2*max|tanh(x)|) + 0.5) - 1``; ``Q(p) = round(p*n)/n``
    with ``n = 2**k_bit - 1`` and ties to even. Straight-through gradient as larq's."""

    _kernel = "DoReFaActivations"

    def __init__(self, k_bit=2, mode="activations", metrics=None):
        if isinstance(k_bit, bool) or not isinstance(k_bit, (int, np.integer)) or not 1 <= k_bit <= 32:
            raise ValueError(f"k_bit: expected an integer in 1..32, got {k_bit!r}")
        if mode not in ("activations", "weights"):
            raise ValueError(f"mode: expected 'activations' or 'weights', got {mode!r}")
        self.precision = int(k_bit)
        self.mode = mode
        if mode == "weights":
            self._kernel = "DoReFaWeights"
        super().__init__(metrics=metrics)

    def _static_params(self, rd):
        # n = 2**k_bit - 1 in the working dtype (float32 for float16 input); for weights the
        # kernel computes d = max|tanh(x)| = tanh(max|x|) itself.
        n = float((np.float32 if rd == F16 else rd.type)(2**self.precision - 1))
        return (n,) if self.mode == "activations" else (n, 0.0)

    @property
    def k_bit(self):
        return self.precision

    def get_config(self):
        return {"k_bit": self.precision, "mode": self.mode}


NoOpQuantizer = NoOp
DoReFaQuantizer = DoReFa


# -- larq's function forms -------------------------------------------------------------------
def ste_sign(x, clip_value=1.0):
    """Function form of :class:`SteSign`."""
    return SteSign(clip_value=clip_value, metrics=())(x)


def approx_sign(x):
    """Function form of :class:`ApproxSign`."""
    return ApproxSign(metrics=())(x)


def swish_sign(x, beta=5.0):
    """Function form of :class:`SwishSign`."""
    return SwishSign(beta=beta, metrics=())(x)


def ste_heaviside(x, clip_value=1.0):
    """Function form of :class:`SteHeaviside`."""
    return SteHeaviside(clip_value=clip_value, metrics=())(x)


def ste_tern(x, threshold_value=0.05, ternary_weight_networks=False, clip_value=1.0):
    """Function form of :class:`SteTern`."""
    return SteTern(threshold_value, ternary_weight_networks, clip_value, metrics=())(x)


for _f, _cls in ((ste_sign, SteSign), (approx_sign, ApproxSign), (swish_sign, SwishSign),
                 (ste_heaviside, SteHeaviside), (ste_tern, SteTern)):
    _f.precision = _cls.precision
del _f, _cls


# -- registry (larq.quantizers.get / serialize / deserialize) ----------------------------------
_CLASSES = {
    c.__name__: c
    for c in (Quantizer, NoOp, SteSign, ApproxSign, SteHeaviside, SwishSign, MagnitudeAwareSign, SteTern, DoReFa)
}
_NAMES = {
    **_CLASSES,
    "NoOpQuantizer": NoOp,
    "DoReFaQuantizer": DoReFa,
    "ste_sign": SteSign,
    "approx_sign": ApproxSign,
    "ste_heaviside": SteHeaviside,
    "swish_sign": SwishSign,
    "magnitude_aware_sign": MagnitudeAwareSign,
    "ste_tern": SteTern,
    "dorefa_quantizer": DoReFa,
}


def _lookup(name):
    if not isinstance(name, str):
        raise ValueError(f"Could not interpret quantizer identifier: class_name must be a str, got {name!r}")
    key = name.split(">")[-1]  # Keras 3 registered names look like "larq>SteSign"
    try:
        return _NAMES[key]
    except KeyError:
        raise ValueError(f"Unknown quantizer: {name!r}. Known names: {', '.join(sorted(_NAMES))}") from None


def deserialize(config):
    """A quantizer from a name or a ``{"class_name": ..., "config": {...}}`` dict (larq's legacy
    form, or Keras 3's with ``module``/``registered_name``); larq's ``name``, ``trainable`` and
    ``dtype`` config keys are accepted and ignored."""
    if isinstance(config, str):
        return _lookup(config)()
    if isinstance(config, dict) and "class_name" in config:
        cfg = config.get("config") or {}
        if not isinstance(cfg, dict):
            raise ValueError(f"Could not interpret quantizer config: 'config' must be a dict, got {type(cfg).__name__}")
        return _lookup(config["class_name"]).from_config(cfg)
    raise ValueError(f"Could not interpret quantizer identifier: {config!r}")


def serialize(quantizer):
    """``{"class_name": ..., "config": ...}`` for a quantizer (a function form: its name)."""
    if isinstance(quantizer, Quantizer):
        return {"class_name": type(quantizer).__name__, "config": quantizer.get_config()}
    name = getattr(quantizer, "__name__", None)
    if callable(quantizer) and name in _NAMES:
        return name
    raise ValueError(f"Cannot serialize {quantizer!r}: not a fastq quantizer")


def get(identifier):
    """larq's ``quantizers.get``: None -> None; a callable -> itself; a name or config -> a new
    instance (``get("NoOp")`` raises TypeError: NoOp needs ``precision``)."""
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret quantizer identifier: {identifier!r}")
