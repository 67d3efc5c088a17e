"""fastq.torch's modules (docs/torch.md): larq's quantizer names, configs and metrics as
nn.Modules; QuantLinear and QuantConv2d with larq's arguments; WeightClip after optimizer steps."""

import copy
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (CI installs torch==2.13.0, the CPU build)")
import torch.nn.functional as F  # noqa: E402

import fastq  # noqa: E402
import fastq.torch as ft  # noqa: E402
from fastq.torch import quantizers as tq  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")

NAMES = [
    "ste_sign",
    "SteSign",
    "approx_sign",
    "ApproxSign",
    "ste_heaviside",
    "SteHeaviside",
    "swish_sign",
    "SwishSign",
    "magnitude_aware_sign",
    "MagnitudeAwareSign",
    "ste_tern",
    "SteTern",
    "dorefa_quantizer",
    "DoReFa",
    "DoReFaQuantizer",
    "larq>SteSign",
]


@pytest.mark.parametrize("name", NAMES)
def test_get_by_name_matches_fastq(name):
    m = tq.get(name)
    npq = fastq.quantizers.get(name)
    assert isinstance(m, torch.nn.Module) and type(m).__name__ == type(npq).__name__
    assert m.get_config() == npq.get_config() and m.precision == npq.precision
    x = torch.randn(4, 6, dtype=torch.float64)
    np.testing.assert_array_equal(m(x).numpy(), npq(x.numpy()))
    assert tq.serialize(m) == fastq.quantizers.serialize(npq)


def test_get_configs_as_larq_writes_them():
    cfg = {
        "class_name": "SteTern",
        "config": {
            "name": "ste_tern_3",
            "trainable": True,
            "dtype": "float32",
            "threshold_value": 0.1,
            "ternary_weight_networks": True,
            "clip_value": 0.5,
        },
    }
    m = tq.get(cfg)
    assert isinstance(m, tq.SteTern)
    assert (m.threshold_value, m.ternary_weight_networks, m.clip_value) == (0.1, True, 0.5)
    keras3 = {
        "module": "larq.quantizers",
        "class_name": "DoReFa",
        "config": {"k_bit": 3, "mode": "weights"},
        "registered_name": "larq>DoReFa",
    }
    d = tq.get(keras3)
    assert (d.k_bit, d.mode, d.precision) == (3, "weights", 3)
    assert tq.get(tq.serialize(d)).get_config() == d.get_config()
    assert tq.get(None) is None
    assert tq.get(d) is d
    assert tq.get(torch.tanh) is torch.tanh
    n = tq.get({"class_name": "NoOp", "config": {"precision": 8}})
    assert isinstance(n, tq.NoOp) and n.precision == 8
    assert tq.NoOpQuantizer is tq.NoOp and tq.DoReFaQuantizer is tq.DoReFa


def test_get_errors_are_fastqs():
    with pytest.raises(ValueError, match="Unknown quantizer: 'bogus'"):
        tq.get("bogus")
    with pytest.raises(TypeError):
        tq.get("NoOp")  # precision is required, as in larq
    with pytest.raises(ValueError, match="clip_value"):
        tq.SteSign(clip_value=-1)
    with pytest.raises(ValueError, match="k_bit"):
        tq.DoReFa(k_bit=0)
    with pytest.raises(ValueError, match="Could not interpret"):
        tq.get(3)
    with pytest.raises(TypeError, match="channel_dim"):
        tq.get({"class_name": "SteSign", "config": {"channel_dim": 0}})


def test_parameters_are_plain_attributes():
    m = tq.SteTern(threshold_value=0.2, ternary_weight_networks=False, clip_value=None)
    assert (m.threshold_value, m.ternary_weight_networks, m.clip_value, m.precision) == (0.2, False, None, 2)
    assert tq.SwishSign(beta=3.0).beta == 3.0
    mas = tq.MagnitudeAwareSign(channel_dim=0)
    assert mas.get_config() == {"clip_value": 1.0, "channel_dim": 0}
    assert tq.get({"class_name": "MagnitudeAwareSign", "config": mas.get_config()}).channel_dim == 0
    assert "clip_value=None" in repr(m)


def test_function_forms():
    x = torch.randn(50, dtype=torch.float64)
    for f, q in [
        (tq.ste_sign, fastq.SteSign()),
        (tq.approx_sign, fastq.ApproxSign()),
        (tq.swish_sign, fastq.SwishSign()),
        (tq.ste_heaviside, fastq.SteHeaviside()),
        (tq.ste_tern, fastq.SteTern()),
    ]:
        np.testing.assert_array_equal(f(x).numpy(), q(x.numpy()))
        assert tq.serialize(f) == f.__name__ and f.precision == q.precision


