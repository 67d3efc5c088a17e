"""fastq.torch.export (docs/torch.md): a network of fastq.torch layers as a fastq.models.Model.

The exact networks follow docs/models.md's rule for the Keras fixtures: small-integer or dyadic
weights and inputs, batch norms with var + eps = 1 exactly and gamma = ±2^k, so every value before
a sign is computed exactly by both PyTorch and fastq, and the outputs must be *equal*; elsewhere
(random weights, non-binary quantizers) they must be close.
"""

import pickle
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (CI installs torch==2.13.0, the CPU build)")
import torch.nn as nn  # noqa: E402

import fastq.models  # noqa: E402
import fastq.torch as ft  # noqa: E402
from fastq.models import UnsupportedModelError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")

EPS = 2.0**-4  # var = 1 - EPS: var + eps == 1 exactly, so 1/sqrt(var + eps) == 1
BIN = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", bias=False)


def _dyadic_bn(bn, rng):
    """Batch-norm statistics that keep every value exact: gamma = ±2^k, mean one bit finer than
    the integer dot products, beta on a quarter grid, var + eps = 1."""
    c = bn.num_features
    bn.eps = EPS
    with torch.no_grad():
        bn.running_var.fill_(1.0 - EPS)
        bn.running_mean.copy_(torch.from_numpy(rng.integers(-4, 5, c) + 0.5))
        if bn.affine:
            bn.weight.copy_(torch.from_numpy(rng.choice([-2.0, -1.0, 0.5, 1.0, 2.0], c)))
            bn.bias.copy_(torch.from_numpy(rng.integers(-4, 5, c) * 0.25))
    return bn


def _int_weights(module, rng, lo=-2, hi=3):
    with torch.no_grad():
        for name, p in module.named_parameters(recurse=False):
            if name == "weight":
                p.copy_(torch.from_numpy(rng.integers(lo, hi, tuple(p.shape)).astype(np.float32)))
            elif name == "bias":
                p.copy_(torch.from_numpy(rng.integers(-4, 5, tuple(p.shape)) * 0.25))


def _exactify(net, seed=0):
    rng = np.random.default_rng(seed)
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            _dyadic_bn(m, rng)
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            _int_weights(m, rng)
    return net.eval()


def _half_ints(shape, seed=1):
    """Odd multiples of 0.5: never zero, exact in every sum the networks here compute."""
    rng = np.random.default_rng(seed)
    return (rng.integers(-4, 4, shape) + 0.5).astype(np.float32)


