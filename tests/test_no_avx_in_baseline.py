"""No ISA leakage into the baseline (docs/architecture.md, "Dispatch").

QEMU cannot catch an AVX instruction in baseline code (it executes it anyway), so this is a
static check. The baseline translation units (the scalar kernel table, csrc/runtime/*.cpp,
csrc/bindings/*.cpp) are compiled here, into a temporary directory, with the flags
CMakeLists.txt gives ``_core`` (without LTO, so the objects hold machine code), and
disassembled with ``objdump -d``. They must contain no ymm/zmm/mask register and no instruction
beyond x86-64's baseline (VEX/EVEX-encoded ``v*`` instructions, BMI, POPCNT, LZCNT, SSE3/SSSE3/
SSE4). The AVX2 and AVX-512 objects are compiled the same way and must use ymm and zmm
(so the test can fail); every function in them that uses such instructions and has external
(weak/COMDAT) linkage must live in that ISA's namespace and be defined by no baseline object:
otherwise the linker could hand baseline code the AVX copy of a shared inline function
(docs/architecture.md, "Dispatch").
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import shutil
import subprocess
import sysconfig
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"

pytestmark = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 only (the check is about AVX)"
)

# Instructions beyond the x86-64 baseline (SSE2) that a compiler may emit when a target leaks.
# (tzcnt is left out: GCC's generic code emits `rep bsf`, which objdump prints as tzcnt and
# which runs as bsf on CPUs without BMI1.)
NON_BASELINE = re.compile(
    r"^(v(?!err$|erw$)[a-z0-9]+|andn|bextr|blsi|blsmsk|blsr|bzhi|mulx|pdep|pext|rorx|sarx|shlx|shrx|popcnt|lzcnt|"
    r"movbe|crc32|round[sp][sd]|pshufb|ptest|pblendvb|blendvp[sd]|blendp[sd]|pblendw|pmins[bd]|pmaxs[bd]|pminu[wd]|"
    r"pmaxu[wd]|pmulld|pmuldq|pcmpeqq|pcmpgtq|pextr[bdq]|pinsr[bdq]|insertps|extractps|dpp[sd]|palignr|ph(add|sub)[wd]|"
    r"phaddsw|h(add|sub)p[sd]|addsubp[sd]|movddup|movs[hl]dup|lddqu|pabs[bwd]|pmov[sz]x[bwd][wdq]|packusdw|"
    r"pcmp[ei]str[im]|mpsadbw|phminposuw|pmaddubsw|pmulhrsw|psign[bwd]|k[a-z]+[bwdq])$"
)
WIDE_REGISTER = re.compile(r"%[yz]mm\d+|%k[0-7]\b")


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def _compile_flags():
    """The compile options CMakeLists.txt gives _core (Release, no sanitizer), plus what CMake
    itself adds (C++17, PIC, hidden visibility, NDEBUG); LTO is left out on purpose."""
    text = (ROOT / "CMakeLists.txt").read_text()
    opts = None
    for m in re.finditer(r"target_compile_options\(\s*_core\s+PRIVATE\s+([^)]*)\)", text):
        if "sanitize" not in m.group(1):
            opts = m.group(1).split()
            break
    if opts is None:  # keep in step with CMakeLists.txt
        opts = ["-O3", "-ffp-contract=off", "-fno-math-errno"]
    std = re.search(r"CMAKE_CXX_STANDARD\s+(\d+)", text)
    flags = [f"-std=c++{std.group(1) if std else '17'}", "-DNDEBUG", "-fPIC", "-fvisibility=hidden", *opts]
    return [f for f in flags if not f.startswith("-flto") and f not in ("-Wall", "-Wextra")]


def _includes():
    try:
        import pybind11
    except ImportError:
        pytest.skip("pybind11 is not installed (needed to compile csrc/bindings)")
    py_include = sysconfig.get_paths()["include"]
    if not (Path(py_include) / "Python.h").exists():
        pytest.skip(f"Python headers not found in {py_include}")
    return ["-I", str(CSRC / "include"), "-I", str(CSRC), "-isystem", py_include, "-isystem", pybind11.get_include()]


BASELINE_SOURCES = sorted(
    [CSRC / "targets" / "scalar.cpp", *(CSRC / "runtime").glob("*.cpp"), *(CSRC / "bindings").glob("*.cpp")]
)
ISA_SOURCES = {"avx2": CSRC / "targets" / "avx2.cpp", "avx512": CSRC / "targets" / "avx512.cpp"}


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    """{source: object path} for every baseline and x86 ISA translation unit, compiled in
    parallel with g++, or with the compiler FASTQ_TEST_CXX names (the wheel's: zig's clang)."""
    cxx = shlex.split(os.environ.get("FASTQ_TEST_CXX", ""))
    cxx = cxx if cxx else [_tool("g++")]
    _tool("objdump")
    _tool("nm")
    flags = _compile_flags() + _includes()
    out_dir = tmp_path_factory.mktemp("objs")
    sources = BASELINE_SOURCES + list(ISA_SOURCES.values())

    def build(src):
        obj = out_dir / (src.relative_to(CSRC).as_posix().replace("/", "_") + ".o")
        r = subprocess.run([*cxx, *flags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
        if r.returncode:
            pytest.fail(f"compiling {src.relative_to(ROOT)} failed:\n{r.stderr[-4000:]}")
        return src, obj

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as ex:
        return dict(ex.map(build, sources))


def disassemble(obj):
    """{function (demangled): {non-baseline mnemonics}} and the number of wide-register uses."""
    out = subprocess.run(
        ["objdump", "-d", "-C", "--no-show-raw-insn", str(obj)], capture_output=True, text=True, check=True
    ).stdout
    bad = defaultdict(set)
    wide = defaultdict(int)
    func = None
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            func = m.group(1)
            continue
        m = re.match(r"^\s+[0-9a-f]+:\s+(\S+)\s*(.*)$", line)
        if not m:
            continue
        mnemonic, operands = m.group(1).split(".")[0], m.group(2)
        regs = WIDE_REGISTER.findall(operands)
        for r in regs:
            wide[r[:4]] += 1
        if regs or NON_BASELINE.match(mnemonic):
            bad[func].add(mnemonic)
    return bad, wide


def defined_symbols(obj):
    """{demangled name: nm type letter} of the symbols ``obj`` defines."""
    out = subprocess.run(["nm", "-C", "--defined-only", str(obj)], capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            syms[parts[2]] = parts[1]
    return syms


@pytest.mark.parametrize("src", BASELINE_SOURCES, ids=lambda p: str(p.relative_to(CSRC)))
def test_baseline_object_has_no_avx(objects, src):
    bad, wide = disassemble(objects[src])
    report = "\n".join(f"  {f}: {sorted(m)}" for f, m in list(bad.items())[:20])
    assert not wide, f"{src.relative_to(ROOT)} uses {dict(wide)} registers in:\n{report}"
    assert not bad, f"{src.relative_to(ROOT)} has instructions beyond x86-64 baseline in:\n{report}"


@pytest.mark.parametrize("isa, register", [("avx2", "%ymm"), ("avx512", "%zmm")])
def test_isa_object_really_uses_its_registers(objects, isa, register):
    # The control: the check above would see the instructions if they were there.
    _, wide = disassemble(objects[ISA_SOURCES[isa]])
    assert wide.get(register, 0) > 100, f"{isa}.cpp compiled without {register} use: {dict(wide)}"


@pytest.mark.parametrize("isa", sorted(ISA_SOURCES))
def test_isa_code_is_not_shared_with_baseline(objects, isa):
    """Every function of the ISA object that uses non-baseline instructions is local, or a
    weak/global symbol inside ``fastq::<isa>::``, and no baseline object defines it too."""
    bad, _ = disassemble(objects[ISA_SOURCES[isa]])
    assert bad, "no ISA code found at all"
    syms = defined_symbols(objects[ISA_SOURCES[isa]])
    baseline_syms = set()
    for src in BASELINE_SOURCES:
        baseline_syms |= {n for n, t in defined_symbols(objects[src]).items() if t not in "tdbr"}
    exported = {f for f in bad if syms.get(f, "t") not in "tdbr"}  # upper case, W, V, u: linker-visible
    outside = sorted(f for f in exported if f"fastq::{isa}::" not in f)
    assert not outside, f"{isa} code with external linkage outside fastq::{isa}::\n" + "\n".join(outside[:20])
    shared = sorted(exported & baseline_syms)
    assert not shared, f"{isa} copies of symbols baseline objects also define:\n" + "\n".join(shared[:20])


def test_build_flags_have_no_native_or_isa_switches():
    # One binary for every CPU of the architecture; ISA code only in target regions.
    text = (ROOT / "CMakeLists.txt").read_text()
    options = " ".join(m.group(1) for m in re.finditer(r"(?:target_)?(?:add_)?compile_options\(([^)]*)\)", text))
    assert not re.search(r"-march=native|-mavx|-mfma|-mbmi|-mpopcnt|-msse4|-mtune=native", options), options
    # Scalar and SIMD paths round identically only without implicit FMA (clang's C++ default is on).
    assert "-ffp-contract=off" in options.split(), options