def test_flip_ratio_matches_fastq_metric():
    with fastq.context.metrics_scope(["flip_ratio"]):
        m = tq.SteSign()
        npq = fastq.SteSign()
    assert m.metrics == [m.flip_ratio]
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = rng.standard_normal((8, 8))
        m(torch.from_numpy(x))
        npq(x)
    assert m.flip_ratio.result() == npq.flip_ratio.result() > 0
    assert tq.SteSign().metrics == [] and tq.SteSign().flip_ratio is None
    explicit = tq.DoReFa(metrics=["flip_ratio"])
    assert explicit.flip_ratio.name == "flip_ratio/DoReFa"
    with pytest.raises(ValueError, match="metrics"):
        tq.SteSign(metrics=["accuracy"])


def test_quant_linear():
    torch.manual_seed(0)
    layer = ft.QuantLinear(
        12, 5, input_quantizer="ste_sign", kernel_quantizer="magnitude_aware_sign", kernel_constraint="weight_clip"
    )
    assert isinstance(layer, torch.nn.Linear)
    assert layer.kernel_quantizer.channel_dim == 0  # PyTorch's output channels
    x = torch.randn(3, 12, dtype=torch.float32)
    w = layer.weight.detach().numpy()
    # larq's kernel is weight.T (in, out): one scale per output unit = fastq's last axis there.
    kq = fastq.MagnitudeAwareSign()(np.ascontiguousarray(w.T)).T
    want = fastq.SteSign()(x.numpy()) @ kq.T + layer.bias.detach().numpy()
    np.testing.assert_allclose(layer(x).detach().numpy(), want, rtol=1e-6)
    np.testing.assert_array_equal(layer.quantized_weight().detach().numpy(), kq)
    with pytest.raises(ValueError, match=r"kernel_quantizer: MagnitudeAwareSign must scale per channel along dim 0"):
        ft.QuantLinear(4, 2, kernel_quantizer=tq.MagnitudeAwareSign())
    assert ft.QuantLinear(4, 2, kernel_quantizer=tq.MagnitudeAwareSign(channel_dim=0)).kernel_quantizer.channel_dim == 0
    plain = ft.QuantLinear(4, 2)
    assert plain.input_quantizer is None and plain.kernel_quantizer is None and plain.kernel_constraint is None


def tf_same_pads(size, k, s, d=1):
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("hw", [(7, 7), (8, 6)])
def test_quant_conv2d_same_padding_with_ones(stride, hw):
    torch.manual_seed(1)
    conv = ft.QuantConv2d(
        3,
        4,
        (3, 2),
        stride=stride,
        padding="same",
        pad_values=1.0,
        input_quantizer="ste_sign",
        kernel_quantizer="ste_sign",
        dtype=torch.float64,
    )
    x = torch.randn(2, 3, *hw, dtype=torch.float64)
    top, bottom = tf_same_pads(hw[0], 3, stride)
    left, right = tf_same_pads(hw[1], 2, stride)
    xs = torch.where(x >= 0, 1.0, -1.0).double()
    ws = torch.where(conv.weight >= 0, 1.0, -1.0).double()
    want = F.conv2d(F.pad(xs, (left, right, top, bottom), value=1.0), ws, conv.bias, stride)
    got = conv(x)
    assert got.shape == (2, 4, -(-hw[0] // stride), -(-hw[1] // stride))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    assert conv.explicit_padding(*hw) == (left, right, top, bottom)
    assert conv.padding == "same" and conv.pad_values == 1.0


def test_quant_conv2d_numeric_padding_and_zero_pad_values_match_nn_conv2d():
    torch.manual_seed(2)
    conv = ft.QuantConv2d(4, 6, 3, padding=1, groups=2, dilation=1)
    ref = torch.nn.Conv2d(4, 6, 3, padding=1, groups=2)
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(1, 4, 5, 5)
    torch.testing.assert_close(conv(x), ref(x), rtol=0, atol=0)
    ones = ft.QuantConv2d(4, 6, 3, padding=1, groups=2, pad_values=1.0, input_quantizer="ste_sign")
    ones.load_state_dict(conv.state_dict())
    xs = tq.ste_sign(x)
    torch.testing.assert_close(ones(x), F.conv2d(F.pad(xs, (1, 1, 1, 1), value=1.0), conv.weight, conv.bias, groups=2))
    with pytest.raises(ValueError, match="padding_mode"):
        ft.QuantConv2d(4, 6, 3, padding=1, pad_values=1.0, padding_mode="reflect")
    with pytest.raises(ValueError, match="pad_values"):
        ft.QuantConv2d(4, 6, 3, pad_values="one")
    c = ft.QuantConv2d(4, 8, 3, input_quantizer="magnitude_aware_sign")
    assert c.input_quantizer.channel_dim == 1  # NCHW channels, larq's last axis in NHWC


def test_weight_clip_after_each_optimizer_step():
    torch.manual_seed(3)
    model = torch.nn.Sequential(
        ft.QuantConv2d(
            1,
            4,
            3,
            padding="same",
            pad_values=1.0,
            input_quantizer="ste_sign",
            kernel_quantizer="ste_sign",
            kernel_constraint="weight_clip",
        ),
        torch.nn.Flatten(),
        ft.QuantLinear(
            4 * 6 * 6,
            3,
            input_quantizer="ste_sign",
            kernel_quantizer="ste_sign",
            kernel_constraint=ft.constraints.WeightClip(0.5),
        ),
    )
    opt = torch.optim.SGD(model.parameters(), lr=5.0)
    handle = ft.register_constraint_hook(opt, model)
    x = torch.randn(8, 1, 6, 6)
    target = torch.randint(0, 3, (8,))
    grads = 0.0
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x), target).backward()
        grads += float(model[0].weight.grad.abs().sum())
        opt.step()
        assert model[0].weight.abs().max() <= 1.0 and model[2].weight.abs().max() <= 0.5
    assert grads > 0 and model[0].weight.abs().max() == 1.0  # gradients came through; clipped
    handle.remove()
    with torch.no_grad():
        model[2].weight.mul_(10)
    assert model[2].weight.abs().max() > 0.5
    ft.apply_constraints(model)
    assert model[2].weight.abs().max() <= 0.5
    assert ft.constraints.get({"class_name": "WeightClip", "config": {"clip_value": 2}}).clip_value == 2
    with pytest.raises(ValueError, match="Unknown constraint"):
        ft.constraints.get("max_norm")


