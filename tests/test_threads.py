"""Concurrency and threading (docs/architecture.md, "Threads"): fastq releases the GIL around its
kernels and runs large inputs on its own thread pool.

(a) 8 Python threads call the same quantizer instance at once, on different data, large (pool)
    and small (calling thread) inputs: every result equals the sequential one, bit for bit.
(b) ``fastq.set_num_threads(n)`` for n = 1..4 gives bit-identical quantizer passes and
    reductions (fixed partitioning).
(c) the same for ``binary_matmul`` when binary inference exists.
(d) fork safety: a child forked after the pool was used (even while another thread is inside
    a pooled call) runs a large pass correctly and exits 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastq
from fastq import _core

N_PY_THREADS = 8
BIG = (1 << 17) + 37  # above the size at which a pass is split over the pool
MAX_THREADS = 4

QUANTIZERS = [
    fastq.Quantizer(),
    fastq.NoOp(precision=2),
    fastq.SteSign(),
    fastq.SteSign(clip_value=None),
    fastq.ApproxSign(),
    fastq.SteHeaviside(clip_value=0.5),
    fastq.SwishSign(beta=10.0),
    fastq.MagnitudeAwareSign(),
    fastq.SteTern(),
    fastq.SteTern(ternary_weight_networks=True),
    fastq.DoReFa(k_bit=3),
    fastq.DoReFa(k_bit=2, mode="weights"),
]
IDS = [repr(q) for q in QUANTIZERS]
CONCURRENT = [
    fastq.SteSign(),
    fastq.SwishSign(),
    fastq.MagnitudeAwareSign(),
    fastq.SteTern(ternary_weight_networks=True),
    fastq.DoReFa(k_bit=4, mode="weights"),
    fastq.ApproxSign(),
]
CONCURRENT_IDS = [repr(q) for q in CONCURRENT]


@pytest.fixture
def restore_threads():
    n = fastq.get_num_threads()
    yield
    fastq.set_num_threads(n)


def data(shape, dtype, seed):
    """Normal values with zeros, ±1 (clip edges), NaN-free (so every element is comparable)."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 0.7).astype(dtype)
    flat = x.reshape(-1)
    flat[::97] = 0
    flat[1::89] = 1
    flat[2::83] = -1
    return x


def bits_equal(a, b):
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and np.array_equal(
            np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}"), np.ascontiguousarray(b).view(f"u{b.dtype.itemsize}")
        )
    )


def run_concurrently(fn, n):
    """fn(i) for i in range(n), all n started together; returns the results in order."""
    barrier = threading.Barrier(n)

    def task(i):
        barrier.wait(timeout=60)
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as ex:
        return list(ex.map(task, range(n)))


