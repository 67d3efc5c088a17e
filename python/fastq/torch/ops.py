"""fastq's quantizers as PyTorch custom operators (``torch.ops.fastq.*``), forward and backward.

Each quantizer ``name`` has two operators in the ``fastq`` namespace, each defined through
``torch.library.Library`` (schema, implementation, fake (meta) implementation and an autograd
kernel of fastq's own: see ``_define``; no extension is compiled against PyTorch):

- ``fastq::name(Tensor x, <parameters>) -> Tensor``: the forward pass, differentiable: its
  autograd formula calls ``fastq::name_backward``;
- ``fastq::name_backward(Tensor x, Tensor dy, <parameters>) -> Tensor``: the pseudo-gradient
  ``dx`` of fastq's ``q.grad(x, dy)``. It is linear in ``dy`` with a diagonal Jacobian, so its own
  gradient with respect to ``dy`` is itself; with respect to ``x`` it is zero where the
  pseudo-gradient is piecewise constant in ``x`` (every quantizer but ApproxSign, SwishSign and
  DoReFa weights, whose second derivative is not implemented: NotImplementedError).

Values are bit-identical to fastq's NumPy quantizers on the same data (docs/torch.md gives the
float16/bfloat16 and non-contiguous rules). ``fastq.torch.ops.ste_sign(x, clip_value=1.0)`` etc.
are the operators themselves (callable, differentiable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import torch
from torch._ops import OpOverload

from ..quantizers import Quantizer
from . import _adapter

__all__ = [
    "BACKWARD_OPS",
    "OPS",
    "SPECS",
    "approx_sign",
    "approx_sign_backward",
    "dorefa",
    "dorefa_backward",
    "magnitude_aware_sign",
    "magnitude_aware_sign_backward",
    "noop",
    "noop_backward",
    "ste_heaviside",
    "ste_heaviside_backward",
    "ste_sign",
    "ste_sign_backward",
    "ste_tern",
    "ste_tern_backward",
    "swish_sign",
    "swish_sign_backward",
]


class _Spec:
    """One quantizer's operator pair: its fastq class, its parameters (schema text and names)
    and how the parameters become fastq constructor arguments."""

    def __init__(
        self,
        name: str,
        class_name: str,
        params: str,
        names: tuple[str, ...],
        defaults: tuple[Any, ...] = (),
        smooth: Callable[..., bool] = lambda *p: False,
        kwargs: Callable[..., dict[str, Any]] | None = None,
        rounded: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.defaults = defaults  # the schema's defaults: PyTorch leaves trailing default arguments out
        self.class_name = class_name
        self.params = params  # schema text after "Tensor x"
        self.names = names  # the op's parameter names, in order
        self.smooth = smooth  # params -> True when the pseudo-gradient depends smoothly on x
        self.kwargs = kwargs or (lambda *p: dict(zip(names, p)))
        self.rounded = rounded  # float parameters rounded to bfloat16 for bfloat16 input
        self.op = f"fastq::{name}"
        self.bop = f"fastq::{name}_backward"
        self._cache: dict[tuple[bool, tuple[Any, ...]], Quantizer] = {}
        self.moves = name == "magnitude_aware_sign"  # channel_dim may move an axis

    def quantizer(self, dtype: torch.dtype, params: tuple[Any, ...]) -> Quantizer:
        """fastq's NumPy quantizer for these parameters and this input dtype (cached)."""
        key = (dtype is torch.bfloat16, params)
        try:
            return self._cache[key]
        except KeyError:
            pass
        kw = self.kwargs(*params)
        if dtype is torch.bfloat16:
            kw = {k: (_adapter.round_bf16(v) if k in self.rounded else v) for k, v in kw.items()}
        q = _adapter.quantizer(self.class_name, tuple(kw.items()))
        if len(self._cache) < 256:
            self._cache[key] = q
        return q


