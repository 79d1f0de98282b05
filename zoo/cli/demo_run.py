"""``zoo demo``: your own pretrained model, registered and fine-tuned with 5% of the labels.

Offline, on scikit-learn's digits (8x8 grayscale, shipped with scikit-learn):

1. pretrain a small CNN on digits 0-4 and save it as ``.keras`` ("your own pretrained model")
2. register it in a ``zoo.yaml`` (``provider: local``, with a fine-tune ``recipe:``)
3. fine-tune it through tfzoo to digits 5-9 using 3% of their labels (5 per class), with the
   auto recipe: it chooses the cut point, what trains and how long on a validation split it
   carves from those labels; the held-out digits are never shown to it
4. train the same network from scratch on the same labels, through the same engine
   (fresh weights: ``keras.models.clone_model`` of the saved network)
5. print a table (accuracy on the held-out digits, time per phase), the auto recipe's trials,
   and write a PNG of the training curves
"""

from __future__ import annotations

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

__all__ = ["DemoConfig", "DemoReport", "run_demo"]

MODEL_NAME = "digits_cnn"


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo (the test runs a smaller one)."""

    label_fraction: float = 0.03  # share of the 5-9 digits whose labels the fine-tune sees
    pretrain_epochs: int = 15  # epochs on digits 0-4
    head_epochs: int = 80  # upper bound of every phase the auto recipe tries
    finetune_epochs: int = 0  # unused by the auto recipe (kept for callers)
    scratch_epochs: int = 60  # from scratch: a fixed number of epochs, all layers
    time_budget: float = 300.0  # seconds the auto recipe's search may take
    seed: int = 0  # one seed for splits and initialisation


@dataclass
class DemoReport:
    """What the demo measured and wrote."""

    rows: list[tuple[str, str, float | None, float]] = field(default_factory=list)
    trials: str = ""  # the auto recipe's trials table
    curves: dict[str, list[float]] = field(default_factory=dict)  # label -> val accuracy
    files: dict[str, Path] = field(default_factory=dict)  # what was written where
    finetuned_accuracy: float = 0.0  # on the held-out 5-9 digits
    scratch_accuracy: float = 0.0


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as raw [0, 255] grayscale images (N, 8, 8, 1) and labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise MissingDependencyError(
            "the demo uses scikit-learn's digits data set: pip install 'tfzoo[demo]'"
        ) from None
    data = load_digits()
    x = (data.images * (255.0 / 16.0)).astype("float32")[..., None]
    return x, data.target.astype("int64")


def small_cnn(classes: int) -> keras.Model:
    """The demo's network: three conv blocks with BatchNorm, flattened, a 64-wide embedding.

    The registry entry takes the flattened conv features (``feature_layer: flatten``): for
    8x8 digits where a stroke sits matters, and global pooling would throw that away.
    """
    import keras

    inputs = keras.Input((8, 8, 1), name="digit")
    x = keras.layers.Rescaling(1 / 255.0, name="unit")(inputs)
    for i, filters in enumerate((32, 32, 64)):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        # momentum 0.9: with a few hundred steps the default 0.99 leaves the moving
        # statistics far from the data's, and inference mode would be wrong
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        if i == 1:
            x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(64, activation="relu", name="embedding")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=MODEL_NAME)


def write_registry(directory: Path, model_path: Path, config: DemoConfig) -> Path:
    """The zoo.yaml that registers the pretrained model, with its fine-tune recipe."""
    path = directory / "zoo.yaml"
    path.write_text(
        "# written by `zoo demo`: your own pretrained model, registered for tfzoo\n"
        "models:\n"
        f"  {MODEL_NAME}:\n"
        "    provider: local\n"
        f"    source: {model_path.resolve()}\n"
        "    input_shape: [8, 8, 1]\n"
        "    preprocessing: raw   # the network rescales to [0, 1] itself\n"
        "    description: small CNN pretrained on digits 0-4 (zoo demo)\n"
        "    tags: [demo]\n"
        "    recipe:   # the auto recipe chooses the rest\n"
        f"      epochs: {config.head_epochs}   # upper bound of every phase it tries\n"
        "      batch_size: 16\n"
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


def run_demo(
    out_dir: str | Path = "zoo-demo", config: DemoConfig | None = None, *, show: bool = True
) -> DemoReport:
    """Run the whole demo; print the table (``show``) and return what it measured."""
    import keras

    from zoo import api
    from zoo.model.backbone import Backbone

    config = config or DemoConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = DemoReport()
    x, y = digits()
    source, target = y < 5, y >= 5
    (pre_train, pre_test) = _split(x[source], y[source], 0.8, config.seed)
    (few, held_out) = _split(x[target], y[target] - 5, config.label_fraction, config.seed)

    # 1. "your own pretrained model": trained here on digits 0-4, saved as .keras
    keras.utils.set_random_seed(config.seed)
    start = time.perf_counter()
    net = small_cnn(5)
    net.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    net.fit(*pre_train, epochs=config.pretrain_epochs, batch_size=32, verbose=0)
    pre_accuracy = float(net.evaluate(*pre_test, verbose=0, return_dict=True)["accuracy"])
    model_path = out / f"{MODEL_NAME}.keras"
    net.save(model_path)
    report.rows.append(
        (
            "pretrain on 0-4",
            f"{len(pre_train[1])} images, {config.pretrain_epochs} epochs",
            pre_accuracy,
            time.perf_counter() - start,
        )
    )

    # 2. register it; 3. fine-tune it to 5-9 with the registry's recipe
    report.files = {"model": model_path, "registry": write_registry(out, model_path, config)}
    # no validation_data: the search carves its own from the few labels
    tuned = api.finetune(
        load_pretrained(out), few, verbose=0, seed=config.seed, time_budget=config.time_budget
    )
    _rows(report, "fine-tuned", tuned)
    held = tuned.model.evaluate(*held_out, verbose=0, return_dict=True)
    report.finetuned_accuracy = float(held["accuracy"])
    chosen = next((t for t in tuned.trials if t.chosen), None)
    what = f"{chosen.trained} from {chosen.cut}" if chosen else "classic recipe"
    report.rows.append(("fine-tuned (auto)", what, report.finetuned_accuracy, 0.0))
    from zoo.finetune.result import trials_table

    report.trials = trials_table(tuned.trials) if tuned.trials else ""

    # 4. the same network from scratch (fresh weights), same engine, same 5% of labels
    fresh = keras.models.clone_model(keras.saving.load_model(model_path))
    scratch = api.finetune(
        Backbone.from_model(fresh, name="scratch", provider="memory", feature_layer="flatten"),
        few,
        validation_data=held_out,  # per-epoch curve only: nothing is chosen by it
        recipe="classic",
        freeze="none",
        train_batchnorm=True,
        epochs=config.scratch_epochs,
        learning_rate=3e-3,
        batch_size=16,
        verbose=0,
        seed=config.seed,
    )
    _rows(report, "from scratch", scratch)
    report.scratch_accuracy = scratch.metrics["val_accuracy"]

    report.curves = {
        "from scratch": _val_curve(scratch),
        "fine-tuned (auto), final": [report.finetuned_accuracy] * max(1, config.scratch_epochs),
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
        step = f"{label}: {phase.name}" if frozen else label
        report.rows.append((step, what, accuracy, phase.seconds))


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
    ax.set_ylabel("accuracy on held-out digits 5-9")
    ax.set_title(f"digits 5-9 from {labels} labelled images")
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
        title=f"digits 5-9 with {labelled} labelled images, accuracy on {held_out} held out",
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