def _torch_out(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def _activations(net, x):
    """{fx node name: its value} of every node (4-D values in NHWC, as the fastq model keeps them)."""
    acts = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if isinstance(out, torch.Tensor):
                v = out.detach().numpy()
                acts[n.name] = v.transpose(0, 2, 3, 1) if v.ndim == 4 else v
            return out

    with torch.no_grad():
        Recorder(ft.trace(net)).run(torch.from_numpy(x))
    return acts


def bnn():
    """A Sequential BNN: binary convs (pad_values 1 and 0, stride 2 SAME, groups), batch norms,
    max pooling, flatten, a binary dense layer and a float head."""
    return nn.Sequential(
        ft.QuantConv2d(3, 8, 3, padding="same", pad_values=1.0, **BIN),
        nn.BatchNorm2d(8),
        ft.QuantConv2d(8, 8, 3, stride=2, padding="same", pad_values=0.0, **BIN),
        nn.BatchNorm2d(8),
        nn.MaxPool2d(2),
        ft.QuantConv2d(8, 16, 3, padding=1, groups=2, pad_values=1.0, **BIN),
        nn.BatchNorm2d(16),
        nn.Dropout(0.3),
        nn.Flatten(),
        ft.QuantLinear(16 * 2 * 2, 12, **BIN),
        nn.BatchNorm1d(12),
        nn.ReLU(),
        nn.Linear(12, 10),
    )


class Residual(nn.Module):
    """Bi-Real-style blocks traced by torch.fx: a float stem, binary convs with residual adds
    (``+`` and ``torch.add``), approx_sign, numeric padding, average and global pooling."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(8)
        self.conv1 = ft.QuantConv2d(
            8,
            8,
            3,
            padding="same",
            pad_values=1.0,
            input_quantizer="approx_sign",
            kernel_quantizer="ste_sign",
            bias=False,
        )
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = ft.QuantConv2d(8, 8, 3, padding=1, **BIN)
        self.bn2 = nn.BatchNorm2d(8)
        self.pool = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = torch.relu(self.bn0(self.stem(x)))
        x = x + self.bn1(self.conv1(x))
        x = torch.add(self.bn2(self.conv2(x)), x)
        x = self.gap(self.pool(x) * 0.5)
        return self.fc(torch.flatten(x, 1))


# -- exact where exactness is possible --------------------------------------------------------------
def test_bnn_exact_outputs_and_binary_layers():
    net = _exactify(bnn())
    x = _half_ints((6, 3, 8, 8))
    model = ft.export(net, torch.from_numpy(x[:1]))
    assert isinstance(model, fastq.models.Model)
    assert sum(op.kind == "binary" for op in model.ops) == 4
    assert [op.describe() for op in model.ops].count("BinaryConv2D -> bits") == 1  # packed into the next conv
    assert model.input_shapes == [(3, 8, 8)]
    np.testing.assert_array_equal(model.predict(x), _torch_out(net, x))
    # Every binary layer (with its folded batch norm) bit for bit: fx names are the layer names.
    acts = _activations(net, x)
    names = ["_1", "_3", "_6", "_11"]  # the batch norms after the binary layers (and the last one's relu)
    _, got = model.predict(x, outputs=names)
    for name in names:
        np.testing.assert_array_equal(got[name], acts[name], err_msg=name)


def test_residual_fx_exact():
    net = _exactify(Residual(), seed=3)
    x = _half_ints((5, 3, 8, 8), seed=4)
    model = ft.export(net, (1, 3, 8, 8))  # a shape is enough
    np.testing.assert_array_equal(model.predict(x), _torch_out(net, x))
    assert sum(op.kind == "binary" for op in model.ops) == 2
    names = ["relu", "bn1", "add", "bn2", "add_1", "mul"]  # the residual stream and the binary layers
    _, got = model.predict(x, outputs=names)
    acts = _activations(net, x)
    for name in names:
        np.testing.assert_array_equal(got[name], acts[name], err_msg=name)


def test_ir_is_the_keras_layer_ir():
    net = _exactify(bnn())
    config, weights = ft.to_config(net, (1, 3, 8, 8))
    layers = {layer["name"]: layer for layer in config["config"]["layers"]}
    assert layers["_0"]["class_name"] == "QuantConv2D"
    c0 = layers["_0"]["config"]
    assert c0["padding"] == "same" and c0["pad_values"] == 1.0 and c0["data_format"] == "channels_last"
    assert c0["input_quantizer"] == {"class_name": "SteSign", "config": {"clip_value": 1.0}}
    np.testing.assert_array_equal(weights["_0"][0], net[0].weight.detach().numpy().transpose(2, 3, 1, 0))
    assert layers["_5"]["config"]["padding"] == "same" and layers["_5"]["config"]["groups"] == 2  # padding=1
    assert layers["_1"]["class_name"] == "BatchNormalization" and len(weights["_1"]) == 4
    assert layers["input_1/nhwc"]["class_name"] == "Permute"
    # The dense layer after Flatten reads NHWC order: its kernel rows are permuted.
    w = net[9].weight.detach().numpy()
    perm = np.arange(16 * 4).reshape(16, 2, 2).transpose(1, 2, 0).ravel()
    np.testing.assert_array_equal(weights["_9"][0], w[:, perm].T)
    # The same IR through the Keras entry point gives the same model.
    x = _half_ints((3, 3, 8, 8))
    np.testing.assert_array_equal(fastq.models.from_config(config, weights).predict(x), ft.export(net, x).predict(x))


def test_explicit_padding_exact_through_zero_padding():
    """Numeric padding other than TensorFlow's SAME: a ZeroPadding2D before the layer, exact when
    the input quantizer maps 0 to pad_values (sign: +1)."""
    net = _exactify(
        nn.Sequential(
            ft.QuantConv2d(2, 4, 3, padding=2, pad_values=1.0, **BIN),
            nn.BatchNorm2d(4),
            ft.QuantConv2d(4, 4, 3, stride=2, padding=1, pad_values=1.0, **BIN),
            nn.BatchNorm2d(4),
            nn.Conv2d(4, 3, 2, stride=2, padding=1),  # float, zero padding
            nn.Conv2d(3, 3, 3, padding="same"),
        )
    )
    x = _half_ints((4, 2, 8, 8))
    config, _ = ft.to_config(net, x[:1])
    classes = [layer["class_name"] for layer in config["config"]["layers"]]
    assert classes.count("ZeroPadding2D") == 3
    np.testing.assert_array_equal(ft.export(net, x[:1]).predict(x), _torch_out(net, x))


def test_flatten_order_and_layouts():
    """A flattened (C, H, W) value at an output comes back in PyTorch's order; a 4-D output in NCHW."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 3)
            self.flat = nn.Flatten()
            self.fc = nn.Linear(3 * 4 * 4, 48)
            self.bn = nn.BatchNorm1d(48)

        def forward(self, x):
            y = self.conv(x)
            f = self.flat(y)
            return y, f, self.bn(f) + self.fc(f), f.relu()

    net = _exactify(Net())
    x = _half_ints((3, 2, 6, 6))
    outs = ft.export(net, x[:1]).predict(x)
    with torch.no_grad():
        want = [t.numpy() for t in net(torch.from_numpy(x))]
    assert len(outs) == 4
    for got, ref in zip(outs, want):
        assert got.shape == ref.shape
        np.testing.assert_array_equal(got, ref)


# -- close elsewhere ----------------------------------------------------------------------------------
def _randomize_bn(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 4 + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) * 2 - 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g))
    return net.eval()


