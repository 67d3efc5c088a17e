"""Write the exact model fixtures of tests/models/fixtures/ with larq itself.

Run in the side environment (scripts/larq-env.sh):

    TF_USE_LEGACY_KERAS=1 build/larq-venv/bin/python scripts/make_model_fixtures.py

Each fixture is a small larq/Keras model saved as NAME.h5 and NAME.keras, and NAME.npz with the
inputs ``x``, Keras's final output ``y`` and every layer's output under ``layer/<name>``
(float32), plus ``binary_layers`` (the quantized layers whose input is binarized) and
``sign_inputs`` (the layers whose outputs feed a sign).

Exactness: every value before a sign must be computed exactly and stay away from zero, so that
fastq (which folds batch norm and reorders sums) must produce the same bits. So weights and
inputs are small dyadic numbers (multiples of 1/4, kernels of magnitude-aware layers ±2^-k per
channel), batch norms have variance + epsilon = 1 exactly (a dyadic epsilon) and a power-of-two
gamma, and the batch norms that start a residual stream get a mean with one bit finer than
their input's grid, which makes every value of the stream an odd multiple of a power of two:
never zero, and adding the blocks' coarser outputs keeps it so. The script checks it: the model
rebuilt in float64 must give bit-identical outputs for every layer up to the classifier head,
and every value that feeds a sign must be at least 2^-16 away from zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

KERAS3 = "--keras3" in sys.argv  # this process writes the Keras 3 fixtures (no larq)
os.environ["TF_USE_LEGACY_KERAS"] = "0" if KERAS3 else "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

if KERAS3:
    import keras
else:
    import larq as lq

    keras = tf.keras
L = keras.layers
EPS = 2.0**-10  # dyadic batch-norm epsilon: variance = 1 - EPS makes rsqrt exact
SIGN_QUANTIZERS = ("SteSign", "ApproxSign", "SwishSign", "ste_sign", "approx_sign", "swish_sign")


# -- exact parameters -----------------------------------------------------------------------------
class Params:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def grid(self, shape, step=0.25, lo=-1.0, hi=1.0, nonzero=False):
        """Multiples of ``step`` in [lo, hi]."""
        k = self.rng.integers(int(lo / step), int(hi / step) + 1, size=shape)
        if nonzero:
            k = np.where(k == 0, 1, k)
        return (k * step).astype(np.float32)

    def signs(self, shape):
        return np.where(self.rng.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)

    def bn(self, layer, grid=None, gamma_pow=(0,)):
        """gamma = ±2^k, variance = 1 - EPS. Without ``grid``: mean and beta multiples of 1/8.
        With ``grid`` (the input's values are multiples of it, gamma = ±1): mean and beta multiples
        of max(grid, 1/8), plus grid/2 for the mean, so every output is an odd multiple of grid/2."""
        c = layer.channels
        gamma = (self.rng.choice([-1.0, 1.0], c) * 2.0 ** self.rng.choice(gamma_pow, c)).astype(np.float32)
        step = 0.125 if grid is None else max(grid, 0.125)
        beta = self.grid(c, step, -1, 1)
        mean = self.grid(c, step, -1, 1)
        if grid is not None:
            gamma = np.sign(gamma).astype(np.float32)
            mean = (mean + grid / 2).astype(np.float32)
        var = np.full(c, 1.0 - EPS, np.float32)
        values = []
        if layer.layer.scale:
            values.append(gamma)
        if layer.layer.center:
            values.append(beta)
        layer.layer.set_weights(values + [mean, var])


def value_grid(v):
    """The largest power of two of which every value is a multiple."""
    v = np.asarray(v, np.float64)
    for e in range(6, -40, -1):
        if np.all(np.mod(v, 2.0**e) == 0):
            return 2.0**e
    raise AssertionError("values are not dyadic")


def set_bns(model, x, bns, p):
    """Set batch norms in graph order; a "fine" one looks at its actual input's grid."""
    for b, fine, pw in bns:
        grid = None
        if fine:
            src = keras.Model(model.inputs, b.layer.input)
            grid = value_grid(src(x, training=False))
        p.bn(b, grid=grid, gamma_pow=pw)


class BN:
    def __init__(self, layer, channels):
        self.layer, self.channels = layer, channels


def bn(x, **kw):
    layer = L.BatchNormalization(epsilon=EPS, **kw)
    y = layer(x)
    return y, BN(layer, int(x.shape[-1]))


# -- the fixtures ---------------------------------------------------------------------------------
def bnn_sequential(p):
    """A Sequential larq BNN: float first conv on ±1 kernels, binary convs (pad_values 1 and 0),
    conv -> BN -> binary conv (packed output), max-pool between conv and BN, binary dense layers
    with batch norm, softmax."""
    kw = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip", use_bias=False)
    m = keras.Sequential(
        [
            L.InputLayer((8, 8, 3)),
            lq.layers.QuantConv2D(
                8, 3, kernel_quantizer="ste_sign", kernel_constraint="weight_clip", use_bias=False, padding="same"
            ),
            L.BatchNormalization(epsilon=EPS, scale=False),
            lq.layers.QuantConv2D(8, 3, padding="same", pad_values=1.0, **kw),
            L.BatchNormalization(epsilon=EPS),
            lq.layers.QuantConv2D(8, 3, padding="same", **kw),
            L.MaxPool2D(2),
            L.BatchNormalization(epsilon=EPS),
            lq.layers.QuantConv2D(16, 3, padding="valid", **kw),
            L.BatchNormalization(epsilon=EPS),
            L.Flatten(),
            lq.layers.QuantDense(16, **kw),
            L.BatchNormalization(epsilon=EPS),
            lq.layers.QuantDense(10, **kw),
            L.BatchNormalization(epsilon=EPS, scale=False),
            L.Activation("softmax"),
        ],
        name="bnn_sequential",
    )
    bns = []
    for layer in m.layers:
        if isinstance(layer, L.BatchNormalization):
            bns.append((BN(layer, layer.weights[-1].shape[0]), layer is not m.layers[-2], (0,)))
        elif layer.weights:
            layer.set_weights([p.grid(w.shape, 0.25, -1, 1, nonzero=True) for w in layer.weights])
    x = p.grid((4, 8, 8, 3), 0.25, -2, 2, nonzero=True)
    set_bns(m, x, bns, p)
    return m, x


def quicknet_blocks(p):
    """QuickNet's structure in miniature (larq_zoo.sota.quicknet): float stem (conv s2, BN, relu,
    depthwise s2, BN without scale/center, 1x1 conv, BN), residual blocks (binary 3x3 conv with
    SteSign(1.25) input and kernel, pad_values 1, relu, BN, ``x + residual`` saved as TFOpLambda),
    a transition (relu, max-pool 2 s1, blur-pool depthwise 3x3 s2, 1x1 conv, BN) and the head
    (relu, average pool over the whole map, flatten, float QuantDense, softmax)."""
    q = lq.quantizers.SteSign(clip_value=1.25)
    bns = []
    inp = keras.Input((16, 16, 3))
    x = lq.layers.QuantConv2D(4, 3, padding="same", strides=2, use_bias=False)(inp)
    x, b = bn(x)
    bns.append((b, True, (0,)))
    x = L.Activation("relu")(x)
    x = lq.layers.QuantDepthwiseConv2D(3, padding="same", strides=2, use_bias=False)(x)
    x, b = bn(x, scale=False, center=False)
    bns.append((b, False, (0,)))
    x = lq.layers.QuantConv2D(8, 1, use_bias=False)(x)
    x, b = bn(x)
    bns.append((b, True, (0,)))  # starts the residual stream

    def block(x):
        r = x
        y = lq.layers.QuantConv2D(
            int(x.shape[-1]),
            3,
            activation="relu",
            input_quantizer=q,
            kernel_quantizer=q,
            kernel_constraint=lq.constraints.WeightClip(1.25),
            padding="same",
            pad_values=1.0,
            use_bias=False,
        )(x)
        y, b = bn(y, momentum=0.9)
        bns.append((b, False, (-2, -1)))
        return y + r

    x = block(x)
    x = block(x)
    # transition to 16 filters
    x = L.Activation("relu")(x)
    x = L.MaxPool2D(pool_size=2, strides=1)(x)
    x = L.DepthwiseConv2D(3, padding="same", strides=2, use_bias=False, trainable=False, name="blurpool")(x)
    x = lq.layers.QuantConv2D(16, 1, use_bias=False)(x)
    x, b = bn(x, momentum=0.9)
    bns.append((b, True, (0,)))
    x = block(x)
    x = L.Activation("relu")(x)
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    x = L.Flatten()(x)
    x = lq.layers.QuantDense(10)(x)
    x = L.Activation("softmax", dtype="float32")(x)
    m = keras.Model(inp, x, name="quicknet_blocks")
    for layer in m.layers:
        if layer.name == "blurpool":
            k = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
            layer.set_weights([np.repeat(k[:, :, None, None], layer.weights[0].shape[2], axis=2).astype(np.float32)])
        elif layer.weights and not isinstance(layer, L.BatchNormalization):
            layer.set_weights([p.grid(w.shape, 0.25, -1, 1, nonzero=True) for w in layer.weights])
    x = p.grid((3, 16, 16, 3), 0.25, -2, 2)
    set_bns(m, x, bns, p)
    return m, x


def birealnet_blocks(p):
    """Bi-Real Net's structure in miniature (larq_zoo.literature.birealnet): float stem (conv s2,
    BN, max-pool 3 s2 same), residual blocks (binary 3x3 conv with approx_sign input,
    magnitude_aware_sign kernel, zero padding, BN, Add), a downsampling block (shortcut: avg-pool 2
    s2 same, float 1x1 conv, BN; binary conv stride 2), head (average pool, flatten, dense,
    softmax)."""
    bns = []
    inp = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inp)
    x, b = bn(x, momentum=0.8)
    bns.append((b, True, (0,)))
    x = L.MaxPool2D(3, strides=2, padding="same")(x)

    def block(x, out_filters):
        in_filters = int(x.shape[-1])
        shortcut = x
        if in_filters != out_filters:
            shortcut = L.AvgPool2D(2, strides=2, padding="same")(shortcut)
            shortcut = L.Conv2D(out_filters, 1, use_bias=False)(shortcut)
            shortcut, b = bn(shortcut, momentum=0.8)
            bns.append((b, True, (0,)))
        y = lq.layers.QuantConv2D(
            out_filters,
            3,
            strides=1 if in_filters == out_filters else 2,
            padding="same",
            input_quantizer="approx_sign",
            kernel_quantizer="magnitude_aware_sign",
            kernel_constraint="weight_clip",
            use_bias=False,
        )(x)
        y, b = bn(y, momentum=0.8)
        bns.append((b, False, (0, 1)))
        return L.add([y, shortcut])

    x = block(x, 8)
    x = block(x, 16)
    x = block(x, 16)
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    x = L.Flatten()(x)
    x = L.Dense(10)(x)
    x = L.Activation("softmax", dtype="float32")(x)
    m = keras.Model(inp, x, name="birealnet_blocks")
    for layer in m.layers:
        if isinstance(layer, lq.layers.QuantConv2D):
            k = layer.weights[0].shape
            alpha = 2.0 ** p.rng.integers(-3, 1, k[-1])  # |kernel| constant per output channel
            layer.set_weights([(p.signs(k) * alpha).astype(np.float32)])
        elif layer.weights and not isinstance(layer, L.BatchNormalization):
            layer.set_weights([p.grid(w.shape, 0.25, -1, 1, nonzero=True) for w in layer.weights])
    x = p.grid((3, 16, 16, 3), 0.25, -2, 2)
    set_bns(m, x, bns, p)
    return m, x


