"""The ``python -m fastq`` command line: ``bench``, ``demo``, ``info`` and ``model``.

    python -m fastq bench [--quick] [--json FILE] [--plot FILE.png]
    python -m fastq demo [--json]
    python -m fastq info
    python -m fastq model summary|predict|bench m.h5   (fastq.models.cli)

Adding a sub-command: a function that adds its parser to the sub-parsers and sets its
``handler(args, argv) -> exit status``, listed in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable

from .env import reexec_without_openblas_vars

__all__ = ["COMMANDS", "build_parser", "main"]

PLOT_HINT = 'pip install "fastq-bnn[demo]"'


# ---------------------------------------------------------------------------------------------
# Progress bar (stderr; tqdm when it is installed, else a small one of our own)
# ---------------------------------------------------------------------------------------------


class Progress:
    """``progress(done, total, label)``; draws on stderr when it is a terminal (``mode="auto"``),
    always (``"always"``) or never (``"never"``)."""

    def __init__(self, mode: str = "auto", stream: Any = None, width: int = 28) -> None:
        self.stream: Any = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)()
        self.enabled = mode == "always" or (mode == "auto" and isatty)
        self.width = width
        self.t0 = time.perf_counter()
        self._tqdm: Any = None
        self._last_len = 0
        if self.enabled and isatty:
            try:
                import tqdm  # only when the user has it; fastq does not depend on it

                self._tqdm_mod = tqdm
            except ImportError:
                self._tqdm_mod = None
        else:
            self._tqdm_mod = None

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.enabled:
            return
        if self._tqdm_mod is not None:
            if self._tqdm is None:
                self._tqdm = self._tqdm_mod.tqdm(
                    total=total,
                    file=self.stream,
                    unit="task",
                    bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}]",
                )
            self._tqdm.n = done
            self._tqdm.set_description_str(label[:40])
            self._tqdm.refresh()
            if done >= total:
                self._tqdm.close()
            return
        frac = done / total if total else 1.0
        filled = round(self.width * frac)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.perf_counter() - self.t0
        text = f"[{bar}] {done:>3}/{total} {elapsed:5.1f}s  {label[:44]}"
        pad = " " * max(0, self._last_len - len(text))
        self._last_len = len(text)
        end = "\n" if done >= total else ""
        self.stream.write("\r" + text + pad + end)
        self.stream.flush()


# ---------------------------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------------------------


def _cmd_bench(args: argparse.Namespace, argv: list[str]) -> int:
    if args.plot is not None:  # before anything runs: a plot that cannot be made is an error
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(f"fastq bench: --plot needs matplotlib, which is not installed ({PLOT_HINT})", file=sys.stderr)
            return 2
    if not args.keep_openblas_env:
        status = reexec_without_openblas_vars("fastq bench", ["-m", "fastq", *argv])
        if status is not None:
            return status
    import fastq

    from . import plan, report, tasks

    if args.threads is not None:
        if args.threads < 1:
            print(f"fastq bench: --threads must be >= 1, got {args.threads}", file=sys.stderr)
            return 2
        fastq.set_num_threads(args.threads)
    shapes = None
    if args.shapes is not None:
        shapes = [s.strip().upper() for s in args.shapes.split(",") if s.strip()]
    try:
        p = plan.plan(quick=args.quick, size=args.size, shapes=shapes, time_limit_s=args.time_limit, seed=args.seed)
    except ValueError as e:
        print(f"fastq bench: {e}", file=sys.stderr)
        return 2
    table_stream = sys.stderr if args.json == "-" else sys.stdout
    print(
        f"fastq bench{' --quick' if p.quick else ''}: up to ~{p.time_limit_s:.0f} s "
        f"(medians of interleaved repeats, each sample >= {p.min_sample_ns / 1e6:g} ms, repeated until "
        f"IQR/median <= {100 * p.max_spread:.0f}% or the row's time cap)",
        file=table_stream,
        flush=True,
    )
    result = tasks.run(p, progress=Progress(args.progress))
    print(report.format_report(result), file=table_stream, flush=True)
    if args.json is not None:
        report.write_json(result, args.json)
        if args.json != "-":
            print(f"wrote {args.json}", file=table_stream)
    if args.plot is not None:
        report.plot(result, args.plot)
        print(f"wrote {args.plot}", file=table_stream)
    bad = [r for r in result["results"] if str(r.get("check", "")).startswith("MISMATCH")]
    return 1 if bad else 0


def _add_bench(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark fastq against NumPy on this machine",
        description="Every quantizer's forward and backward against the NumPy reference, binary_matmul "
        "against NumPy float32 matmul of the same ±1 matrices, and the fraction of the popcount peak. "
        "Each row is repeated until its interquartile range is within 10%% of its median, or marked "
        "unstable. Default run at most ~2 minutes, --quick at most ~20 seconds.",
    )
    p.add_argument("--quick", action="store_true", help="smaller inputs and fewer repeats (~12 s)")
    p.add_argument(
        "--json",
        metavar="FILE",
        help="write the machine info and every measurement as JSON "
        "('-': standard output, the table then goes to standard error)",
    )
    p.add_argument("--plot", metavar="FILE.png", help="bar charts of the speedups (needs matplotlib)")
    p.add_argument("--threads", type=int, help="fastq threads (default: FASTQ_NUM_THREADS or all cores)")
    p.add_argument("--size", type=int, help="elements per quantizer input (default 2**20, --quick 2**18)")
    p.add_argument(
        "--shapes",
        metavar="S1,S2,...",
        help="binary_matmul shapes: S1 1x1000x1024, "
        "S2 64x4096x4096, S3 3136x256x2304, S4 1024x1024x1024 (default all; --quick S1,S4)",
    )
    p.add_argument("--time-limit", type=float, metavar="SECONDS", help="time budget of the whole run")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on standard error (auto: when it is a terminal)",
    )
    p.add_argument(
        "--keep-openblas-env", action="store_true", help="do not re-run without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE"
    )
    p.set_defaults(handler=_cmd_bench)


# ---------------------------------------------------------------------------------------------
# demo, info
# ---------------------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace, argv: list[str]) -> int:
    from . import demo

    missing = demo.missing_requirements()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    if not args.keep_openblas_env:  # the speedup is measured against NumPy's BLAS
        status = reexec_without_openblas_vars("fastq demo", ["-m", "fastq", *argv])
        if status is not None:
            return status
    if args.torch:  # the PyTorch demo lives with fastq.torch (needs PyTorch)
        try:
            from ..torch import demo as torch_demo
        except ImportError as e:
            print(f"fastq demo --torch: {e}", file=sys.stderr)
            return 2
        return torch_demo.main(args)
    return demo.main(args)


def _add_demo(sub: argparse._SubParsersAction[Any]) -> None:
    from . import demo

    p = sub.add_parser(
        "demo",
        help="train a binarized MLP on scikit-learn's digits, then run it on packed bits",
        description="Train a binarized MLP on scikit-learn's bundled digits with fastq's quantizers "
        "(forward) and their grad (backward), deploy it with BinaryDense on packed bits, and report "
        "test accuracy, agreement with the float simulation and the inference speedup. "
        'Needs scikit-learn: pip install "fastq-bnn[demo]".',
    )
    demo.build_parser(p)
    p.add_argument(
        "--torch",
        action="store_true",
        help="instead: train a binarized CNN with fastq.torch (PyTorch), "
        "export it with fastq.torch.export and compare it with PyTorch (uses --seed, --epochs, --json, "
        "--timing-budget; see docs/torch.md)",
    )
    p.add_argument(
        "--keep-openblas-env", action="store_true", help="do not re-run without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE"
    )
    p.set_defaults(handler=_cmd_demo)


def _cmd_info(args: argparse.Namespace, argv: list[str]) -> int:
    import fastq

    fastq.show_config()
    return 0


def _add_info(sub: argparse._SubParsersAction[Any]) -> None:
    info = sub.add_parser("info", help="the build: ISAs compiled / available / active, threads")
    info.set_defaults(handler=_cmd_info)


def _add_model(sub: argparse._SubParsersAction[Any]) -> None:
    from ..models.cli import add_parser  # python -m fastq model summary|predict|bench

    add_parser(sub)


# The sub-commands, in the order --help lists them. Add yours here.
COMMANDS: dict[str, Callable[[argparse._SubParsersAction[Any]], None]] = {
    "bench": _add_bench,
    "demo": _add_demo,
    "info": _add_info,
    "model": _add_model,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fastq",
        description="fastq: larq's quantizers and binary XNOR-popcount inference as native CPU kernels.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    for add in COMMANDS.values():
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m fastq``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    status: int = args.handler(args, argv)
    return status