_SPECS = [
    # NoOp's precision does not change its values: the operator has no parameter.
    _Spec("noop", "NoOp", "", (), kwargs=lambda: {"precision": 1}),
    _Spec("ste_sign", "SteSign", ", float? clip_value=1.0", ("clip_value",), (1.0,), rounded=("clip_value",)),
    _Spec("approx_sign", "ApproxSign", "", (), smooth=lambda: True),
    _Spec("ste_heaviside", "SteHeaviside", ", float? clip_value=1.0", ("clip_value",), (1.0,), rounded=("clip_value",)),
    _Spec("swish_sign", "SwishSign", ", float beta=5.0", ("beta",), (5.0,), smooth=lambda b: True, rounded=("beta",)),
    # channel_dim: the axis with one scale per channel (fastq's and larq's last axis by default);
    # it is not a fastq parameter: the tensor is presented to fastq with that axis last.
    _Spec(
        "magnitude_aware_sign",
        "MagnitudeAwareSign",
        ", float? clip_value=1.0, int channel_dim=-1",
        ("clip_value", "channel_dim"),
        (1.0, -1),
        kwargs=lambda c, d: {"clip_value": c},
        rounded=("clip_value",),
    ),
    _Spec(
        "ste_tern",
        "SteTern",
        ", float threshold_value=0.05, bool ternary_weight_networks=False, float? clip_value=1.0",
        ("threshold_value", "ternary_weight_networks", "clip_value"),
        (0.05, False, 1.0),
        rounded=("threshold_value", "clip_value"),
    ),
    _Spec(
        "dorefa",
        "DoReFa",
        ", int k_bit=2, str mode='activations'",
        ("k_bit", "mode"),
        (2, "activations"),
        smooth=lambda k, mode: mode == "weights",
    ),
]


def _moved(spec: _Spec, x: torch.Tensor, params: tuple[Any, ...]) -> int | None:
    """MagnitudeAwareSign's channel_dim as fastq's last axis: the dim to move, or None."""
    if spec.name != "magnitude_aware_sign" or x.dim() == 0:
        return None
    d = params[1]
    if not -x.dim() <= d < x.dim():
        raise IndexError(
            f"fastq::magnitude_aware_sign: channel_dim: expected a dim in [{-x.dim()}, {x.dim() - 1}] "
            f"for a {x.dim()}-D tensor, got {d}"
        )
    d %= x.dim()
    return None if d == x.dim() - 1 else d


def _run(spec: _Spec, x: torch.Tensor, dy: torch.Tensor | None, params: tuple[Any, ...]) -> torch.Tensor:
    """The real implementation of both operators (dy None: forward)."""
    if len(params) < len(spec.defaults):
        params = (*params, *spec.defaults[len(params) :])
    # The common case first (float32/float64 CPU tensors, parameters seen before): no more
    # Python than needed, for the per-call overhead.
    if x.dtype in _adapter._NATIVE and x.is_cpu and not spec.moves:
        q = spec._cache.get((False, params))
        if q is not None:
            if dy is None:
                return _adapter.forward(q, x)
            if dy.dtype is x.dtype and dy.is_cpu and dy.shape == x.shape:
                return _adapter.backward(q, x, dy)
    op = spec.op if dy is None else spec.bop
    _adapter.check_tensor(x, "x", op)
    if dy is not None:
        _adapter.check_tensor(dy, "dy", op)
        if dy.shape != x.shape:
            raise ValueError(f"{op}: dy: expected shape {tuple(x.shape)} (the shape of x), got {tuple(dy.shape)}")
        if dy.dtype != x.dtype:
            dy = dy.to(x.dtype)  # as fastq: dy in x's dtype first (the gradient of x has x's dtype)
    dtype = x.dtype
    q = spec.quantizer(dtype, params)
    moved = _moved(spec, x, params)
    if moved is not None:  # one copy in, one out (documented)
        x = x.movedim(moved, -1)
        dy = None if dy is None else dy.movedim(moved, -1)
    if dtype is torch.bfloat16:  # no NumPy bfloat16: exact float32 in, one rounding out
        x = x.float()
        dy = None if dy is None else dy.float()
    y = _adapter.forward(q, x) if dy is None else _adapter.backward(q, x, dy)
    if dtype is torch.bfloat16:
        y = y.to(torch.bfloat16)
    if moved is not None:
        y = y.movedim(-1, moved).contiguous()
    return y


def _fake(spec: _Spec, x: torch.Tensor, dy: torch.Tensor | None, params: tuple[Any, ...]) -> torch.Tensor:
    params = (*params, *spec.defaults[len(params) :])
    op = f"fastq::{spec.name}" + ("" if dy is None else "_backward")
    if x.dtype not in _adapter._FLOATS:
        raise TypeError(f"{op}: x: expected float32, float64, float16 or bfloat16, got {x.dtype}")
    if dy is not None and dy.shape != x.shape:
        raise ValueError(f"{op}: dy: expected shape {tuple(x.shape)} (the shape of x), got {tuple(dy.shape)}")
    return torch.empty_like(x, memory_format=torch.contiguous_format)


