"""Distributed fine-tuning: MirroredStrategy on two logical CPUs, two MultiWorker processes.

Both run in subprocesses: logical devices and collective ops must be set up before
TensorFlow initializes, which the test process has long done.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _last_json(stdout: str) -> dict[str, object]:
    return dict(json.loads(stdout.strip().splitlines()[-1]))


MIRRORED = textwrap.dedent(
    """
    import json
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import zoo
    from tests.finetune.util import blobs, fixed_backbone

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x, y = blobs(64)
    # the fixed recipe: the auto search would run each of its trials twice more here, and
    # its fits go through the same distributed phases as these
    recipe = dict(
        validation_data=blobs(16, seed=2), epochs=3, unfreeze_epochs=1, learning_rate=1e-2,
        dropout=0.0, shuffle=False, verbose=0, seed=0, batch_size=16, recipe="classic",
    )
    single = zoo.finetune(fixed_backbone(), (x, y), **recipe)
    # a backbone built outside the scope: the engine clones it inside
    result = zoo.finetune(fixed_backbone(), (x, y), strategy=strategy, **recipe)
    kernel = result.model.get_layer("classifier").kernel
    conv = result.backbone.features.get_layer("conv2").kernel
    gap = np.abs(result.model.predict(x, verbose=0) - single.model.predict(x, verbose=0))
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "head_mirrored": isinstance(kernel.value, tf.distribute.DistributedValues),
        "backbone_mirrored": isinstance(conv.value, tf.distribute.DistributedValues),
        "cache": result.feature_cache,
        "max_difference": float(gap.max()),
        "val_accuracy": [result.metrics["val_accuracy"], single.metrics["val_accuracy"]],
    }))
    """
)


@pytest.mark.slow
def test_mirrored_strategy_over_two_logical_cpus() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = _last_json(proc.stdout)
    assert out["replicas"] == 2
    assert out["head_mirrored"] and out["backbone_mirrored"]
    assert out["cache"] == "memory"
    # two replicas of 8 examples average to the gradient of one batch of 16: same model
    assert out["max_difference"] < 1e-4
    val = out["val_accuracy"]
    assert isinstance(val, list) and val[0] == pytest.approx(val[1])


WORKER = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np
    import zoo
    from tests.finetune.util import blobs

    x, y = blobs(64, (32, 32, 3))
    result = zoo.finetune(
        "mobilenet", (x, y), weights=None, input_shape=(32, 32, 3), alpha=0.25,
        recipe="classic", epochs=2, unfreeze_epochs=1, unfreeze_top=3, strategy="multi_worker",
        export_dir=f"{sys.argv[2]}/export{sys.argv[1]}", export_formats=["keras"], verbose=0,
        seed=0, batch_size=16, train_batchnorm=True,
    )
    weights = result.model.weights  # the BatchNorm moving statistics too
    digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in weights)).hexdigest()
    print(json.dumps({"digest": digest, "exports": sorted(result.exports),
                      "epochs": [p.epochs for p in result.phases if p.epochs]}))
    """
)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _two_workers(code: str, *args: str) -> list[dict[str, object]]:
    """Run ``code`` as worker 0 and 1 of a cluster on 127.0.0.1 (argv[1]: its index, then
    ``args``); each must exit 0; their last stdout lines as JSON."""
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", code, str(index), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(TF_CONFIG=json.dumps(tf_config)),
                cwd=ROOT,
            )
        )
    outputs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=400)
        assert proc.returncode == 0, stderr[-3000:]
        outputs.append(_last_json(stdout))
    return outputs


@pytest.mark.slow
def test_multi_worker_mirrored_strategy_with_two_processes(tmp_path: Path) -> None:
    chief, other = _two_workers(WORKER, str(tmp_path))
    assert chief["digest"] == other["digest"]  # synchronous training: one model
    assert chief["epochs"] == other["epochs"] == [2, 1]
    assert chief["exports"] == ["keras", "report"] and other["exports"] == []
    assert (tmp_path / "export0" / "model.keras").is_file()
    assert not (tmp_path / "export1").exists()  # only the chief writes
    # BatchNorm synchronized its statistics across the workers while training, not after
    with zipfile.ZipFile(tmp_path / "export0" / "model.keras") as archive:
        config = archive.read("config.json").decode()
    assert '"synchronized": false' in config and '"synchronized": true' not in config


AUTO_WORKER = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np
    import zoo
    from tests.finetune.util import blobs

    # the documented call: the auto recipe, the strategy by name, no seed; each process
    # draws its own seed (a different one forced here), and worker 0's must win
    index, model = int(sys.argv[1]), sys.argv[2]
    draw = np.random.SeedSequence

    def seed_sequence(*args, **kwargs):
        return draw(*args, **kwargs) if args or kwargs else draw(5 if index == 0 else 0)

    np.random.SeedSequence = seed_sequence
    x, y = blobs(64, (32, 32, 3))
    result = zoo.finetune(model, (x, y), strategy="multi_worker", epochs=2, batch_size=16,
                          verbose=0, checkpoint_dir=sys.argv[3])
    weights = result.model.trainable_weights
    digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in weights)).hexdigest()
    chosen = [(t.cut, t.trained, t.steps) for t in result.trials if t.chosen]
    print(json.dumps({"digest": digest, "seed": result.recipe.seed, "chosen": chosen,
                      "trials": [[t.cut, t.trained] for t in result.trials]}))
    """
)


@pytest.mark.slow
def test_the_auto_recipe_searches_alike_on_every_worker(tmp_path: Path) -> None:
    import keras

    from tests.finetune.util import small_cnn, with_bn_statistics

    keras.utils.set_random_seed(0)
    model = tmp_path / "small_cnn.keras"
    with_bn_statistics(small_cnn((32, 32, 3))).save(model)
    # seeds 5 and 0 carve splits on which only one worker would add the from-scratch trial:
    # drawn apart, the workers ran different fits and failed ("Shape mismatch in the
    # collective instance"); a name made the strategy after the features pass had started
    # TensorFlow ("Collective ops must be configured at program startup")
    chief, other = _two_workers(AUTO_WORKER, str(model), str(tmp_path / "ck"))
    assert chief["seed"] == other["seed"] == 5
    assert chief["trials"] == other["trials"] and chief["chosen"] == other["chosen"]
    assert len(chief["chosen"]) == 1
    assert chief["digest"] == other["digest"]
    assert (tmp_path / "ck" / "search.json").is_file()  # written by the chief only