def layer_zoo(p):
    """Every other supported layer and option: ZeroPadding2D, dilation, groups, swish_sign,
    use_bias + relu before BN (not foldable), approx_sign with magnitude_aware_sign and a bias,
    ReLU(max_value), depthwise with depth_multiplier and bias, binary depthwise, non-sign
    quantizers (DoReFa input, ste_tern kernel), Concatenate, average/max pooling with SAME,
    GlobalAveragePooling2D, Reshape, Dropout, Dense relu, TFOpLambda multiply, Add, softmax."""
    inp = keras.Input((8, 8, 4))
    bns = []
    a = L.ZeroPadding2D(((1, 3), (2, 2)))(inp)
    a = L.Conv2D(8, 3, dilation_rate=2, activation="relu")(a)
    a, b = bn(a)
    bns.append((b, True, (0,)))
    a = lq.layers.QuantConv2D(
        8,
        3,
        padding="same",
        input_quantizer="ste_sign",
        kernel_quantizer="ste_sign",
        use_bias=False,
        name="binary_after_float",
    )(a)
    bq = lq.layers.QuantConv2D(
        8,
        3,
        padding="same",
        pad_values=1.0,
        groups=2,
        use_bias=True,
        activation="relu",
        input_quantizer=lq.quantizers.SwishSign(beta=3.0),
        kernel_quantizer="ste_sign",
        name="grouped_bias_relu",
    )(inp)
    bq, b = bn(bq)
    bns.append((b, False, (0,)))
    c = lq.layers.QuantConv2D(
        8,
        3,
        padding="same",
        dilation_rate=2,
        use_bias=True,
        input_quantizer="approx_sign",
        kernel_quantizer="magnitude_aware_sign",
        name="dilated_magnitude",
    )(inp)
    c, b = bn(c)
    bns.append((b, False, (0,)))
    c = L.ReLU()(c)
    d = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(inp)
    d = L.ReLU(max_value=2.0)(d)
    e = lq.layers.QuantDepthwiseConv2D(
        3,
        padding="same",
        pad_values=1.0,
        input_quantizer="ste_sign",
        depthwise_quantizer="ste_sign",
        use_bias=False,
        name="binary_depthwise",
    )(inp)
    f = lq.layers.QuantConv2D(
        8,
        1,
        input_quantizer=lq.quantizers.DoReFa(k_bit=2, mode="activations"),
        kernel_quantizer=lq.quantizers.SteTern(threshold_value=0.3),
        use_bias=False,
        name="dorefa_tern",
    )(inp)
    cat = L.Concatenate()([a, bq, c, d, e, f])
    g = L.AveragePooling2D(3, strides=2, padding="same")(cat)
    g = L.MaxPool2D(2, padding="same")(g)
    g = L.Reshape((-1, 4))(g)
    g = L.Flatten()(g)
    g = L.Dropout(0.5)(g)
    g = L.Dense(12, activation="relu")(g)
    g = L.Dense(10)(g)
    g = g * 0.5
    h = L.GlobalAveragePooling2D()(cat)
    h = L.Dense(10)(h)
    y = L.Add()([g, h])
    y = L.Activation("softmax")(y)
    m = keras.Model(inp, y, name="layer_zoo")
    for layer in m.layers:
        if layer.name == "dilated_magnitude":
            k = layer.weights[0].shape
            alpha = 2.0 ** p.rng.integers(-2, 1, k[-1])
            layer.set_weights([(p.signs(k) * alpha).astype(np.float32), p.grid(layer.weights[1].shape, 0.5, -2, 2)])
        elif layer.weights and not isinstance(layer, L.BatchNormalization):
            layer.set_weights([p.grid(w.shape, 0.25, -1, 1, nonzero=True) for w in layer.weights])
    x = p.grid((3, 8, 8, 4), 0.25, -2, 2, nonzero=True)
    set_bns(m, x, bns, p)
    return m, x


