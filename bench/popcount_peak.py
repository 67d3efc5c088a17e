"""Measure the xor + popcount peak of one core (binary MACs per second), for AVX-512 and AVX2.

    python bench/popcount_peak.py [--seconds S]

Builds bench/popcount_peak.cpp with the system C++ compiler ($CXX, else c++; baseline flags,
the SIMD code sits in target attributes) into build/bench/, runs it on one thread and prints
each method's rate. The probe is independent of fastq's kernels: it times the GEMM's inner
step (XOR, count, accumulate) on registers only, so it is the arithmetic limit the kernels are
reported against. The AVX2 peak is the better of the nibble-lookup and Harley-Seal methods.
bench/report_binary.py and bench/bench_binary.py import ``measure``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE / "popcount_peak.cpp"
BUILD = HERE.parent / "build" / "bench"

NAMES = {
    "avx512": "AVX-512 VPXORQ + VPOPCNTQ + VPADDQ",
    "avx2_lut": "AVX2 nibble lookup (VPSHUFB) + VPSADBW",
    "avx2_hs": "AVX2 Harley-Seal carry-save adders",
}


def build() -> pathlib.Path:
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if not cxx:
        raise RuntimeError("popcount_peak: no C++ compiler found (set CXX)")
    flags = ["-O3", "-std=c++17"]
    tag = hashlib.sha256(SOURCE.read_bytes() + " ".join([cxx, *flags]).encode()).hexdigest()[:12]
    exe = BUILD / f"popcount_peak-{tag}"
    if not exe.exists():
        BUILD.mkdir(parents=True, exist_ok=True)
        subprocess.run([cxx, *flags, str(SOURCE), "-o", str(exe)], check=True)
    return exe


def measure(seconds: float = 1.0, seed: int = 12345) -> dict:
    """Rates in binary MACs per second: {'clock_hz', 'avx512', 'avx2_lut', 'avx2_hs', 'avx2'}
    (a method the CPU lacks is absent; 'avx2' is the better AVX2 method)."""
    out = subprocess.run([str(build()), str(seconds), str(seed)], check=True, capture_output=True, text=True).stdout
    rates = {}
    for line in out.splitlines():
        name, rate, _checksum = line.split()
        rates[name] = float(rate)
    if "avx2_lut" in rates:
        rates["avx2"] = max(rates["avx2_lut"], rates["avx2_hs"])
    return rates


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="time per method (default 1)")
    args = ap.parse_args(argv)
    r = measure(args.seconds)
    hz = r["clock_hz"]
    print(f"core clock (dependent-add chain): {hz / 1e9:.2f} GHz")
    for key, name in NAMES.items():
        if key in r:
            print(f"{key:9s} {r[key] / 1e12:6.3f} T binary MACs/s  ({r[key] / hz:6.1f} per cycle)  {name}")
    if "avx2" in r:
        print(f"AVX2 peak (better method): {r['avx2'] / 1e12:.3f} T/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
