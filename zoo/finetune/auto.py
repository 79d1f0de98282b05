"""The auto recipe: choose the cut point, what trains and for how long, by validation.

``zoo.finetune``'s default (``recipe="auto"``). Every field the user set is kept; the search
chooses only the others:

1. **validation**: the user's ``validation_data``, or a stratified split carved from the
   training data (20 %, at least one image per class); when that leaves fewer than
   ``_TINY`` validation images per class the probes average over ``_REPEATS`` splits.
2. **probes**: one pass of a multi-output extractor (:meth:`Backbone.cut_features`) over
   every training image gives the features at every cut point
   (:meth:`Backbone.cut_points`: the classifier's input, the vectors before it, the last
   blocks' pooled maps); a closed-form ridge classifier on each ranks them in milliseconds.
   Features that carry no signal (random weights with frozen BatchNorm) stop here.
3. **trials**: the engine itself trains, on the best cut, the frozen head then all layers
   from the pretrained weights (one run: its first phase is the head's trial); all layers at
   a 10x lower rate only when that did not beat the head, the top layers only for a deep
   backbone; the head trains at 10x the recipe's rate (a linear model on cached features),
   unless ``learning_rate`` was given. Small images are probed as raw pixels too: when they
   probe as well as the best cut, the whole network from fresh weights
   (``from_scratch=True``) is a candidate, the baseline transfer has to beat. Epochs of the
   search are at least ``_EPOCH_STEPS`` steps (``epoch_steps``: small data repeats, so
   Keras's per-epoch cost is paid every 50 steps, not every 2); each phase has early
   stopping on validation loss (watching only after ``_TINY_MIN_STEPS`` when the
   validation images are few) and a step budget (``epochs``, when given, is the upper
   bound), while the ``time_budget`` lasts.
4. **the final run**: the best trial's plain :class:`~zoo.finetune.recipe.Recipe`
   (``auto=False``, the epochs early stopping found, the seed) runs on the user's data as
   given, the carved validation images included. That recipe is ``result.recipe`` and the
   export's ``recipe.yaml``: running it again gives the same model. With ``checkpoint_dir``
   the choice is kept there before the final run (``zoo.finetune.choice``): the same call
   again resumes that run instead of searching again.

A time budget too small for even the features pass says so and runs the classic recipe.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from zoo.errors import FinetuneError, ZooWarning
from zoo.export.exporter import refuse_short_calibration
from zoo.finetune import distribute
from zoo.finetune.choice import Choice, final_recipe, final_run, search_record
from zoo.finetune.data import Data, in_memory, load_data
from zoo.finetune.features import feature_signal, no_signal_message
from zoo.finetune.result import FinetuneResult, Trial
from zoo.model.head import fit_layers
from zoo.model.layers import Preprocess

if TYPE_CHECKING:
    from zoo.finetune.engine import Finetuner
    from zoo.finetune.recipe import Recipe
    from zoo.model.backbone import Backbone

__all__ = ["DEFAULT_TIME_BUDGET", "PIXELS", "run_auto", "stratified_splits"]

#: Seconds the search may take when ``time_budget`` is not given.
DEFAULT_TIME_BUDGET = 600.0
_CLOCKS = (
    "auto recipe: time_budget is not applied under a multi-worker strategy (each machine's "
    "clock would stop a different trial, and the workers' fits would no longer match); "
    "the step budgets and early stopping bound the search"
)
_VAL_FRACTION = 0.2  # of each class, carved for validation
_TINY = 5  # validation images per class below which the probes repeat over splits
# the ridge probes take milliseconds: 10 splits, not 3, so a cut is not chosen by which
# one or two of ~10 validation images a single draw held (bench.quality, 10 labels per
# class, seeds 0-2: mnist5k's mean 0.842 -> 0.861, mnist-digits' 0.934 -> 0.937, digits'
# unchanged; with 3, one seed chose a `conv2` cut and scored 0.794 where the grid had 0.896)
_REPEATS = 10
# Keras's per-epoch cost (validation, callbacks) dominates on small data: an epoch of the
# search repeats the data to at least _EPOCH_STEPS steps, and the bounds are in steps.
_EPOCH_STEPS = 50
_HEAD_STEPS = 200  # a head on cached features
_FULL_STEPS = 400  # a phase that trains backbone layers
_SCRATCH_STEPS = 600  # the whole network from fresh weights
# images of at most this many values are probed as raw pixels too: when pixels probe as well
# as the best cut, the pretrained features add nothing linear and training from scratch is a
# candidate (small images and networks, where it can win; a large network from scratch on
# few labels does not)
_PIXELS = 4096
PIXELS = "input pixels"  # the probe's name in the trials table
_EPOCHS = (3, 80)  # every phase, in epochs
_PATIENCE_STEPS, _PATIENCE_EPOCHS = 100, (2, 10)  # early stopping on validation loss
# with fewer than _TINY validation images per class the validation loss is noise (10 images:
# on mnist5k the all-layers trial stopped after 50 steps): each phase trains at least this
# many steps before early stopping watches it
_TINY_MIN_STEPS = 200
_DEEP = 6  # weighted layers from which "top layers" is a candidate too
# the head trains on cached features: a linear model, for which Adam at 1e-3 needs far more
# than _HEAD_STEPS steps (on mnist5k's features, 200 steps at 1e-3 reach 0.82 where 1e-2
# reaches 0.86, the closed-form probe's 0.83-0.86); the layers under it keep the recipe's rate
_HEAD_RATE = 10.0  # x the recipe's learning_rate, unless learning_rate was given
_RIDGE = (0.1, 1.0, 10.0, 100.0)  # ridge penalties of the probes (per example)
#: fields the search sets; the user's explicit ones are kept
_SEARCHED = (
    "feature_layer",
    "learning_rate",
    "epoch_steps",
    "freeze",
    "epochs",
    "unfreeze_epochs",
    "unfreeze_top",
    "unfreeze_learning_rate",
    "early_stopping",
    "from_scratch",
    "train_batchnorm",
)


@dataclass
class _Split:
    train: np.ndarray  # indices into the training arrays
    val: np.ndarray


def run_auto(tuner: Finetuner, train_data: object, validation_data: object) -> FinetuneResult:
    """Search, then run the chosen recipe; see the module docstring."""
    start = time.perf_counter()
    # before anything touches TensorFlow (a multi-worker strategy must come first); every
    # fit of the run then gets this same strategy
    strategy = distribute.resolve_strategy(tuner.recipe.strategy)
    record = search_record(tuner, train_data, validation_data)
    done = record.load(tuner.recipe) if record is not None else None
    if done is not None:  # an earlier run of this call chose: its final run resumes
        return final_run(tuner, done, train_data, validation_data)
    recipe = tuner.recipe
    entropy = int(np.random.SeedSequence().entropy or 0)  # type: ignore[arg-type]
    seed = recipe.seed if recipe.seed is not None else entropy % 2**31
    seed = distribute.shared_seed(strategy, seed)  # every worker carves and chooses alike
    recipe = recipe.replace(seed=seed)
    budget = recipe.time_budget or DEFAULT_TIME_BUDGET
    cluster = distribute.is_multi_worker(strategy)
    deadline = math.inf if cluster else start + budget
    if cluster and recipe.time_budget:
        warnings.warn(_CLOCKS, ZooWarning, stacklevel=4)
    keras.utils.set_random_seed(seed)
    backbone = tuner.load_backbone()
    train, val, num_classes = load_data(
        train_data, validation_data, backbone, recipe, tuner.num_classes
    )
    refuse_short_calibration(recipe.export_formats if recipe.export_dir else (), train.count)
    arrays = _arrays(train, recipe)
    if isinstance(arrays, str):
        return _classic(tuner, recipe, train_data, validation_data, arrays)
    x, y = arrays
    if val is None:
        splits = stratified_splits(y, seed)
        if isinstance(splits, str):
            return _classic(tuner, recipe, train_data, validation_data, splits)
        xv, yv = x, y
    else:
        val_arrays = _arrays(val, recipe)
        if isinstance(val_arrays, str):
            return _classic(tuner, recipe, train_data, validation_data, val_arrays)
        xv, yv = val_arrays
        splits = [_Split(np.arange(len(y)), np.arange(len(yv)))]
    carved = val is None
    cuts = [recipe.feature_layer] if "feature_layer" in tuner.explicit else backbone.cut_points()
    cuts = [c for c in cuts if c] or [backbone.feature_layer or "features"]
    pixels = backbone.model is not None and _small(train.shape) and _may_restart(tuner)
    extractor = _extractor(backbone, cuts, train.shape, pixels)
    guess = _time_features(extractor, x, recipe.batch_size) * (len(x) + (0 if carved else len(xv)))
    if time.perf_counter() + guess > deadline:
        why = (
            f"time_budget={budget:g} s is too small for even one probe (the features pass "
            f"alone takes about {guess:.0f} s); pass a larger time_budget="
        )
        return _classic(tuner, recipe, train_data, validation_data, why)

    trials: list[Trial] = []
    feats = _features(extractor, x, recipe.batch_size)
    val_feats = feats if carved else _features(extractor, xv, recipe.batch_size)
    search_start = time.perf_counter()
    scores: dict[str, float] = {}
    for cut, f, fv in zip([*cuts, PIXELS] if pixels else cuts, feats, val_feats, strict=True):
        t0 = time.perf_counter()
        if not feature_signal(f):
            trials.append(Trial(cut, "linear probe", 0, 0.0, 0.0, note="no signal: skipped"))
            continue
        acc = float(
            np.mean(
                [_ridge(f[s.train], y[s.train], fv[s.val], yv[s.val], num_classes) for s in splits]
            )
        )
        scores[cut] = acc
        note = f"mean of {len(splits)} splits" if len(splits) > 1 else ""
        trials.append(Trial(cut, "linear probe", 0, acc, time.perf_counter() - t0, note=note))
    pixel_score = scores.pop(PIXELS, None)
    if not scores:
        raise FinetuneError(no_signal_message(backbone.name, feats[0]))
    best_cut = max(scores, key=lambda c: scores[c])
    # the features separate the classes no better than the pixels: try fresh weights too
    # (not when both are perfect: then fresh weights have nothing to show on validation)
    restart = pixel_score is not None and pixel_score >= scores[best_cut]
    restart = restart and not (pixel_score == scores[best_cut] == 1.0)

    split = splits[0]
    fit_train = (x[split.train], y[split.train])
    fit_val = (xv[split.val], yv[split.val])
    weights = _weights(backbone)
    runs: list[tuple[Trial, Recipe, dict[str, int]]] = []
    # a backbone without its whole Keras model (Hub, SavedModel) has only its features
    cut_backbone = backbone.at_cut(best_cut) if backbone.model is not None else backbone
    cut_layer = best_cut if backbone.model is not None else None
    pending = []
    tiny = len(splits) > 1  # the validation images are few: see stratified_splits
    variants = _variants(tuner, recipe, cut_backbone, cut_layer, len(split.train), restart, tiny)
    for variant in variants:
        trial_recipe = _fixed(recipe, variant, tuner.explicit)
        if trial_recipe not in pending:
            pending.append(trial_recipe)
    # a run that trains all layers trains the head first: its first phase is the head trial
    # (not when the user fixed unfreeze_epochs: then no trial may drop the second phase)
    split_head = "unfreeze_epochs" not in tuner.explicit and not pending[0].unfreeze_epochs
    if split_head and len(pending) > 1 and _head_part(pending[1], pending[0]) == pending[0]:
        pending.pop(0)
    for trial_recipe in pending:
        if any(r == trial_recipe for _, r, _ in runs) or _needless(trial_recipe, runs, recipe):
            continue
        if runs and deadline - time.perf_counter() < runs[-1][0].seconds:
            trials.append(
                Trial(best_cut, _trained(trial_recipe), 0, 0.0, 0.0, note="time budget: not run")
            )
            continue
        for run in _run_trial(
            backbone, weights, trial_recipe, num_classes, fit_train, fit_val, deadline, split_head
        ):
            trials.append(run[0])
            runs.append(run)
    # ties of accuracy (a few validation images make many) go to the lower loss
    chosen_trial, chosen, best = max(runs, key=lambda run: _score(run[0]))
    chosen_trial.chosen = True

    final = final_recipe(recipe, chosen, best if carved else None)
    _restore(backbone, weights)
    choice = Choice(final, trials, time.perf_counter() - search_start)
    if record is not None and distribute.is_chief(strategy):
        record.save(choice)
    return final_run(tuner, choice, train_data, validation_data)


# -- data --------------------------------------------------------------------------------------


def _arrays(data: Data, recipe: Recipe) -> tuple[np.ndarray, np.ndarray] | str:
    """The images and labels as arrays, or why not (they do not fit in memory)."""
    held = in_memory(data, recipe.cache_memory_limit)
    if held.y is None:
        return (
            f"the auto recipe keeps the training images in memory, but ~{data.count} images "
            f"exceed cache_memory_limit={recipe.cache_memory_limit} bytes"
        )
    return np.asarray(held.x), held.y


def stratified_splits(y: np.ndarray, seed: int) -> list[_Split] | str:
    """Stratified (train, validation) index splits of ``y``, or why none can be carved.

    One split, or ``_REPEATS`` when the validation part would hold fewer than ``_TINY``
    images per class.
    """
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        few = [int(c) for c, k in zip(classes, counts, strict=True) if k < 2]
        return (
            f"class(es) {few} have a single training image, so no validation split can be "
            "carved from the training data; pass validation_data="
        )
    per_class = {
        int(c): max(1, round(k * _VAL_FRACTION)) for c, k in zip(classes, counts, strict=True)
    }
    repeats = _REPEATS if min(per_class.values()) < _TINY else 1
    rng = np.random.default_rng(seed)
    splits = []
    for _ in range(repeats):
        val_parts = []
        for c in classes:
            idx = np.flatnonzero(y == c)
            val_parts.append(rng.permutation(idx)[: per_class[int(c)]])
        val = np.sort(np.concatenate(val_parts))
        train = np.setdiff1d(np.arange(len(y)), val)
        splits.append(_Split(rng.permutation(train), val))
    return splits


# -- features and probes -----------------------------------------------------------------------


def _small(shape: tuple[int | None, ...]) -> bool:
    return all(d is not None for d in shape) and math.prod(int(d or 0) for d in shape) <= _PIXELS


def _may_restart(tuner: Finetuner) -> bool:
    """Whether fresh weights may be a candidate: the user fixed nothing it changes."""
    return not {"freeze", "from_scratch", "train_batchnorm", "feature_layer"} & tuner.explicit


def _extractor(
    backbone: Backbone, cuts: list[str], shape: tuple[int | None, ...], pixels: bool = False
) -> keras.Model:
    """Raw images -> [features at each cut], the way build_classifier feeds the backbone;
    with ``pixels``, the preprocessed images (flattened) last."""
    spec = backbone.input_spec
    inputs = keras.Input(shape=shape, dtype=spec.dtype, name="image")
    x = inputs
    for layer in fit_layers(spec, shape, model=backbone.name):
        x = layer(x)
    if not spec.is_identity:
        x = Preprocess.from_input_spec(spec, name="preprocess")(x)
    if backbone.model is None:
        outputs = [backbone.features(x, training=False)]
    else:
        outputs = backbone.cut_features(cuts)(x, training=False)
    outputs = list(outputs)
    if pixels:
        outputs.append(keras.layers.Flatten(name="pixels")(x))
    return keras.Model(inputs, outputs, name=f"{backbone.name}_cuts")


def _time_features(extractor: keras.Model, x: np.ndarray, batch_size: int) -> float:
    """Seconds per image of the features pass, from one batch (after one warm-up batch)."""
    batch = x[:batch_size]
    extractor.predict_on_batch(batch)
    t0 = time.perf_counter()
    extractor.predict_on_batch(batch)
    return (time.perf_counter() - t0) / len(batch)


def _features(extractor: keras.Model, x: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Features at every cut, one pass over ``x``."""
    parts: list[list[np.ndarray]] = [[] for _ in extractor.outputs]
    for begin in range(0, len(x), batch_size):
        out = extractor.predict_on_batch(x[begin : begin + batch_size])
        for store, value in zip(parts, out if isinstance(out, list) else [out], strict=True):
            store.append(np.asarray(value, dtype="float64"))
    return [np.concatenate(p) for p in parts]


