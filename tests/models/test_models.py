"""fastq.models against Keras: the exact fixtures of tests/models/fixtures/ (written with larq by
scripts/make_model_fixtures.py; no TensorFlow needed here)."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import fastq  # noqa: E402
import fastq.models as fm  # noqa: E402
from fastq.models import ops, reference_ops  # noqa: E402

HERE = os.path.dirname(__file__)
FIX = os.path.join(HERE, "fixtures")
LARQ = ["bnn_sequential", "quicknet_blocks", "birealnet_blocks", "layer_zoo"]
PYTHONPATH = os.path.dirname(os.path.dirname(fm.__file__))


def fixture(name):
    with np.load(os.path.join(FIX, name + ".npz")) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module", params=[(n, e) for n in LARQ for e in (".h5", ".keras")], ids=lambda p: p[0] + p[1])
def loaded(request):
    name, ext = request.param
    return fm.load(os.path.join(FIX, name + ext)), fixture(name)


# -- equal to Keras where exactness is possible ---------------------------------------------------
def test_final_output_within_1e6(loaded):
    model, d = loaded
    y = model.predict(d["x"])
    assert y.dtype == np.float32 and y.shape == d["y"].shape
    np.testing.assert_allclose(y, d["y"], rtol=0, atol=1e-6)


def test_exact_layers_bit_identical_with_folding(loaded):
    """Each binary layer and the batch norm folded into it: requested alone, the folded op's own
    result must be Keras's, bit for bit."""
    model, d = loaded
    for name in d["exact_layers"]:
        _, acts = model.predict(d["x"], outputs=[str(name)])
        np.testing.assert_array_equal(acts[str(name)], d["layer/" + str(name)], err_msg=str(name))


def test_every_layer_output(loaded):
    model, d = loaded
    names = [k[len("layer/") :] for k in d if k.startswith("layer/")]
    y, acts = model.predict(d["x"], outputs=names)
    np.testing.assert_allclose(y, d["y"], rtol=0, atol=1e-6)
    exact = {str(n) for n in d["exact_layers"]}
    for name in names:
        want = d["layer/" + name]
        assert acts[name].shape == want.shape, name
        if name in exact:
            np.testing.assert_array_equal(acts[name], want, err_msg=name)
        else:  # float layers after inexact ones (e.g. DoReFa's thirds, 3x3 averages): rounding only
            np.testing.assert_allclose(acts[name], want, rtol=0, atol=1e-6 * max(1.0, np.abs(want).max()), err_msg=name)


def test_binary_layers_compile_to_binary_ops(loaded):
    model, d = loaded
    binary = {str(n) for n in d["binary_layers"]} - {"binary_depthwise"}  # depthwise: a float op on ±1
    compiled = {op.layers[0] for op in model.ops if op.kind == "binary"}
    assert compiled == binary


def test_batchnorm_folded_and_packed_output():
    model = fm.load(os.path.join(FIX, "bnn_sequential.h5"))
    binary = [op for op in model.ops if op.kind == "binary"]
    # conv -> BN -> binary conv: folded, and bits passed on; dense -> BN -> binary dense likewise;
    # conv -> max pool -> BN -> binary conv: the BN folded across the pool, which runs on bits
    assert [op.packed_output for op in binary] == [True, True, False, True, False]
    assert all(
        len(op.layers) == 2 and op.layers[1].startswith("batch_normalization")
        for op in binary
        if op.layers[0] != "quant_conv2d_2"
    )
    (pool,) = [op for op in model.ops if isinstance(op, ops.MaxPool2D)]
    assert (
        pool.packed and pool.inputs == ["quant_conv2d_2"] and pool.layers == ["max_pooling2d", "batch_normalization_2"]
    )
    assert not any(isinstance(op, ops.Affine) for op in model.ops if op.inputs[0] == "quant_dense")


