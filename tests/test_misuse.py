"""Issue #12's misuse findings, one regression test each: read-only parameters, configs that
say what the object computes (JSON), the registry for user quantizers, masked arrays,
validation before any copy, and messages that name the argument."""

import contextlib
import json
import os
import pickle
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import fastq
from conftest import CASE_IDS, QUANTIZER_CASES
from fastq import _core
from fastq import quantizers as Q

BUILTIN_CONFIGS = [Q.serialize(q) for q in QUANTIZER_CASES]


# -- parameters are read-only; configs describe the object -------------------------------------
@pytest.mark.parametrize("q", QUANTIZER_CASES, ids=CASE_IDS)
def test_parameters_are_read_only(q):
    x = np.linspace(-2, 2, 101, dtype=np.float32)
    before = (Q.serialize(q), q(x), q.grad(x, np.ones_like(x)))
    for name in [*q.get_config(), "precision", "k_bit", "mode", "clip_value", "beta", "new_attribute"]:
        with pytest.raises(AttributeError, match=r"read-only.*build a new"):
            setattr(q, name, 0.6)
    with pytest.raises(AttributeError, match="read-only"):
        del q.precision
    after = (Q.serialize(q), q(x), q.grad(x, np.ones_like(x)))
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(before[2], after[2])
    # A copy or a pickle round trip is read-only too, and equal.
    for r in (pickle.loads(pickle.dumps(q)), Q.get(Q.serialize(q))):
        assert r == q and hash(r) == hash(q)
        with pytest.raises(AttributeError, match="read-only"):
            r.clip_value = 0.6


def test_ste_sign_clip_value_assignment_no_longer_lies():
    q = fastq.SteSign()
    with pytest.raises(AttributeError, match=r"SteSign\.clip_value is read-only"):
        q.clip_value = 0.6
    assert q.grad(np.float32([0.8]), np.float32([1.0]))[0] == 1.0  # still clip_value=1.0


@pytest.mark.parametrize("cfg", BUILTIN_CONFIGS, ids=CASE_IDS)
def test_configs_are_json_and_round_trip(cfg):
    text = json.dumps(cfg)
    q = Q.get(json.loads(text))
    assert Q.serialize(q) == cfg


def test_numpy_scalar_parameters_give_json_configs():
    for q in (
        fastq.SteSign(clip_value=np.float32(0.5)),
        fastq.SwishSign(beta=np.float64(2.0)),
        fastq.SteTern(threshold_value=np.float16(0.25), ternary_weight_networks=np.bool_(True), clip_value=np.int64(2)),
        fastq.DoReFa(k_bit=np.int32(4)),
        fastq.NoOp(precision=np.uint8(3)),
    ):
        cfg = Q.serialize(q)
        assert Q.get(json.loads(json.dumps(cfg))) == q, cfg
        for v in cfg["config"].values():
            assert type(v) in (int, float, bool, str, type(None)), cfg


def test_equality_is_by_class_and_config():
    # Issue #12: equality that ignored the class made equal objects hash differently.
    a, b = fastq.SteSign(), fastq.SteHeaviside()
    assert a.get_config() == b.get_config()
    assert a != b and b != a
    assert fastq.SteSign(clip_value=0.5) != fastq.SteSign()
    assert fastq.DoReFa(mode="weights") != fastq.DoReFa()
    assert fastq.SteTern(ternary_weight_networks=True) != fastq.SteTern()
    assert fastq.SteSign() != "SteSign" and fastq.SteSign() != {"clip_value": 1.0}
    assert len({fastq.SteSign(), fastq.SteSign(), fastq.SteHeaviside(), fastq.MagnitudeAwareSign()}) == 3

    class MySign(fastq.SteSign):
        pass

    assert MySign() != fastq.SteSign() and fastq.SteSign() != MySign()
    assert fastq.SteSign() == fastq.SteSign(clip_value=1) and hash(fastq.SteSign()) == hash(fastq.SteSign(clip_value=1))