FIXTURES = {f.__name__: f for f in (bnn_sequential, quicknet_blocks, birealnet_blocks, layer_zoo)}


# -- checks and writing ---------------------------------------------------------------------------
def _quantizer_name(q):
    if q is None:
        return None
    return type(q).__name__ if not callable(q) or hasattr(q, "get_config") else getattr(q, "__name__", str(q))


def binary_layers(model):
    """Quantized layers whose input quantizer's forward pass is sign."""
    out = []
    for layer in model.layers:
        q = getattr(layer, "input_quantizer", None)
        if q is not None and _quantizer_name(q) in SIGN_QUANTIZERS:
            out.append(layer.name)
    return out


def layer_outputs(model, x):
    layers = [layer for layer in model.layers if not isinstance(layer, L.InputLayer)]
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    values = probe(x, training=False)
    return {layer.name: np.asarray(v) for layer, v in zip(layers, values)}


def float64_twin(model):
    cfg = json.loads(model.to_json())
    text = json.dumps(cfg).replace('"dtype": "float32"', '"dtype": "float64"')
    with keras.utils.custom_object_scope(lq.layers.__dict__ | lq.quantizers.__dict__):
        twin = keras.models.model_from_json(text)
    twin.set_weights([w.astype(np.float64) for w in model.get_weights()])
    return twin


