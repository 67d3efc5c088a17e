"""``python -m fastq demo --torch``: train a binarized CNN with fastq.torch, export it, run it on bits.

1. **Data.** scikit-learn's bundled 8x8 digits, a stratified held-out split (as ``python -m
   fastq demo``). Each image becomes 4 channels ``pixel - t`` for the thermometer thresholds
   t = 1, 5, 9, 13: the first layer's sign input quantizer turns them into the thermometer bits,
   so every layer, the first included, is binary.
2. **Training** with PyTorch and fastq.torch (one CPU thread, seeded, deterministic): QuantConv2d
   (ste_sign input and kernel, ``pad_values=1``, larq's weight clip) -> BatchNorm2d -> MaxPool2d,
   twice, then Flatten -> QuantLinear -> BatchNorm1d; Adam, cosine learning rate, cross-entropy.
3. **Export.** ``fastq.torch.export(net, example)`` gives a ``fastq.models.Model``: binary
   convolutions and the binary dense layer with their batch norms folded in, on packed bits, taking
   the network's own NCHW input.
4. **The check.** The exported model's predicted classes against the PyTorch network's
   (``eval()``) on the test set: every layer but the last is binary, so the signs are the same up
   to values within rounding of zero and the agreement should be 1.0 (at least 0.99 is required).
   Reported: accuracies, agreement, the largest logit difference and the inference speedup of the
   exported model over the PyTorch network (medians of interleaved calls; PyTorch timed with its
   default threads and with one, the faster is the baseline).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import fastq

from . import _export
from .constraints import register_constraint_hook
from .layers import QuantConv2d, QuantLinear

__all__ = ["TorchDemoConfig", "build_parser", "main", "run"]

THRESHOLDS = (1.0, 5.0, 9.0, 13.0)


@dataclass
class TorchDemoConfig:
    seed: int = 0
    epochs: int = 30
    channels: tuple[int, int] = (32, 64)
    batch_size: int = 64
    learning_rate: float = 1e-2
    test_size: float = 0.25
    timing_budget_s: float = 3.0


def load_data(cfg: TorchDemoConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, x_test, y_train, y_test): float32 (N, 4, 8, 8) ``pixel - t`` and int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32).reshape(-1, 1, 8, 8) - np.asarray(THRESHOLDS, np.float32).reshape(1, -1, 1, 1)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=cfg.test_size, random_state=cfg.seed, stratify=y
    )
    return x_train, x_test, y_train.astype(np.int64), y_test.astype(np.int64)


def build_net(cfg: TorchDemoConfig) -> torch.nn.Sequential:
    c1, c2 = cfg.channels
    binary: dict[str, Any] = dict(
        input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip", bias=False
    )
    return torch.nn.Sequential(
        QuantConv2d(len(THRESHOLDS), c1, 3, padding="same", pad_values=1.0, **binary),
        torch.nn.BatchNorm2d(c1),
        torch.nn.MaxPool2d(2),  # 8x8 -> 4x4
        QuantConv2d(c1, c2, 3, padding="same", pad_values=1.0, **binary),
        torch.nn.BatchNorm2d(c2),
        torch.nn.MaxPool2d(2),  # -> 2x2
        torch.nn.Flatten(),
        QuantLinear(c2 * 4, 10, **binary),
        torch.nn.BatchNorm1d(10),
    )


def train(
    cfg: TorchDemoConfig,
    net: torch.nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    log: Callable[[str], object],
) -> None:
    gen = torch.Generator().manual_seed(cfg.seed)
    x, y = torch.from_numpy(x_train), torch.from_numpy(y_train)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    register_constraint_hook(opt, net)
    net.train()
    for epoch in range(cfg.epochs):
        perm = torch.randperm(len(x), generator=gen)
        total, batches = 0.0, 0
        for start in range(0, len(x), cfg.batch_size):
            idx = perm[start : start + cfg.batch_size]
            if len(idx) < 2:  # batch statistics need two samples
                continue
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
            opt.step()
            total += float(loss.detach())
            batches += 1
        sched.step()
        if epoch == 0 or (epoch + 1) % 5 == 0 or epoch == cfg.epochs - 1:
            log(f"  epoch {epoch + 1:3d}/{cfg.epochs}  loss {total / max(batches, 1):.4f}")
    net.eval()


def _interleaved_medians(fns: dict[str, Callable[[], object]], budget_s: float) -> dict[str, float]:
    """Median seconds per call of each function: calls interleaved round by round (each sample a
    few calls, >= ~1 ms), until the budget is spent (at least 5 rounds)."""
    reps = {}
    for k, fn in fns.items():  # warm up and calibrate
        fn()
        t = time.perf_counter()
        fn()
        reps[k] = max(1, int(1e-3 / max(time.perf_counter() - t, 1e-7)))
    samples: dict[str, list[float]] = {k: [] for k in fns}
    end = time.perf_counter() + budget_s
    rounds = 0
    while rounds < 5 or (time.perf_counter() < end and rounds < 1000):
        for k, fn in fns.items():
            t = time.perf_counter()
            for _ in range(reps[k]):
                fn()
            samples[k].append((time.perf_counter() - t) / reps[k])
        rounds += 1
    return {k: float(np.median(v)) for k, v in samples.items()}


def _time(model: Any, net: torch.nn.Module, x: np.ndarray, budget_s: float) -> tuple[float, float, int]:
    """(fastq seconds, PyTorch seconds, PyTorch threads of the baseline) per call on ``x``."""
    xt = torch.from_numpy(x)

    def torch_fn() -> None:
        with torch.no_grad():
            net(xt)

    def fastq_fn() -> None:
        model.predict(x, batch_size=len(x))

    default_threads = torch.get_num_threads()
    med = _interleaved_medians({"fastq": fastq_fn, "torch": torch_fn}, budget_s / 2)
    fq, tt, threads = med["fastq"], med["torch"], default_threads
    if default_threads != 1:
        torch.set_num_threads(1)
        try:
            med1 = _interleaved_medians({"fastq": fastq_fn, "torch": torch_fn}, budget_s / 2)
        finally:
            torch.set_num_threads(default_threads)
        fq = min(fq, med1["fastq"])
        if med1["torch"] < tt:
            tt, threads = med1["torch"], 1
    return fq, tt, threads


def run(cfg: TorchDemoConfig | None = None, log: Callable[[str], object] = print) -> dict[str, Any]:
    """Train, export, check and time; returns the results (the keys of ``--json``)."""
    cfg = cfg or TorchDemoConfig()
    t0 = time.perf_counter()
    x_train, x_test, y_train, y_test = load_data(cfg)
    torch.manual_seed(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic sums, and faster on these tiny tensors
    try:
        net = build_net(cfg)
        log(
            f"digits: {len(x_train)} training / {len(x_test)} test images as 4 thermometer channels; "
            f"binary CNN conv{cfg.channels[0]}-pool-conv{cfg.channels[1]}-pool-dense10 (fastq.torch)"
        )
        log(f"training {cfg.epochs} epochs (Adam, batch {cfg.batch_size}, seed {cfg.seed}, 1 thread)")
        t_train = time.perf_counter()
        train(cfg, net, x_train, y_train, log)
        train_s = time.perf_counter() - t_train
        with torch.no_grad():
            logits_torch = net(torch.from_numpy(x_test)).numpy()
            train_torch = net(torch.from_numpy(x_train)).numpy().argmax(1)
    finally:
        torch.set_num_threads(threads)
    t_export = time.perf_counter()
    model = _export.export(net, torch.from_numpy(x_test[:1]), name="digits_bcnn")
    export_s = time.perf_counter() - t_export
    logits = model.predict(x_test, batch_size=len(x_test))
    pred, pred_torch = logits.argmax(1), logits_torch.argmax(1)
    agreement = float(np.mean(pred == pred_torch))
    test_acc = float(np.mean(pred == y_test))
    binary_ops = sum(op.kind == "binary" for op in model.ops)
    macs = model.summary(print_fn=lambda _: None)
    all_binary = macs["float_macs"] == 0  # no float multiply-accumulates: every layer is binary

    fq_s, torch_s, torch_threads = _time(model, net, x_test, cfg.timing_budget_s * 2 / 3)
    fq1_s, torch1_s, torch1_threads = _time(model, net, x_test[:1], cfg.timing_budget_s / 3)
    wall = time.perf_counter() - t0
    result = {
        "test_accuracy": test_acc,
        "torch_test_accuracy": float(np.mean(pred_torch == y_test)),
        "torch_train_accuracy": float(np.mean(train_torch == y_train)),
        "agreement": agreement,
        "max_abs_logit_diff": float(np.max(np.abs(logits - logits_torch))),
        "speedup": torch_s / fq_s,
        "speedup_single_sample": torch1_s / fq1_s,
        "fastq_ms": fq_s * 1e3,
        "torch_ms": torch_s * 1e3,
        "fastq_single_sample_us": fq1_s * 1e6,
        "torch_single_sample_us": torch1_s * 1e6,
        "torch_threads": torch_threads,
        "torch_threads_single_sample": torch1_threads,
        "all_layers_binary": all_binary,
        "binary_macs_per_image": macs["binary_macs"],
        "binary_ops": binary_ops,
        "ops": len(model.ops),
        "test_samples": len(x_test),
        "train_samples": len(x_train),
        "epochs": cfg.epochs,
        "seed": cfg.seed,
        "isa": fastq.active_isa(),
        "threads": fastq.get_num_threads(),
        "torch_version": str(torch.__version__),
        "train_time_s": train_s,
        "export_time_s": export_s,
        "wall_time_s": wall,
    }
    log("")
    log(
        f"test accuracy (exported model): {test_acc:.4f}   (PyTorch {result['torch_test_accuracy']:.4f}, "
        f"train {result['torch_train_accuracy']:.4f})"
    )
    log(
        f"agreement with PyTorch:         {agreement:.4f}   (largest logit difference "
        f"{result['max_abs_logit_diff']:.2e}; {binary_ops} binary ops of {len(model.ops)})"
    )
    log(
        f"inference, {len(x_test)} test images: fastq {fq_s * 1e3:.3f} ms, PyTorch {torch_s * 1e3:.3f} ms "
        f"({torch_threads} thread{'s' if torch_threads > 1 else ''})  ->  {torch_s / fq_s:.2f}x"
    )
    log(
        f"inference, one image:       fastq {fq1_s * 1e6:.1f} us, PyTorch {torch1_s * 1e6:.1f} us  ->  "
        f"{torch1_s / fq1_s:.2f}x"
    )
    log(
        f"isa {fastq.active_isa()}, {fastq.get_num_threads()} fastq threads; training {train_s:.1f} s, "
        f"export {export_s:.2f} s, total {wall:.1f} s"
    )
    return result


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(prog="python -m fastq demo --torch", description=__doc__.split("\n\n")[0])
    d = TorchDemoConfig()
    p.add_argument("--json", action="store_true", help="print the results as JSON on standard output")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--timing-budget", type=float, default=d.timing_budget_s, metavar="SECONDS")
    return p


def missing_requirements() -> str | None:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return 'fastq demo --torch needs scikit-learn (its bundled digits data set): pip install "fastq-bnn[demo]"'
    return None


def main(args: argparse.Namespace) -> int:
    """Run with parsed ``args`` (``seed``, ``json``, ``timing_budget`` and ``torch_epochs`` or
    ``epochs`` are read); returns the exit status."""
    missing = missing_requirements()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    d = TorchDemoConfig()
    epochs = getattr(args, "torch_epochs", None) or getattr(args, "epochs", None) or d.epochs
    cfg = TorchDemoConfig(
        seed=getattr(args, "seed", d.seed),
        epochs=epochs,
        timing_budget_s=getattr(args, "timing_budget", d.timing_budget_s),
    )
    if cfg.epochs < 1 or cfg.timing_budget_s <= 0:
        print("fastq demo --torch: epochs and the timing budget must be positive", file=sys.stderr)
        return 2
    as_json = bool(getattr(args, "json", False))
    stream = sys.stderr if as_json else sys.stdout
    result = run(cfg, lambda msg: print(msg, file=stream, flush=True))
    if as_json:
        print(json.dumps(result, indent=2))
    if result["agreement"] < 0.99:
        print("ERROR: the exported model disagrees with PyTorch on more than 1% of the test set", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(build_parser().parse_args()))
