"""``python -m fastq demo``: from training to packed inference in one command.

1. **Data.** scikit-learn's bundled 8x8 digits (1797 images, no download), a stratified held-out
   split. Each pixel (0..16) is binarized by a *thermometer code*: one ±1 bit per threshold
   (``pixel >= t`` for t in ``THRESHOLDS``), so every layer, the first included, is binary.
2. **Training** in plain NumPy: a binarized MLP 256 -> 256 -> 256 -> 10. Latent real weights are
   binarized by ``fastq.SteSign`` in the forward pass, and so are the hidden activations; the
   backward pass uses the quantizers' ``grad`` (straight-through estimators). Batch normalization
   after every binary matmul, softmax cross-entropy, Adam with a cosine learning-rate schedule,
   latent weights clipped to [-1, 1]. Seeded and deterministic: the only matmuls whose rounding
   could depend on the BLAS (thread count, kernel) are computed exactly in integers.
3. **Deployment.** Batch norm is folded into one float32 ``scale`` and ``bias`` per output channel
   (population statistics of the training set), the binary weights are packed once into
   ``fastq.BinaryDense`` layers, and the network runs on packed bits: hidden layers emit packed
   signs, the last one float32 logits ``dot*scale + bias``.
4. **The check.** A float simulation of the same deployed network (float32 ±1 matrices through
   NumPy's BLAS, then the same ``scale``/``bias`` in the same dtype and order) must predict exactly
   what the packed network predicts: the binary dot products are integers, so the two compute the
   very same numbers. Reported: test accuracy, the agreement (must be 1.0) and the measured
   inference speedup of the packed network over the float simulation (medians of interleaved
   repeats, on the whole test set and for single samples).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import fastq

from .env import openblas_env

__all__ = ["THRESHOLDS", "DemoConfig", "main", "run"]

# Thermometer thresholds for the 0..16 pixel intensities: 64 pixels x 4 bits = 256 input bits.
THRESHOLDS = (1.0, 5.0, 9.0, 13.0)
# A deployed layer: float32 ±1 weights (out, in), float32 scale and bias (out,).
Layer = tuple[np.ndarray, np.ndarray, np.ndarray]
INSTALL_HINT = 'pip install "fastq-bnn[demo]"'


@dataclass
class DemoConfig:
    seed: int = 0
    epochs: int = 30
    hidden: tuple[int, ...] = (256, 256)
    batch_size: int = 64
    learning_rate: float = 1e-2
    test_size: float = 0.25
    bn_eps: float = 1e-3
    thresholds: tuple[float, ...] = field(default_factory=lambda: THRESHOLDS)
    timing_budget_s: float = 3.0


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def load_data(cfg: DemoConfig) -> Any:
    """(X_train, X_test, y_train, y_test): float32 pixels (N, 64) in 0..16 and int labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    return train_test_split(x, y, test_size=cfg.test_size, random_state=cfg.seed, stratify=y)