# -- registry ----------------------------------------------------------------------------------
def test_user_quantizer_registers_serializes_and_round_trips():
    @Q.register_quantizer
    class ScaledSign(fastq.Quantizer):
        precision = 1

        def __init__(self, factor=2.0, metrics=None):
            self.factor = float(factor)
            super().__init__(metrics=metrics)

        def __call__(self, x, out=None):
            return np.multiply(np.where(np.asarray(x) < 0, -1.0, 1.0), self.factor, out=out)

        def get_config(self):
            return {"factor": self.factor}

    q = ScaledSign(factor=3.0)
    cfg = Q.serialize(q)
    assert cfg == {"class_name": "ScaledSign", "config": {"factor": 3.0}}
    r = Q.get(json.loads(json.dumps(cfg)))
    assert type(r) is ScaledSign and r == q and r.factor == 3.0
    assert Q.get("ScaledSign") == ScaledSign()
    with pytest.raises(AttributeError, match="read-only"):
        q.factor = 1.0
    np.testing.assert_array_equal(q(np.array([-1.0, 2.0])), [-3.0, 3.0])
    with pytest.raises(ValueError, match="is taken by"):
        Q.register_quantizer(name="ScaledSign")(type("ScaledSign", (fastq.Quantizer,), {}))


def test_custom_objects_without_registering():
    class Unregistered(fastq.Quantizer):
        def __init__(self, level=1, metrics=None):
            self.level = level
            super().__init__(metrics=metrics)

        def get_config(self):
            return {"level": self.level}

    cfg = Q.serialize(Unregistered(level=4))
    with pytest.raises(ValueError, match=r"Unknown quantizer: 'Unregistered'.*custom_objects"):
        Q.get(cfg)
    q = Q.get(cfg, custom_objects={"Unregistered": Unregistered})
    assert type(q) is Unregistered and q.level == 4
    assert Q.deserialize("Unregistered", custom_objects={"Unregistered": Unregistered}).level == 1
    with pytest.raises(TypeError, match="custom_objects: expected a dict"):
        Q.get(cfg, custom_objects=[Unregistered])


def test_every_kernel_and_builtin_class_is_covered_by_the_cases():
    """A new quantizer (a line in quantizer_list.hpp, a registered Python class) is found here:
    the shared cases (conftest.QUANTIZER_CASES), which every ISA, reference and misuse test
    walks, must include it."""
    assert {q._kernel for q in QUANTIZER_CASES} == set(_core.quantizer_ids)
    builtin = {c for c in Q._REGISTRY.values() if c.__module__ == "fastq.quantizers"}
    assert builtin == {type(q) for q in QUANTIZER_CASES}


def test_metrics_scope_rejects_a_bare_string():
    want = r"metrics: expected a list of metric names.*'flip_ratio'"
    with pytest.raises(TypeError, match=want), fastq.context.metrics_scope("flip_ratio"):
        pass


def test_register_rejects_non_quantizers():
    with pytest.raises(TypeError, match="expected a Quantizer subclass"):
        Q.register_quantizer(int)


def test_kernel_parameter_names_come_from_the_cpp_files():
    names = _core.quantizer_params
    assert set(names) == set(_core.quantizer_ids)
    assert names["SteSign"] == ("clip_value", "no_clip")
    assert names["SteTern"] == ("clip_value", "no_clip", "threshold", "twn")
    assert names["NoOp"] == ()
    # Every built-in quantizer passes only names its kernel declares.
    for q in QUANTIZER_CASES:
        for rd in (np.dtype(np.float32), np.dtype(np.float64)):
            assert set(q._kernel_params(rd)) <= set(names[q._kernel]), q
    x = np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"unknown parameter 'clip'; this quantizer has: clip_value, no_clip"):
        _core.active.forward(_core.quantizer_ids["SteSign"], x, np.empty_like(x), {"clip": 1.0})
    with pytest.raises(TypeError, match=r"params\['beta'\]: expected a number, got str"):
        _core.active.forward(_core.quantizer_ids["SwishSign"], x, np.empty_like(x), {"beta": "5"})


