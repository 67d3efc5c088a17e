"""larq's ``context.metrics_scope``: quantizers created inside the scope without an explicit
``metrics=`` track those metrics."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

SUPPORTED_METRICS = frozenset({"flip_ratio"})

# Per thread, so concurrent scopes in different threads do not see each other.
_state = threading.local()


def get_training_metrics() -> list[str]:
    """The metrics of the innermost active scope (empty outside any scope)."""
    return list(getattr(_state, "metrics", ()))


@contextlib.contextmanager
def metrics_scope(metrics: Iterable[str] = ()) -> Iterator[None]:
    """Within the block, quantizers created without ``metrics=`` pick up ``metrics``. Unknown
    names raise ValueError. The previous scope is restored even if the block raises."""
    if isinstance(metrics, (str, bytes)):
        raise TypeError(f"metrics: expected a list of metric names such as ['flip_ratio'], got the string {metrics!r}")
    names = list(metrics)
    for m in names:
        if m not in SUPPORTED_METRICS:
            raise ValueError(f"Unknown training metric {m!r}; supported: {sorted(SUPPORTED_METRICS)}")
    previous = getattr(_state, "metrics", ())
    _state.metrics = tuple(names)
    try:
        yield
    finally:
        _state.metrics = previous
