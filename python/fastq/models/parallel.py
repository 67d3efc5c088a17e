"""Batch inference over a large image set with Dask (``pip install "fastq-bnn[dask]"``).

    >>> import dask.array as da, fastq.models
    >>> from distributed import Client, LocalCluster
    >>> from fastq.models.parallel import predict_dask
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    >>> images = da.from_array(big_nhwc_float32, chunks=(64, -1, -1, -1))
    >>> probs = predict_dask(fastq.models.load("quicknet.h5"), images).compute()

The model ships to the workers by pickling (weights included) as one task argument; each block
of images runs through ``model.predict`` with fastq's thread count set to the worker's thread
count. Images are independent and ``predict`` gives an image the same bits whatever batch it is
in, so the result equals the single-process ``model.predict(images)`` exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .model import Model


def _worker_threads() -> int | None:
    """The number of threads of the Dask worker running this task (None outside a worker)."""
    try:
        from distributed import get_worker

        w = get_worker()
    except (ImportError, ValueError):
        return None
    state = getattr(w, "state", None)
    n = getattr(state, "nthreads", None) or getattr(w, "nthreads", None)
    return None if n is None else int(n)


def _predict_block(block: np.ndarray, model: Model, batch_size: int) -> np.ndarray:
    import fastq

    threads = _worker_threads()
    if threads and fastq.get_num_threads() != threads:
        fastq.set_num_threads(threads)
    y: np.ndarray = model.predict(np.ascontiguousarray(block, np.float32), batch_size=batch_size)
    return y


def predict_dask(model: Model, images: Any, batch_size: int = 32) -> Any:
    """``model.predict`` mapped over a dask array of images chunked along the batch axis only.
    Returns a lazy dask array of the model's single output."""
    import dask
    import dask.array as da

    if not isinstance(images, da.Array):
        raise TypeError(f"images: expected a dask.array.Array, got {type(images).__name__}")
    if images.ndim < 2 or any(len(c) != 1 for c in images.chunks[1:]):
        images = images.rechunk({i: -1 for i in range(1, images.ndim)})
    if len(model.output_names) != 1:
        raise ValueError("predict_dask: the model has several outputs; map model.predict yourself")
    probe = model.predict(np.zeros((1,) + images.shape[1:], np.float32))
    out_shape = probe.shape[1:]
    model_task = dask.delayed(model, pure=True)  # pickled once, shared by every block
    rank_in, rank_out = images.ndim, 1 + len(out_shape)
    return da.map_blocks(
        _predict_block,
        images,
        model_task,
        batch_size,
        dtype=np.float32,
        meta=np.empty((0,) * rank_out, np.float32),
        chunks=(images.chunks[0],) + tuple((d,) for d in out_shape),
        drop_axis=list(range(rank_out, rank_in)) if rank_out < rank_in else None,
        new_axis=list(range(rank_in, rank_out)) if rank_out > rank_in else None,
    )
