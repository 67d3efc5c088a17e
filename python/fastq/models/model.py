"""fastq.models.Model: a compiled model and its executor."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .compile import compile_graph
from .graph import Graph
from .reference_ops import BITS

# compile_graph's result: (ops, output value names, {layer name: the value it aliases}).
Plan = tuple[list[Any], list[str], dict[str, str]]
Shape = tuple[int, ...]


_ALIGN = 64


class _Pool:
    """Activation buffers reused across ops (and across predict calls): an op's result goes into
    the smallest free buffer that holds it, and a buffer is freed after its value's last use."""

    def __init__(self) -> None:
        self.free: list[np.ndarray] = []  # 1-D uint8 arrays
        self.allocated = 0  # bytes
        self.schedules: dict[Any, Any] = {}  # (plan, chunk shapes, wanted) -> buffer assignment (Model._schedule)

    def get(self, nbytes: int) -> np.ndarray:
        best: int | None = None
        for i, b in enumerate(self.free):
            if b.nbytes >= nbytes and (best is None or b.nbytes < self.free[best].nbytes):
                best = i
        if best is not None:
            return self.free.pop(best)
        # 64-byte aligned (a cache line; NumPy's own alignment is 16 bytes), so no vector load of
        # an activation straddles two lines.
        n = max(nbytes, 1)
        raw = np.empty(n + _ALIGN, np.uint8)
        self.allocated += raw.nbytes
        start = -raw.ctypes.data % _ALIGN
        return raw[start : start + n]

    def put(self, buf: np.ndarray) -> None:
        self.free.append(buf)


def _clock_cost(clock: Callable[[], float], calls: int = 200, rounds: int = 7) -> float:
    """Seconds one ``clock()`` call takes (median over rounds, by the clock itself)."""
    costs = []
    for _ in range(rounds):
        t = clock()
        for _ in range(calls):
            clock()
        costs.append((clock() - t) / (calls + 1))
    return float(np.median(costs))


def _view(buf: np.ndarray, shape: Shape, dtype: npt.DTypeLike) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    view: np.ndarray = buf[:n].view(dtype).reshape(shape)
    return view


