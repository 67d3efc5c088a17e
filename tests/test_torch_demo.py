"""``python -m fastq demo --torch`` (docs/torch.md): a binarized CNN trained with fastq.torch on the
digits, exported with fastq.torch.export. The full run takes ~20-30 s here; it runs where PyTorch
and scikit-learn are installed (CI's fastq.torch step, which runs tests/test_torch_*.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (CI installs torch==2.13.0, the CPU build)")
pytest.importorskip("sklearn", reason="scikit-learn is not installed (the demo extra)")

import fastq  # noqa: E402

PACKAGE_PARENT = str(Path(fastq.__file__).resolve().parent.parent)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")


def _run(*args, code=None, timeout=600):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PACKAGE_PARENT, *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "fastq", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def test_demo_torch_full_run():
    """The real demo (default training): accuracy >= 0.90; every layer binary, so the exported
    model predicts exactly PyTorch's classes; JSON alone on standard output."""
    r = _run("demo", "--torch", "--json", "--timing-budget", "0.5")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    for key in (
        "test_accuracy",
        "torch_test_accuracy",
        "agreement",
        "speedup",
        "speedup_single_sample",
        "max_abs_logit_diff",
        "fastq_ms",
        "torch_ms",
        "train_time_s",
        "wall_time_s",
    ):
        assert isinstance(res[key], float) and np.isfinite(res[key]), key
    assert res["test_accuracy"] >= 0.90
    assert res["all_layers_binary"] is True and res["binary_ops"] == 3
    assert res["agreement"] == 1.0  # >= 0.99 in general; 1.0 when every layer is binary
    assert res["max_abs_logit_diff"] < 1e-3
    assert res["speedup"] > 0 and res["speedup_single_sample"] > 0
    assert res["test_samples"] == 450 and res["epochs"] == 30
    assert "test accuracy (exported model)" in r.stderr


def test_demo_torch_training_is_deterministic():
    from fastq.torch import demo

    cfg = demo.TorchDemoConfig(epochs=1, channels=(4, 8))
    x_train, x_test, y_train, _ = demo.load_data(cfg)
    assert x_train.shape[1:] == (4, 8, 8) and x_train.dtype == np.float32
    outs = []
    for _ in range(2):
        torch.manual_seed(cfg.seed)
        net = demo.build_net(cfg)
        demo.train(cfg, net, x_train[:256], y_train[:256], log=lambda msg: None)
        with torch.no_grad():
            outs.append(net(torch.from_numpy(x_test[:32])).numpy())
    np.testing.assert_array_equal(outs[0], outs[1])


def test_demo_torch_without_torch():
    # An import hook, not sys.modules['torch'] = None: scipy (under scikit-learn) looks torch up there.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('No module named ' + repr(name))\n"
        "sys.meta_path.insert(0, Block())\n"
        "from fastq.tools.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    r = _run("demo", "--torch", "--keep-openblas-env", code=code, timeout=120)
    assert r.returncode == 2
    assert "PyTorch" in r.stderr and "demo --torch" in r.stderr
