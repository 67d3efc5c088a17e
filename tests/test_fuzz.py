"""A randomized API fuzzer: hypothesis builds programs of random calls to every public entry
point (random types, shapes up to ~1e6 elements, dtypes, strides, byte orders, parameters, out=
arrays, thread counts, and the order of the calls). Every call must either return or raise
TypeError/ValueError (AttributeError for assignments) with fastq's own message; a crash, a hang,
another exception or a binding library's generic message fails.

FASTQ_FUZZ_CALLS sets how many calls (default 20000; .ci/run's normal build runs the default,
scripts/test-sanitizers.sh 5000, the aarch64 run under qemu fewer)."""

import os
import pickle

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastq
from fastq import quantizers as Q

CALLS = int(os.environ.get("FASTQ_FUZZ_CALLS", "20000"))
PER_EXAMPLE = 50
EXAMPLES = max(1, CALLS // PER_EXAMPLE)

ALLOWED = (TypeError, ValueError)
GENERIC = ("incompatible function arguments", "Unable to cast", "(#define PYBIND11", "std::", "terminate called")

DTYPES = [
    "float16",
    "float32",
    "float64",
    ">f4",
    ">f8",
    "int8",
    "int32",
    "uint8",
    "bool",
    "complex64",
    "object",
    "U3",
    "longdouble",
]
QUANTIZERS = [
    Q.SteSign,
    Q.ApproxSign,
    Q.SteHeaviside,
    Q.SwishSign,
    Q.MagnitudeAwareSign,
    Q.SteTern,
    Q.DoReFa,
    Q.NoOp,
    Q.Quantizer,
]
FUNCTIONS = [Q.ste_sign, Q.approx_sign, Q.swish_sign, Q.ste_heaviside, Q.ste_tern]
WEIRD = [
    None,
    "x",
    b"\x00",
    1.5,
    3,
    True,
    [1.0, -2.0],
    [[1.0], [2.0, 3.0]],
    {"a": 1},
    object(),
    float("nan"),
    2**70,
    -1,
    0,
    np.float32(0.5),
    np.int64(7),
]


_BIG = {}


@st.composite
def arrays(draw, big=True):
    """A random array: any dtype, 0-4 dimensions, views (strided, reversed, transposed,
    misaligned), byte-swapped, sometimes read-only; rarely ~1e6 elements."""
    if big and draw(st.integers(0, 99)) == 0:
        n = draw(st.sampled_from([100_003, (1 << 19) + 17, 1_000_000]))
        dt = draw(st.sampled_from(["float32", "float64"]))
        if (n, dt) not in _BIG:  # made once: random generation would dominate the run time
            _BIG[n, dt] = np.random.default_rng(n).standard_normal(n).astype(dt)
        a = _BIG[n, dt].copy()
        a[draw(st.integers(0, n - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 0.0]))
        return a
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 9 if ndim > 2 else 70), min_size=ndim, max_size=ndim)))
    dt = np.dtype(draw(st.sampled_from(DTYPES)))
    n = int(np.prod(shape))
    vals = draw(
        st.lists(
            st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, -0.7, 1e-40, 3e38, np.nan, np.inf, -np.inf, 2.0]),
            min_size=1,
            max_size=4,
        )
    )
    base = np.resize(np.array(vals), n).reshape(shape)
    with np.errstate(all="ignore"):
        a = base.astype(dt) if dt.kind != "U" else base.astype(str).astype(dt)
    view = draw(st.sampled_from(["none", "step", "rev", "T", "misaligned", "readonly", "fortran", "broadcast"]))
    if view == "step" and a.ndim:
        a = np.repeat(a, 2, axis=-1)[..., ::2]
    elif view == "rev" and a.ndim:
        a = a[..., ::-1]
    elif view == "T":
        a = a.T
    elif view == "misaligned" and a.size and dt.kind in "fiu" and dt.itemsize > 1:
        buf = np.zeros(a.nbytes + 1, np.uint8)
        m = buf[1:].view(a.dtype.newbyteorder("=") if a.dtype.isnative else a.dtype).reshape(a.shape)
        m[...] = a
        a = m
    elif view == "readonly":
        a = a.copy()
        a.flags.writeable = False
    elif view == "fortran":
        a = np.asfortranarray(a)
    elif view == "broadcast" and a.ndim:
        a = np.broadcast_to(a, (2,) + a.shape)
    return a


def values(draw):
    return draw(st.one_of(arrays(), st.sampled_from(WEIRD)))


def params(draw, cls):
    good = {
        Q.SteSign: {"clip_value": [1.0, 0.0, None, 0.3]},
        Q.SteHeaviside: {"clip_value": [1.0, 0.5, None]},
        Q.MagnitudeAwareSign: {"clip_value": [1.0, None]},
        Q.SwishSign: {"beta": [5.0, 0.5, 1e30]},
        Q.SteTern: {
            "threshold_value": [0.05, 0.0, np.inf],
            "ternary_weight_networks": [True, False],
            "clip_value": [1.0, None],
        },
        Q.DoReFa: {"k_bit": [1, 2, 8, 32], "mode": ["activations", "weights"]},
        Q.NoOp: {"precision": [1, 8]},
        Q.Quantizer: {},
        Q.ApproxSign: {},
    }[cls]
    kw = {k: draw(st.sampled_from(v)) for k, v in good.items() if draw(st.booleans()) or cls is Q.NoOp}
    if draw(st.integers(0, 9)) == 0:  # a bad parameter value or name
        key = draw(st.sampled_from([*good, "bogus", "metrics"]))
        kw[key] = draw(st.sampled_from(WEIRD + ["no", "flip_ratio", -3, 33, 2.5, ["flip_ratio"], ()]))
    return kw