def _ridge(f: np.ndarray, y: np.ndarray, fv: np.ndarray, yv: np.ndarray, num_classes: int) -> float:
    """Validation accuracy of the best closed-form ridge classifier on standardized features."""
    mean, std = f.mean(0), f.std(0) + 1e-6
    a, b = (f - mean) / std, (fv - mean) / std
    targets = np.eye(num_classes)[y]
    offset = targets.mean(0)
    targets = targets - offset
    best = 0.0
    gram_small = a.shape[0] <= a.shape[1]
    gram = a @ a.T if gram_small else a.T @ a
    for penalty in _RIDGE:
        ridge = gram + penalty * len(a) * np.eye(len(gram))
        if gram_small:
            w = a.T @ np.linalg.solve(ridge, targets)
        else:
            w = np.linalg.solve(ridge, a.T @ targets)
        best = max(best, float(np.mean(np.argmax(b @ w + offset, 1) == yv)))
    return best


# -- trials ------------------------------------------------------------------------------------


def _per_epoch(count: int, recipe: Recipe) -> int:
    """Optimizer steps of one epoch on ``count`` images (``epoch_steps`` repeats small data)."""
    steps = max(1, math.ceil(count / recipe.batch_size))
    if recipe.epoch_steps is None:
        return steps
    return steps * max(1, math.ceil(recipe.epoch_steps / steps))