def _inbound(layer):
    src = layer._inbound_nodes[0].inbound_layers
    return list(src) if isinstance(src, (list, tuple)) else [src]


def check_exact(model, x, outs):
    """Every binary layer, its input and the layers right after it must come out of a float64 twin
    of the model bit for bit (so they are computed exactly), and every value that feeds a sign must
    be nonzero. Returns the names checked."""
    outs64 = layer_outputs(float64_twin(model), x.astype(np.float64))
    required = set()
    for name in binary_layers(model):
        layer = model.get_layer(name)
        required.add(name)
        for src in _inbound(layer):
            if isinstance(src, L.InputLayer):
                v = x
            else:
                required.add(src.name)
                v = outs[src.name]
            m = float(np.min(np.abs(v)))
            if m < 2.0**-20:
                raise AssertionError(f"{model.name}: the input of {name!r} comes within {m} of zero")
    for layer in model.layers:  # single-input layers right after a binary layer (batch norm, relu)
        if (
            not isinstance(layer, L.InputLayer)
            and len(_inbound(layer)) == 1
            and _inbound(layer)[0].name in binary_layers(model)
        ):
            required.add(layer.name)
    for name in sorted(required):
        if not np.array_equal(outs[name].astype(np.float64), outs64[name]):
            raise AssertionError(
                f"{model.name}: layer {name!r} is not exact (max diff {np.max(np.abs(outs[name] - outs64[name]))})"
            )
    return sorted(required)