class Model:
    """A Keras/larq model compiled for fastq. Made by :func:`fastq.models.load` or
    :func:`fastq.models.from_keras`.

    - ``predict(x)``: float32 NHWC batch in, what Keras's ``model.predict`` returns out.
    - ``predict(x, outputs=[names])``: ``(predictions, {name: activation})`` for Keras layer names.
    - ``summary()``: each op, binary or float, its output shape and MACs.
    - Pickles (ops and weights included).

    ``impl="native"`` (the default) runs fastq's native kernels (fastq.models.ops);
    ``impl="reference"`` the NumPy reference ops (fastq.models.reference_ops), for cross-checks.
    """

    def __init__(
        self, graph: Graph, weights: dict[str, list[Any]], info: dict[str, Any] | None = None, impl: str = "native"
    ) -> None:
        if impl not in ("native", "reference"):
            raise ValueError(f"impl: expected 'native' or 'reference', got {impl!r}")
        self.graph = graph
        self.weights = weights
        self.info = dict(info or {})
        self.name = graph.name
        self.impl = impl
        self.ops, self._outputs, self._aliases = compile_graph(graph, weights, impl=impl)
        self._plans: dict[tuple[str, ...], Plan] = {(): (self.ops, self._outputs, self._aliases)}
        self._lock = threading.Lock()
        self._pools: list[_Pool] = []

    # -- pickling: everything but the transient pools and lock ------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock")
        state.pop("_pools")
        state["_plans"] = {(): self._plans[()]}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._pools = []

    # -- introspection -----------------------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        return list(self.graph.inputs)

    @property
    def output_names(self) -> list[str]:
        return list(self.graph.outputs)

    @property
    def input_shapes(self) -> list[tuple[int | None, ...]]:
        """Per-image input shapes (None for a dimension the model leaves open)."""
        return [self.graph.input_shapes[i] for i in self.graph.inputs]

    @property
    def layer_names(self) -> list[str]:
        return [n.layer for n in self.graph.nodes]

    def __repr__(self) -> str:
        nb = sum(op.kind == "binary" for op in self.ops)
        return f"<fastq.models.Model {self.name!r}: {len(self.ops)} ops ({nb} binary), inputs {self.input_shapes}>"

    # -- running -----------------------------------------------------------------------------------
    def _plan(self, keep: Iterable[str]) -> Plan:
        key = tuple(sorted(set(keep)))
        with self._lock:
            plan = self._plans.get(key)
        if plan is None:
            plan = compile_graph(self.graph, self.weights, keep=key, impl=self.impl)
            with self._lock:
                self._plans[key] = plan
        return plan

    def _inputs(self, x: npt.ArrayLike | Sequence[npt.ArrayLike]) -> list[np.ndarray]:
        xs: list[Any] = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(xs) != len(self.graph.inputs):
            raise ValueError(f"x: the model has {len(self.graph.inputs)} inputs, got {len(xs)} arrays")
        out = []
        for name, a in zip(self.graph.inputs, xs):
            a = np.asarray(a)
            if a.dtype.kind not in "fiub":
                raise TypeError(f"x: expected a real (float32) array for input {name!r}, got dtype {a.dtype}")
            a = np.ascontiguousarray(a, dtype=np.float32)
            want = self.graph.input_shapes[name]
            if a.ndim != len(want) + 1 or any(w is not None and w != s for w, s in zip(want, a.shape[1:])):
                shape = "(batch, " + ", ".join("None" if w is None else str(w) for w in want) + ")"
                raise ValueError(f"x: expected input {name!r} of shape {shape}, got {a.shape}")
            out.append(a)
        if len({a.shape[0] for a in out}) != 1:
            raise ValueError(f"x: the inputs have different batch sizes: {[a.shape[0] for a in out]}")
        return out

    def _shapes(self, plan: Plan, in_shapes: dict[str, Shape]) -> dict[str, Shape]:
        op_list, _, _ = plan
        shapes = dict(in_shapes)
        for op in op_list:
            shapes[op.name] = tuple(int(d) for d in op.output_shape([shapes[i] for i in op.inputs]))
        return shapes

    def _schedule(self, plan: Plan, xs: list[np.ndarray], wanted: set[str], pool: _Pool) -> Any:
        """The buffers of one chunk shape, assigned once and cached in the pool: each value goes
        into the smallest free buffer that holds it (or its input's buffer, for an in-place op)
        and a buffer is freed after its value's last use. Returns (steps, wanted inputs): steps
        are (op, input slots, output view, copy?); slots 0..k-1 are the model inputs, k + i op i's
        result."""
        op_list, _, _ = plan
        key = (id(op_list), tuple(x.shape for x in xs), frozenset(wanted))
        sched = pool.schedules.get(key)
        if sched is not None:
            return sched
        n = xs[0].shape[0]
        shapes = self._shapes(plan, {k: v.shape[1:] for k, v in zip(self.graph.inputs, xs)})
        slot = {name: j for j, name in enumerate(self.graph.inputs)}
        last: dict[str, int] = {}
        for i, op in enumerate(op_list):
            for v in op.inputs:
                last[v] = i
        buffers: dict[str, np.ndarray] = {}  # value -> pool buffer
        views: dict[str, np.ndarray] = {}  # value -> its array
        steps: list[Any] = []
        for k, x in zip(self.graph.inputs, xs):
            views[k] = x
        for i, op in enumerate(op_list):
            shape, dtype = op.storage((n,) + shapes[op.name])
            src = op.inputs[0]
            if (
                op.inplace
                and src in buffers
                and last.get(src) == i
                and op.inputs.count(src) == 1
                and views[src].dtype == dtype
                and views[src].shape == shape
            ):
                buf = buffers.pop(src)
                out = views[src]
            else:
                buf = pool.get(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
                out = _view(buf, shape, dtype)
            steps.append((op, tuple(slot[v] for v in op.inputs), out, op.name in wanted))
            slot[op.name] = len(self.graph.inputs) + i
            views[op.name] = out
            buffers[op.name] = buf
            for v in set(op.inputs):
                if last.get(v) == i and v in buffers:
                    pool.put(buffers.pop(v))
            if op.name not in last and op.name in buffers:  # an output nobody reads
                pool.put(buffers.pop(op.name))
        for b in buffers.values():
            pool.put(b)
        sched = (steps, [k for k in self.graph.inputs if k in wanted])
        pool.schedules[key] = sched
        return sched

    def _run(
        self,
        plan: Plan,
        xs: list[np.ndarray],
        wanted: set[str],
        pool: _Pool,
        times: list[float] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> dict[str, np.ndarray]:
        """Run ``plan`` on one chunk; returns {value name: array copy} for the wanted values.
        ``times``: a list receiving each op's ``clock()`` duration (profile())."""
        steps, wanted_inputs = self._schedule(plan, xs, wanted, pool)
        vals = list(xs) + [out for _, _, out, _ in steps]
        result = {k: x.copy() for k, x in zip(self.graph.inputs, xs) if k in wanted_inputs}
        for op, slots, out, keep in steps:
            if times is None:
                op.run([vals[j] for j in slots], out)
            else:
                t = clock()
                op.run([vals[j] for j in slots], out)
                times.append(clock() - t)
            if keep:
                result[op.name] = out.copy()
        return result

    def predict(
        self, x: npt.ArrayLike | Sequence[npt.ArrayLike], outputs: Iterable[str] | None = None, batch_size: int = 32
    ) -> Any:
        """Run the model on ``x`` (float32 NHWC batch, or a list for several inputs).

        Returns the output array (a list for several outputs), like Keras's ``predict``. With
        ``outputs=[layer names]`` returns ``(predictions, {name: activation})``; those layers keep
        their own results (nothing is folded across them), which may move the predictions by
        rounding only. Images are run ``batch_size`` at a time; the result of an image never
        depends on the batch it is in.
        """
        xs = self._inputs(x)
        names = [] if outputs is None else list(outputs)
        if isinstance(outputs, str):
            raise TypeError("outputs: expected a list of layer names, got a str")
        known = {nd.name for nd in self.graph.nodes}
        for name in names:
            if name not in known:
                raise ValueError(f"outputs: no layer named {name!r} in the model")
        plan = self._plan(names)
        _, out_values, aliases = plan
        # A kept layer's value (after identity aliases) and the model outputs' values.
        want_of = {name: aliases.get(name, name) for name in names}
        finals = list(out_values)
        wanted = set(finals) | set(want_of.values())
        with self._lock:
            pool = self._pools.pop() if self._pools else _Pool()
        try:
            n = xs[0].shape[0]
            chunks = []
            for s in range(0, max(n, 1), max(int(batch_size), 1)):
                chunk = [a[s : s + batch_size] for a in xs]
                if n == 0:
                    chunk = xs
                chunks.append(self._run(plan, chunk, wanted, pool))
        finally:
            with self._lock:
                self._pools.append(pool)
        merged = {k: np.concatenate([c[k] for c in chunks]) if len(chunks) > 1 else chunks[0][k] for k in wanted}
        for k, v in merged.items():
            # bits only stay inside binary chains (a kept value is float); the reference's are bool
            if v.dtype == BITS:
                merged[k] = np.where(v, np.float32(-1), np.float32(1))
        listed = [merged[v] for v in finals]
        preds = listed[0] if len(listed) == 1 else listed
        if outputs is None:
            return preds
        return preds, {name: merged[want_of[name]] for name in names}

    __call__ = predict

    def profile(
        self,
        x: npt.ArrayLike | Sequence[npt.ArrayLike],
        repeats: int = 5,
        clock: Callable[[], float] = time.perf_counter,
    ) -> tuple[float, list[tuple[Any, float]]]:
        """Time ``predict(x)`` (one chunk) op by op: ``(total, [(op, seconds)])``, medians of
        ``repeats`` runs after a warm-up, measured with ``clock`` (e.g. ``time.thread_time`` for
        the calling thread's CPU time on a busy machine). ``total`` minus the ops' sum is the
        executor's own (Python) time.

        The clock's own cost is measured here and taken out: each op's interval holds about one
        clock call and the total two per op plus one (``time.thread_time`` is a system call of ~0.6 us
        here, which would otherwise add ~40 us of "executor" time to QuickNetSmall's 33 ops)."""
        xs = self._inputs(x)
        plan = self._plan(())
        wanted = set(plan[1])
        with self._lock:
            pool = self._pools.pop() if self._pools else _Pool()
        try:
            self._run(plan, xs, wanted, pool)
            totals: list[float] = []
            per_op: list[list[float]] = []
            for _ in range(max(int(repeats), 1)):
                times: list[float] = []
                t = clock()
                self._run(plan, xs, wanted, pool, times, clock)
                totals.append(clock() - t)
                per_op.append(times)
        finally:
            with self._lock:
                self._pools.append(pool)
        cost = _clock_cost(clock)
        med = np.median(np.array(per_op), axis=0) - cost
        total = float(np.median(totals)) - (2 * len(plan[0]) + 1) * cost  # the ops' calls and the last
        return total, list(zip(plan[0], (max(float(v), 0.0) for v in med)))

    # -- summary -----------------------------------------------------------------------------------
    def summary(
        self, input_shape: Sequence[Any] | None = None, print_fn: Callable[[str], object] = print
    ) -> dict[str, int]:
        """Print each op (binary or float), its output shape and MACs per image. ``input_shape``:
        the per-image input shape where the model leaves dimensions open."""
        shapes: dict[str, Any] = {}
        ins: list[Any] = self.input_shapes
        if input_shape is not None:
            ins = [tuple(input_shape)] if len(ins) == 1 else [tuple(s) for s in input_shape]
        for name, s in zip(self.graph.inputs, ins):
            if any(d is None for d in s):
                raise ValueError(f"input_shape: input {name!r} has open dimensions {s}; pass input_shape=")
            shapes[name] = tuple(s)
        shapes = self._shapes(self._plans[()], shapes)
        rows = [("op", "kind", "layers", "output shape", "MACs")]
        tot = {"binary": 0, "float": 0}
        for op in self.ops:
            macs = int(op.macs([shapes[i] for i in op.inputs]))
            tot[op.kind] += macs
            layers = ", ".join(op.layers)
            rows.append(
                (
                    op.describe(),
                    op.kind,
                    layers if len(layers) <= 48 else layers[:45] + "...",
                    str(shapes[op.name]),
                    f"{macs:,}",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        line = "  ".join(f"{{:<{w}}}" for w in widths[:4]) + f"  {{:>{widths[4]}}}"
        text = [f'Model "{self.name}": {len(self.ops)} ops', line.format(*rows[0]), "-" * (sum(widths) + 8)]
        text += [line.format(*r) for r in rows[1:]]
        text.append("-" * (sum(widths) + 8))
        text.append(f"MACs per image: binary {tot['binary']:,}, float {tot['float']:,}")
        print_fn("\n".join(text))
        return {"binary_macs": tot["binary"], "float_macs": tot["float"], "ops": len(self.ops)}