def os_threads():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# (a) many Python threads, one quantizer instance
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", CONCURRENT, ids=CONCURRENT_IDS)
def test_one_instance_from_eight_threads(q, restore_threads):
    fastq.set_num_threads(2)
    # Per thread: a large 2-D input (pool, and per-channel scales for MagnitudeAwareSign), a
    # large 1-D one, and a small one (stays on the calling thread); float32 and float64.
    inputs = []
    for i in range(N_PY_THREADS):
        dt = np.float32 if i % 2 == 0 else np.float64
        inputs.append([data((BIG // 131, 131), dt, i), data(BIG, dt, 100 + i), data((7, 5), dt, 200 + i)])
    dys = [[data(x.shape, x.dtype, 1000 + 10 * i + j) for j, x in enumerate(xs)] for i, xs in enumerate(inputs)]
    expected = [[(q(x), q.grad(x, dy)) for x, dy in zip(xs, ds)] for xs, ds in zip(inputs, dys)]

    def work(i):
        out = []
        for _ in range(3):
            for x, dy in zip(inputs[i], dys[i]):
                out.append((q(x), q.grad(x, dy)))
        return out

    results = run_concurrently(work, N_PY_THREADS)
    for i, res in enumerate(results):
        for r, (y, g) in enumerate(res):
            ey, eg = expected[i][r % 3]
            assert bits_equal(y, ey), f"thread {i}, call {r}: forward differs from the sequential result"
            assert bits_equal(g, eg), f"thread {i}, call {r}: grad differs from the sequential result"


def test_eight_threads_with_out_and_different_instances(restore_threads):
    # Different quantizers at once, writing into preallocated outputs (in place for half).
    fastq.set_num_threads(MAX_THREADS)
    qs = [CONCURRENT[i % len(CONCURRENT)] for i in range(N_PY_THREADS)]
    xs = [data(BIG, np.float32, 300 + i) for i in range(N_PY_THREADS)]
    expected = [q(x) for q, x in zip(qs, xs)]

    def work(i):
        x = xs[i].copy()
        out = x if i % 2 else np.empty_like(x)
        for _ in range(4):
            x[...] = xs[i]
            assert qs[i](x, out=out) is out
        return out

    for i, y in enumerate(run_concurrently(work, N_PY_THREADS)):
        assert bits_equal(y, expected[i]), f"thread {i} ({qs[i]!r})"


def test_the_pool_really_runs_threads():
    """In a fresh interpreter with FASTQ_NUM_THREADS=3, a large pass starts 2 worker threads
    (the pool starts them on first need and keeps them)."""
    if os_threads() is None:
        pytest.skip("/proc/self/task is not available")
    code = (
        "import os, numpy as np, fastq\n"
        "count = lambda: len(os.listdir('/proc/self/task'))\n"
        "before = count()\n"
        f"fastq.SteSign()(np.ones({4 * BIG}, np.float32))\n"
        "print(count() - before)\n"
    )
    env = {**os.environ, "FASTQ_NUM_THREADS": "3"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip()) == 2, r.stdout


# ---------------------------------------------------------------------------------------------
# (b) the thread count does not change a single bit
# ---------------------------------------------------------------------------------------------

SHAPES = [(300_007,), (1 << 17,), (2, 150_001), (1001, 301), (2999, 101), (65_537, 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("q", QUANTIZERS, ids=IDS)
def test_quantizers_identical_for_every_thread_count(q, dtype, restore_threads):
    for s, shape in enumerate(SHAPES):
        x = data(shape, dtype, s)
        dy = data(shape, dtype, 50 + s)
        results = {}
        for n in range(1, MAX_THREADS + 1):
            fastq.set_num_threads(n)
            assert fastq.get_num_threads() == n
            results[n] = (q(x), q.grad(x, dy))
        for n in range(2, MAX_THREADS + 1):
            assert bits_equal(results[n][0], results[1][0]), f"{shape}: forward with {n} threads != 1 thread"
            assert bits_equal(results[n][1], results[1][1]), f"{shape}: grad with {n} threads != 1 thread"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reductions_identical_for_every_thread_count(dtype, restore_threads):
    k = _core.active
    cases = [data(s, dtype, 7 + i) for i, s in enumerate(SHAPES)]
    # Wide magnitudes so that the summation order would show in the last bits.
    rng = np.random.default_rng(5)
    wide = (rng.standard_normal(300_007) * 10.0 ** rng.uniform(-8, 8, 300_007)).astype(dtype)
    cases.append(wide)
    cases.append(wide[:300_006].reshape(-1, 6)[:, :5].copy())
    for x in cases:
        got = {}
        for n in range(1, MAX_THREADS + 1):
            fastq.set_num_threads(n)
            scale = np.empty(x.shape[-1], dtype)
            k.channel_abs_mean(x, scale)
            got[n] = (k.abs_sum(x), k.max_abs(x), scale)
        for n in range(2, MAX_THREADS + 1):
            assert got[n][0] == got[1][0] or (np.isnan(got[n][0]) and np.isnan(got[1][0])), (
                f"abs_sum {x.shape}, {n} threads"
            )
            assert got[n][1] == got[1][1], f"max_abs {x.shape}, {n} threads"
            assert bits_equal(got[n][2], got[1][2]), f"channel_abs_mean {x.shape}, {n} threads"
        # And the values are right: float64 sums within a relative 1e-12 of math.fsum-like NumPy.
        np.testing.assert_allclose(got[1][0], np.sum(np.abs(x), dtype=np.float64), rtol=1e-12)
        assert got[1][1] == np.max(np.abs(x))


# ---------------------------------------------------------------------------------------------
# (c) binary_matmul
# ---------------------------------------------------------------------------------------------


def _binary_matmul():
    fn = getattr(fastq, "binary_matmul", None)
    if fn is None:
        try:
            from fastq.binary import binary_matmul as fn
        except ImportError:
            fn = None
    if fn is None or not hasattr(_core.Kernels, "binary_matmul"):
        pytest.skip("binary inference is not available")
    return fn


@pytest.mark.parametrize("m, n, k", [(257, 129, 1000), (64, 300, 77), (1, 513, 4097), (1031, 3, 64)])
def test_binary_matmul_identical_for_every_thread_count(m, n, k, restore_threads):
    binary_matmul = _binary_matmul()
    from fastq import reference

    rng = np.random.default_rng(m * n + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k)).astype(np.float32)
    a[:, ::13] = 0.0
    b[::5, 1::7] = -0.0
    expected = reference.binary_matmul(a, b)
    for t in range(1, MAX_THREADS + 1):
        fastq.set_num_threads(t)
        c = binary_matmul(a, b)
        assert c.dtype == expected.dtype and np.array_equal(c, expected), f"{t} threads"


@pytest.mark.parametrize("threads", [3, 16, 64])
def test_more_threads_than_cores_every_task_once(threads, restore_threads):
    """A region deals its tasks in one contiguous share per thread; a thread that is late (here
    most are: more threads than cores) has its share taken from the back by the others. Every
    task must still run: a binary convolution split into many pixel ranges and a pass with more
    tasks than threads, each into an output filled with NaN first, so that a range no task
    wrote differs from the one-thread result."""
    r = np.random.default_rng(threads)
    x = r.standard_normal((3, 30, 29, 64)).astype(np.float32)
    kernel = r.standard_normal((3, 3, 64, 40)).astype(np.float32)
    scale = r.standard_normal(40).astype(np.float32)
    layer = fastq.BinaryConv2D(kernel, padding="same", scale=scale)
    big = r.standard_normal(40 * BIG).astype(np.float32)
    fastq.set_num_threads(1)
    expected = layer(x), fastq.SteSign()(big)
    fastq.set_num_threads(threads)
    y, s = np.empty_like(expected[0]), np.empty_like(expected[1])
    for _ in range(3):
        y.fill(np.nan)
        s.fill(np.nan)
        layer(x, out=y)
        fastq.SteSign()(big, out=s)
        assert np.array_equal(y, expected[0]) and bits_equal(s, expected[1])


def test_binary_matmul_from_eight_threads(restore_threads):
    binary_matmul = _binary_matmul()
    fastq.set_num_threads(2)
    rng = np.random.default_rng(3)
    pairs = [
        (rng.standard_normal((200, 300)).astype(np.float32), rng.standard_normal((150, 300)).astype(np.float32))
        for _ in range(N_PY_THREADS)
    ]
    expected = [binary_matmul(a, b) for a, b in pairs]
    results = run_concurrently(lambda i: [binary_matmul(*pairs[i]) for _ in range(3)], N_PY_THREADS)
    for i, rs in enumerate(results):
        for c in rs:
            assert np.array_equal(c, expected[i]), f"thread {i}"


# ---------------------------------------------------------------------------------------------
# (d) fork safety
# ---------------------------------------------------------------------------------------------


def _fork_and_check(x, expected, q, child_threads):
    """Fork; the child computes q(x) with ``child_threads`` threads and exits 0 when it equals
    ``expected``. Returns the child's exit status; kills the child after 60 s."""
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork() in a multi-threaded process: that is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            fastq.set_num_threads(child_threads)
            ok = bits_equal(q(x), expected) and bits_equal(q(x), expected)
            fastq.set_num_threads(1)
            ok = ok and bits_equal(q(x), expected)
            code = 0 if ok else 3
        except BaseException:
            code = 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung (deadlock in the thread pool after fork?)")
        time.sleep(0.01)


# Skipped under qemu-user 7.2 (a child forked from a threaded process crashes when it starts
# threads) and under GCC 12's AddressSanitizer: its allocator takes no lock around fork() (LLVM
# added that in 2023, llvm/llvm-project#75290), so a child forked while any other thread (a
# just-started pool worker, OpenBLAS, a busy Python thread) is inside malloc or free deadlocks
# on its first allocation. glibc's malloc is fork-safe; these tests run in every normal build.
needs_fork = pytest.mark.skipif(
    not hasattr(os, "fork")
    or sys.platform == "darwin"
    or bool(os.environ.get("FASTQ_TEST_UNDER_QEMU"))
    or bool(os.environ.get("FASTQ_TEST_UNDER_ASAN")),
    reason="needs os.fork, and a fork-safe allocator (not qemu-user 7.2, not GCC 12's ASan runtime)",
)


@needs_fork
@pytest.mark.parametrize("child_threads", [1, 2, 4])
def test_fork_after_using_the_pool(child_threads, restore_threads):
    q = fastq.MagnitudeAwareSign()
    fastq.set_num_threads(MAX_THREADS)
    x = data((4099, 64), np.float32, 11)
    expected = q(x)  # the pool has worker threads now
    status = _fork_and_check(x, expected, q, child_threads)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status:#x}"
    assert bits_equal(q(x), expected)  # and the parent's pool still works


@needs_fork
def test_fork_while_another_thread_is_inside_a_pooled_call(restore_threads):
    q = fastq.SwishSign()
    fastq.set_num_threads(2)
    x = data(4 * BIG, np.float32, 12)
    dy = data(4 * BIG, np.float32, 13)
    expected = q.grad(x, dy)
    stop = threading.Event()
    errors = []

    def busy():
        while not stop.is_set():
            if not bits_equal(q.grad(x, dy), expected):
                errors.append("busy thread got a different result")

    t = threading.Thread(target=busy)
    t.start()
    try:
        statuses = []
        small = fastq.SteSign()
        xs = data(BIG, np.float32, 14)
        for _ in range(5):
            time.sleep(0.003)
            statuses.append(_fork_and_check(xs, small(xs), small, 2))
    finally:
        stop.set()
        t.join(timeout=60)
    assert not errors
    for s in statuses:
        assert os.WIFEXITED(s) and os.WEXITSTATUS(s) == 0, f"child status {s:#x}"


@needs_fork
def test_multiprocessing_fork_pool(restore_threads):
    import multiprocessing as mp

    fastq.set_num_threads(2)
    x = data(BIG, np.float64, 15)
    fastq.DoReFa(k_bit=2, mode="weights")(x)  # use the pool before forking
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with mp.get_context("fork").Pool(2) as pool:
            # A worker that dies or deadlocks makes pool.map wait forever: fail after 120 s
            # instead (leaving the with-block terminates the workers).
            pending = pool.map_async(_dorefa_weights_in_child, [BIG, BIG + 1, 3], chunksize=1)
            try:
                results = pending.get(timeout=120)
            except mp.TimeoutError:
                pytest.fail("a multiprocessing worker hung (deadlock in the thread pool after fork?)")
    for n, y in zip([BIG, BIG + 1, 3], results):
        assert bits_equal(y, fastq.DoReFa(k_bit=2, mode="weights")(data(n, np.float64, n)))


def _dorefa_weights_in_child(n):
    fastq.set_num_threads(2)
    return fastq.DoReFa(k_bit=2, mode="weights")(data(n, np.float64, n))
