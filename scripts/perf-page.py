"""Write the measured tables of docs/performance.md from the bench scripts' JSON.

    python -m fastq bench --json bench.json                       # (re-runs itself without OPENBLAS_*)
    python bench/report_quantizers.py --json quantizers.json
    python scripts/perf-page.py --bench bench.json [--quantizers quantizers.json] [--label "GCC 12 build"]

Each input replaces one generated block of docs/performance.md (between its BEGIN/END markers;
a missing block is appended), headed by the machine, the date, the load average and the command
that produced it. Hand-written text outside the blocks is kept. --quantizers imports
bench/report_quantizers.py (its table), so fastq must be importable (installed, or PYTHONPATH=python).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "performance.md"


def _machine_line(m: dict) -> str:
    blas = ", ".join(
        f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')})" for b in m.get("blas") or []
    )
    env = m.get("openblas_env") or {}
    unset = " (OPENBLAS_* removed for the run)" if env.get("unset") else " (OPENBLAS_* set!)" if env.get("set") else ""
    return (
        f"{m.get('cpu')} ({m.get('machine')}, {m.get('cpu_count')} logical cores), fastq ISA "
        f"{m.get('isa_active')}, {m.get('num_threads')} thread(s); {m.get('build', '')}; Python {m.get('python')}, "
        f"NumPy {m.get('numpy')}{', ' + blas if blas else ''}{unset}; load average before the run "
        f"{m.get('load_average_1min')}"
    )


def bench_block(report: dict, label: str) -> str:
    """Markdown tables of a ``python -m fastq bench --json`` report."""
    plan = report["plan"]
    cmd = "python -m fastq bench" + (" --quick" if plan.get("quick") else "")
    out = [
        f"### `{cmd}`{' — ' + label if label else ''}",
        "",
        f"Machine: {_machine_line(report['machine'])}. Wall time {report['wall_time_s']:.0f} s.",
        "",
    ]
    q = [r for r in report["results"] if r["kind"] == "quantizer"]
    if q:
        out += [
            f"Quantizers, float32, {q[0]['elements']:,} elements, ns per element (median):",
            "",
            "| quantizer | pass | fastq | baseline | speedup | IQR/median | check | baseline |",
            "|---|---|---:|---:|---:|---:|---|---|",
        ]
        for r in q:
            sp = f"{r['speedup']:.1f}×" if r["stable"] else "unstable"
            idiom = r["baseline"].split(": ", 1)[-1]
            base = "reference" if r["baseline"] == "fastq.reference" else f"`{idiom}`"
            out.append(
                f"| {r['label']} | {r['pass']} | {r['fastq_ns_per_element']:.3f} | "
                f"{r['baseline_ns_per_element']:.3f} | {sp} | {100 * r['spread']:.0f}% | {r['check']} "
                f"| {base} |"
            )
        out.append("")
    mm = [r for r in report["results"] if r["kind"] == "binary_matmul"]
    if mm:
        out += [
            "`binary_matmul` against NumPy float32 matmul of the same ±1 matrices (median ms per call):",
            "",
            "| shape | M×N×K | fastq | + pack A | NumPy | speedup | of peak | IQR/median | check |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in mm:
            sp = f"{r['speedup']:.1f}×" if r["stable"] else "unstable"
            frac = "n/a" if r["peak_fraction"] is None else f"{100 * r['peak_fraction']:.0f}%"
            out.append(
                f"| {r['name']} | {'×'.join(map(str, r['shape_mnk']))} | {r['fastq_ns'] / 1e6:.3f} | "
                f"{r['fastq_with_packing_ns'] / 1e6:.3f} | {r['baseline_ns'] / 1e6:.3f} | {sp} | {frac} | "
                f"{100 * r['spread']:.0f}% | {r['check']} |"
            )
        peak = report.get("popcount_peak")
        if peak:
            out += [
                "",
                f"Popcount peak: {peak['per_core_bit_macs_per_s'] / 1e12:.2f} T binary MAC/s per core "
                f"({peak['method']}).",
            ]
        out.append("")
    models = [r for r in report["results"] if r["kind"] == "model"]  # no baseline: time against the floor
    if models:
        out += [
            "Whole models (fastq.models.zoo, batch 1, one thread, thread CPU time):",
            "",
            "| model | fastq ms | floor ms | × floor | IQR/median | check |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for r in models:
            out.append(
                f"| {r['name']} | {r['seconds'] * 1e3:.2f} | {r['floor_s'] * 1e3:.2f} | {r['ratio']:.2f} | "
                f"{100 * r['spread']:.0f}% | {r['check']} |"
            )
        out.append("")
    others = [r for r in report["results"] if r["kind"] not in ("quantizer", "binary_matmul", "model")]
    if others:
        out += ["| row | fastq ms | baseline ms | speedup | check |", "|---|---:|---:|---:|---|"]
        for r in others:
            sp = f"{r['speedup']:.1f}×" if r["stable"] else "unstable"
            out.append(
                f"| {r['label']} | {r['fastq_ns'] / 1e6:.3f} | {r['baseline_ns'] / 1e6:.3f} | {sp} | {r['check']} |"
            )
        out.append("")
    return "\n".join(out)


def quantizers_block(results: dict, label: str) -> str:
    """The table of bench/report_quantizers.py --json (its own formatter)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import report_quantizers

    results["single_thread"] = {int(k): v for k, v in results["single_thread"].items()}
    head = [
        f"### `python bench/report_quantizers.py`{' — ' + label if label else ''}",
        "",
        f"Machine: {_machine_line(results['machine'])}.",
        "",
    ]
    return "\n".join(head) + report_quantizers.table(results) + "\n"


def replace_block(text: str, name: str, body: str, when: str) -> str:
    begin, end = f"<!-- BEGIN generated: {name} -->", f"<!-- END generated: {name} -->"
    block = f"{begin}\n<!-- written by scripts/perf-page.py on {when}; do not edit by hand -->\n\n{body}\n{end}"
    if begin in text and end in text:
        return re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    return text.rstrip("\n") + "\n\n" + block + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", help="JSON of python -m fastq bench --json")
    ap.add_argument("--quantizers", help="JSON of bench/report_quantizers.py --json")
    ap.add_argument("--label", default="", help="what was measured (e.g. the build), shown in the headings")
    ap.add_argument("--block", default=None, help="name of the generated block (default: bench / quantizers)")
    ap.add_argument("--page", default=str(PAGE))
    args = ap.parse_args(argv)
    if not (args.bench or args.quantizers):
        ap.error("give --bench and/or --quantizers")
    page = Path(args.page)
    text = page.read_text(encoding="utf-8") if page.exists() else "# Performance\n"
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if args.bench:
        report = json.loads(Path(args.bench).read_text(encoding="utf-8"))
        text = replace_block(text, args.block or "bench", bench_block(report, args.label), when)
    if args.quantizers:
        results = json.loads(Path(args.quantizers).read_text(encoding="utf-8"))
        text = replace_block(text, args.block or "quantizers", quantizers_block(results, args.label), when)
    page.write_text(text, encoding="utf-8")
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