@pytest.mark.parametrize(
    "pool", [(2, 2, "valid"), (3, 2, "same"), (2, 2, "same"), (4, 2, "same")], ids=lambda p: f"{p[0]}_s{p[1]}_{p[2]}"
)
def test_max_pool_on_bits_matches_float_pool(pool):
    """Binary conv -> MaxPool2D -> BN (gammas of both signs) -> binary conv: the pool on the conv's
    signs (AND, OR where the folded scale is negative) gives the same bits as pooling the floats
    then the batch norm (predict with the pool kept), on random weights: conv scale 1, bias 0,
    so the folded and the separate batch norm round alike."""
    size, stride, padding = pool
    cfg = _config("bnn_sequential")
    for lay in cfg["config"]["layers"]:
        if lay["class_name"] == "MaxPooling2D":
            lay["config"].update(pool_size=[size, size], strides=[stride, stride], padding=padding)
    r = np.random.default_rng(size * 10 + stride)
    w = {k: [a.copy() for a in v] for k, v in _weights("bnn_sequential").items()}
    w["quant_conv2d_2"] = [r.standard_normal(w["quant_conv2d_2"][0].shape).astype(np.float32)]
    gamma = (r.uniform(0.5, 2, 8) * r.choice([-1, 1], 8)).astype(np.float32)
    gamma[3] = 0.0  # a constant channel
    beta, mean = r.standard_normal(8).astype(np.float32), r.integers(-4, 5, 8).astype(np.float32) + 0.5
    w["batch_normalization_2"] = [gamma, beta, mean, r.uniform(0.5, 2, 8).astype(np.float32)]
    model = fm.from_config(cfg, w)
    assert any(isinstance(op, ops.MaxPool2D) and op.packed and op.invert is not None for op in model.ops)
    x = r.standard_normal((5, 8, 8, 3)).astype(np.float32)
    # the next binary conv's result: the same bits in (its batch norm folded alike)
    got = model.predict(x, outputs=["quant_conv2d_3"])[1]["quant_conv2d_3"]
    want = model.predict(x, outputs=["max_pooling2d", "quant_conv2d_3"])[1]["quant_conv2d_3"]  # float pool, BN
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(model.predict(x), model.predict(x, outputs=["max_pooling2d"])[0], rtol=0, atol=1e-6)
    ref = fm.Model(model.graph, model.weights, impl="reference")
    assert any(isinstance(op, reference_ops.MaxPool2D) and op.packed for op in ref.ops)
    np.testing.assert_array_equal(ref.predict(x, outputs=["quant_conv2d_3"])[1]["quant_conv2d_3"], got)


def test_quicknet_block_relu_before_bn_folds():
    model = fm.load(os.path.join(FIX, "quicknet_blocks.h5"))
    binary = [op for op in model.ops if op.kind == "binary"]
    assert binary and all(
        op.pre_relu and not op.post_relu and op.layers[1].startswith("batch_normalization") for op in binary
    )
    # the block's residual add is fused into the conv when the shortcut is already computed
    assert all(len(op.layers) == 2 + (len(op.inputs) > 1) for op in binary)
    assert any(len(op.inputs) > 1 for op in binary)


def test_bias_relu_not_folded():
    model = fm.load(os.path.join(FIX, "layer_zoo.h5"))
    op = next(op for op in model.ops if op.layers[0] == "grouped_bias_relu")
    assert op.kind == "binary" and op.post_relu and op.layers == ["grouped_bias_relu"]
    assert any(isinstance(o, ops.Affine) and o.inputs == ["grouped_bias_relu"] for o in model.ops)


# -- Keras 3 files --------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_keras3_float_model(ext):
    model = fm.load(os.path.join(FIX, "keras3_float" + ext))
    assert model.info["keras_version"].startswith("3")
    d = fixture("keras3_float")
    np.testing.assert_allclose(model.predict(d["x"]), d["y"], rtol=0, atol=1e-6)


def test_keras3_sequential_model():
    model = fm.load(os.path.join(FIX, "keras3_sequential.keras"))
    d = fixture("keras3_sequential")
    np.testing.assert_allclose(model.predict(d["x"]), d["y"], rtol=0, atol=1e-6)


