#!/usr/bin/env bash
# Measure the wheel, not the dev build: the README's figures for what users install. Takes the
# newest dist/*manylinux*.whl (or builds one with scripts/build-wheel.sh), installs it with
# --no-index into a fresh virtual environment (NumPy from PyPI), and runs from a temporary
# directory, so `import fastq` is the wheel's (its path is printed):
#
#   scripts/bench-wheel.sh [--only bench,binary,conv,models] [--build] [--wheel FILE]
#
#   bench   python -m fastq bench --threads 1 --json (quantizers and binary_matmul vs NumPy; ~80 s)
#   binary  bench/report_binary.py --threads 1       (binary_matmul into preallocated outputs, as
#                                                     docs/performance.md's table: fastq bench allocates)
#   conv    bench/report_conv.py --rounds 9           (the binary conv table of docs/binary.md; ~5 s)
#   models  bench/report_models.py                    (zoo models, one thread, no peers; ~5 s)
#
# One thread for fastq and OpenBLAS alike (OPENBLAS_NUM_THREADS=1), OPENBLAS_CORETYPE/L2_SIZE
# unset. Before each part the 1-minute load average must be <= FASTQ_BENCH_MAX_LOAD (1.5): the
# script waits a minute and retries, FASTQ_BENCH_WAITS (3) times, then runs anyway and says so.
# Loads, dates and durations are printed; outputs go to build/bench-wheel/<UTC time>/ (FASTQ_BENCH_OUT).
# The venv is FASTQ_BENCH_VENV (default /tmp/fastq-bench-wheel-venv), made anew on every run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
ONLY=bench,binary,conv,models
BUILD=0
WHEEL=
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=$2; shift 2 ;;
    --build) BUILD=1; shift ;;
    --wheel) WHEEL=$(realpath "$2"); shift 2 ;;
    *)
      echo "bench-wheel.sh: unknown argument $1 (--only bench,binary,conv,models | --build | --wheel FILE)" >&2
      exit 2
      ;;
  esac
done
VENV=${FASTQ_BENCH_VENV:-/tmp/fastq-bench-wheel-venv}
OUT=${FASTQ_BENCH_OUT:-$REPO/build/bench-wheel/$(date -u +%Y%m%dT%H%MZ)}
MAX_LOAD=${FASTQ_BENCH_MAX_LOAD:-1.5}
WAITS=${FASTQ_BENCH_WAITS:-3}
t0=$SECONDS
say() { printf '\n== %s (%d s; %s; load average %s)\n' "$*" $((SECONDS - t0)) "$(date -u '+%F %T UTC')" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"; }

if [ -z "$WHEEL" ]; then
  if [ "$BUILD" = 1 ] || ! ls dist/*manylinux*.whl >/dev/null 2>&1; then
    say "building the wheel (scripts/build-wheel.sh)"
    bash scripts/build-wheel.sh
  fi
  WHEEL=$(ls -t dist/*manylinux*.whl | head -n 1)
  WHEEL=$REPO/$WHEEL
fi

say "fresh venv $VENV with $(basename "$WHEEL")"
rm -rf "$VENV"
${PYTHON:-python3} -m venv "$VENV"
PY=$VENV/bin/python
# threadpoolctl: the bench's report then records the BLAS and its thread count
"$PY" -m pip install --quiet --disable-pip-version-check numpy threadpoolctl
"$PY" -m pip install --quiet --disable-pip-version-check --no-index "$WHEEL"
mkdir -p "$OUT"
RUN=$(mktemp -d)
trap 'rm -rf "$RUN"' EXIT
cd "$RUN" # not the checkout: python/fastq must not shadow the installed wheel
export OPENBLAS_NUM_THREADS=1 FASTQ_NUM_THREADS=1
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE PYTHONPATH

say "machine and build"
grep -m 3 -E '^(model name|cpu family|model)\s' /proc/cpuinfo | tee "$OUT/machine.txt" # family 25: Zen 3/4, 26: Zen 5
"$PY" - <<'EOF' | tee -a "$OUT/machine.txt"
import fastq
from fastq.tools.machine import popcount_peak

print("fastq imported from", fastq.__file__)
fastq.show_config()
peak, note = popcount_peak(1.0, threads=1)
print(f"popcount probe: {peak['per_core_bit_macs_per_s'] / 1e12:.2f} T binary MAC/s per core ({note})")
EOF

quiet() { # wait (up to WAITS minutes) for the load average to drop below MAX_LOAD
  for _ in $(seq "$WAITS"); do
    awk -v m="$MAX_LOAD" '{ exit !($1 > m) }' /proc/loadavg || return 0
    echo "load average $(cut -d' ' -f1 /proc/loadavg) > $MAX_LOAD: waiting a minute"
    sleep 60
  done
  echo "load average still $(cut -d' ' -f1 /proc/loadavg) > $MAX_LOAD: measuring anyway (noisy)"
}
part() { # part NAME COMMAND...: run it if selected, with the load and time around it
  local name=$1 start
  shift
  case ",$ONLY," in *",$name,"*) ;; *) return 0 ;; esac
  quiet
  say "$name: $*"
  start=$SECONDS
  "$@" 2>&1 | tee "$OUT/$name.txt"
  say "$name done in $((SECONDS - start)) s"
}
part bench "$PY" -m fastq bench --threads 1 --progress never --json "$OUT/bench.json"
part binary "$PY" "$REPO/bench/report_binary.py" --threads 1
part conv "$PY" "$REPO/bench/report_conv.py" --rounds 9
part models "$PY" "$REPO/bench/report_models.py"

say "done: $OUT"
