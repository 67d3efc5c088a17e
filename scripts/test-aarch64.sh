#!/usr/bin/env bash
# Cross-compile fastq._core for aarch64 and run the whole pytest suite under qemu-user, with
# Debian's arm64 Python 3.11 + NumPy unpacked into a private folder (nothing arm64 is installed).
# See README.md, "Tests and reliability checks". Needs root (apt-get) on Debian 12.
#
#   scripts/test-aarch64.sh [pytest args; default: tests]
#
# The NEON check below runs with FASTQ_FORCE_ISA unset; pytest gets the caller's environment.
# Caches (delete to refresh): build/aarch64-debs (downloaded .debs), build/aarch64-root (unpacked).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
BUILD=$REPO/build
DEBS=$BUILD/aarch64-debs
ROOT=$BUILD/aarch64-root
OBJ=$BUILD/aarch64-cmake
PKG=$BUILD/aarch64-pkg
JOBS=$(nproc)
say() { printf '\n== %s\n' "$*"; }
t0=$SECONDS

# arm64 packages unpacked into $ROOT. Debian 12 names. The interpreter and its shared libraries,
# the headers for building, NumPy (+ OpenBLAS), and the pure-Python test tools (arch "all").
ARM64_DEBS=(
  libc6 libgcc-s1 libstdc++6 libgfortran5
  python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libpython3.11-dev
  zlib1g libexpat1 libssl3 libbz2-1.0 libcrypt1 libdb5.3 libffi8 liblzma5 libncursesw6
  libnsl2 libreadline8 libsqlite3-0 libtinfo6 libtirpc3 libuuid1
  python3-numpy libopenblas0-pthread
)
ALL_DEBS=(
  python3-pkg-resources
  python3-pytest python3-pluggy python3-py python3-iniconfig python3-packaging python3-attr
  python3-more-itertools
  python3-hypothesis python3-sortedcontainers python3-dateutil python3-six
  python3-pytest-benchmark python3-cpuinfo
)

stamp_want=$(printf '%s\n' "${ARM64_DEBS[@]}" "${ALL_DEBS[@]}" | sha256sum | cut -c1-16)
root_ok=0
[ "$(cat "$ROOT/.stamp" 2>/dev/null || true)" = "$stamp_want" ] && root_ok=1
apt_updated=0
apt_update() { if [ "$apt_updated" = 0 ]; then say "apt-get update"; apt-get update -qq; apt_updated=1; fi; }