def test_modules_copy_pickle_and_state_dict():
    with fastq.context.metrics_scope(["flip_ratio"]):
        layer = ft.QuantConv2d(
            2,
            3,
            3,
            padding="same",
            pad_values=1.0,
            input_quantizer="ste_sign",
            kernel_quantizer={"class_name": "DoReFa", "config": {"k_bit": 2, "mode": "weights"}},
            kernel_constraint="weight_clip",
        )
    x = torch.randn(1, 2, 5, 5)
    y = layer(x)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        torch.testing.assert_close(clone(x), y, rtol=0, atol=0)
        assert clone.kernel_quantizer.get_config() == {"k_bit": 2, "mode": "weights"}
    fresh = ft.QuantConv2d(
        2,
        3,
        3,
        padding="same",
        pad_values=1.0,
        input_quantizer="ste_sign",
        kernel_quantizer={"class_name": "DoReFa", "config": {"k_bit": 2, "mode": "weights"}},
    )
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(fresh(x), y, rtol=0, atol=0)


def test_compiled_model_has_no_graph_breaks():
    torch._dynamo.reset()
    torch.manual_seed(4)
    model = torch.nn.Sequential(
        ft.QuantConv2d(
            1,
            4,
            3,
            stride=2,
            padding="same",
            pad_values=1.0,
            input_quantizer=tq.SteSign(metrics=["flip_ratio"]),  # skipped while compiling
            kernel_quantizer="ste_sign",
        ),
        torch.nn.BatchNorm2d(4),
        torch.nn.Flatten(),
        ft.QuantLinear(4 * 4 * 4, 3, input_quantizer="ste_sign", kernel_quantizer="magnitude_aware_sign"),
    ).eval()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    x = torch.randn(2, 1, 8, 8, requires_grad=True)
    out = compiled(x)
    out.backward(torch.ones_like(out))
    x2 = x.detach().requires_grad_()
    ref = model(x2)
    ref.backward(torch.ones_like(ref))
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    torch.testing.assert_close(x.grad, x2.grad, rtol=0, atol=0)
    assert model[0].input_quantizer.flip_ratio.count == 1  # the eager call only


def test_docs_example_runs():
    """docs/torch.md's README snippet, as it stands there."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).parent.parent / "docs" / "torch.md").read_text()
    block = re.search(r"## Example \(README snippet\)\n\n```python\n(.*?)```", text, re.S).group(1)
    assert len(block.strip().splitlines()) <= 12
    ns = {}
    exec(compile(block, "docs/torch.md", "exec"), ns)
    assert ns["model"][0].weight.abs().max() <= 1.0
