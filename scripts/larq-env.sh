#!/usr/bin/env bash
# Side environment with TensorFlow, larq, larq_zoo and Larq Compute Engine, for writing the model
# fixtures (scripts/make_model_fixtures.py) and checking fastq against Keras and LCE
# (scripts/check_zoo.py). fastq itself never depends on TensorFlow: this venv is only for those
# scripts. Usage: bash scripts/larq-env.sh [VENV_DIR]   (default build/larq-venv)
# Then run the scripts with VENV_DIR/bin/python and TF_USE_LEGACY_KERAS=1 (tf_keras, not Keras 3).
# With FASTQ_INSTALL=1 it also builds and installs fastq from this checkout into the venv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-build/larq-venv}
start=$(date +%s)

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --upgrade pip
# larq 0.13.3 is the version larq_zoo 2.4 and LCE 0.16 were released against; all of them need
# NumPy 1.x. zookeeper (larq_zoo's model factories) pins protobuf < 3.21, which TF 2.16 accepts.
"$py" -m pip install --quiet "tensorflow-cpu==2.16.2" "numpy<2" "protobuf<3.21" "larq==0.13.3" \
  "larq-compute-engine==0.16.0" zookeeper h5py
# tf_keras and larq_zoo declare a dependency on the package "tensorflow" (not "tensorflow-cpu"):
# their other dependencies are installed above, so install them without dependencies rather
# than pull a second TensorFlow.
"$py" -m pip install --quiet --no-deps "tf_keras==2.16.0" "larq-zoo==2.4.0"
if [ "${FASTQ_INSTALL:-0}" = 1 ]; then
  "$py" -m pip install --quiet .
fi
TF_USE_LEGACY_KERAS=1 "$py" - <<'PY'
import importlib.metadata as md
import larq, larq_zoo, tf_keras  # noqa: F401  (imports must work)
import larq_compute_engine  # noqa: F401
print({p: md.version(p) for p in ["tensorflow-cpu", "tf_keras", "larq", "larq-zoo", "larq-compute-engine", "numpy"]})
PY
echo "larq side environment ready in $venv ($(( $(date +%s) - start )) s)"