def thermometer_shift(x: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """``pixel - t`` for every threshold and pixel, (N, T*64) float32 (threshold-major, so NumPy
    broadcasts over rows of 64 pixels): negative exactly where the bit is -1 (pixel < t).
    Pixels and thresholds are small integers, so this is exact."""
    t = np.asarray(thresholds, dtype=np.float32)
    return (x[:, None, :] - t[:, None]).reshape(len(x), -1)


_SIGN = fastq.SteSign()


def encode(x: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """The thermometer code as float32 ±1: sign(pixel - t), +1 where pixel >= t."""
    return _SIGN(thermometer_shift(x, thresholds))


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def _exact_matmul(d: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``d @ s`` for a float32 ``d`` and a ±1 (or 0) matrix ``s``, computed exactly and so
    independent of the BLAS's summation order and thread count: ``d`` is put on an integer grid
    by a power of two (|values| <= 2**30, a relative resolution of 2**-30), the float64 matmul of
    integers is then exact (sums stay far below 2**53), and the scale is undone exactly."""
    m = float(np.max(np.abs(d))) if d.size else 0.0
    if m == 0.0 or not np.isfinite(m):
        return (d.astype(np.float64) @ s.astype(np.float64)).astype(np.float32)
    e = 30 - int(np.frexp(m)[1])
    di = np.rint(np.ldexp(d.astype(np.float64), e))
    r: np.ndarray = np.ldexp(di @ s.astype(np.float64), -e).astype(np.float32)
    return r


class BinaryMLP:
    """Latent real weights and batch-norm parameters of the binarized MLP, trained in NumPy."""

    def __init__(self, sizes: list[int], rng: np.random.Generator, eps: float) -> None:
        self.sizes = sizes
        self.eps = np.float32(eps)
        self.w, self.gamma, self.beta = [], [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            limit = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform, as larq's default
            self.w.append(rng.uniform(-limit, limit, (fan_out, fan_in)).astype(np.float32))
            self.gamma.append(np.ones(fan_out, np.float32))
            self.beta.append(np.zeros(fan_out, np.float32))
        # Weights: sign with the clipped straight-through gradient (|w| <= 1); activations too.
        self.wq = fastq.SteSign(clip_value=1.0)
        self.aq = fastq.SteSign(clip_value=1.0)

    @property
    def params(self) -> list[np.ndarray]:
        return self.w + self.gamma + self.beta

    def loss_and_grads(self, a0: np.ndarray, labels: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """Forward with batch statistics, softmax cross-entropy, backward. -> (loss, grads)."""
        n_layers = len(self.w)
        cache = []
        a = a0
        for i in range(n_layers):
            wb = self.wq(self.w[i])  # forward: sign(w)
            z = a @ wb.T  # ±1 @ ±1: exact integers in float32
            mu = z.mean(axis=0)
            var = z.var(axis=0)
            inv = np.float32(1) / np.sqrt(var + self.eps)
            zh = (z - mu) * inv
            y = self.gamma[i] * zh + self.beta[i]
            cache.append((a, wb, zh, inv, y))
            if i < n_layers - 1:
                a = self.aq(y)  # forward: sign(y)
        logits = y
        b = len(labels)
        shifted = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        p /= p.sum(axis=1, keepdims=True)
        loss = float(-np.mean(np.log(np.maximum(p[np.arange(b), labels], 1e-12))))
        d = p
        d[np.arange(b), labels] -= 1
        d /= np.float32(b)
        gw: list[Any] = [None] * n_layers
        gg: list[Any] = [None] * n_layers
        gb: list[Any] = [None] * n_layers
        for i in reversed(range(n_layers)):
            a, wb, zh, inv, y = cache[i]
            if i < n_layers - 1:
                d = self.aq.grad(y, d)  # straight-through: d where |y| <= 1
            gb[i] = d.sum(axis=0)
            gg[i] = (d * zh).sum(axis=0)
            dzh = d * self.gamma[i]
            dz = inv * (dzh - dzh.mean(axis=0) - zh * (dzh * zh).mean(axis=0))
            gw[i] = self.wq.grad(self.w[i], _exact_matmul(dz.T, a))  # d/dw through sign(w)
            if i > 0:
                d = _exact_matmul(dz, wb)
        return loss, gw + gg + gb

    def clip_weights(self) -> None:
        for w in self.w:
            np.clip(w, -1.0, 1.0, out=w)

    def deploy(self, a_train: np.ndarray) -> list[Layer]:
        """Fold batch norm with the training set's population statistics: per layer the binary
        weights (float32 ±1, (out, in)) and float32 ``scale``, ``bias`` with
        ``y = dot*scale + bias``. The statistics of each layer are taken on the outputs of the
        already folded layers before it, i.e. of the network as deployed."""
        layers = []
        a = a_train
        for i, w in enumerate(self.w):
            wb = self.wq(w)
            z = a @ wb.T
            z64 = z.astype(np.float64)
            mu = z64.mean(axis=0)
            var = z64.var(axis=0)
            scale = (self.gamma[i] / np.sqrt(var + float(self.eps))).astype(np.float32)
            bias = (self.beta[i] - mu * scale).astype(np.float32)
            layers.append((wb, scale, bias))
            a = _SIGN(z * scale + bias)
        return layers


class Adam:
    def __init__(
        self, params: list[np.ndarray], lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7
    ) -> None:
        self.lr, self.b1, self.b2, self.eps = lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float | None = None) -> None:
        self.t += 1
        lr = self.lr if lr is None else lr
        c1 = 1 - self.b1**self.t
        c2 = 1 - self.b2**self.t
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= (lr * (m / c1) / (np.sqrt(v / c2) + self.eps)).astype(np.float32)


def train(cfg: DemoConfig, a_train: np.ndarray, y_train: np.ndarray, log: Callable[[str], None]) -> BinaryMLP:
    rng = np.random.default_rng(cfg.seed)
    sizes = [a_train.shape[1], *cfg.hidden, 10]
    model = BinaryMLP(sizes, rng, cfg.bn_eps)
    opt = Adam(model.params, cfg.learning_rate)
    n = len(a_train)
    for epoch in range(cfg.epochs):
        lr = cfg.learning_rate * 0.5 * (1 + np.cos(np.pi * epoch / cfg.epochs))
        perm = rng.permutation(n)
        total, batches = 0.0, 0
        for start in range(0, n, cfg.batch_size):
            idx = perm[start : start + cfg.batch_size]
            if len(idx) < 2:  # batch statistics need two samples
                continue
            loss, grads = model.loss_and_grads(a_train[idx], y_train[idx])
            opt.step(model.params, grads, lr)
            model.clip_weights()
            total += loss
            batches += 1
        if epoch == 0 or (epoch + 1) % 5 == 0 or epoch == cfg.epochs - 1:
            log(f"  epoch {epoch + 1:3d}/{cfg.epochs}  loss {total / max(batches, 1):.4f}")
    return model


# ---------------------------------------------------------------------------------------------
# The two deployed networks
# ---------------------------------------------------------------------------------------------


class FloatSimulation:
    """The deployed network in float32 NumPy: ±1 matrices through BLAS (exact integer dot
    products), then ``dot*scale + bias`` in float32 — the arithmetic of BinaryDense — and the
    activations' sign by fastq.SteSign, as in training (the fastest exact sign NumPy code has)."""

    def __init__(self, layers: list[Layer], thresholds: Sequence[float]) -> None:
        self.thresholds = thresholds
        # (in, out) contiguous ±1 float32 matrices, prepared once.
        self.layers = [(np.ascontiguousarray(wb.T), scale, bias) for wb, scale, bias in layers]

    def logits(self, x: np.ndarray) -> np.ndarray:
        a = encode(x, self.thresholds)
        last = len(self.layers) - 1
        for i, (wt, scale, bias) in enumerate(self.layers):
            y = (a @ wt) * scale + bias
            if i < last:
                a = _SIGN(y)
        logits: np.ndarray = y
        return logits

    def predict(self, x: np.ndarray) -> np.ndarray:
        labels: np.ndarray = np.argmax(self.logits(x), axis=1)
        return labels


class PackedNetwork:
    """The deployed network on packed bits: fastq.BinaryDense layers (weights packed once);
    hidden layers hand packed signs to the next; the last one returns float32 logits."""

    def __init__(self, layers: list[Layer], thresholds: Sequence[float]) -> None:
        self.thresholds = thresholds
        last = len(layers) - 1
        self.layers = [
            fastq.BinaryDense(wb, scale=scale, bias=bias, packed_output=i < last)
            for i, (wb, scale, bias) in enumerate(layers)
        ]

    def logits(self, x: np.ndarray) -> np.ndarray:
        h: Any = fastq.pack_bits(thermometer_shift(x, self.thresholds))
        for layer in self.layers:
            h = layer(h)
        logits: np.ndarray = h  # the last layer's float output
        return logits

    def predict(self, x: np.ndarray) -> np.ndarray:
        labels: np.ndarray = np.argmax(self.logits(x), axis=1)
        return labels

    def nbytes(self) -> int:
        """Bytes of the packed weights (the public packed format)."""
        return sum(int(layer.kernel.nbytes) for layer in self.layers)


# ---------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------


def _time_pair(
    packed_fn: Callable[[], object], float_fn: Callable[[], object], budget_s: float
) -> tuple[float, float, str]:
    """Median seconds per call of (packed, float); interleaved samples, >= 1 ms each. The float
    simulation is also timed with BLAS on one thread (faster for small matrices on some
    machines) and its faster setting is the baseline, so the speedup is not flattered."""
    from .timing import measure

    stats = measure({"packed": packed_fn, "float": float_fn}, budget_s / 2)
    packed_ns, float_ns = stats["packed"].median_ns, stats["float"].median_ns
    blas = "default"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return packed_ns * 1e-9, float_ns * 1e-9, blas
    with threadpool_limits(limits=1, user_api="blas"):
        stats1 = measure({"packed": packed_fn, "float": float_fn}, budget_s / 2)
    if stats1["float"].median_ns < float_ns:
        float_ns, blas = stats1["float"].median_ns, "1 thread"
    packed_ns = min(packed_ns, stats1["packed"].median_ns)
    return packed_ns * 1e-9, float_ns * 1e-9, blas


def _blas_single_thread() -> AbstractContextManager[Any]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    limits: AbstractContextManager[Any] = threadpool_limits(limits=1, user_api="blas")
    return limits


def run(cfg: DemoConfig | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, deploy, check and time; returns the results (the keys of ``--json``)."""
    cfg = cfg or DemoConfig()
    t0 = time.perf_counter()
    x_train, x_test, y_train, y_test = load_data(cfg)
    a_train = encode(x_train, cfg.thresholds)
    sizes = [a_train.shape[1], *cfg.hidden, 10]
    log(
        f"digits: {len(x_train)} training / {len(x_test)} test images; thermometer code "
        f"{len(cfg.thresholds)} bits per pixel; binary MLP {' -> '.join(map(str, sizes))}"
    )
    log(
        f"training {cfg.epochs} epochs (Adam, batch {cfg.batch_size}, seed {cfg.seed}); "
        f"fastq.SteSign forward, .grad backward"
    )
    t_train = time.perf_counter()
    # The matmuls are tiny: one BLAS thread is faster and the results do not depend on it.
    with _blas_single_thread():
        model = train(cfg, a_train, y_train, log)
        layers = model.deploy(a_train)
    train_s = time.perf_counter() - t_train

    sim = FloatSimulation(layers, cfg.thresholds)
    net = PackedNetwork(layers, cfg.thresholds)
    pred_float = sim.predict(x_test)
    logits_packed = np.asarray(net.logits(x_test))
    pred_packed = np.argmax(logits_packed, axis=1)
    logits_identical = bool(np.array_equal(logits_packed, sim.logits(x_test)))
    agreement = float(np.mean(pred_packed == pred_float))
    test_acc = float(np.mean(pred_packed == y_test))
    train_acc = float(np.mean(net.predict(x_train) == y_train))

    # Timing: the whole test set as one batch, and single samples.
    packed_s, float_s, blas = _time_pair(
        lambda: net.predict(x_test), lambda: sim.predict(x_test), cfg.timing_budget_s * 2 / 3
    )
    one = x_test[:1]
    packed1_s, float1_s, blas1 = _time_pair(lambda: net.predict(one), lambda: sim.predict(one), cfg.timing_budget_s / 3)
    float_bytes = sum(wb.size * 4 for wb, _, _ in layers)
    packed_bytes = net.nbytes()
    wall = time.perf_counter() - t0
    result = {
        "test_accuracy": test_acc,
        "packed_agreement": agreement,
        "speedup": float_s / packed_s,
        "speedup_single_sample": float1_s / packed1_s,
        "logits_identical": logits_identical,
        "train_accuracy": train_acc,
        "test_samples": len(x_test),
        "train_samples": len(x_train),
        "packed_ms": packed_s * 1e3,
        "float_ms": float_s * 1e3,
        "packed_single_sample_us": packed1_s * 1e6,
        "float_single_sample_us": float1_s * 1e6,
        "float_blas_threads": blas,
        "weights_float32_bytes": int(float_bytes),
        "weights_packed_bytes": int(packed_bytes),
        "layers": sizes,
        "epochs": cfg.epochs,
        "seed": cfg.seed,
        "isa": fastq.active_isa(),
        "numpy_openblas_env": openblas_env(),
        "threads": fastq.get_num_threads(),
        "train_time_s": train_s,
        "wall_time_s": wall,
    }
    log("")
    log(f"test accuracy (packed network):       {test_acc:.4f}   (train {train_acc:.4f})")
    log(
        f"packed vs float simulation agreement: {agreement:.4f}   "
        f"({'logits bit-identical' if logits_identical else 'logits differ'})"
    )
    log(
        f"inference, {len(x_test)} test images:     packed {packed_s * 1e3:.3f} ms, "
        f"float simulation {float_s * 1e3:.3f} ms (BLAS {blas})  ->  {float_s / packed_s:.2f}x"
    )
    log(
        f"inference, one image:              packed {packed1_s * 1e6:.1f} us, "
        f"float simulation {float1_s * 1e6:.1f} us (BLAS {blas1})  ->  {float1_s / packed1_s:.2f}x"
    )
    log(
        f"weights: {packed_bytes:,} bytes packed vs {float_bytes:,} bytes as float32 "
        f"({float_bytes / packed_bytes:.0f}x smaller)"
    )
    log(f"isa {fastq.active_isa()}, {fastq.get_num_threads()} threads; training {train_s:.1f} s, total {wall:.1f} s")
    return result


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(prog="python -m fastq demo", description=__doc__.split("\n\n")[0])
    d = DemoConfig()
    p.add_argument(
        "--json",
        action="store_true",
        help="print the results as JSON on standard output "
        "(keys test_accuracy, packed_agreement, speedup, ...); the log goes to standard error",
    )
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"training epochs (default {d.epochs})")
    p.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=list(d.hidden),
        metavar="UNITS",
        help=f"hidden layer widths (default {' '.join(map(str, d.hidden))})",
    )
    p.add_argument(
        "--timing-budget",
        type=float,
        default=d.timing_budget_s,
        metavar="SECONDS",
        help=f"time spent measuring the speedup (default {d.timing_budget_s})",
    )
    return p


def missing_requirements() -> str | None:
    """Why the demo cannot run here (a message for the user), or None."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return (
            "fastq demo needs scikit-learn (for its bundled digits data set), which is not installed.\n"
            f"Install the demo extra:  {INSTALL_HINT}"
        )
    return None


def main(args: argparse.Namespace) -> int:
    """Run with parsed ``args`` (see ``build_parser``); returns the exit status."""
    missing = missing_requirements()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    if args.epochs < 1 or any(h < 1 for h in args.hidden) or args.timing_budget <= 0:
        print("fastq demo: --epochs, --hidden and --timing-budget must be positive", file=sys.stderr)
        return 2
    cfg = DemoConfig(seed=args.seed, epochs=args.epochs, hidden=tuple(args.hidden), timing_budget_s=args.timing_budget)
    stream = sys.stderr if args.json else sys.stdout

    def log(msg: str) -> None:
        print(msg, file=stream, flush=True)

    result = run(cfg, log)
    if args.json:
        print(json.dumps(result, indent=2))
    if result["packed_agreement"] != 1.0:
        print("ERROR: packed inference disagrees with the float simulation (a bug; please report it)", file=sys.stderr)
        return 1
    return 0