def test_random_weights_close():
    torch.manual_seed(0)
    net = _randomize_bn(bnn())
    x = torch.randn(64, 3, 8, 8)
    got = ft.export(net, x).predict(x.numpy())
    ref = _torch_out(net, x.numpy())
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert np.mean(got.argmax(1) == ref.argmax(1)) >= 0.99


@pytest.mark.parametrize(
    "qi, qk",
    [
        ("ste_sign", "magnitude_aware_sign"),  # binary, alpha in the scale
        ({"class_name": "DoReFa", "config": {"k_bit": 2, "mode": "activations"}}, "ste_tern"),  # float path
        ("swish_sign", {"class_name": "DoReFa", "config": {"k_bit": 3, "mode": "weights"}}),
    ],
)
def test_other_quantizers_close(qi, qk):
    torch.manual_seed(1)
    net = _randomize_bn(
        nn.Sequential(
            ft.QuantConv2d(3, 8, 3, padding="same", pad_values=1.0, input_quantizer=qi, kernel_quantizer=qk),
            nn.BatchNorm2d(8),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            ft.QuantLinear(8, 5, input_quantizer=qi, kernel_quantizer=qk),
        )
    )
    x = torch.randn(16, 3, 6, 6)
    model = ft.export(net, x)
    np.testing.assert_allclose(model.predict(x.numpy()), _torch_out(net, x.numpy()), rtol=1e-4, atol=1e-4)


def test_pooling_padding_and_activations():
    torch.manual_seed(2)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding="same"),
        nn.MaxPool2d(3, stride=1, padding=1),
        nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        nn.Tanh(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 6),
        nn.Sigmoid(),
        nn.Linear(6, 3),
        nn.Softmax(dim=1),
    ).eval()
    x = torch.randn(5, 2, 8, 8)
    np.testing.assert_allclose(ft.export(net, x).predict(x.numpy()), _torch_out(net, x.numpy()), atol=1e-6)