def check_exception(e):
    assert isinstance(e, ALLOWED), f"{type(e).__name__}: {e}"
    msg = str(e)
    assert msg, f"{type(e).__name__} without a message"
    for g in GENERIC:
        assert g not in msg, f"generic binding message: {msg}"


def one_call(draw, state):
    kind = draw(
        st.sampled_from(
            [
                "q",
                "grad",
                "fn",
                "registry",
                "pack",
                "unpack",
                "matmul",
                "dense",
                "words",
                "threads",
                "setattr",
                "pickle",
                "flip",
            ]
        )
    )
    if kind in ("q", "grad", "setattr", "pickle", "flip"):
        cls = draw(st.sampled_from(QUANTIZERS))
        q = cls(**params(draw, cls))
        if kind == "q":
            x = values(draw)
            out = draw(st.one_of(st.none(), arrays(big=False), st.just("same")))
            if isinstance(out, str):
                out = x if isinstance(x, np.ndarray) else None
            y = q(x, out=out)
            assert isinstance(y, np.ndarray) and y.shape == np.shape(x)
        elif kind == "grad":
            x = values(draw)
            dy = draw(st.one_of(st.just("like"), arrays(big=False), st.sampled_from(WEIRD)))
            if isinstance(dy, str) and dy == "like":
                dy = np.ones_like(x) if isinstance(x, np.ndarray) else x
            g = q.grad(x, dy, out=draw(st.one_of(st.none(), arrays(big=False))))
            assert isinstance(g, np.ndarray)
        elif kind == "setattr":
            try:
                setattr(q, draw(st.sampled_from(["clip_value", "beta", "k_bit", "mode", "precision", "x"])), 0.5)
            except AttributeError as e:
                assert "read-only" in str(e) or "can't set" in str(e) or "has no setter" in str(e), str(e)
                return
            raise AssertionError("a parameter was assigned")
        elif kind == "pickle":
            r = pickle.loads(pickle.dumps(q))
            assert r == q and Q.get(Q.serialize(q)) == q
        else:
            qm = cls(**{**params(draw, cls), "metrics": ["flip_ratio"]})
            for _ in range(draw(st.integers(1, 3))):
                qm(values(draw))
    elif kind == "fn":
        f = draw(st.sampled_from(FUNCTIONS))
        f(values(draw))
    elif kind == "registry":
        names = ["ste_sign", "SteSign", "larq>SteTern", "bogus", "NoOp", "DoReFaQuantizer"]
        ident = draw(
            st.one_of(
                st.sampled_from(names),
                st.fixed_dictionaries(
                    {
                        "class_name": st.sampled_from(["SteSign", "DoReFa", "Bogus", 5]),
                        "config": st.sampled_from(
                            [{}, {"k_bit": 3}, {"clip_value": -1}, {"mode": "weights"}, [1], None]
                        ),
                    }
                ),
                st.sampled_from(WEIRD),
            )
        )
        Q.get(ident, custom_objects=draw(st.sampled_from([None, {}, {"X": Q.SteSign}, [1]])))
    elif kind == "pack":
        x = values(draw)
        p = fastq.pack_bits(x, axis=draw(st.sampled_from([-1, 0, 1, -2, 5, 1.0])))
        state.append(p)
    elif kind == "unpack":
        p = state[-1] if state and draw(st.booleans()) else values(draw)
        fastq.unpack_bits(p)
    elif kind == "matmul":
        a = state[-1] if state and draw(st.booleans()) else values(draw)
        b = state[0] if state and draw(st.booleans()) else values(draw)
        fastq.binary_matmul(a, b, out=draw(st.one_of(st.none(), arrays(big=False))))
    elif kind == "dense":
        w = state[0] if state and draw(st.booleans()) else values(draw)
        layer = fastq.BinaryDense(
            w,
            scale=draw(st.one_of(st.none(), arrays(big=False), st.sampled_from(WEIRD))),
            bias=draw(st.one_of(st.none(), st.just(0.5))),
            packed_output=draw(st.sampled_from([False, True, "yes", 1])),
        )
        x = state[-1] if state and draw(st.booleans()) else values(draw)
        layer(x, out=draw(st.one_of(st.none(), arrays(big=False))))
    elif kind == "words":
        w = draw(st.one_of(arrays(big=False), st.just(np.zeros((2, 3), np.uint64))))
        fastq.PackedBits.from_words(w, draw(st.sampled_from([0, 1, 64, 150, 2**31, -1, 2.0, None])))
    elif kind == "threads":
        fastq.set_num_threads(draw(st.sampled_from([1, 2, 3, 0, 1025, 2**31, 2**64, "2", 2.0, None])))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=False,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_fuzz_public_api(restore_threads, data):
    state = []
    for _ in range(PER_EXAMPLE):
        try:
            with np.errstate(all="ignore"):
                one_call(data.draw, state)
        except AssertionError:
            raise
        except BaseException as e:
            check_exception(e)
