"""``python -m fastq bench`` and ``python -m fastq demo``: smoke runs in a subprocess (the way a
user runs them), the optional-dependency messages, and the measurement engine's pieces."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastq
from fastq import reference
from fastq.tools import checks, cli, env, tasks, timing
from fastq.tools import report as report_mod

PACKAGE_PARENT = str(Path(fastq.__file__).resolve().parent.parent)


def run_fastq(*args, code=None, timeout=120, env_extra=None):
    """Run ``python -m fastq ARGS`` (or ``python -c CODE``) with the fastq under test first on
    the path; returns the CompletedProcess (text)."""
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([PACKAGE_PARENT, *filter(None, [environ.get("PYTHONPATH")])])
    environ.pop(env.UNSET_MARKER, None)
    environ.update(env_extra or {})
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "fastq", *args]
    return subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=timeout)


# A child in which the named modules cannot be imported (as if not installed).
BLOCK = (
    "import sys\nfor m in {mods!r}: sys.modules[m] = None\n"
    "from fastq.tools.cli import main\nsys.exit(main(sys.argv[1:]))\n"
)


def test_help_and_info():
    r = run_fastq("--help")
    assert r.returncode == 0 and "bench" in r.stdout and "demo" in r.stdout
    r = run_fastq()
    assert r.returncode == 2 and "usage" in r.stdout
    r = run_fastq("info")
    assert r.returncode == 0 and fastq.active_isa() in r.stdout


def test_core_imports_without_optional_dependencies():
    code = (
        "import sys\nfor m in ('sklearn', 'matplotlib', 'tqdm', 'threadpoolctl'): sys.modules[m] = None\n"
        "import fastq, fastq.tools.cli, fastq.tools.tasks, fastq.tools.demo\nprint('ok')\n"
    )
    r = run_fastq(code=code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


# ---------------------------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory):
    """One real ``bench --quick`` run with --json and --plot, shared by the checks below."""
    if os.environ.get("FASTQ_TEST_UNDER_QEMU"):
        # It times every row, the zoo models included: minutes under emulation. The CLI's code is
        # the same on every architecture; the native run covers it.
        pytest.skip("a real bench run under qemu emulation takes minutes")
    out = tmp_path_factory.mktemp("bench")
    try:
        import matplotlib  # noqa: F401

        plot = ["--plot", str(out / "b.png")]
    except ImportError:  # --plot without matplotlib is an error (tested below)
        plot = []
    r = run_fastq("bench", "--quick", "--json", str(out / "b.json"), *plot, "--progress", "always")
    return r, out


def test_bench_quick_runs(quick_bench):
    r, _out = quick_bench
    assert r.returncode == 0, r.stdout + r.stderr
    assert "binary_matmul" in r.stdout and "speedup" in r.stdout
    assert f"isa:      {fastq.active_isa()}" in r.stdout
    assert "wall time" in r.stdout
    assert "done" in r.stderr  # the progress bar reached its end
    if any(k in os.environ for k in env.OPENBLAS_VARS):
        assert "re-running without" in r.stderr
        assert "NumPy ran without" in r.stdout


def test_bench_quick_json(quick_bench):
    _r, out = quick_bench
    report = json.loads((out / "b.json").read_text())
    m = report["machine"]
    for key in ("cpu", "isa_active", "isa_available", "num_threads", "numpy", "openblas_env"):
        assert key in m
    assert m["isa_active"] == fastq.active_isa()
    assert m["openblas_env"]["set"] == {}  # NumPy ran without the OpenBLAS variables
    assert report["wall_time_s"] > 0  # the time limits are benchmarks' business, not a test's
    records = report["results"]
    for r_ in records:
        assert not str(r_["check"]).startswith("MISMATCH"), r_
    quant = [r_ for r_ in records if r_["kind"] == "quantizer"]
    for name in reference.CLASS_NAMES:
        passes = {r_["pass"] for r_ in quant if r_["name"] == name}
        assert passes == {"forward", "backward"}, name
    assert any(r_["baseline"].startswith("numpy idiom") for r_ in quant)
    for r_ in quant:
        assert r_["fastq_ns"] > 0 and r_["baseline_ns"] > 0 and r_["speedup"] > 0
        assert r_["fastq_ns_per_element"] == pytest.approx(r_["fastq_ns"] / r_["elements"])
        assert r_["repeats"] >= 3
    mm = [r_ for r_ in records if r_["kind"] == "binary_matmul"]
    assert {r_["name"] for r_ in mm} == {"S1", "S4"}
    for r_ in mm:
        assert r_["baseline_ns"] > 0
        assert r_["check"] == "exact" and r_["speedup"] > 0
        frac = r_["peak_fraction"]
        assert frac is None or 0 < frac < 2
        if report["popcount_peak"] is None:
            assert frac is None  # never invented


def test_bench_quick_plot(quick_bench):
    pytest.importorskip("matplotlib")
    _r, out = quick_bench
    png = out / "b.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_plot_without_matplotlib_is_an_error(tmp_path):
    png = tmp_path / "p.png"
    r = run_fastq(
        "bench",
        "--quick",
        "--size",
        "4096",
        "--shapes",
        "S1",
        "--time-limit",
        "0.5",
        "--keep-openblas-env",
        "--plot",
        str(png),
        code=BLOCK.format(mods=("matplotlib",)),
    )
    assert r.returncode == 2, r.stderr
    assert "matplotlib" in r.stderr and 'pip install "fastq-bnn[demo]"' in r.stderr
    assert not png.exists() and "Quantizers" not in r.stdout  # refused before measuring anything


def test_bench_json_to_stdout(tmp_path):
    r = run_fastq(
        "bench",
        "--quick",
        "--size",
        "4096",
        "--shapes",
        "S1",
        "--time-limit",
        "0.5",
        "--keep-openblas-env",
        "--json",
        "-",
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)  # --json -: JSON alone on stdout, the table on stderr
    assert report["results"] and "Quantizers" in r.stderr
    for r_ in report["results"]:
        assert isinstance(r_["stable"], bool) and r_["spread"] >= 0


def test_bench_rejects_unknown_shape():
    r = run_fastq("bench", "--shapes", "S9", "--keep-openblas-env")
    assert r.returncode == 2 and "S9" in r.stderr


def test_reexec_drops_openblas_variables(monkeypatch):
    seen = {}

    def fake_execve(path, argv, env):
        seen.update(path=path, argv=argv, env=env)
        raise SystemExit(0)

    monkeypatch.setattr(os, "name", "posix")
    monkeypatch.setattr(os, "execve", fake_execve)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "512")
    monkeypatch.delenv(env.UNSET_MARKER, raising=False)
    with pytest.raises(SystemExit):
        cli.main(["bench", "--quick"])
    assert seen["path"] == sys.executable
    assert seen["argv"][-4:] == ["-m", "fastq", "bench", "--quick"]
    assert not any(k in seen["env"] for k in env.OPENBLAS_VARS)
    assert seen["env"][env.UNSET_MARKER] == "OPENBLAS_CORETYPE=Haswell\nOPENBLAS_L2_SIZE=512"
    # In the re-executed process the marker is there: no second re-exec, and it is reported.
    monkeypatch.setenv(env.UNSET_MARKER, "OPENBLAS_CORETYPE=Haswell")
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    monkeypatch.delenv("OPENBLAS_L2_SIZE")
    assert env.reexec_without_openblas_vars("fastq bench", ["-m", "fastq", "bench"]) is None
    assert env.openblas_env() == {"unset": {"OPENBLAS_CORETYPE": "Haswell"}, "set": {}}


def test_reexec_of_a_script_keeps_its_command_line(monkeypatch):
    # bench/report_*.py call the policy with no argv: the process's own command line is re-run.
    seen = {}

    def fake_execve(path, argv, env_):
        seen.update(path=path, argv=argv, env=env_)
        raise SystemExit(0)

    monkeypatch.setattr(os, "name", "posix")
    monkeypatch.setattr(os, "execve", fake_execve)
    monkeypatch.setattr(
        sys, "orig_argv", ["python3", "-X", "dev", "bench/report_binary.py", "--rounds", "3"], raising=False
    )
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv(env.UNSET_MARKER, raising=False)
    with pytest.raises(SystemExit):
        env.reexec_without_openblas_vars("bench/report_binary.py")
    assert seen["argv"] == [sys.executable, "-X", "dev", "bench/report_binary.py", "--rounds", "3"]
    assert "OPENBLAS_CORETYPE" not in seen["env"] and seen["env"][env.UNSET_MARKER] == "OPENBLAS_CORETYPE=Haswell"


def test_measure_interleaves_and_calibrates():
    calls = []
    stats = timing.measure(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
        budget_s=0.01,
        min_sample_ns=200_000,
        min_repeats=3,
        max_repeats=5,
    )
    for s in stats.values():
        assert 3 <= s.repeats <= 5
        assert s.inner > 1  # an append takes far less than 0.2 ms: the inner loop grew
        assert s.q1_ns <= s.median_ns <= s.q3_ns and s.min_ns <= s.median_ns
    # Interleaved: both candidates' samples alternate rather than running back to back.
    switches = sum(1 for x, y in zip(calls, calls[1:]) if x != y)
    assert switches >= stats["a"].repeats


def test_measure_repeats_until_stable_or_marks_unstable():
    import time as _time

    # A candidate whose every other call takes 4x longer: its spread never falls under 10%.
    state = {"n": 0}

    def noisy():
        state["n"] += 1
        _time.sleep(0.0004 if state["n"] % 2 else 0.0001)

    t0 = _time.perf_counter()
    stats = timing.measure(
        {"noisy": noisy},
        budget_s=0.01,
        min_sample_ns=100_000,
        min_repeats=3,
        max_repeats=5,
        deadline=_time.perf_counter() + 0.3,
        max_spread=0.10,
    )
    assert stats["noisy"].repeats > 5  # went on past the planned rounds
    assert _time.perf_counter() - t0 < 3  # and stopped at the cap
    assert stats["noisy"].spread > 0.10
    row = tasks.timed_record("x", "n", "noisy row", stats["noisy"], "b", stats["noisy"], "exact", 0.10)
    assert row["stable"] is False
    report = {
        "fastq": "0",
        "machine": {
            "cpu": "c",
            "machine": "m",
            "isa_active": "scalar",
            "isa_available": [],
            "num_threads": 1,
            "numpy": "1",
            "python": "3",
        },
        "plan": {"max_spread": 0.10},
        "results": [row],
        "wall_time_s": 1.0,
    }
    text = report_mod.format_report(report)
    assert "unstable" in text and "1 row(s) unstable" in text
    assert f"{row['speedup']:.2f}x" not in text  # no headline figure from noise
    # A steady candidate is stable after its planned rounds.
    stats = timing.measure(
        {"steady": lambda: None},
        budget_s=0.01,
        min_sample_ns=200_000,
        min_repeats=5,
        max_repeats=5,
        deadline=_time.perf_counter() + 5,
        max_spread=0.5,
    )
    assert stats["steady"].spread <= 0.5 and stats["steady"].repeats == 5


def test_compare_checks():
    x = np.array([1.0, -0.0, np.nan, 2.0], np.float32)
    assert checks.compare(x, x.copy()) == ("exact", 0)
    y = x.copy()
    y[3] = np.nextafter(np.float32(2), np.float32(3))
    assert checks.compare(y, x) == ("<= 1 ulp", 1)
    y[3] = 3.0
    assert checks.compare(y, x)[0].startswith("MISMATCH")
    assert checks.compare(np.array([1, 2], np.int32), np.array([1, 3], np.int32))[0].startswith("MISMATCH")
    assert checks.compare(np.zeros(3, np.float32), np.full(3, -0.0, np.float32)) == ("exact", 0)


# ---------------------------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------------------------


def test_demo_without_scikit_learn():
    r = run_fastq("demo", code=BLOCK.format(mods=("sklearn",)))  # checked before any re-exec
    assert r.returncode == 2
    assert 'pip install "fastq-bnn[demo]"' in r.stderr and "scikit-learn" in r.stderr


def test_demo_full_run():
    """The real demo (default training): accuracy >= 0.90, packed == float simulation."""
    pytest.importorskip("sklearn")
    r = run_fastq("demo", "--json", "--timing-budget", "1")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)  # JSON alone on stdout; the log is on stderr
    for key in ("test_accuracy", "packed_agreement", "speedup"):
        assert isinstance(result[key], float)
    assert result["test_accuracy"] >= 0.90
    assert result["packed_agreement"] == 1.0
    assert result["logits_identical"] is True
    assert result["speedup"] > 0 and result["speedup_single_sample"] > 0
    assert result["weights_packed_bytes"] * 30 < result["weights_float32_bytes"]
    assert result["wall_time_s"] > 0
    assert "test accuracy" in r.stderr


def test_demo_training_is_deterministic():
    pytest.importorskip("sklearn")
    from fastq.tools import demo

    cfg = demo.DemoConfig(epochs=2, hidden=(32, 32))
    x_train, _, y_train, _ = demo.load_data(cfg)
    a = demo.encode(x_train, cfg.thresholds)
    runs = [demo.train(cfg, a, y_train, log=lambda msg: None) for _ in range(2)]
    for p, q in zip(runs[0].params, runs[1].params):
        assert np.array_equal(p, q)
    # The thermometer code: +1 exactly where pixel >= threshold.
    px = np.array([[0, 1, 5, 16] + [0] * 60], np.float32)
    code = demo.encode(px, demo.THRESHOLDS).reshape(4, 64)  # threshold-major
    assert code[:, :4].T.tolist() == [[-1, -1, -1, -1], [1, -1, -1, -1], [1, 1, -1, -1], [1, 1, 1, 1]]


def test_exact_matmul_is_exact():
    from fastq.tools import demo

    rng = np.random.default_rng(1)
    d = (rng.standard_normal((64, 50)) * 1e-3).astype(np.float32)
    s = np.where(rng.random((50, 7)) < 0.5, np.float32(-1), np.float32(1))
    got = demo._exact_matmul(d, s)
    # The grid is 2**-30 of the largest |d|: compare with a float64 product on that grid.
    np.testing.assert_allclose(got, (d.astype(np.float64) @ s).astype(np.float32), rtol=1e-6, atol=1e-12)
    assert np.array_equal(demo._exact_matmul(d, s), demo._exact_matmul(d.copy(order="F"), s))