# -- the model ---------------------------------------------------------------------------------------
def test_training_mode_restored_and_pickle_without_torch(tmp_path):
    net = _exactify(bnn()).train()
    x = _half_ints((2, 3, 8, 8))
    model = ft.export(net, x[:1])
    assert net.training and all(m.training for m in net.modules())
    want = _torch_out(net.eval(), x)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(x), want)
    # The exported model needs fastq only: it unpickles and runs where PyTorch cannot be imported.
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, pickle, numpy as np; sys.modules['torch'] = None\n"
        f"m = pickle.load(open({str(tmp_path / 'm.pkl')!r}, 'rb'))\n"
        f"np.save({str(tmp_path / 'y.npy')!r}, m.predict(np.load({str(tmp_path / 'x.npy')!r})))\n"
        "assert 'fastq.torch' not in sys.modules\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), want)


def test_input_shape_is_nchw():
    model = ft.export(_exactify(bnn()), (1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(batch, 3, 8, 8\)"):
        model.predict(np.zeros((1, 8, 8, 3), np.float32))


def test_graph_module_traced_by_fastq_tracer():
    net = _exactify(Residual(), seed=5)
    gm = ft.trace(net)
    assert any(n.op == "call_module" and n.target == "conv1" for n in gm.graph.nodes)
    x = _half_ints((2, 3, 8, 8))
    np.testing.assert_array_equal(ft.export(gm, x[:1]).predict(x), _torch_out(net, x))


# -- errors ------------------------------------------------------------------------------------------
def test_unsupported_module_names_the_node():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU())
    with pytest.raises(UnsupportedModelError, match=r"node '_1' \(1, GELU\).*not supported"):
        ft.export(net, (1, 3, 8, 8))


def test_default_fx_trace_of_quantizers_is_refused():
    net = nn.Sequential(nn.Flatten(), ft.QuantLinear(12, 4, **BIN))
    gm = torch.fx.symbolic_trace(net)  # traces into the quantizer: a raw custom-op call
    with pytest.raises(UnsupportedModelError, match=r"trace the module with fastq\.torch\.trace"):
        ft.export(gm, (1, 12))


@pytest.mark.parametrize(
    "net, match",
    [
        (lambda: nn.Sequential(nn.BatchNorm2d(3, track_running_stats=False)), "batch statistics"),
        (lambda: nn.Sequential(ft.QuantConv2d(3, 4, 3, padding=2, **BIN)), "pad_values=0.0"),
        (lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")), "padding_mode"),
        (lambda: nn.Sequential(nn.MaxPool2d(3, stride=2, ceil_mode=True)), "ceil_mode"),
        (lambda: nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1)), "neither"),
        (lambda: nn.Sequential(nn.AdaptiveAvgPool2d(2)), "output_size"),
        (lambda: nn.Sequential(nn.AdaptiveAvgPool2d((None, 1))), "output_size"),  # was a TypeError (None)
        (lambda: nn.Sequential(nn.Linear(8, 4)), "flatten it first"),
        (lambda: nn.Sequential(nn.Flatten(0)), "Flatten"),
    ],
)
def test_unsupported_options(net, match):
    with pytest.raises(UnsupportedModelError, match=match):
        ft.export(net(), (1, 3, 8, 8))


def test_example_input_type():
    with pytest.raises(TypeError, match="example_input"):
        ft.export(nn.Sequential(nn.ReLU()), "nchw")
    with pytest.raises(TypeError, match="module"):
        ft.export(lambda x: x, (1, 3))


def test_flip_ratio_untouched_by_export():
    net = nn.Sequential(
        nn.Flatten(),
        ft.QuantLinear(
            12, 4, kernel_quantizer="ste_sign", input_quantizer=ft.quantizers.SteSign(metrics=["flip_ratio"])
        ),
    )
    metric = net[1].input_quantizer.flip_ratio
    before = float(metric.result())
    ft.export(net, torch.randn(3, 12))
    assert net[1].input_quantizer.flip_ratio is metric and float(metric.result()) == before


def test_docs_snippet_exports():
    """docs/torch.md's README snippet ends with the export: its logits are the network's."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).parent.parent / "docs" / "torch.md").read_text()
    block = re.search(r"## Example \(README snippet\)\n\n```python\n(.*?)```", text, re.S).group(1)
    ns = {}
    exec(compile(block, "docs/torch.md", "exec"), ns)
    with torch.no_grad():
        want = ns["model"].eval()(ns["x"]).numpy()
    np.testing.assert_allclose(ns["logits"], want, rtol=1e-5, atol=1e-5)
