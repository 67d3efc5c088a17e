"""``python -m fastq model summary|predict|bench FILE`` (FILE: a Keras .h5 or .keras model).

python -m fastq model summary m.h5 [--input-shape 224 224 3]
python -m fastq model predict m.h5 [--input x.npy | --random N] [--seed S] [--top 5] [--out y.npy]
python -m fastq model bench m.h5 [--repeats 5]
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .model import Model


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "model",
        help="load a larq/Keras model file (.h5 / .keras) and summarize, run or time it",
        description="Load a Keras/larq model saved with model.save() (no TensorFlow needed; "
        'needs h5py: pip install "fastq-bnn[models]").',
    )
    msub = p.add_subparsers(dest="model_command", metavar="{summary,predict,bench}")
    s = msub.add_parser("summary", help="ops, binary or float, output shapes and MACs")
    s.add_argument("file")
    s.add_argument("--input-shape", type=int, nargs="+", help="per-image input shape where the model leaves it open")
    s.set_defaults(handler=_summary)
    r = msub.add_parser("predict", help="run the model on a .npy batch (or seeded random inputs)")
    r.add_argument("file")
    r.add_argument("--input", help="a .npy file: float32 NHWC batch, preprocessed as for Keras")
    r.add_argument("--random", type=int, default=1, help="without --input: this many seeded N(0,1) images")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--input-shape", type=int, nargs="+")
    r.add_argument("--top", type=int, default=5, help="print the top-k classes of each image")
    r.add_argument("--out", help="write the predictions to this .npy file")
    r.set_defaults(handler=_predict)
    b = msub.add_parser("bench", help="time predict at batch 1 and 8, one thread and all")
    b.add_argument("file")
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--input-shape", type=int, nargs="+")
    b.add_argument(
        "--no-compare", action="store_true", help="do not time TensorFlow / LCE even where they are installed"
    )
    b.set_defaults(handler=_bench)
    p.set_defaults(handler=lambda args, argv: (p.print_help(), 2)[1])


def _load(args: argparse.Namespace) -> Model:
    import fastq.models as fm

    t = time.perf_counter()
    model = fm.load(args.file)
    print(f"loaded {args.file} in {time.perf_counter() - t:.2f} s: {model!r}", file=sys.stderr)
    return model


def _shape(model: Model, args: argparse.Namespace) -> tuple[int, ...]:
    dims = tuple(args.input_shape) if args.input_shape else model.input_shapes[0]
    shape = tuple(int(d) for d in dims if d is not None)
    if len(shape) != len(dims):
        raise SystemExit(f"the model's input shape {dims} is open: pass --input-shape")
    return shape


def _summary(args: argparse.Namespace, argv: list[str]) -> int:
    model = _load(args)
    model.summary(input_shape=args.input_shape)
    return 0


def _predict(args: argparse.Namespace, argv: list[str]) -> int:
    model = _load(args)
    if args.input:
        x = np.load(args.input)
    else:
        x = np.random.default_rng(args.seed).standard_normal((args.random,) + _shape(model, args)).astype(np.float32)
    t = time.perf_counter()
    y = model.predict(x)
    print(f"predict: {len(x)} images in {time.perf_counter() - t:.3f} s", file=sys.stderr)
    if args.out:
        np.save(args.out, y)
    if isinstance(y, np.ndarray) and y.ndim == 2 and args.top > 0:
        for i, row in enumerate(y):
            top = np.argsort(-row, kind="stable")[: args.top]
            print(f"image {i}: " + ", ".join(f"{c}: {row[c]:.4f}" for c in top))
    return 0


def _bench(args: argparse.Namespace, argv: list[str]) -> int:
    import fastq

    from ..tools.cli import Progress

    model = _load(args)
    shape = _shape(model, args)
    rng = np.random.default_rng(0)
    configs = [(b, t) for b in (1, 8) for t in sorted({1, fastq.get_num_threads()})]
    progress = Progress()
    before = fastq.get_num_threads()
    rows = []
    try:
        for k, (batch, threads) in enumerate(configs):
            fastq.set_num_threads(threads)
            x = rng.standard_normal((batch,) + shape).astype(np.float32)
            model.predict(x)  # warm-up: plans, buffers
            times = []
            for r in range(args.repeats):
                progress(k * args.repeats + r, len(configs) * args.repeats, f"batch {batch}, {threads} thread(s)")
                t = time.perf_counter()
                model.predict(x)
                times.append(time.perf_counter() - t)
            rows.append((batch, threads, float(np.median(times))))
        progress(1, 1, "done")
    finally:
        fastq.set_num_threads(before)
    if not args.no_compare:
        rows += _peers(args.file, shape, args.repeats, progress)
    print(f"{'runtime':<30} {'batch':>5} {'threads':>7} {'ms / batch':>11} {'ms / image':>11}")
    for row in rows:
        name, (batch, threads, t) = (row[0], row[1:]) if len(row) == 4 else ("fastq", row)
        print(f"{name:<30} {batch:>5} {threads:>7} {t * 1e3:11.2f} {t * 1e3 / batch:11.2f}")
    return 0


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _peers(
    path: str, shape: tuple[int, ...], repeats: int, progress: Callable[[int, int, str], None]
) -> list[tuple[Any, ...]]:
    """TensorFlow running the Keras model, and LCE's interpreter (XNNPack + indirect bgemm, one
    thread), where they are installed. Rows (name, batch, threads, seconds)."""
    import importlib.util
    import os

    if importlib.util.find_spec("tensorflow") is None:
        return []
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.keras = tf_keras, which larq needs
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    for mod in ("larq", "larq_zoo"):  # their layers, quantizers and initializers deserialize the file
        if importlib.util.find_spec(mod) is not None:
            __import__(mod)
    rows = []
    progress(0, 2, "TensorFlow: loading the model")
    model = tf.keras.models.load_model(path, compile=False)
    rng = np.random.default_rng(0)
    for batch in (1, 8):
        x = rng.standard_normal((batch,) + shape).astype(np.float32)
        rows.append(
            (
                "TensorFlow float (its threads)",
                batch,
                os.cpu_count(),
                _median_time(functools.partial(model, x, training=False), repeats),
            )
        )
    if importlib.util.find_spec("larq_compute_engine") is not None:
        from larq_compute_engine import convert_keras_model
        from larq_compute_engine.tflite.python.interpreter import Interpreter

        progress(1, 2, "LCE: converting the model")
        interp = Interpreter(convert_keras_model(model), num_threads=1, use_xnnpack=True, use_indirect_bgemm=True)
        x = rng.standard_normal((1,) + shape).astype(np.float32)
        rows.append(("LCE (xnnpack, indirect bgemm)", 1, 1, _median_time(lambda: interp.predict(x), repeats)))
    progress(2, 2, "done")
    return rows
