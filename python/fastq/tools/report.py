"""The bench report: tables for people, JSON for scripts (docs/performance.md is written from
it by scripts/perf-page.py), and a plot."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Callable

__all__ = ["TABLES", "format_report", "machine_lines", "plot", "write_json"]

Record = dict[str, Any]


def _fmt_speedup(r: Record, key: str = "speedup") -> str:
    s = r.get(key)
    if not r.get("stable", True):
        return "unstable"
    if s is None:
        return "n/a"
    return f"{s:.1f}x" if s >= 10 else f"{s:.2f}x"


def _fmt_ms(ns: float | None) -> str:
    return "n/a" if ns is None else f"{ns / 1e6:.3f}"


def _check(r: Record) -> str:
    c = str(r.get("check", ""))
    if not r.get("stable", True):
        c += f"; IQR/median {100 * r['spread']:.0f}%"
    return c


def machine_lines(m: Record) -> list[str]:
    forced = " (forced by FASTQ_FORCE_ISA)" if m.get("isa_forced") else ""
    lines = [
        f"cpu:      {m['cpu']} ({m['machine']})",
        f"isa:      {m['isa_active']}{forced}; available: {', '.join(m['isa_available'])}",
        f"threads:  {m['num_threads']} (fastq)",
        f"numpy:    {m['numpy']} (python {m['python']})",
    ]
    for b in m.get("blas") or []:
        lines.append(
            f"blas:     {b['internal_api']} {b['version']}, {b['architecture']} kernels, {b['num_threads']} threads"
        )
    env = m.get("openblas_env") or {}
    if env.get("unset"):
        lines.append(
            "note:     NumPy ran without "
            + ", ".join(f"{k}={v}" for k, v in env["unset"].items())
            + " (removed by fastq bench; they slow current OpenBLAS)"
        )
    load, ncpu = m.get("load_average_1min"), m.get("cpu_count") or 1
    if load is not None and load > 0.5 * ncpu:
        lines.append(
            f"warning:  the machine was busy before the run (load average {load} on {ncpu} cores); timings are noisy"
        )
    if env.get("set"):
        lines.append(
            "warning:  NumPy ran with "
            + ", ".join(f"{k}={v}" for k, v in env["set"].items())
            + " set; its BLAS may be slower than it can be"
        )
    return lines


def _quantizer_table(rows: list[Record], report: Record) -> list[str]:
    m = report["machine"]
    r0 = rows[0]
    shape = "x".join(map(str, r0["shape"]))
    out = [
        f"Quantizers: float32, {r0['elements']:,} elements ({shape}); median ns per element; "
        f"fastq on {m['num_threads']} thread(s), NumPy on one"
    ]
    w = max(len(r["label"]) for r in rows) + 2
    hdr = f"{'quantizer':<{w}}{'pass':<10}{'fastq':>9}{'numpy':>9}{'speedup':>10}  {'check':<19} baseline"
    out += [hdr, "-" * len(hdr)]
    for r in rows:
        base = "reference.py" if r["baseline"] == "fastq.reference" else r["baseline"]
        out.append(
            f"{r['label']:<{w}}{r['pass']:<10}{r['fastq_ns_per_element']:>9.3f}"
            f"{r['baseline_ns_per_element']:>9.3f}{_fmt_speedup(r):>10}  {_check(r):<19} {base}"
        )
    return out


def _matmul_table(rows: list[Record], report: Record) -> list[str]:
    m = report["machine"]
    blas_threads = ", ".join(str(b["num_threads"]) for b in m.get("blas") or []) or "its default"
    out = [
        "binary_matmul: int32 sign(A) @ sign(B).T on packed bits vs NumPy float32 A @ B.T of the "
        f"same ±1 matrices; median ms per call; fastq on {m['num_threads']} thread(s), BLAS on {blas_threads}"
    ]
    hdr = (
        f"{'shape':<6}{'M x N x K':<18}{'fastq':>10}{'+pack A':>10}{'numpy':>10}{'speedup':>10}"
        f"{'(+pack)':>10}{'Gbit-MAC/s':>12}{'of peak':>9}  check"
    )
    out += [hdr, "-" * len(hdr)]
    for r in rows:
        mnk = "x".join(map(str, r["shape_mnk"]))
        gops = f"{r['bit_macs_per_s'] / 1e9:.0f}"
        frac = "n/a" if r["peak_fraction"] is None else f"{100 * r['peak_fraction']:.0f}%"
        out.append(
            f"{r['name']:<6}{mnk:<18}{_fmt_ms(r['fastq_ns']):>10}{_fmt_ms(r['fastq_with_packing_ns']):>10}"
            f"{_fmt_ms(r['baseline_ns']):>10}{_fmt_speedup(r):>10}"
            f"{_fmt_speedup(r, 'speedup_with_packing'):>10}{gops:>12}{frac:>9}  {_check(r)}"
        )
    peak = report.get("popcount_peak")
    note = report.get("popcount_peak_note", "")
    if peak:
        out.append(
            f"popcount peak: {peak['bit_macs_per_s'] / 1e9:,.0f} Gbit-MAC/s "
            f"({peak['per_core_bit_macs_per_s'] / 1e9:,.0f} per core x {peak['threads']}; {note})"
        )
    else:
        out.append(f"popcount peak: n/a ({note})")
    return out


def _generic_table(rows: list[Record], report: Record) -> list[str]:
    """Any other kind of row: label, medians, speedup, check."""
    out = [f"{rows[0]['kind']}: median ms per call, fastq vs {rows[0]['baseline']}"]
    w = max(len(r["label"]) for r in rows) + 2
    hdr = f"{'row':<{w}}{'fastq':>10}{'baseline':>10}{'speedup':>10}  check"
    out += [hdr, "-" * len(hdr)]
    for r in rows:
        out.append(
            f"{r['label']:<{w}}{_fmt_ms(r['fastq_ns']):>10}{_fmt_ms(r['baseline_ns']):>10}"
            f"{_fmt_speedup(r):>10}  {_check(r)}"
        )
    return out


def _conv_table(rows: list[Record], report: Record) -> list[str]:
    from .conv_rows import format_conv

    return format_conv(rows, report)


def _model_table(rows: list[Record], report: Record) -> list[str]:
    from ..models.bench import format_models

    return format_models({"results": rows})


# Table printers by record kind; kinds not listed get the generic table.
TABLES: dict[str, Callable[[list[Record], Record], list[str]]] = {
    "quantizer": _quantizer_table,
    "binary_matmul": _matmul_table,
    "binary_conv2d": _conv_table,
    "model": _model_table,
}


def format_report(report: Record) -> str:
    """The human-readable tables."""
    out = [f"fastq {report['fastq']} bench", *machine_lines(report["machine"]), ""]
    kinds: dict[str, list[Record]] = {}
    for r in report["results"]:
        kinds.setdefault(r["kind"], []).append(r)
    for kind, rows in kinds.items():
        out += TABLES.get(kind, _generic_table)(rows, report)
        out.append("")
    unstable = [r for r in report["results"] if not r.get("stable", True)]
    if unstable:
        out.append(
            f"note: {len(unstable)} row(s) unstable (interquartile range over median above "
            f"{100 * report['plan']['max_spread']:.0f}% within their time cap): no speedup printed; "
            "the machine is busy, run again when it is quiet"
        )
    bad = [r for r in report["results"] if str(r.get("check", "")).startswith("MISMATCH")]
    if bad:
        out.append(f"WARNING: {len(bad)} result(s) differ from their baseline (see the check column)")
    out.append(f"wall time: {report['wall_time_s']:.1f} s")
    return "\n".join(out)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # NumPy scalars
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(report: Record, path: str) -> None:
    """Write the report as JSON (``path`` "-" is standard output)."""
    text = json.dumps(_jsonable(report), indent=2)
    if str(path) == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")


def plot(report: Record, path: str) -> None:
    """Bar charts of the speedups (log scale) to a PNG; needs matplotlib. Unstable rows are grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [
        ("quantizer", "speedup over NumPy (median; log scale; blue forward, orange backward, grey unstable)"),
        ("binary_matmul", "binary_matmul speedup over NumPy float32 matmul of ±1 matrices (log scale)"),
    ]
    groups += [
        (k, f"{k} speedup (log scale)")
        for k in dict.fromkeys(r["kind"] for r in report["results"])
        if k not in ("quantizer", "binary_matmul", "model")
    ]
    groups.append(("model", "whole model: time / floor (log scale; 1.0 = the machine's floor)"))
    panels = [(k, xlabel, [r for r in report["results"] if r["kind"] == k]) for k, xlabel in groups]
    panels = [pnl for pnl in panels if pnl[2]]
    heights = [max(1.0, 0.28 * len(rows) + 0.8) for _, _, rows in panels]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(9, sum(heights) + 0.8), gridspec_kw={"height_ratios": heights}, squeeze=False
    )
    for ax, (kind, xlabel, rows) in zip(axes[:, 0], panels):
        if kind == "quantizer":
            labels = [
                f"{r['label']} {'fwd' if r['pass'] == 'forward' else 'bwd'}"
                + (" vs np idiom" if r["baseline"] != "fastq.reference" else "")
                for r in rows
            ]
            colors = ["#3b6ea8" if r["pass"] == "forward" else "#d07b2c" for r in rows]
        elif kind == "model":
            labels = [r["name"] for r in rows]
            colors = ["#8a5ca8"] * len(rows)
        else:
            labels = [r["label"] for r in rows]
            colors = ["#4c9a5b"] * len(rows)
        colors = [c if r["stable"] else "#bbbbbb" for c, r in zip(colors, rows)]
        speed = [r["ratio"] if kind == "model" else r["speedup"] for r in rows]
        ax.barh(range(len(rows)), speed, color=colors)
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlim(min(0.5, min(speed) / 1.5), max(speed) * 2.5)
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set_xlabel(xlabel, fontsize=8)
        for i, (s, r) in enumerate(zip(speed, rows)):
            ax.text(s, i, f" {s:.1f}x" if r["stable"] else " unstable", va="center", fontsize=6)
    m = report["machine"]
    fig.suptitle(
        f"fastq {report['fastq']}: {m['cpu']} — isa {m['isa_active']}, {m['num_threads']} threads, numpy {m['numpy']}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
