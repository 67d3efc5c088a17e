"""LCE's and TensorFlow's times on the larq_zoo models (random weights), batch 1, one thread; run
in the side venv with TensorFlow / larq / LCE (scripts/larq-env.sh), called by report_models.py:

    TF_USE_LEGACY_KERAS=1 build/larq-venv/bin/python bench/peers_zoo.py QuickNet ... > peers.json

LCE: its interpreter with use_xnnpack=True, use_indirect_bgemm=True (its best x86 path), one
thread. With SAVE_DIR set, each model is also saved there as NAME.h5. TensorFlow: the Keras
model (larq's layers: float compute of the ±1 values) in a tf.function, intra- and inter-op
parallelism 1. Each is timed by the process's CPU time (the machine may be shared) and by wall
time; medians of the repeats.
"""

import functools
import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)


def median_times(fn, repeats):
    fn()
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return float(np.median(cpu)), float(np.median(wall))


def main(argv):
    import larq_zoo as lqz
    from larq_compute_engine import convert_keras_model
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    repeats = int(os.environ.get("REPEATS", "7"))
    rows = {}
    for name in argv:
        tf.keras.backend.clear_session()
        tf.keras.utils.set_random_seed(0)
        model = (getattr(lqz.sota, name, None) or getattr(lqz.literature, name))(
            weights=None, input_shape=(224, 224, 3)
        )
        if os.environ.get("SAVE_DIR"):  # the .h5 file report_models.py times fastq.models.load on
            model.save(os.path.join(os.environ["SAVE_DIR"], name + ".h5"))
        x = np.random.default_rng(0).standard_normal((1, 224, 224, 3)).astype(np.float32)
        # Timed and dropped within this iteration: the late binding cannot bite.
        fn = tf.function(lambda t: model(t, training=False))  # noqa: B023
        tf_cpu, tf_wall = median_times(lambda fn=fn, x=x: fn(x).numpy(), repeats)
        interp = Interpreter(convert_keras_model(model), num_threads=1, use_xnnpack=True, use_indirect_bgemm=True)
        lce_cpu, lce_wall = median_times(functools.partial(interp.predict, x), repeats)
        rows[name] = {"tf_cpu_s": tf_cpu, "tf_wall_s": tf_wall, "lce_cpu_s": lce_cpu, "lce_wall_s": lce_wall}
        print(f"{name}: {rows[name]}", file=sys.stderr)
    json.dump(rows, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:] or ["QuickNetSmall", "QuickNet", "QuickNetLarge", "BiRealNet"])