# -- argument checks -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, exc, pattern",
    [
        (
            lambda: fastq.SteSign(metrics="flip_ratio"),
            TypeError,
            r"metrics: expected a list of metric names.*'flip_ratio'",
        ),
        (lambda: fastq.SteSign(metrics=[3]), TypeError, r"metrics: expected metric names \(str\), got int 3"),
        (
            lambda: fastq.SteTern(ternary_weight_networks="no"),
            TypeError,
            r"ternary_weight_networks: expected True or False, got str 'no'",
        ),
        (
            lambda: fastq.SteTern(ternary_weight_networks=1),
            TypeError,
            r"ternary_weight_networks: expected True or False",
        ),
        (lambda: fastq.SwishSign(beta=float("nan")), ValueError, r"beta: expected a number, got nan"),
        (
            lambda: fastq.SteTern(threshold_value=float("nan")),
            ValueError,
            r"threshold_value: expected a number, got nan",
        ),
        (
            lambda: fastq.SteSign(clip_value=np.float32("nan")),
            ValueError,
            r"clip_value: expected a number >= 0 or None",
        ),
        (lambda: fastq.DoReFa(mode=1), TypeError, r"mode: expected 'activations' or 'weights', got int 1"),
        (lambda: fastq.DoReFa(k_bit="2"), TypeError, r"k_bit: expected an integer in 1\.\.32, got str '2'"),
        (
            lambda: fastq.BinaryDense(np.ones((2, 3), np.float32), packed_output="yes"),
            TypeError,
            r"packed_output: expected True or False, got str 'yes'",
        ),
        (
            lambda: fastq.BinaryConv2D(np.ones((1, 1, 3, 2), np.float32), packed_output="no"),
            TypeError,
            r"packed_output: expected True or False, got str 'no'",
        ),
        (
            lambda: fastq.SteSign()(fastq.pack_bits(np.ones((2, 3), np.float32))),
            TypeError,
            r"x: expected real values, got a PackedBits",
        ),
        (
            lambda: fastq.PackedBits.from_words(np.zeros((1, 2**25), np.uint64), 2**31),
            ValueError,
            r"k: expected a bit count >= 0 and < 2\*\*31",
        ),
    ],
)
def test_bad_arguments_name_themselves(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_packed_words_cannot_be_made_writeable():
    p = fastq.pack_bits(np.ones((2, 70), np.float32))
    for w in (p.words, fastq.PackedBits.from_words(p.words, 70).words, pickle.loads(pickle.dumps(p)).words):
        assert not w.flags.writeable
        with pytest.raises(ValueError):
            w.flags.writeable = True


def test_binary_dense_parameters_are_read_only():
    w = np.random.default_rng(0).standard_normal((8, 70)).astype(np.float32)
    layer = fastq.BinaryDense(w, scale=np.full(8, 2.0, np.float32), bias=np.ones(8, np.float32))
    x = np.random.default_rng(1).standard_normal((3, 70)).astype(np.float32)
    y = layer(x)
    for name, value in (("scale", np.ones(8)), ("bias", 0.0), ("packed_output", True), ("kernel", w), ("units", 3)):
        with pytest.raises(AttributeError, match=r"BinaryDense\.\w+ is read-only.*build a new"):
            setattr(layer, name, value)
    with pytest.raises(ValueError):
        layer.scale[0] = 5.0
    with pytest.raises(ValueError):
        layer.scale.flags.writeable = True
    np.testing.assert_array_equal(layer(x), y)
    assert layer.units == 8 and layer.in_features == 70


# -- masked arrays --------------------------------------------------------------------------------
MASKED = np.ma.masked_array(np.array([-1.0, 2.0, 3.0], np.float32), mask=[False, True, False])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: fastq.SteSign()(MASKED), "x"),
        (lambda: fastq.SteSign().grad(MASKED, np.ones(3, np.float32)), "x"),
        (lambda: fastq.SteSign().grad(np.ones(3, np.float32), MASKED), "dy"),
        (lambda: fastq.SteSign()(np.ones(3, np.float32), out=np.ma.masked_array(np.zeros(3, np.float32))), "out"),
        (lambda: fastq.MagnitudeAwareSign()(MASKED.reshape(1, 3)), "x"),
        (lambda: fastq.pack_bits(MASKED), "x"),
        (lambda: fastq.binary_matmul(MASKED.reshape(1, 3), np.ones((2, 3), np.float32)), "a"),
        (lambda: fastq.BinaryDense(np.ones((2, 3), np.float32), scale=MASKED[:2]), "scale"),
        (lambda: fastq.BinaryDense(np.ones((2, 3), np.float32))(MASKED.reshape(1, 3)), "x"),
        (lambda: fastq.PackedBits.from_words(np.ma.masked_array(np.zeros((1, 1), np.uint64)), 3), "words"),
        (lambda: fastq.binary_matmul(np.ones((2, 3)), np.ones((2, 3)), out=np.ma.zeros((2, 2), np.int32)), "out"),
        (lambda: fastq.BinaryDense(np.ones((2, 3)))(np.ones((2, 3)), out=np.ma.zeros((2, 2), np.float32)), "out"),
        (
            lambda: fastq.binary_conv2d(np.ones((1, 2, 2, 3)), np.ones((1, 1, 3, 2)), out=np.ma.zeros((1, 2, 2, 2))),
            "out",
        ),
        (
            lambda: fastq.BinaryConv2D(np.ones((1, 1, 3, 2)))(np.ones((1, 2, 2, 3)), residual=np.ma.ones((1, 2, 2, 2))),
            "residual",
        ),
    ],
)
def test_masked_arrays_are_refused_not_silently_unmasked(call, name):
    with pytest.raises(TypeError, match=rf"{name}: masked arrays are not supported.*filled"):
        call()