OPS: dict[str, OpOverload] = {}  # name -> the forward operator (an OpOverload: callable, differentiable)
BACKWARD_OPS: dict[str, OpOverload] = {}  # name -> the backward operator

# The operators are defined one level below torch.library.custom_op (docs/torch.md, "Performance"):
# the schema, the real implementation (CompositeExplicitAutograd, as custom_op registers it, so a
# CUDA tensor reaches the device error below), a fake implementation, and an Autograd kernel of our
# own. custom_op's Autograd kernel sends every call through several Python layers (a generated
# autograd.Function whose forward redispatches through the dispatcher into a checking wrapper);
# ours calls the implementation directly when the dispatcher would reach it next anyway (plain CPU
# tensors: no fake, functional or dispatch-mode tensors, no torch.func transform) and redispatches
# like custom_op otherwise. No extension is compiled against PyTorch.
_LIB = torch.library.Library("fastq", "DEF")
_AFTER_AUTOGRAD = torch._C._after_autograd_keyset
_CPU = torch._C.DispatchKey.CPU
_grad_enabled = torch._C.is_grad_enabled
_transforms_active = torch._C._are_functorch_transforms_active
_below_autograd = torch._C._AutoDispatchBelowAutograd


def _refuse_transforms(op: str) -> NoReturn:
    # Inside an Autograd kernel, autograd.Function.apply cannot enter torch.func's levels
    # (PyTorch 2.13 has no kernel for custom_function_call there): a clear error, not a wrong value.
    raise RuntimeError(
        f"{op}: functorch transforms (torch.func.grad, vjp, jacrev, ...) cannot differentiate fastq's "
        f"operators; use torch.autograd.grad or .backward() (docs/torch.md, 'Not yet')"
    )


def _direct(keyset: torch._C.DispatchKeySet) -> bool:
    """True when the next kernel after Autograd is the CPU implementation (nothing in between)."""
    return (keyset & _AFTER_AUTOGRAD).highestPriorityTypeId() == _CPU and not _transforms_active()


_Impl = Callable[[_Spec, torch.Tensor, "torch.Tensor | None", tuple[Any, ...]], torch.Tensor]