# The arm64 architecture lets apt-get download fetch arm64 .debs; nothing is installed from it.
if [ "$root_ok" = 0 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  say "dpkg --add-architecture arm64"
  dpkg --add-architecture arm64
fi

# ---------------------------------------------------------------------------------------------
# 1. Host tools: cross compiler and qemu-user (Debian packages; installed once).
need=()
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
if [ ${#need[@]} -gt 0 ]; then
  apt_update
  say "apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
aarch64-linux-gnu-g++ --version | head -1
qemu-aarch64 --version | head -1

# pybind11 (arch-neutral headers + CMake config) and cmake come from the host Python; pip
# installs pybind11 (and ninja, if there is no build tool at all) only when missing.
HOSTPY=${PYTHON:-python3}
pipneed=()
"$HOSTPY" -m pybind11 --cmakedir >/dev/null 2>&1 || pipneed+=(pybind11)
command -v ninja >/dev/null || command -v make >/dev/null || pipneed+=(ninja)
if [ ${#pipneed[@]} -gt 0 ]; then
  say "pip install ${pipneed[*]}"
  "$HOSTPY" -m pip install -q "${pipneed[@]}"
fi
PYBIND11_DIR=$("$HOSTPY" -m pybind11 --cmakedir)

# ---------------------------------------------------------------------------------------------
# 2. The arm64 root: apt-get download (cached) + dpkg -x. Re-made only when the list changes.
if [ "$root_ok" = 0 ]; then
  mkdir -p "$DEBS"
  want=()
  for p in "${ARM64_DEBS[@]}"; do want+=("$p:arm64"); done
  want+=("${ALL_DEBS[@]}")
  missing=()
  for p in "${want[@]}"; do
    n=${p%:arm64}
    a=$([ "$n" = "$p" ] && echo all || echo arm64)
    ls "$DEBS/${n}_"*"_${a}.deb" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt_update
    say "apt-get download ${#missing[@]} packages into $DEBS"
    (cd "$DEBS" && apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}")
  fi
  say "unpacking ${#want[@]} .debs into $ROOT"
  rm -rf "$ROOT"
  mkdir -p "$ROOT"
  for p in "${want[@]}"; do
    n=${p%:arm64}
    a=$([ "$n" = "$p" ] && echo all || echo arm64)
    dpkg -x "$(ls "$DEBS/${n}_"*"_${a}.deb" | sort -V | tail -1)" "$ROOT"   # newest if several
  done
  # Debian's /usr/include/python3.11/pyconfig.h picks the per-arch header through <triplet/...>,
  # which is outside Python's include dir: put the arm64 one in its place (private copy).
  cp "$ROOT/usr/include/aarch64-linux-gnu/python3.11/pyconfig.h" "$ROOT/usr/include/python3.11/pyconfig.h"
  echo "$stamp_want" >"$ROOT/.stamp"
fi

# How arm64 Python runs: through a small host shell wrapper that starts qemu-user with the root
# as its prefix for absolute paths. qemu's -0 makes the wrapper sys.executable, so tests that
# start `sys.executable` in a subprocess get an emulated Python too (there is no binfmt_misc).
# - Debian selects the BLAS through update-alternatives, which dpkg -x does not run: point the
#   loader at OpenBLAS directly. OPENBLAS_CORETYPE/L2_SIZE on this host describe an x86 core.
# - Byte-code of the root (dpkg -x compiles none) and of the tests goes to one cached folder
#   outside the source tree; without it every run would recompile NumPy/pytest under qemu.
# - No user site-packages: the host's (x86) ones must not leak in.
PY_ARM=$ROOT/usr/bin/python3.11
PY_QEMU=$ROOT/usr/bin/python3.11-qemu
cat >"$PY_QEMU" <<EOF
#!/bin/sh
exec qemu-aarch64 -L "$ROOT" -0 "\$0" -U OPENBLAS_CORETYPE -U OPENBLAS_L2_SIZE \\
  -E LD_LIBRARY_PATH=/usr/lib/aarch64-linux-gnu/openblas-pthread "$PY_ARM" "\$@"
EOF
chmod +x "$PY_QEMU"
PYCACHE=$BUILD/aarch64-pycache
mkdir -p "$PYCACHE"
export PYTHONPATH="$PKG" PYTHONPYCACHEPREFIX="$PYCACHE" PYTHONNOUSERSITE=1
qrun() { "$PY_QEMU" "$@"; }

say "arm64 Python under qemu"
qrun -c 'import platform, sys, numpy; print("python", sys.version.split()[0], platform.machine(), "numpy", numpy.__version__)'
EXT_SUFFIX=$(qrun -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
echo "extension suffix: $EXT_SUFFIX"

# ---------------------------------------------------------------------------------------------
# 3. Configure + build with CMake directly. FindPython runs the arm64 interpreter through the
# toolchain's CMAKE_CROSSCOMPILING_EMULATOR (qemu), which needs policy CMP0190 NEW (CMake >= 4.1;
# only a default: a project that sets the policy itself wins). pybind11 then takes the extension
# suffix from Python_SOABI instead of running the target interpreter itself.
export FASTQ_AARCH64_ROOT=$ROOT
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
if [ -f "$OBJ/CMakeCache.txt" ] && ! grep -q "^FASTQ_AARCH64_ROOT:.*=$ROOT\$" "$OBJ/CMakeCache.txt"; then
  rm -rf "$OBJ"   # cache made for another root or checkout
fi
say "cmake configure (aarch64) in $OBJ"
[ -f "$OBJ/CMakeCache.txt" ] && GEN=()   # generator is fixed once chosen
cmake -S "$REPO" -B "$OBJ" "${GEN[@]}" \
  -DCMAKE_TOOLCHAIN_FILE="$REPO/scripts/aarch64-toolchain.cmake" \
  -DFASTQ_AARCH64_ROOT="$ROOT" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_POLICY_DEFAULT_CMP0190=NEW \
  -DPython_EXECUTABLE="$PY_ARM" \
  -DPython_INCLUDE_DIR="$ROOT/usr/include/python3.11" \
  -DPYBIND11_USE_CROSSCOMPILING=ON \
  -Dpybind11_DIR="$PYBIND11_DIR" \
  -DFASTQ_MODULE_DIR="$OBJ/module"
say "cmake build (-j$JOBS)"
cmake --build "$OBJ" -j "$JOBS"

SO=$(find "$OBJ" -name "_core$EXT_SUFFIX" -type f | head -1)
if [ -z "$SO" ]; then
  echo "FAIL: no _core$EXT_SUFFIX under $OBJ; found:" >&2
  find "$OBJ" -name '_core*' -type f >&2 || true
  exit 1
fi
! command -v file >/dev/null || file "$SO"

# ---------------------------------------------------------------------------------------------
# 4. Private package folder: a copy of python/fastq plus the arm64 _core (source tree untouched).
say "staging fastq + $(basename "$SO") in $PKG"
rm -rf "$PKG"
mkdir -p "$PKG"
cp -R "$REPO/python/fastq" "$PKG/fastq"
find "$PKG/fastq" \( -name '__pycache__' -o -name '_core*.so' \) -prune -exec rm -rf {} +
cp "$SO" "$PKG/fastq/"

# FASTQ_FORCE_ISA from the caller's environment is dropped for the detection check.
qrun_auto() { (unset FASTQ_FORCE_ISA; qrun "$@"); }

# ---------------------------------------------------------------------------------------------
# 5. The kernel table chosen at run time under qemu must be NEON (auto-detected, not forced).
say "fastq.show_config() under qemu-aarch64"
# show_config() prints (should it return the text instead, that is printed too); active_isa(),
# where the package has it, is printed as a second witness.
if ! cfg=$(qrun_auto -c 'import fastq, platform
print("fastq from", fastq.__file__, "on", platform.machine())
r = fastq.show_config()
if r is not None: print(r)
if hasattr(fastq, "active_isa"): print("fastq.active_isa() =", fastq.active_isa())' 2>&1); then
  echo "$cfg"; echo "FAIL: importing fastq / show_config() failed under qemu-aarch64" >&2; exit 1
fi
echo "$cfg"
if ! grep -qF "from $PKG/fastq/" <<<"$cfg"; then
  echo "FAIL: fastq was not imported from $PKG" >&2; exit 1
fi
# Every "active...: X" / "active... = X" line must name neon, and there must be one.
act=$(grep -iE 'active[^:=]*[:=]' <<<"$cfg" || true)
if [ -z "$act" ] || grep -qviE '[:=][[:space:]"'\'']*neon\b' <<<"$act"; then
  echo "FAIL: the active kernel table under qemu-aarch64 is not neon (see the 'active' lines above)" >&2
  exit 1
fi
echo "OK: active kernel table is neon"

# ---------------------------------------------------------------------------------------------
# 6. The whole test suite under qemu. No cache provider: nothing written into the source tree.
say "python -m pytest -q tests (aarch64, qemu; $((SECONDS - t0)) s so far)"
# FASTQ_TEST_UNDER_QEMU=1 lets tests skip what qemu-user 7.2 itself cannot do: a child forked
# from a multi-threaded process that starts a thread kills qemu ("qemu_plugin_vcpu_init_hook:
# assertion failed"), so fork-safety tests of the thread pool only mean something natively.
# A hang (e.g. a pool waiting for a crashed forked worker) must not eat CI's time: after
# FASTQ_AARCH64_PYTEST_TIMEOUT seconds pytest gets SIGINT, which makes it print where it was
# stuck and its summary, and exit non-zero (SIGKILL 30 s later if even that hangs).
# pytest's exit code is the script's; its summary is the last line unless it timed out.
limit=${FASTQ_AARCH64_PYTEST_TIMEOUT:-600}
rc=0
# Emulation is 10-50x slower than the host: the randomized tests run fewer examples here (the
# native run covers the full counts), so the suite finishes well inside the limit (issue #12:
# it had reached 93% of it on a busy machine).
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-dev} FASTQ_FUZZ_CALLS=${FASTQ_FUZZ_CALLS:-1000}
FASTQ_TEST_UNDER_QEMU=1 timeout -s INT -k 30 "$limit" \
  "$PY_QEMU" -m pytest -q -p no:cacheprovider "${@:-tests}" || rc=$?
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  echo "FAIL: pytest under qemu was stopped after ${limit} s (hung; see where above)" >&2
fi
exit "$rc"