# -- validation before copying --------------------------------------------------------------------
def _peak_bytes(fn):
    tracemalloc.start()
    with contextlib.suppress(ValueError, TypeError):
        fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_bad_out_or_dy_is_reported_before_any_copy():
    big = np.broadcast_to(np.float16(1), (1 << 26,))  # a 128 MiB copy (float32 work) if converted
    q = fastq.SteSign()
    with pytest.raises(ValueError, match="out: expected shape"):
        q(big, out=np.empty(3, np.float16))
    with pytest.raises(ValueError, match="dy: expected shape"):
        q.grad(big, np.ones(3, np.float16))
    with pytest.raises(ValueError, match="out: expected dtype float16"):
        q(big, out=np.empty(big.shape, np.float32)[:0].reshape(0) if False else np.empty(1 << 26, np.float64))
    assert _peak_bytes(lambda: q(big, out=np.empty(3, np.float16))) < (1 << 20)
    assert _peak_bytes(lambda: q.grad(big, np.ones(3, np.float16))) < (1 << 20)


def test_pack_bits_size_limit_is_checked_before_copying():
    big = np.broadcast_to(np.float32(1), (2**31 + 1,))  # an 8 GiB copy if converted
    assert _peak_bytes(lambda: fastq.pack_bits(big)) < (1 << 20)
    with pytest.raises(ValueError, match=r"x: expected fewer than 2\*\*31 values along the packed axis"):
        fastq.pack_bits(big)


