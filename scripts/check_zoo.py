"""fastq.models against Keras and Larq Compute Engine on the larq_zoo models (random weights).

Run in the side environment (scripts/larq-env.sh) with fastq importable:

    TF_USE_LEGACY_KERAS=1 build/larq-venv/bin/python scripts/check_zoo.py [--models QuickNetSmall ...]

For each model: build it with larq_zoo (weights=None, seeded random weights), recalibrate every
batch norm's statistics on a random batch (momentum 0, one training-mode pass), save it as .h5
and as .keras, load both files with fastq.models.load (they must give the same bits: same weights),
and run 8 seeded inputs through

- Keras in float64 (the same config and weights, every layer's dtype float64): the reference,
- Keras in float32 (for scale: same op order, no folding),
- fastq.models (batch norm folded into the binary convolutions),
- LCE's interpreter (convert_keras_model; use_xnnpack=True, use_indirect_bgemm=True).

It reports d = the median over the inputs of the largest absolute softmax difference to Keras
float64, and top-1 agreement with Keras float64, side by side, and checks the issue's bounds:
d(fastq) <= 3 d(LCE) + 3e-5 and agreement(fastq) >= agreement(LCE). Exit status 1 if a check
fails. Times of each part are printed (and written with --json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

MODELS = ["QuickNetSmall", "QuickNet", "QuickNetLarge", "BiRealNet"]


def build(name, seed):
    import larq_zoo as lqz
    import tensorflow as tf

    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(seed)
    fn = getattr(lqz.sota, name, None) or getattr(lqz.literature, name)
    model = fn(weights=None, input_shape=(224, 224, 3))
    # Batch-norm statistics from one random batch: momentum 0 makes the moving averages the
    # batch's own statistics, computed with every earlier layer already in that state.
    bns = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in bns]
    for layer in bns:
        layer.momentum = 0.0
    calib = np.random.default_rng(seed + 1).standard_normal((16, 224, 224, 3)).astype(np.float32)
    model(calib, training=True)
    for layer, m in zip(bns, momenta):  # the saved config stays larq_zoo's
        layer.momentum = m
    return model


CONFIG_KEYS = (
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "dilation_rate",
    "groups",
    "activation",
    "use_bias",
    "pad_values",
    "depth_multiplier",
    "axis",
    "momentum",
    "epsilon",
    "center",
    "scale",
    "pool_size",
    "units",
    "function",
    "data_format",
)
QUANTIZER_KEYS = ("input_quantizer", "kernel_quantizer", "depthwise_quantizer")


def structure_diff(model, name):
    """Differences between larq_zoo's model and fastq.models.zoo's rebuild of it: layer names,
    classes, inputs, the options fastq reads, quantizers and weight shapes."""
    import fastq.quantizers as fq
    from fastq.models import graph, zoo

    keras_cfg = json.loads(model.to_json())
    ours_cfg, ours_w = zoo.config_and_weights(name)
    kg, og = graph.parse(keras_cfg), graph.parse(ours_cfg)
    out = []
    if len(kg.nodes) != len(og.nodes):
        out.append(f"{len(kg.nodes)} layers in larq_zoo, {len(og.nodes)} in fastq.models.zoo")
    kw = {layer.name: [tuple(w.shape) for w in layer.weights] for layer in model.layers}
    ours = {n.name: n for n in og.nodes}
    for a in kg.nodes:  # by name: the order of independent branches may differ
        b = ours.get(a.name)
        if b is None:
            out.append(f"{a.name}: not in fastq.models.zoo")
            continue
        where = a.name
        if (a.name, a.class_name, a.inputs) != (b.name, b.class_name, b.inputs):
            out.append(f"{where}: {a.class_name} <- {a.inputs} vs {b.class_name} <- {b.inputs}")
            continue
        for k in CONFIG_KEYS:
            va, vb = a.config.get(k), b.config.get(k)
            if k in a.config and va != vb and not (k == "axis" and va in ([3], [-1], -1, 3) and vb == [3]):
                out.append(f"{where}: {k} = {va!r} vs {vb!r}")
        for k in QUANTIZER_KEYS:
            va, vb = a.config.get(k), b.config.get(k)
            if fq.get(va) != fq.get(vb) and not (va is None and vb is None):
                out.append(f"{where}: {k} = {va!r} vs {vb!r}")
        if kw.get(a.name, []) != [tuple(w.shape) for w in ours_w.get(b.name, [])]:
            out.append(f"{where}: weight shapes {kw.get(a.name)} vs {[w.shape for w in ours_w.get(b.name, [])]}")
    return out


def float64_twin(model):
    import tensorflow as tf

    text = model.to_json().replace('"dtype": "float32"', '"dtype": "float64"')
    twin = tf.keras.models.model_from_json(text)
    twin.set_weights([w.astype(np.float64) for w in model.get_weights()])
    return twin


def lce_convert(model):
    from larq_compute_engine import convert_keras_model

    return convert_keras_model(model)


def lce_predict(flat, x):
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    interp = Interpreter(flat, num_threads=1, use_xnnpack=True, use_indirect_bgemm=True)
    return np.concatenate([interp.predict(x[i : i + 1]) for i in range(len(x))])


def stats(y, ref):
    d = np.median(np.max(np.abs(y.astype(np.float64) - ref), axis=1))
    agree = int(np.sum(np.argmax(y, axis=1) == np.argmax(ref, axis=1)))
    return float(d), agree


def check(name, args):
    import tensorflow as tf

    import fastq.models as fm

    times = {}
    t = time.perf_counter()
    model = build(name, args.seed)
    path = os.path.join(args.out, name + ".h5")
    model.save(path)
    times["build+save"] = time.perf_counter() - t
    diff = structure_diff(model, name)
    if diff:  # fastq.models.zoo (the benchmarks' architectures) must be larq_zoo's
        raise AssertionError(f"{name}: fastq.models.zoo differs from larq_zoo:\n  " + "\n  ".join(diff[:20]))

    x = np.random.default_rng(args.seed + 2).standard_normal((args.inputs, 224, 224, 3)).astype(np.float32)
    t = time.perf_counter()
    ref = np.asarray(float64_twin(model)(x.astype(np.float64), training=False))
    times["keras64"] = time.perf_counter() - t
    t = time.perf_counter()
    k32 = np.asarray(model(x, training=False))
    times["keras32"] = time.perf_counter() - t

    t = time.perf_counter()
    fq = fm.load(path)
    times["fastq load"] = time.perf_counter() - t
    t = time.perf_counter()
    yf = fq.predict(x)
    times["fastq predict"] = time.perf_counter() - t
    # the model in memory compiles to the same ops as its file: same bits
    if not np.array_equal(fm.from_keras(model).predict(x[:1]), yf[:1]):
        raise AssertionError(f"{name}: fastq.models.from_keras and fastq.models.load disagree")
    # the .keras zip (config.json + model.weights.h5) holds the same config and weights: same bits
    t = time.perf_counter()
    keras_path = os.path.join(args.out, name + ".keras")
    model.save(keras_path)
    times["keras save"] = time.perf_counter() - t
    t = time.perf_counter()
    fk = fm.load(keras_path)
    times["fastq load .keras"] = time.perf_counter() - t
    if not np.array_equal(fk.predict(x), yf):
        raise AssertionError(f"{name}: fastq.models.load gives different outputs from the .keras and the .h5 file")

    row = {"model": name, "keras32": stats(k32, ref), "fastq": stats(yf, ref)}
    if not args.no_lce:
        t = time.perf_counter()
        flat = lce_convert(model)
        times["lce convert"] = time.perf_counter() - t
        t = time.perf_counter()
        row["lce"] = stats(lce_predict(flat, x), ref)
        times["lce predict"] = time.perf_counter() - t
    row["times"] = times
    del model
    tf.keras.backend.clear_session()
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    ap.add_argument("--inputs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="build/zoo")
    ap.add_argument("--no-lce", action="store_true", help="skip LCE (no bound can be checked then)")
    ap.add_argument("--json", help="write the rows to this file")
    ap.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds: start no further model once this much time has passed (the first always runs)",
    )
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    rows, ok = [], True
    head = (
        f"{'model':<14} {'d keras32':>10} {'d fastq':>10} {'d LCE':>10} {'top1 keras32':>12} {'top1 fastq':>10} "
        f"{'top1 LCE':>9}  check"
    )
    print(f"{args.inputs} inputs, d = median max |softmax - Keras float64|, top-1 agreement with Keras float64")
    start = time.perf_counter()
    for name in args.models:
        if rows and args.budget is not None and time.perf_counter() - start > args.budget:  # the first always runs
            print(f"{name:<14} skipped: the time budget of {args.budget:.0f} s is spent")
            continue
        row = check(name, args)
        rows.append(row)
        (dk, ak), (df, af) = row["keras32"], row["fastq"]
        if "lce" in row:
            dl, al = row["lce"]
            good = df <= 3 * dl + 3e-5 and af >= al
            verdict = "ok" if good else "FAIL"
            ok &= good
            row["ok"] = good
        else:
            dl, al, verdict = float("nan"), -1, "(no LCE)"
        if len(rows) == 1:
            print(head)
        n = args.inputs
        print(f"{name:<14} {dk:10.2e} {df:10.2e} {dl:10.2e} {ak:>9}/{n} {af:>7}/{n} {al:>6}/{n}  {verdict}")
        print("    times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in row["times"].items()), flush=True)
    print(f"zoo check: {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