def _epochs(steps: int, per_epoch: int, bounds: tuple[int, int]) -> int:
    """``steps`` optimizer steps as epochs, within ``bounds``."""
    return min(bounds[1], max(bounds[0], math.ceil(steps / per_epoch)))


def _variants(
    tuner: Finetuner,
    recipe: Recipe,
    backbone: Backbone,
    cut: str | None,
    count: int,
    restart: bool = False,
    tiny: bool = False,
) -> list[dict[str, Any]]:
    """The candidates, cheapest first: frozen head, all layers (the recipe's rate, then 10x
    lower), for a deep backbone its top third of layers (10x lower), and with ``restart``
    the whole network from fresh weights (the baseline transfer has to beat). With ``tiny``
    validation, early stopping starts watching after ``_TINY_MIN_STEPS``."""
    # explicit epochs count passes over the user's data: the search does not redefine them
    epoch_steps = recipe.epoch_steps
    if not {"epoch_steps", "epochs"} & tuner.explicit:
        epoch_steps = _EPOCH_STEPS
    per_epoch = _per_epoch(count, recipe.replace(epoch_steps=epoch_steps))
    bound = recipe.epochs if "epochs" in tuner.explicit else None
    head_epochs = min(bound or 10**6, _epochs(_HEAD_STEPS, per_epoch, _EPOCHS))
    full_epochs = min(bound or 10**6, _epochs(_FULL_STEPS, per_epoch, _EPOCHS))
    patience = _epochs(_PATIENCE_STEPS, per_epoch, _PATIENCE_EPOCHS)
    stop: dict[str, Any] = {"patience": patience, "restore_best_weights": True}
    if tiny:
        # Keras watches epoch indices >= start_from_epoch: the first watched is the one that
        # completes _TINY_MIN_STEPS
        stop["start_from_epoch"] = _epochs(_TINY_MIN_STEPS, per_epoch, (1, _EPOCHS[1])) - 1
    lr = recipe.learning_rate
    base: dict[str, Any] = {
        "feature_layer": cut,
        "learning_rate": lr if "learning_rate" in tuner.explicit else lr * _HEAD_RATE,
        "freeze": "backbone",
        "early_stopping": stop,
        "epoch_steps": epoch_steps,
    }
    out = [{**base, "epochs": head_epochs, "unfreeze_epochs": 0}]
    phase2 = {**base, "epochs": head_epochs, "unfreeze_epochs": full_epochs}
    out.append({**phase2, "unfreeze_top": None, "unfreeze_learning_rate": lr})
    out.append({**phase2, "unfreeze_top": None, "unfreeze_learning_rate": lr / 10})
    layers = backbone.features.layers
    weighted = [i for i, layer in enumerate(layers) if layer.weights]
    if len(weighted) >= _DEEP:  # a few conv layers train whole; a deep net may not
        top = len(layers) - weighted[-max(1, len(weighted) // 3)]
        out.append({**phase2, "unfreeze_top": top, "unfreeze_learning_rate": lr / 10})
    if restart:
        scratch_epochs = min(bound or 10**6, _epochs(_SCRATCH_STEPS, per_epoch, _EPOCHS))
        out.append(
            {
                **base,
                "learning_rate": lr,
                "freeze": "none",
                "train_batchnorm": True,
                "from_scratch": True,
                "epochs": scratch_epochs,
                "unfreeze_epochs": 0,
            }
        )
    return out


_Run = tuple[Trial, "Recipe", dict[str, int]]  # a trial, its recipe, each phase's best epoch


def _needless(candidate: Recipe, runs: list[_Run], recipe: Recipe) -> bool:
    """Whether a lower-rate candidate can be skipped: all layers at the recipe's rate beat
    the frozen head (a lower rate is for when training everything at that rate hurts)."""
    lr = recipe.learning_rate
    if not candidate.unfreeze_epochs or candidate.phase2_learning_rate >= lr:
        return False
    head = [t for t, r, _ in runs if not r.unfreeze_epochs]
    full = [t for t, r, _ in runs if r.unfreeze_epochs and r.phase2_learning_rate >= lr]
    return bool(head and full) and _score(full[0]) > _score(head[0])


def _head_part(run: Recipe, head: Recipe) -> Recipe:
    """``run`` without its second phase, in ``head``'s terms."""
    return run.replace(
        unfreeze_epochs=head.unfreeze_epochs,
        unfreeze_top=head.unfreeze_top,
        unfreeze_learning_rate=head.unfreeze_learning_rate,
    )


def _score(trial: Trial) -> tuple[float, float]:
    return trial.val_accuracy, -(trial.val_loss if trial.val_loss is not None else math.inf)


def _fixed(recipe: Recipe, variant: dict[str, Any], explicit: set[str]) -> Recipe:
    """The trial's plain recipe: the variant where the user left the field open (an explicit
    ``epochs`` is the upper bound the variant's epochs already respect)."""
    changes = {k: v for k, v in variant.items() if k not in explicit or k == "epochs"}
    return recipe.replace(
        auto=False, verbose=0, export_dir=None, checkpoint_dir=None, tensorboard_dir=None,
        validation_split=0.0, **changes,
    )  # fmt: skip


def _trained(recipe: Recipe) -> str:
    if recipe.from_scratch:
        return "from scratch"
    if not recipe.unfreeze_epochs:
        return "head" if recipe.freeze == "backbone" else f"freeze={recipe.freeze!r}"
    if recipe.unfreeze_top is None:
        return "all layers"
    return f"top {recipe.unfreeze_top} layers"


class _Deadline(keras.callbacks.Callback):  # type: ignore[misc]
    """Stops training at the end of the epoch that passes the search's deadline."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline
        self.hit = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if time.perf_counter() > self.deadline:
            self.hit = True
            self.model.stop_training = True


def _run_trial(
    backbone: Backbone,
    weights: list[np.ndarray],
    recipe: Recipe,
    num_classes: int,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    deadline: float,
    split_head: bool,
) -> list[tuple[Trial, Recipe, dict[str, int]]]:
    """Train one candidate with the engine: its trial, its recipe and the best epoch of each
    phase; with ``split_head``, a two-phase candidate gives the frozen head's trial (its
    first phase) first."""
    from zoo.finetune.engine import Finetuner

    _restore(backbone, weights)
    stop = _Deadline(deadline)
    run = recipe.replace(callbacks=(*recipe.callbacks, stop))
    t0 = time.perf_counter()
    result = Finetuner(backbone, num_classes=num_classes, recipe=run).fit(train, val)
    best: dict[str, int] = {}
    # the epochs early stopping watched (and restored the best of): from start_from_epoch on
    stopping = recipe.early_stopping if isinstance(recipe.early_stopping, dict) else {}
    watched = int(stopping.get("start_from_epoch", 0))
    for phase in ("head", "finetune"):
        record = result.phase(phase)
        losses = record.history.get("val_loss", []) if record is not None else []
        if losses:
            first = min(watched, len(losses) - 1)  # none watched: the last epoch's weights
            best[phase] = first + int(np.argmin(losses[first:])) + 1
    per_epoch = _per_epoch(len(train[1]), recipe)
    cut = recipe.feature_layer or backbone.feature_layer or "features"
    note = "cut short by the time budget" if stop.hit else ""
    out = []
    head = result.phase("head")
    if split_head and recipe.unfreeze_epochs and head is not None and "head" in best:
        at = best["head"] - 1
        history = head.history
        if "val_accuracy" in history:
            head_recipe = recipe.replace(
                unfreeze_epochs=0, unfreeze_top=None, unfreeze_learning_rate=None
            )
            features = result.phase("features")
            seconds = head.seconds + (features.seconds if features is not None else 0.0)
            trial = Trial(
                cut, "head", best["head"] * per_epoch, float(history["val_accuracy"][at]),
                seconds, learning_rate=recipe.learning_rate, note=note,
                val_loss=float(history["val_loss"][at]),
            )  # fmt: skip
            out.append((trial, head_recipe, {"head": best["head"]}))
    rate = recipe.phase2_learning_rate if recipe.unfreeze_epochs else recipe.learning_rate
    trial = Trial(
        cut=cut,
        trained=_trained(recipe),
        steps=sum(best.values()) * per_epoch,
        val_accuracy=float(result.metrics.get("val_accuracy", 0.0)),
        seconds=time.perf_counter() - t0,
        learning_rate=rate,
        note=note,
        val_loss=result.metrics.get("val_loss"),
    )
    out.append((trial, recipe, best))
    return out


def _weights(backbone: Backbone) -> list[np.ndarray]:
    return list((backbone.model or backbone.features).get_weights())


def _restore(backbone: Backbone, weights: list[np.ndarray]) -> None:
    """Put back the pretrained weights (a trial that trained the backbone changed them)."""
    (backbone.model or backbone.features).set_weights(weights)


def _classic(
    tuner: Finetuner, recipe: Recipe, train_data: object, validation_data: object, why: str
) -> FinetuneResult:
    """The classic recipe, after saying why the search did not run."""
    warnings.warn(
        f"auto recipe: {why}; running the classic recipe instead", ZooWarning, stacklevel=4
    )
    runner = copy.copy(tuner)
    runner.recipe = recipe.replace(auto=False)
    return runner.fit(train_data, validation_data)