def test_empty_sequential_refused():
    with pytest.raises(fm.UnsupportedModelError, match="Sequential model without layers"):
        fm.from_config({"class_name": "Sequential", "config": {"layers": []}}, {})


def test_keras3_unsupported_layer_refused():
    with pytest.raises(fm.UnsupportedModelError, match=r"'layer_normalization' \(LayerNormalization\).*Keras 3"):
        fm.load(os.path.join(FIX, "keras3_unsupported.keras"))


# -- determinism, pickling, summary ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["quicknet_blocks", "layer_zoo"])
def test_same_bits_whatever_the_batch(name):
    model = fm.load(os.path.join(FIX, name + ".h5"))
    x = np.random.default_rng(0).standard_normal((5,) + fixture(name)["x"].shape[1:]).astype(np.float32)
    whole = model.predict(x)
    for i in range(5):
        np.testing.assert_array_equal(model.predict(x[i : i + 1])[0], whole[i])
    np.testing.assert_array_equal(model.predict(x, batch_size=2), whole)
    np.testing.assert_array_equal(model.predict(np.concatenate([x[3:], x[:3]]))[2:], whole[:3])
    import fastq

    before = fastq.get_num_threads()
    try:
        for threads in (1, 2, 3):
            fastq.set_num_threads(threads)
            np.testing.assert_array_equal(model.predict(x), whole)
    finally:
        fastq.set_num_threads(before)


def test_concurrent_predict_from_python_threads():
    import threading

    model = fm.load(os.path.join(FIX, "layer_zoo.h5"))
    x = fixture("layer_zoo")["x"]
    want = model.predict(x)
    got = [None] * 6

    def run(i):
        got[i] = model.predict(x)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g in got:
        np.testing.assert_array_equal(g, want)


def test_pickle_roundtrip():
    model = fm.load(os.path.join(FIX, "birealnet_blocks.keras"))
    d = fixture("birealnet_blocks")
    y = model.predict(d["x"])
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict(d["x"]), y)
    _, acts = clone.predict(d["x"], outputs=["add"])
    np.testing.assert_array_equal(acts["add"], d["layer/add"])


def test_summary(capsys):
    model = fm.load(os.path.join(FIX, "quicknet_blocks.h5"))
    stats = model.summary()
    text = capsys.readouterr().out
    assert "BinaryConv2D" in text and "binary" in text and "(2, 2, 16)" in text
    # 3x3 binary convs: two at 4x4x8 -> 8, one at 2x2x16 -> 16
    assert stats["binary_macs"] == 2 * 16 * 8 * 9 * 8 + 4 * 16 * 9 * 16
    assert stats["float_macs"] > 0


def test_profile_takes_out_the_clock_cost():
    # A clock that advances one unit per call, and ops that take no time: every op reads as
    # 0 and so does the executor, once the calibrated cost of a call (1 unit) is taken out.
    model = fm.load(os.path.join(FIX, "quicknet_blocks.h5"))
    x = fixture("quicknet_blocks")["x"]
    ticks = iter(range(10**9))
    total, per_op = model.profile(x, repeats=3, clock=lambda: float(next(ticks)))
    assert [op for op, _ in per_op] == list(model.ops)
    assert all(t == 0.0 for _, t in per_op)
    assert abs(total) < 1e-9


def test_buffers_are_reused():
    model = fm.load(os.path.join(FIX, "birealnet_blocks.h5"))
    x = fixture("birealnet_blocks")["x"]
    model.predict(x)
    pool = model._pools[0]
    activations = sum(int(np.prod(s)) for s in [(3, 8, 8, 8)]) * 4
    allocated = pool.allocated
    model.predict(x)
    assert pool.allocated == allocated  # a second call allocates nothing
    assert allocated < 8 * activations  # a few buffers, not one per layer (20 layers)


