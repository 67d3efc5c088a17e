"""fastq.models with Dask: worker processes give exactly the single-process result."""

import os

import numpy as np
import pytest

pytest.importorskip("h5py")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastq.models as fm  # noqa: E402
from fastq.models.parallel import predict_dask  # noqa: E402

FIX = os.path.join(os.path.dirname(__file__), "fixtures")


def _threads_on_worker(_):
    import fastq

    return fastq.get_num_threads()


def test_local_cluster_matches_single_process():
    model = fm.load(os.path.join(FIX, "quicknet_blocks.h5"))
    x = np.random.default_rng(3).standard_normal((23, 16, 16, 3)).astype(np.float32)
    want = model.predict(x)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        images = da.from_array(x, chunks=(5, -1, -1, -1))
        got = predict_dask(model, images).compute()
        np.testing.assert_array_equal(got, want)
        # each worker's fastq thread count follows its threads_per_worker once it ran a block
        threads = client.run(_threads_on_worker, None)
        assert set(threads.values()) == {1}


def test_predict_dask_errors():
    model = fm.load(os.path.join(FIX, "quicknet_blocks.h5"))
    with pytest.raises(TypeError, match=r"images: expected a dask\.array\.Array"):
        predict_dask(model, np.zeros((1, 16, 16, 3), np.float32))
