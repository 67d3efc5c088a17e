"""fastq.torch's custom operators (docs/torch.md): values bit-identical to fastq's NumPy
quantizers, dtype and layout rules, errors, and PyTorch's operator machinery (opcheck, fake
tensors, autograd, torch.func, torch.compile)."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (CI installs torch==2.13.0, the CPU build)")

import fastq  # noqa: E402
from fastq.torch import _adapter, ops  # noqa: E402

# torch.compile's inductor backend uses a deprecated torch.jit API internally (PyTorch 2.13).
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")

# (op name, op parameters, the fastq NumPy quantizer with the same parameters)
CASES = [
    ("noop", (), lambda: fastq.NoOp(precision=1)),
    ("ste_sign", (1.0,), lambda: fastq.SteSign()),
    ("ste_sign", (0.5,), lambda: fastq.SteSign(clip_value=0.5)),
    ("ste_sign", (None,), lambda: fastq.SteSign(clip_value=None)),
    ("approx_sign", (), lambda: fastq.ApproxSign()),
    ("ste_heaviside", (1.3,), lambda: fastq.SteHeaviside(clip_value=1.3)),
    ("swish_sign", (5.0,), lambda: fastq.SwishSign()),
    ("swish_sign", (2.5,), lambda: fastq.SwishSign(beta=2.5)),
    ("magnitude_aware_sign", (1.0, -1), lambda: fastq.MagnitudeAwareSign()),
    ("ste_tern", (0.05, False, 1.0), lambda: fastq.SteTern()),
    ("ste_tern", (0.3, True, 0.7), lambda: fastq.SteTern(0.3, True, 0.7)),
    ("dorefa", (2, "activations"), lambda: fastq.DoReFa()),
    ("dorefa", (3, "weights"), lambda: fastq.DoReFa(k_bit=3, mode="weights")),
    ("dorefa", (1, "weights"), lambda: fastq.DoReFa(k_bit=1, mode="weights")),
]
IDS = [f"{n}{p}" for n, p, _ in CASES]
SHAPES = [(), (0,), (1,), (37,), (5, 19), (2, 3, 4, 5)]


def data(shape, dtype, seed=0, edges=True):
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(shape) * 1.5, dtype=np.float64)
    if edges and x.size >= 19:
        flat = x.reshape(-1)
        flat[:18] = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            -0.5,
            1.3,
            0.05,
            -0.05,
            1e-40,
            -1e-40,
            2.5,
            100.0,
            -100.0,
            np.inf,
            -np.inf,
            0.7,
            np.nan,
        ]
    return torch.from_numpy(x).to(dtype)


def assert_bits(t, expected):
    """t (a tensor) and expected (a NumPy array) have the same dtype, shape and bits (NaN: NaN)."""
    a = t.detach().numpy()
    assert a.dtype == expected.dtype and a.shape == expected.shape
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(a), nan)
    u = {2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize]
    np.testing.assert_array_equal(a[~nan].view(u), expected[~nan].view(u))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name,params,make", CASES, ids=IDS)
def test_bit_identical_to_numpy(name, params, make, shape, dtype):
    x = data(shape, dtype)
    dy = data(shape, dtype, seed=1, edges=False)
    q = make()
    assert_bits(ops.OPS[name](x, *params), q(x.numpy()))
    assert_bits(ops.BACKWARD_OPS[name](x, dy, *params), q.grad(x.numpy(), dy.numpy()))


@pytest.mark.parametrize("name,params,make", CASES, ids=IDS)
def test_autograd_gives_fastq_grad(name, params, make):
    x = data((6, 7), torch.float32).requires_grad_()
    dy = data((6, 7), torch.float32, seed=3, edges=False)
    y = ops.OPS[name](x, *params)
    y.backward(dy)
    assert_bits(x.grad, make().grad(x.detach().numpy(), dy.numpy()))


@pytest.mark.parametrize("name,params,make", CASES, ids=IDS)
def test_bfloat16_rule(name, params, make):
    """bfloat16: float parameters rounded to bfloat16, fastq in float32 on the exact values, the
    result rounded once to bfloat16."""
    x = data((5, 19), torch.bfloat16)
    dy = data((5, 19), torch.bfloat16, seed=1, edges=False)
    spec = ops.SPECS[name]
    kw = {k: (_adapter.round_bf16(v) if k in spec.rounded else v) for k, v in spec.kwargs(*params).items()}
    q = type(make())(**kw)
    y = ops.OPS[name](x, *params)
    dx = ops.BACKWARD_OPS[name](x, dy, *params)
    assert y.dtype is torch.bfloat16 and dx.dtype is torch.bfloat16
    assert_bits(y.float(), torch.from_numpy(q(x.float().numpy())).to(torch.bfloat16).float().numpy())
    assert_bits(
        dx.float(), torch.from_numpy(q.grad(x.float().numpy(), dy.float().numpy())).to(torch.bfloat16).float().numpy()
    )


def test_bfloat16_parameter_is_rounded():
    # 1.1 is 1.1015625 in bfloat16: x = 1.1015625 is inside the mask |x| <= clip_value.
    x = torch.tensor([1.1015625, 1.109375], dtype=torch.bfloat16)
    dx = ops.ste_sign_backward(x, torch.ones_like(x), 1.1)
    assert dx.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("channel_dim", [0, 1, -3, 2])
def test_magnitude_aware_sign_channel_dim(channel_dim):
    x = data((4, 5, 6), torch.float32)
    dy = data((4, 5, 6), torch.float32, seed=2, edges=False)
    q = fastq.MagnitudeAwareSign()
    xm, dym = np.moveaxis(x.numpy(), channel_dim, -1), np.moveaxis(dy.numpy(), channel_dim, -1)
    y = ops.magnitude_aware_sign(x, 1.0, channel_dim)
    dx = ops.magnitude_aware_sign_backward(x, dy, 1.0, channel_dim)
    assert y.is_contiguous() and dx.is_contiguous()
    assert_bits(y, np.ascontiguousarray(np.moveaxis(q(xm), -1, channel_dim)))
    assert_bits(dx, np.ascontiguousarray(np.moveaxis(q.grad(xm, dym), -1, channel_dim)))
    with pytest.raises(IndexError, match="channel_dim"):
        ops.magnitude_aware_sign(x, 1.0, 3)


@pytest.mark.parametrize("name,params,make", CASES, ids=IDS)
def test_non_contiguous_is_one_copy(name, params, make):
    base = data((8, 10), torch.float32)
    x = base.t()[::2]  # transposed and strided
    assert not x.is_contiguous()
    y = ops.OPS[name](x, *params)
    assert y.is_contiguous()
    assert_bits(y, make()(x.contiguous().numpy()))
    dy = data(tuple(x.shape), torch.float32, seed=4).t().contiguous().t()
    assert_bits(ops.BACKWARD_OPS[name](x, dy, *params), make().grad(x.contiguous().numpy(), dy.contiguous().numpy()))


def _spy_on_kernels(monkeypatch):
    """A list that records the data pointers each adapter call reads and writes: (x, out) per
    forward, (x, dy, out) per backward."""
    seen = []
    forward, backward = _adapter._forward, _adapter._backward

    def ptr(a):
        return a.__array_interface__["data"][0]

    def spy_f(q, x):
        out = forward(q, x)
        seen.append((ptr(x), ptr(out)))
        return out

    def spy_b(q, x, dy):
        out = backward(q, x, dy)
        seen.append((ptr(x), ptr(dy), ptr(out)))
        return out

    monkeypatch.setattr(_adapter, "_forward", spy_f)
    monkeypatch.setattr(_adapter, "_backward", spy_b)
    return seen


def test_contiguous_tensors_are_not_copied(monkeypatch):
    """The kernels read the tensors' own memory, and the result tensor is the array fastq wrote."""
    seen = _spy_on_kernels(monkeypatch)
    x = torch.randn(1000, requires_grad=True)
    y = ops.ste_sign(x)
    dy = torch.randn(1000)
    y.backward(dy)
    assert seen == [(x.data_ptr(), y.data_ptr()), (x.data_ptr(), dy.data_ptr(), x.grad.data_ptr())]
    with pytest.raises(RuntimeError, match="not resizable"):  # documented: NumPy owns the memory
        y.detach().resize_(2000)