# -- errors ---------------------------------------------------------------------------------------
def test_errors(tmp_path):
    model = fm.load(os.path.join(FIX, "bnn_sequential.h5"))
    with pytest.raises(ValueError, match=r"x: expected input .* shape \(batch, 8, 8, 3\), got \(2, 8, 8, 4\)"):
        model.predict(np.zeros((2, 8, 8, 4), np.float32))
    with pytest.raises(TypeError, match="x: expected a real"):
        model.predict(np.zeros((2, 8, 8, 3), complex))
    with pytest.raises(ValueError, match="outputs: no layer named 'nope'"):
        model.predict(np.zeros((1, 8, 8, 3), np.float32), outputs=["nope"])
    with pytest.raises(FileNotFoundError, match="no such file"):
        fm.load(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"neither a Keras \.keras zip nor an HDF5"):
        fm.load(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "weights.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="without a 'model_config' attribute"):
        fm.load(tmp_path / "weights.h5")


def _config(name):
    with h5py.File(os.path.join(FIX, name + ".h5"), "r") as f:
        return json.loads(f.attrs["model_config"])


def _weights(name):
    from fastq.models import files

    return files.read(os.path.join(FIX, name + ".h5"))[1]


def test_unsupported_options_are_named():
    cfg = _config("quicknet_blocks")
    layer = next(lay for lay in cfg["config"]["layers"] if lay["class_name"] == "TFOpLambda")
    layer["config"]["function"] = "math.reduce_logsumexp"
    with pytest.raises(fm.UnsupportedModelError, match=r"\(TFOpLambda\): TensorFlow function 'math.reduce_logsumexp'"):
        fm.from_config(cfg, _weights("quicknet_blocks"))
    cfg = _config("birealnet_blocks")
    conv = next(lay for lay in cfg["config"]["layers"] if lay["class_name"] == "QuantConv2D")
    conv["config"]["input_quantizer"] = "magnitude_aware_sign"
    with pytest.raises(fm.UnsupportedModelError, match="depends on the whole batch"):
        fm.from_config(cfg, _weights("birealnet_blocks"))
    conv["config"]["input_quantizer"] = "no_such_quantizer"
    with pytest.raises(fm.UnsupportedModelError, match="input_quantizer 'no_such_quantizer' is not a fastq quantizer"):
        fm.from_config(cfg, _weights("birealnet_blocks"))
    conv["config"]["input_quantizer"] = "approx_sign"
    conv["config"]["activation"] = "elu"
    with pytest.raises(fm.UnsupportedModelError, match="activation 'elu'"):
        fm.from_config(cfg, _weights("birealnet_blocks"))


def test_non_sign_input_quantizer_runs_as_float_ops():
    """ste_heaviside is not sign: the conv runs as fastq's quantizer + a float conv."""
    cfg = _config("birealnet_blocks")
    conv = next(lay for lay in cfg["config"]["layers"] if lay["class_name"] == "QuantConv2D")
    conv["config"]["input_quantizer"] = "ste_heaviside"
    model = fm.from_config(cfg, _weights("birealnet_blocks"))
    kinds = [(type(op).__name__, op.kind) for op in model.ops if op.layers[0] == conv["config"]["name"]]
    assert kinds == [("Quantize", "float"), ("Conv2D", "float")]
    x = fixture("birealnet_blocks")["x"]
    assert np.isfinite(model.predict(x)).all()


# -- no TensorFlow, h5py optional -----------------------------------------------------------------
def _run(code):
    env = dict(os.environ, PYTHONPATH=PYTHONPATH + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_import_and_load_without_tensorflow():
    path = os.path.join(FIX, "quicknet_blocks.keras")
    r = _run(
        "import sys, numpy as np, fastq.models as fm\n"
        f"m = fm.load({path!r})\n"
        "m.predict(np.zeros((1, 16, 16, 3), np.float32))\n"
        "heavy = ('tensorflow', 'keras', 'tf_keras', 'larq', 'torch')\n"
        "print([k for k in sys.modules if k.split('.')[0] in heavy])"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_missing_h5py_message():
    r = _run(
        "import sys; sys.modules['h5py'] = None\nimport fastq.models as fm\n"
        f"fm.load({os.path.join(FIX, 'bnn_sequential.h5')!r})"
    )
    assert r.returncode != 0
    assert 'ImportError: fastq.models needs h5py to read Keras model files: pip install "fastq-bnn[models]"' in r.stderr


# -- the ops (NumPy reference and native) against direct formulas --------------------------------
IMPLS = {"reference": reference_ops, "native": ops}


def _bits(impl, x):
    """The bits of float x (bit = x < 0) as each implementation holds them."""
    return x < 0 if impl == "reference" else fastq.pack_bits(np.ascontiguousarray(x, np.float32)).words


def _bits_out(op, shape):
    s, dtype = op.storage(shape)
    return np.empty(s, dtype)


def _direct_conv(x, k, strides, padding, dilation, groups, pad_value):
    """Direct loops: every output element summed over its window (independent of ops.py)."""
    n, h, w, c = x.shape
    kh, kw, cg, co = k.shape
    if padding == "same":
        (pt, pb), (pl, pr) = [
            ops.same_padding(s, kk, st, d) for s, kk, st, d in zip((h, w), (kh, kw), strides, dilation)
        ]
    else:
        pt = pb = pl = pr = 0
    xp = np.full((n, h + pt + pb, w + pl + pr, c), pad_value, np.float64)
    xp[:, pt : pt + h, pl : pl + w] = x
    oh = (xp.shape[1] - (kh - 1) * dilation[0] - 1) // strides[0] + 1
    ow = (xp.shape[2] - (kw - 1) * dilation[1] - 1) // strides[1] + 1
    out = np.zeros((n, oh, ow, co))
    cog = co // groups
    for o in range(co):
        g = o // cog
        for i in range(oh):
            for j in range(ow):
                win = xp[
                    :,
                    i * strides[0] : i * strides[0] + (kh - 1) * dilation[0] + 1 : dilation[0],
                    j * strides[1] : j * strides[1] + (kw - 1) * dilation[1] + 1 : dilation[1],
                    g * cg : (g + 1) * cg,
                ]
                out[:, i, j, o] = (win * k[..., o]).sum(axis=(1, 2, 3))
    return out


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "strides,padding,dilation,groups,pad_values",
    [
        ((1, 1), "same", (1, 1), 1, 1.0),
        ((1, 1), "same", (1, 1), 1, 0.0),
        ((2, 2), "same", (1, 1), 1, 0.0),
        ((2, 1), "valid", (1, 1), 2, 1.0),
        ((1, 1), "same", (2, 2), 1, 1.0),
        ((3, 3), "same", (1, 2), 2, 0.0),
    ],
)
def test_binary_conv_op(strides, padding, dilation, groups, pad_values, impl):
    ops = IMPLS[impl]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 7, 6, 4)).astype(np.float32)
    x[0, 0, 0, 0] = 0.0  # sign(0) = +1
    k = rng.standard_normal((3, 3, 4 // groups, 6)).astype(np.float32)
    scale = rng.standard_normal(6).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    sx = np.where(x < 0, -1.0, 1.0)
    sk = np.where(k < 0, -1.0, 1.0)
    dot = _direct_conv(sx, sk, strides, padding, dilation, groups, pad_values).astype(np.float32)
    for pre, post in [(False, False), (True, False), (False, True)]:
        op = ops.BinaryConv2D("c", ["x"], k, strides, padding, dilation, groups, pad_values, scale, bias, pre, post)
        out = np.empty((2,) + op.output_shape([x.shape[1:]]), np.float32)
        op.run([x], out)
        d = np.maximum(dot, 0) if pre else dot
        want = d * scale + bias
        if post:
            want = np.maximum(want, 0)
        np.testing.assert_array_equal(out, want)
        packed = ops.BinaryConv2D(
            "c", ["x"], k, strides, padding, dilation, groups, pad_values, scale, bias, pre, post, packed_output=True
        )
        bits = np.empty(out.shape, bool)
        bits = _bits_out(packed, out.shape)
        packed.run([x], bits)
        np.testing.assert_array_equal(bits, _bits(impl, want))
        # bits in = the same as the float input it came from
        out2 = np.empty_like(out)
        op.run([_bits(impl, x)], out2)
        np.testing.assert_array_equal(out2, out)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("padding,strides", [("same", (2, 2)), ("valid", (1, 1)), ("same", (1, 1))])
def test_float_conv_and_depthwise_ops(padding, strides, impl):
    ops = IMPLS[impl]
    rng = np.random.default_rng(2)
    x = (rng.integers(-8, 9, (2, 6, 5, 3)) / 4).astype(np.float32)  # dyadic: every sum exact
    k = (rng.integers(-4, 5, (3, 3, 3, 4)) / 4).astype(np.float32)
    op = ops.Conv2D("c", ["x"], k, None, strides, padding)
    out = np.empty((2,) + op.output_shape([x.shape[1:]]), np.float32)
    op.run([x], out)
    np.testing.assert_array_equal(out, _direct_conv(x, k, strides, padding, (1, 1), 1, 0.0))
    kd = (rng.integers(-4, 5, (3, 3, 3, 2)) / 4).astype(np.float32)
    dw = ops.DepthwiseConv2D("d", ["x"], kd, None, strides, padding)
    out = np.empty((2,) + dw.output_shape([x.shape[1:]]), np.float32)
    dw.run([x], out)
    # depthwise = grouped conv with one group per input channel, output channel c * M + m
    kg = np.zeros((3, 3, 1, 6), np.float32)
    for c in range(3):
        for m in range(2):
            kg[:, :, 0, c * 2 + m] = kd[:, :, c, m]
    np.testing.assert_array_equal(out, _direct_conv(x, kg, strides, padding, (1, 1), 3, 0.0))


def test_float_convs_without_a_native_kernel_run_the_reference():
    """Grouped convolutions and a non-zero padding value have no native kernel: the native ops
    run the reference op's code for them (ops._Rebuilt.run)."""
    rng = np.random.default_rng(3)
    x = (rng.integers(-8, 9, (2, 6, 5, 4)) / 4).astype(np.float32)
    k = (rng.integers(-4, 5, (3, 3, 2, 6)) / 4).astype(np.float32)
    kd = (rng.integers(-4, 5, (3, 3, 4, 1)) / 4).astype(np.float32)
    cases = [
        (ops.Conv2D("c", ["x"], k, groups=2), reference_ops.Conv2D("c", ["x"], k, groups=2)),
        (
            ops.DepthwiseConv2D("d", ["x"], kd, padding="same", pad_value=1.0),
            reference_ops.DepthwiseConv2D("d", ["x"], kd, padding="same", pad_value=1.0),
        ),
    ]
    for native, ref in cases:
        assert native._native is None
        got = np.empty((2,) + native.output_shape([x.shape[1:]]), np.float32)
        want = np.empty_like(got)
        native.run([x], got)
        ref.run([x], want)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("impl", IMPLS)
def test_pool_ops_same_padding(impl):
    ops = IMPLS[impl]
    x = np.arange(2 * 5 * 5 * 1, dtype=np.float32).reshape(2, 5, 5, 1) - 20
    mp = ops.MaxPool2D("m", ["x"], (3, 3), (2, 2), "same")
    out = np.empty((2, 3, 3, 1), np.float32)
    mp.run([x], out)
    assert out[0, 0, 0, 0] == x[0, 1, 1, 0] and out[0, 2, 2, 0] == x[0, 4, 4, 0]
    ap = ops.AvgPool2D("a", ["x"], (2, 2), (2, 2), "same")
    out = np.empty((2, 3, 3, 1), np.float32)
    ap.run([x], out)
    assert out[0, 2, 2, 0] == x[0, 4, 4, 0]  # the corner window holds one real tap
    assert out[0, 0, 2, 0] == (x[0, 0, 4, 0] + x[0, 1, 4, 0]) / 2
    outb = _bits_out(mp, (2, 3, 3, 1)) if impl == "reference" else np.empty((2, 3, 3, 1), np.uint64)
    mp.run([_bits(impl, x)], outb)
    mp.run([x], out)
    np.testing.assert_array_equal(outb, _bits(impl, out))  # max-pool commutes with the sign


# -- python -m fastq model ------------------------------------------------------------------------
def test_cli_summary_predict_bench(capsys, tmp_path):
    from fastq.tools.cli import main

    path = os.path.join(FIX, "birealnet_blocks.h5")
    assert main(["model", "summary", path]) == 0
    assert "BinaryConv2D" in capsys.readouterr().out
    d = fixture("birealnet_blocks")
    np.save(tmp_path / "x.npy", d["x"])
    assert (
        main(
            [
                "model",
                "predict",
                path,
                "--input",
                str(tmp_path / "x.npy"),
                "--out",
                str(tmp_path / "y.npy"),
                "--top",
                "2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("image ") == len(d["x"])
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), d["y"], rtol=0, atol=1e-6)
    assert main(["model", "bench", path, "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "ms / image" in out and len(out.strip().splitlines()) >= 3


# -- the zoo architectures built by fastq (no file) -----------------------------------------------
@pytest.mark.parametrize(
    "name,binary,float_",
    [
        ("QuickNetSmall", 1_156_055_040, 15_941_120),
        ("QuickNet", 1_849_688_064, 29_651_712),
        ("QuickNetLarge", 3_699_376_128, 29_651_712),
        ("BiRealNet", 1_676_279_808, 137_793_536),
    ],
)
def test_zoo_architectures(name, binary, float_):
    """MACs per image as larq_zoo's models have them (scripts/check_zoo.py checks every layer's
    config against larq_zoo's own)."""
    from fastq.models import zoo

    model = zoo.build(name, seed=0)
    stats = model.summary(print_fn=lambda s: None)
    assert (stats["binary_macs"], stats["float_macs"]) == (binary, float_)
    convs = [op for op in model.ops if isinstance(op, ops.BinaryConv2D)]
    assert convs and all(op.layers[1].startswith("batch_normalization") for op in convs)  # BN folded
    assert all(len(op.inputs) == 2 for op in convs)  # and each one's shortcut add fused


def test_zoo_predict_and_pickle():
    from fastq.models import zoo

    model = zoo.build("QuickNetSmall", seed=1)
    x = np.random.default_rng(0).standard_normal((1, 224, 224, 3)).astype(np.float32)
    y = model.predict(x)
    assert y.shape == (1, 1000) and np.isfinite(y).all() and abs(float(y.sum()) - 1) < 1e-5
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(x), y)
    with pytest.raises(ValueError, match="name: expected one of"):
        zoo.build("ResNet50")


# -- native ops against the NumPy reference ops ---------------------------------------------------
@pytest.mark.parametrize("name", LARQ)
def test_native_matches_reference(name):
    model = fm.load(os.path.join(FIX, name + ".h5"))
    assert model.impl == "native"
    ref = fm.Model(model.graph, model.weights, impl="reference")
    assert [type(op).__name__ for op in ref.ops] == [type(op).__name__ for op in model.ops]
    x = np.random.default_rng(5).standard_normal((3,) + fixture(name)["x"].shape[1:]).astype(np.float32)
    y, yr = model.predict(x), ref.predict(x)
    np.testing.assert_allclose(y, yr, rtol=0, atol=1e-5)
    # packed bits between binary layers: uint64 words natively, bool in the reference
    packed = [op for op in model.ops if getattr(op, "packed_output", False)]
    assert all(
        op.storage((2, 5, 5, 65))[0] == (2, 5, 5, 2)
        for op in packed
        if op.kind == "binary" and isinstance(op, ops.BinaryConv2D)
    )


def test_zoo_folds_float_batchnorm_and_relu_maxpool():
    """conv -> BN (no conv bias) becomes the conv's epilogue; relu -> max pool one op."""
    from fastq.models import zoo

    for name in ("QuickNet", "BiRealNet"):
        model = zoo.build(name, seed=0)
        assert not any(isinstance(op, ops.Affine) for op in model.ops), name
    q = zoo.build("QuickNet", seed=0)
    assert sum(isinstance(op, ops.MaxPool2D) and op.relu for op in q.ops) == 3
