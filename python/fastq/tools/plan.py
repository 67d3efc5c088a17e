"""What one ``python -m fastq bench`` run measures and how long it may take."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MATMUL_SHAPES", "Plan", "plan"]

# binary_matmul shapes (M, N, K): C (M, N) = sign(A (M, K)) @ sign(B (N, K)).T
MATMUL_SHAPES = {
    "S1": (1, 1000, 1024),  # one sample through a 1000-way classifier
    "S2": (64, 4096, 4096),  # a batch through a wide fully connected layer
    "S3": (3136, 256, 2304),  # a 56x56 3x3x256 convolution as im2col GEMM
    "S4": (1024, 1024, 1024),  # the square reference point
}


@dataclass
class Plan:
    """What one run measures and how long it may take."""

    quick: bool = False
    size: int = 1 << 20  # elements per quantizer input, float32
    shapes: dict[str, tuple[int, int, int]] = field(default_factory=lambda: dict(MATMUL_SHAPES))
    time_limit_s: float = 100.0  # the whole run, setup included
    min_sample_ns: int = 1_000_000  # each sample's inner loop runs at least this long
    min_repeats: int = 5
    max_repeats: int = 201
    max_spread: float = 0.10  # a row is stable when every candidate's IQR / median is at most this
    seed: int = 0


def plan(
    quick: bool = False,
    size: int | None = None,
    shapes: list[str] | None = None,
    time_limit_s: float | None = None,
    seed: int = 0,
) -> Plan:
    """The default run (at most ~2 minutes) or the ``--quick`` one (at most ~20 seconds)."""
    if quick:
        p = Plan(
            quick=True,
            size=1 << 18,
            time_limit_s=12.0,
            min_repeats=5,
            max_repeats=51,
            seed=seed,
            shapes={k: MATMUL_SHAPES[k] for k in ("S1", "S4")},
        )
    else:
        p = Plan(seed=seed)
    if size is not None:
        if size < 1:
            raise ValueError(f"size: expected a positive number of elements, got {size}")
        p.size = int(size)
    if shapes is not None:
        unknown = [s for s in shapes if s not in MATMUL_SHAPES]
        if unknown:
            raise ValueError(f"shapes: unknown {unknown}; expected some of {sorted(MATMUL_SHAPES)}")
        p.shapes = {k: MATMUL_SHAPES[k] for k in shapes}
    if time_limit_s is not None:
        p.time_limit_s = float(time_limit_s)
    return p