def write(name, outdir, seed):
    keras.backend.clear_session()
    tf.keras.utils.set_random_seed(seed)
    model, x = FIXTURES[name](Params(seed))
    outs = layer_outputs(model, x)
    exact = check_exact(model, x, outs)
    y = np.asarray(model.predict(x, verbose=0))
    assert np.allclose(y, outs[model.layers[-1].name])
    model.save(os.path.join(outdir, name + ".h5"))
    model.save(os.path.join(outdir, name + ".keras"))
    arrays = {
        "x": x,
        "y": y,
        "binary_layers": np.array(binary_layers(model)),
        "exact_layers": np.array(exact),
        **{"layer/" + k: v.astype(np.float32) for k, v in outs.items()},
    }
    np.savez_compressed(os.path.join(outdir, name + ".npz"), **arrays)
    sizes = {ext: os.path.getsize(os.path.join(outdir, name + ext)) // 1024 for ext in (".h5", ".keras", ".npz")}
    print(f"{name}: {len(model.layers)} layers, binary {binary_layers(model)}, KiB {sizes}")


def keras3_fixtures(outdir, seed):
    """Files written by Keras 3 itself (larq does not run on Keras 3): a float model fastq loads,
    and one with a layer fastq does not support (it must be refused with a clear error)."""
    p = Params(seed)
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    y = keras.layers.BatchNormalization(epsilon=EPS)(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(y)
    x = keras.layers.Add()([x, y])
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(10, activation="softmax")(x)
    m = keras.Model(inp, x, name="keras3_float")
    for layer in m.layers:
        if layer.weights and not isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([p.grid(tuple(w.shape), 0.25, -1, 1) for w in layer.weights])
        elif layer.weights:
            c = layer.weights[0].shape[0]
            layer.set_weights(
                [np.ones(c, np.float32), p.grid(c, 0.125), p.grid(c, 0.125), np.full(c, 1 - EPS, np.float32)]
            )
    x = p.grid((3, 8, 8, 3), 0.25, -2, 2)
    y = np.asarray(m.predict(x, verbose=0))
    m.save(os.path.join(outdir, "keras3_float.keras"))
    m.save(os.path.join(outdir, "keras3_float.h5"))
    np.savez_compressed(os.path.join(outdir, "keras3_float.npz"), x=x, y=y)
    seq = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(4, 3, use_bias=False),
            keras.layers.ReLU(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(3),
            keras.layers.Softmax(),
        ],
        name="keras3_sequential",
    )
    for layer in seq.layers:
        if layer.weights:
            layer.set_weights([p.grid(tuple(w.shape), 0.25, -1, 1) for w in layer.weights])
    xs = p.grid((2, 6, 6, 2), 0.25, -2, 2)
    seq.save(os.path.join(outdir, "keras3_sequential.keras"))
    np.savez_compressed(os.path.join(outdir, "keras3_sequential.npz"), x=xs, y=np.asarray(seq.predict(xs, verbose=0)))
    inp = keras.Input((4,))
    u = keras.Model(inp, keras.layers.Dense(2)(keras.layers.LayerNormalization()(inp)), name="keras3_unsupported")
    u.save(os.path.join(outdir, "keras3_unsupported.keras"))
    print(
        f"Keras {keras.__version__}: keras3_float (.keras, .h5, .npz), keras3_sequential (.keras, .npz), "
        "keras3_unsupported.keras"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "models", "fixtures"))
    ap.add_argument("--only", nargs="*", choices=sorted(FIXTURES))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keras3", action="store_true", help="(internal) write the Keras 3 fixtures in this process")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if KERAS3:
        keras3_fixtures(args.out, args.seed)
        return 0
    for name in args.only or FIXTURES:
        write(name, args.out, args.seed)
    if not args.only:  # Keras 3 cannot share a process with tf_keras + larq
        import subprocess

        subprocess.run([sys.executable, __file__, "--keras3", "--out", args.out, "--seed", str(args.seed)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