def test_dy_of_another_dtype_is_converted_to_x_dtype():
    x = data((37,), torch.float16)
    dy = data((37,), torch.float64, seed=5)
    q = fastq.SwishSign()
    assert_bits(ops.swish_sign_backward(x, dy, 5.0), q.grad(x.numpy(), dy.numpy()))


def test_errors():
    with pytest.raises(
        TypeError, match=r"fastq::ste_sign: x: expected float32, float64, float16 or bfloat16, got torch.int32"
    ):
        ops.ste_sign(torch.arange(3, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"dy: expected shape \(3,\) \(the shape of x\), got \(4,\)"):
        ops.ste_sign_backward(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="clip_value"):
        ops.ste_sign(torch.zeros(3), -1.0)
    with pytest.raises(ValueError, match="mode"):
        ops.dorefa(torch.zeros(3), 2, "bias")
    with pytest.raises(ValueError, match="k_bit"):
        ops.dorefa(torch.zeros(3), 0, "weights")


def test_non_cpu_device_error_names_the_device():
    # This machine has no GPU: call the real implementation directly with a meta tensor, which
    # reaches it the way a CUDA tensor would.
    x = torch.empty(3, device="meta")
    with pytest.raises(RuntimeError, match=r"fastq::ste_sign: x is on device 'meta'; fastq's kernels run on CPU"):
        ops._run(ops.SPECS["ste_sign"], x, None, (1.0,))
    with pytest.raises(RuntimeError, match=r"dy is on device 'meta'"):
        ops._run(ops.SPECS["ste_sign"], torch.zeros(3), x, (1.0,))


@pytest.mark.parametrize("name,params,make", CASES, ids=IDS)
def test_meta_tensors_propagate_shapes(name, params, make):
    x = torch.empty(2, 3, 4, device="meta", dtype=torch.float64)
    y = ops.OPS[name](x, *params)
    dx = ops.BACKWARD_OPS[name](x, x, *params)
    assert y.device.type == "meta" and y.shape == x.shape and y.dtype == x.dtype
    assert dx.shape == x.shape


@pytest.mark.parametrize("name,params,make", CASES, ids=IDS)
def test_opcheck(name, params, make):
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(ops.OPS[name], (x, *params))
    torch.library.opcheck(ops.OPS[name], (x.detach(), *params))
    dy = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(ops.BACKWARD_OPS[name], (x.detach(), dy, *params))


def test_double_backward():
    x = data((6,), torch.float64, edges=False).requires_grad_()
    (g,) = torch.autograd.grad(ops.ste_sign(x).sum(), x, create_graph=True)
    assert g.requires_grad
    (gg,) = torch.autograd.grad((g * torch.arange(6.0, dtype=torch.float64)).sum(), x)
    assert (gg == 0).all()  # the clipped mask is piecewise constant in x
    x = data((6,), torch.float64, edges=False).requires_grad_()
    (g,) = torch.autograd.grad(ops.swish_sign(x).sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="fastq::swish_sign_backward: the derivative"):
        g.sum().backward()


@pytest.mark.parametrize("name,params,make", CASES, ids=IDS)
def test_dispatch_modes_see_the_operators_and_get_the_same_values(name, params, make):
    """Plain CPU tensors take the operators' direct path (docs/torch.md, "Performance"); under a
    TorchDispatchMode the kernel redispatches instead: the mode sees both operators, and values
    and gradients are the same bits either way."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Record(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.seen = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.seen.append(str(func))
            return func(*args, **(kwargs or {}))

    x0 = data((5, 19), torch.float32)
    dy = data((5, 19), torch.float32, seed=1, edges=False)
    x = x0.clone().requires_grad_()
    y = ops.OPS[name](x, *params)
    y.backward(dy)
    xm = x0.clone().requires_grad_()
    with Record() as mode:
        ym = ops.OPS[name](xm, *params)
        ym.backward(dy)
    assert f"fastq.{name}.default" in mode.seen and f"fastq.{name}_backward.default" in mode.seen
    q = make()
    for got in (y, ym):
        assert_bits(got, q(x0.numpy()))
    for got in (x.grad, xm.grad):
        assert_bits(got, q.grad(x0.numpy(), dy.numpy()))


def test_torch_func_is_refused_by_pytorch_2_13():
    """An autograd.Function applied inside an operator's Autograd kernel cannot enter torch.func's
    levels in PyTorch 2.13 (docs/torch.md): fastq's kernel says so, a clear error, not a wrong value."""
    x = data((5, 19), torch.float32)
    with pytest.raises(RuntimeError, match="functorch transforms"):
        torch.func.grad(lambda t: ops.ste_sign(t, 1.0).sum())(x)


def test_torch_compile_fullgraph():
    """The operators compile without graph breaks (fullgraph=True) and give eager's values."""
    torch._dynamo.reset()

    def f(x, w):
        h = ops.ste_sign(x, 1.0) @ ops.magnitude_aware_sign(w, 1.0, 0).t()
        return ops.dorefa(h * 0.125, 2, "activations")

    cf = torch.compile(f, fullgraph=True)
    for n in (8, 8, 5):
        x = torch.randn(n, 16, requires_grad=True)
        w = torch.randn(4, 16, requires_grad=True)
        g = torch.randn(n, 4)
        out = cf(x, w)
        out.backward(g)
        gx, gw = x.grad, w.grad
        x2, w2 = x.detach().requires_grad_(), w.detach().requires_grad_()
        ref = f(x2, w2)
        ref.backward(g)
        assert torch.equal(out, ref) and torch.equal(gx, x2.grad) and torch.equal(gw, w2.grad)


def test_torch_compile_copies_nothing(monkeypatch):
    """Compiled code calls the operators on the tensors' own memory, as eager does: the forward
    reads x and its result is the compiled output, the backward reads x and dy and its result is
    x.grad (no copy, clone or extra buffer around the operators), and a compiled step runs the
    same ATen operators as an eager one (docs/torch.md, "torch.compile")."""
    torch._dynamo.reset()
    seen = _spy_on_kernels(monkeypatch)

    def aten_ops(step):
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            step()
        return sorted(e.name for e in prof.events() if e.name.startswith("aten::"))

    cf = torch.compile(lambda t: ops.ste_sign(t, 1.0), fullgraph=True)
    x = torch.randn(1000, requires_grad=True)
    dy = torch.randn(1000)
    for _ in range(2):  # the first call compiles
        seen.clear()
        x.grad = None
        y = cf(x)
        y.backward(dy)
    assert seen == [(x.data_ptr(), y.data_ptr()), (x.data_ptr(), dy.data_ptr(), x.grad.data_ptr())]

    def eager_step():
        x.grad = None
        ops.ste_sign(x, 1.0).backward(dy)

    def compiled_step():
        x.grad = None
        cf(x).backward(dy)

    compiled = aten_ops(compiled_step)
    assert compiled == aten_ops(eager_step)
    assert not {"aten::copy_", "aten::clone", "aten::empty_like", "aten::empty_strided", "aten::fill_"} & set(compiled)


def test_import_fastq_does_not_import_torch():
    code = "import sys, fastq; fastq.SteSign()(fastq.reference.np.zeros(3, 'f4')); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_torch_is_a_clear_import_error():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "try:\n    import fastq.torch\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "fastq.torch needs PyTorch" in out and "download.pytorch.org/whl/cpu" in out