def _define(spec: _Spec, lib: torch.library.Library = _LIB, run: _Impl = _run) -> tuple[OpOverload, OpOverload]:
    """Define ``spec``'s operator pair in ``lib``'s namespace with ``run(spec, x, dy, params)`` as
    the implementation (bench/report_torch.py defines an empty pair the same way)."""
    name, bname, ns = spec.name, f"{spec.name}_backward", lib.ns
    lib.define(f"{name}(Tensor x{spec.params}) -> Tensor", tags=(torch.Tag.pt2_compliant_tag,))
    lib.define(f"{bname}(Tensor x, Tensor dy{spec.params}) -> Tensor", tags=(torch.Tag.pt2_compliant_tag,))
    fwd = getattr(getattr(torch.ops, ns), name).default
    bwd = getattr(getattr(torch.ops, ns), bname).default
    defaults, n = spec.defaults, len(spec.names)
    nones = (None,) * n

    def impl(x: torch.Tensor, *p: Any) -> torch.Tensor:
        return run(spec, x, None, p)

    def bimpl(x: torch.Tensor, dy: torch.Tensor, *p: Any) -> torch.Tensor:
        return run(spec, x, dy, p)

    lib.impl(name, impl, "CompositeExplicitAutograd")
    lib.impl(bname, bimpl, "CompositeExplicitAutograd")
    torch.library.register_fake(f"{ns}::{name}", lambda x, *p: _fake(spec, x, None, p), lib=lib)
    torch.library.register_fake(f"{ns}::{bname}", lambda x, dy, *p: _fake(spec, x, dy, p), lib=lib)

    # The autograd formulas (setup_context style): x is saved, the output is not.
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.params = inputs[1:]

    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        return (bwd(ctx.saved_tensors[0], grad, *ctx.params), *nones)

    def setup_context_b(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.params = inputs[2:]

    def backward_b(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        if ctx.needs_input_grad[0] and spec.smooth(*ctx.params):
            raise NotImplementedError(
                f"fastq::{bname}: the derivative of the pseudo-gradient with respect to x "
                f"(a second derivative) is not implemented for this quantizer"
            )
        ddx = torch.zeros_like(x) if ctx.needs_input_grad[0] else None  # piecewise constant in x
        ddy = bwd(x, grad, *ctx.params) if ctx.needs_input_grad[1] else None
        return (ddx, ddy, *nones)

    def function(
        label: str, forward: Callable[..., Any], setup: Callable[..., None], formula: Callable[..., Any]
    ) -> type[torch.autograd.Function]:
        return type(
            label,
            (torch.autograd.Function,),
            {
                "forward": staticmethod(forward),
                "setup_context": staticmethod(setup),
                "backward": staticmethod(formula),
            },
        )

    # Direct: the implementation itself. Redispatching: the operator again, which inside an
    # autograd.Function's forward (grad mode off) takes the no-grad path of the kernel below.
    direct = function(f"fastq_{name}", impl, setup_context, backward)
    redispatching = function(f"fastq_{name}_redispatch", lambda x, *p: fwd(x, *p), setup_context, backward)
    bdirect = function(f"fastq_{bname}", bimpl, setup_context_b, backward_b)
    bredispatching = function(
        f"fastq_{bname}_redispatch", lambda x, dy, *p: bwd(x, dy, *p), setup_context_b, backward_b
    )
    # autograd.Function.apply's Python wrapper binds default arguments with inspect.signature and
    # handles torch.func; the C++ apply underneath is what it ends in for plain tensors.
    apply = super(torch.autograd.Function, direct).apply  # type: ignore[misc]  # _C._FunctionBase's, untyped
    bapply = super(torch.autograd.Function, bdirect).apply  # type: ignore[misc]

    # The dispatcher drops trailing arguments equal to their defaults: put them back.
    def autograd_kernel(keyset: torch._C.DispatchKeySet, x: torch.Tensor, *p: Any) -> torch.Tensor:
        if len(p) < n:
            p = (*p, *defaults[len(p) :])
        if _grad_enabled() and x.requires_grad:
            if _direct(keyset):
                return apply(x, *p)
            if _transforms_active():
                _refuse_transforms(spec.op)
            return redispatching.apply(x, *p)
        if _direct(keyset):
            return run(spec, x, None, p)
        with _below_autograd():
            return fwd.redispatch(keyset & _AFTER_AUTOGRAD, x, *p)

    def autograd_kernel_b(keyset: torch._C.DispatchKeySet, x: torch.Tensor, dy: torch.Tensor, *p: Any) -> torch.Tensor:
        if len(p) < n:
            p = (*p, *defaults[len(p) :])
        if _grad_enabled() and (x.requires_grad or dy.requires_grad):
            if _direct(keyset):
                return bapply(x, dy, *p)
            if _transforms_active():
                _refuse_transforms(spec.bop)
            return bredispatching.apply(x, dy, *p)
        if _direct(keyset):
            return run(spec, x, dy, p)
        with _below_autograd():
            return bwd.redispatch(keyset & _AFTER_AUTOGRAD, x, dy, *p)

    lib.impl(name, autograd_kernel, "Autograd", with_keyset=True)
    lib.impl(bname, autograd_kernel_b, "Autograd", with_keyset=True)
    return fwd, bwd


SPECS = {s.name: s for s in _SPECS}
for _s in _SPECS:
    OPS[_s.name], BACKWARD_OPS[_s.name] = _define(_s)
del _s


# The operators by name (explicit, so linters and readers see them), typed as what they return.
def _pair(name: str) -> tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]]:
    return OPS[name], BACKWARD_OPS[name]


noop, noop_backward = _pair("noop")
ste_sign, ste_sign_backward = _pair("ste_sign")
approx_sign, approx_sign_backward = _pair("approx_sign")
ste_heaviside, ste_heaviside_backward = _pair("ste_heaviside")
swish_sign, swish_sign_backward = _pair("swish_sign")
magnitude_aware_sign, magnitude_aware_sign_backward = _pair("magnitude_aware_sign")
ste_tern, ste_tern_backward = _pair("ste_tern")
dorefa, dorefa_backward = _pair("dorefa")