# A 64 GiB float32 view of one value: converting (copying) it before a shape check would take
# minutes and all the memory there is.
_HUGE = np.broadcast_to(np.float32(1), (1 << 20, 1 << 14))
_HUGE_NHWC = np.broadcast_to(np.float32(1), (1 << 16, 2, 1 << 10, 8))  # 64 GiB too, H = 2


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: fastq.binary_matmul(_HUGE, np.ones((3, 5), np.float32)), "K mismatch"),
        (lambda: fastq.binary_matmul(np.ones((3, 5), np.float32), _HUGE), "K mismatch"),
        (lambda: fastq.binary_matmul(_HUGE, _HUGE[:3], out=np.empty((2, 3), np.int32)), r"out: expected shape"),
        (lambda: fastq.binary_matmul(_HUGE, _HUGE[:3], out=np.broadcast_to(0.0, (1 << 20, 3))), "out: expected dtype"),
        (lambda: fastq.BinaryDense(_HUGE, scale=np.ones(3)), r"scale: expected a scalar or shape \(1048576,\)"),
        (lambda: fastq.BinaryDense(np.ones((3, 1 << 14), np.float32))(_HUGE, out=np.empty((2, 3))), "out: expected"),
        (
            lambda: fastq.BinaryDense(np.ones((3, 1 << 14), np.float32), packed_output=True)(_HUGE, out=np.empty(3)),
            "out: only for float output",
        ),
        (lambda: fastq.binary_conv2d(_HUGE_NHWC, np.ones((3, 3, 8, 2), np.float32)), "smaller than the"),
        (lambda: fastq.binary_conv2d(_HUGE_NHWC, np.ones((1, 1, 4, 2), np.float32)), "expected C // groups = 8"),
        (
            lambda: fastq.binary_conv2d(_HUGE_NHWC, np.ones((1, 1, 8, 2), np.float32), out=np.empty((1, 2), np.int32)),
            "out: expected shape",
        ),
        (lambda: fastq.BinaryConv2D(np.ones((3, 3, 8, 2), np.float32))(_HUGE_NHWC), "smaller than the"),
        (
            lambda: fastq.BinaryConv2D(np.ones((1, 1, 8, 2), np.float32))(_HUGE_NHWC, residual=np.ones(2, np.float32)),
            "residual: expected shape",
        ),
        (
            lambda: fastq.BinaryConv2D(np.ones((1, 1, 8, 2), np.float32), packed_output=True)(
                _HUGE_NHWC, out=np.empty(2, np.uint64)
            ),
            "out: expected shape",
        ),
        (lambda: fastq.BinaryConv2D(_HUGE.reshape(1 << 10, 1 << 10, 1 << 14, 1), strides=0), "strides"),
        (lambda: fastq.BinaryConv2D(_HUGE.reshape(1 << 20, 1, 1 << 14, 1), scale=np.ones(2)), "scale: expected"),
        (
            lambda: fastq.binary_conv2d(np.ones((1, 1, 1, 1 << 14), np.float32), _HUGE.reshape(1024, 1024, -1, 1)),
            r"2\*\*31",
        ),
    ],
)
def test_binary_shape_errors_come_before_any_copy(call, match):
    """Issue #12: binary_matmul, BinaryDense and the convolutions copied a broadcast (or
    otherwise converted) input before the error its shape alone implies."""
    with pytest.raises(ValueError, match=match):
        call()
    assert _peak_bytes(call) < (1 << 20)


def test_broadcast_input_gets_its_output_before_the_copy():
    """The output (the other large allocation a conversion needs) is made, or out= checked,
    before the input is copied; results are those of the contiguous input."""
    x = np.broadcast_to(np.float32(-1), (3, 70))
    w = np.where(np.arange(140).reshape(2, 70) % 3, 1, -1).astype(np.float32)
    ref = np.ascontiguousarray(x) @ w.T
    np.testing.assert_array_equal(fastq.BinaryDense(w)(x), ref)
    np.testing.assert_array_equal(fastq.BinaryDense(w, packed_output=True)(x).unpack(), np.where(ref < 0, -1, 1))
    out = np.empty((3, 2), np.int32)
    assert fastq.binary_matmul(x, w, out=out) is out
    np.testing.assert_array_equal(out, ref)
    xc = np.broadcast_to(np.float64(-2), (1, 4, 4, 3))
    k = np.where(np.arange(54).reshape(3, 3, 3, 2) % 2, 1.0, -1.0)
    ref = fastq.reference.binary_conv2d(np.ascontiguousarray(xc), k, padding="same")
    np.testing.assert_array_equal(fastq.binary_conv2d(xc, k, padding="same"), ref)
    layer = fastq.BinaryConv2D(k, padding="same", packed_output=True)
    np.testing.assert_array_equal(layer(xc).unpack(), np.where(ref < 0, -1, 1))


def test_flip_ratio_shape_error_comes_before_out_is_written():
    q = fastq.SteSign(metrics=["flip_ratio"])
    q(np.ones(4, np.float32))
    out = np.full(3, 7.0, np.float32)
    with pytest.raises(ValueError, match=r"FlipRatio: values of shape \(3,\) after values of shape \(4,\)"):
        q(np.array([-1.0, 1.0, 2.0], np.float32), out=out)
    np.testing.assert_array_equal(out, [7.0, 7.0, 7.0])


# -- cost bounded by the data ----------------------------------------------------------------------
def test_empty_array_with_huge_rows_is_instant():
    x = np.empty((2**40, 0), np.float32)
    t0 = time.monotonic()
    p = fastq.pack_bits(x)
    assert p.shape == (2**40, 0) and p.words.shape == (2**40, 0)
    assert fastq.unpack_bits(p).shape == (2**40, 0)
    q = fastq.SteSign()
    assert q(x).shape == x.shape and q.grad(x, x).shape == x.shape
    assert fastq.MagnitudeAwareSign()(np.empty((0, 2**40), np.float32)).shape == (0, 2**40)
    assert time.monotonic() - t0 < 5.0  # was ~20 minutes for pack_bits


def test_shape_only_huge_binary_calls_cost_what_their_data_costs():
    """Issue #12 item 1: no loop over the rows of zero-size data, in the kernels themselves too
    (the Python layer's shortcuts bypassed), and no size arithmetic that wraps around."""
    t0 = time.monotonic()
    e, w = np.empty((2**40, 0), np.float32), np.empty((2**40, 0), np.uint64)
    assert fastq.binary_matmul(e, np.empty((0, 0), np.float32)).shape == (2**40, 0)
    assert fastq.binary_matmul(np.empty((0, 0), np.float32), e).shape == (0, 2**40)
    assert fastq.BinaryDense(np.empty((0, 0), np.float32))(e).shape == (2**40, 0)
    assert fastq.BinaryDense(np.empty((0, 0), np.float32), packed_output=True)(e).shape == (2**40, 0)
    for isa in fastq.available_isas():
        k = _core.kernels_for(isa)
        assert k.pack_bits(e).shape == (2**40, 0)
        assert k.unpack_bits(w, 0).shape == (2**40, 0)
        assert k.pack_blocked(w, 0).shape == (2**37, 0, 8)
        assert k.binary_matmul(w, np.empty((0, 0), np.uint64), 0).shape == (2**40, 0)
        assert k.max_pool2d(np.empty((2**20, 2**10, 2, 0), np.uint64), (2, 2), (1, 1), "same").shape == (
            2**20,
            2**10,
            2,
            0,
        )
    assert time.monotonic() - t0 < 5.0  # every call used to loop over 2**40 (or 2**30) rows
    x = np.ones((1, 3, 3, 2), np.float32)
    # A padded image of 2**41 x 2**41 pixels was a MemoryError: now computed on a padded image
    # bounded by the input (runtime/window_axis.hpp; tests/test_conv.py checks the values).
    y = fastq.binary_conv2d(x, np.ones((3, 3, 2, 2), np.float32), padding="same", dilation_rate=2**40)
    np.testing.assert_array_equal(y, np.full((1, 3, 3, 2), 18))  # all +1, padded taps +1 too
    with pytest.raises(ValueError, match="smaller than the"):
        fastq.binary_conv2d(x, np.ones((3, 3, 2, 2), np.float32), dilation_rate=2**62)
    y = -np.ones((1, 3, 3, 1), np.float32)
    y[0, 0, 0, 0] = 1
    for size in (2**62, 2**63 - 1):  # every clipped window holds the whole image
        np.testing.assert_array_equal(fastq.binary_max_pool2d(fastq.pack_bits(y), size, 1, "same").unpack(), -y * 0 + 1)


# -- show_config ---------------------------------------------------------------------------------
def test_show_config_does_not_claim_a_force_set_after_import():
    pkg = str(Path(fastq.__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if k != "FASTQ_FORCE_ISA"}
    env["PYTHONPATH"] = pkg
    code = "import os, fastq; os.environ['FASTQ_FORCE_ISA'] = 'scalar'; fastq.show_config()"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "forced" not in r.stdout
    env["FASTQ_FORCE_ISA"] = "scalar"
    r = subprocess.run(
        [sys.executable, "-c", "import fastq; fastq.show_config()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "scalar (forced by FASTQ_FORCE_ISA)" in r.stdout
