"""The Finetuner: backbone + data + recipe -> a fine-tuned, exported model.

It works only through the :class:`~zoo.model.backbone.Backbone` contract (``input_spec``,
``features``, ``feature_dim``) and :func:`zoo.model.head.build_classifier`; it never imports a
provider. The steps:

1. load the backbone (inside the strategy's scope and dtype policy), check the data (F24)
2. build ``raw pixels -> [augment] -> resize -> gray/RGB -> preprocess -> backbone -> head``;
   BatchNorm stays in inference mode (frozen BatchNorm layers, see ``freezing``)
3. phase "head": freeze per ``recipe.freeze``; train on cached features when possible
4. phase "finetune" (``unfreeze_epochs``): unfreeze all / the top N layers, recompile with the
   learning rate 100x lower, train the whole model
5. final metrics, export (chief only when distributed)
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.errors import ExportError, InvalidOptionError, MissingDependencyError, ZooWarning
from zoo.export.exporter import refuse_short_calibration
from zoo.export.report import ExportReport
from zoo.finetune import callbacks as run_callbacks
from zoo.finetune import distribute, features, interrupts
from zoo.finetune.augment import augmentation_layers
from zoo.finetune.callbacks import RunState, phase_callbacks, recipe_fingerprint, restored_epoch
from zoo.finetune.data import (
    Data,
    data_fingerprint,
    label_errors,
    load_data,
    one_hot,
    repeated,
)
from zoo.finetune.freezing import apply_freeze, reinitialize, unfreeze
from zoo.finetune.objective import loss, optimizer, smoothed
from zoo.finetune.recipe import Recipe, resolve_recipe
from zoo.finetune.result import FinetuneResult, PhaseResult
from zoo.model.backbone import Backbone
from zoo.model.head import build_classifier, head_layers
from zoo.session import CORE_OVERRIDES, Session, default_session
from zoo.spec import ModelSpec

__all__ = ["Finetuner"]

log = logging.getLogger(__name__)


@dataclass
class _Built:
    """What one run builds: the backbone, the full model, its head layers, the data."""

    backbone: Backbone
    model: keras.Model
    head: list[keras.layers.Layer]
    train: Data
    val: Data | None
    num_classes: int


class Finetuner:
    """Fine-tunes one backbone with one recipe; :func:`zoo.finetune` is the one-call form.

    Args:
        source: a Backbone, or anything :func:`zoo.load_backbone` takes (a registry name, a
            path, ``"keras:ResNet50"``, ...). A registry entry's ``recipe:`` block gives the
            defaults.
        num_classes: outputs of the new head; inferred from the labels when omitted.
        recipe: ``"auto"`` (the default: search by validation, :mod:`zoo.finetune.auto`),
            ``"classic"`` (the fixed Keras recipe), a :class:`Recipe` (replaces the
            registry's) or a mapping (merged over it).
        session: the :class:`~zoo.session.Session` that resolves and loads the source (the
            default session when omitted). The source is resolved once, here: an unknown
            name fails now, not at :meth:`fit`.
        **overrides: recipe fields (``epochs=5``), and for a source that is loaded here,
            :func:`zoo.load_backbone` overrides (``weights=None``, ``input_shape=...``).

    Example:
        >>> tuner = Finetuner("mobilenet_v2", weights=None, epochs=3, unfreeze_epochs=2)
        >>> result = tuner.fit((x_train, y_train), validation_data=(x_val, y_val))
        >>> result.model.predict(x_val[:4]).argmax(-1)
    """

    def __init__(
        self,
        source: object,
        *,
        num_classes: int | None = None,
        recipe: Recipe | Mapping[str, Any] | str | None = None,
        session: Session | None = None,
        **overrides: Any,
    ) -> None:
        self.source = source
        self.num_classes = num_classes
        self._session = session  # the default one only when a name must be resolved
        self._strategy: tf.distribute.Strategy | None = None
        fields = set(Recipe.__dataclass_fields__)
        recipe_overrides = {k: v for k, v in overrides.items() if k in fields}
        self.load_overrides = {k: v for k, v in overrides.items() if k not in fields}
        for key in self.load_overrides:
            close = difflib.get_close_matches(key, sorted(fields), n=1)
            if key not in CORE_OVERRIDES and close:
                raise InvalidOptionError(
                    f"{key!r} is neither a recipe field nor a model override; did you mean "
                    f"{close[0]!r}?"
                )
        spec: ModelSpec | None
        if isinstance(source, Backbone):
            if self.load_overrides:
                raise InvalidOptionError(
                    f"overrides {sorted(self.load_overrides)} cannot apply to an already "
                    "loaded Backbone"
                )
            spec, self._resolved = source.spec, None
        else:  # resolved once; fit() loads exactly this spec
            self._resolved = self.session.resolve(source, self.load_overrides)
            spec = self._resolved[0]
        self.recipe = resolve_recipe(
            spec.recipe if spec is not None else None,
            recipe,
            recipe_overrides,
            origin=f"recipe of {spec.name!r} ({spec.origin})" if spec is not None else None,
        )
        #: fields the user set (registry block, recipe mapping or object, overrides): the
        #: auto recipe searches only the others
        self.explicit = _explicit_fields(spec.recipe if spec is not None else None, recipe)
        self.explicit |= set(recipe_overrides)

    @property
    def session(self) -> Session:
        """The Session that resolves and loads the source (the default one when none given)."""
        return self._session if self._session is not None else default_session()

    # -- the run -----------------------------------------------------------------------------

    def fit(self, train_data: object, validation_data: object = None) -> FinetuneResult:
        """Train per the recipe and export; see :func:`zoo.finetune`.

        Raises:
            DataError: the data does not fit the backbone or the labels (before training).
            TrainingDivergedError: the loss became NaN or infinite.
        """
        with features.quiet_retracing():
            if self.recipe.auto:
                from zoo.finetune.auto import run_auto

                _check_dependencies(self.recipe)
                return run_auto(self, train_data, validation_data)
            return self._fit(train_data, validation_data)

    def _fit(self, train_data: object, validation_data: object) -> FinetuneResult:
        recipe = self.recipe
        _check_dependencies(recipe)
        if recipe.seed is not None:
            keras.utils.set_random_seed(recipe.seed)
        strategy = self._strategy = distribute.resolve_strategy(recipe.strategy)
        chief = distribute.is_chief(strategy)
        with contextlib.ExitStack() as stack:
            if strategy is not None:
                stack.enter_context(strategy.scope())
                stack.enter_context(distribute.multi_worker_reductions(strategy))
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zoo-ft-")))
            cache_root = workdir
            if recipe.cache_dir is not None:
                Path(recipe.cache_dir).mkdir(parents=True, exist_ok=True)
                cache_root = Path(tempfile.mkdtemp(prefix="zoo-features-", dir=recipe.cache_dir))
                stack.callback(shutil.rmtree, cache_root, True)
            # checked before anything is built: another run's directory is refused at once
            state = self._run_state(chief, workdir, train_data, validation_data)
            built = self._build(train_data, validation_data, strategy, stack)
            result = FinetuneResult(
                model=built.model,
                backbone=built.backbone,
                recipe=recipe,
                num_classes=built.num_classes,
                class_names=built.train.class_names,
            )
            with distribute.synchronized_batchnorm(built.model, strategy):  # not in the export
                current = self._phase_head(built, result, state, cache_root)
                if recipe.unfreeze_epochs:
                    current = self._phase_finetune(built, result, state)
            if not built.model.compiled:  # the head trained apart, or was restored
                self._compile(built.model, result.phases[-1].learning_rate or 1e-3)
                # built now, so a saved model's optimizer has the variables a loaded one
                # builds (else every load warns "Skipping variable loading for optimizer")
                built.model.optimizer.build(built.model.trainable_variables)
            result.metrics = self._final_metrics(built, result.phases[-1], current=current)
            if recipe.export_dir is not None:
                start = time.perf_counter()
                target = Path(recipe.export_dir) if chief else workdir / "export"
                # loading an export builds variables; under a cluster's strategy that is a
                # collective every worker must join, so a multi-worker run only writes
                cluster = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                if cluster and chief:
                    warnings.warn(
                        "export: files of a multi-worker run are written but not checked; "
                        "check them with zoo.export(model_file, ...) outside the cluster",
                        ZooWarning,
                        stacklevel=3,
                    )
                self._export(built, result, target, verify=chief and not cluster)
                if not chief:
                    result.exports, result.export_report = {}, None
                if chief:  # beside the model: what made it (not a format of it)
                    target.mkdir(parents=True, exist_ok=True)
                    (target / "recipe.yaml").write_text(recipe.replace(export_dir=None).to_yaml())
                result.phases.append(PhaseResult("export", time.perf_counter() - start))
        return result

    def _export(self, built: _Built, result: FinetuneResult, target: Path, verify: bool) -> None:
        """Export through zoo.export: int8 calibrates on the training images, every file is
        checked on the validation images (or a sample of the training ones). A format that
        cannot be written is reported, not raised, so the trained model is not lost."""
        from zoo.export.exporter import MAX_REPRESENTATIVE, export

        report: ExportReport | None
        recipe = self.recipe
        needed = MAX_REPRESENTATIVE if "tflite_int8" in recipe.export_formats else 256
        try:
            report = export(
                built.model,
                target,
                recipe.export_formats,
                data=_images(built.train, needed),
                validation_data=_images(built.val, 256) if built.val is not None else None,
                class_names=result.class_names,
                verify=verify,
                write_others=True,
            )
        except ExportError as exc:
            result.export_error = str(exc)
            report = exc.report if isinstance(exc.report, ExportReport) else None
            warnings.warn(f"export: {exc}", ZooWarning, stacklevel=3)
        result.export_report = report
        result.exports = report.paths if report is not None else {}

    def _build(
        self,
        train_data: object,
        validation_data: object,
        strategy: tf.distribute.Strategy | None,
        stack: contextlib.ExitStack,
    ) -> _Built:
        recipe = self.recipe
        if recipe.mixed_precision:
            stack.enter_context(distribute.dtype_policy("mixed_float16"))
            if isinstance(self.source, Backbone):
                warnings.warn(
                    "mixed_precision: a Backbone loaded before keeps its float32 layers; only "
                    "the new head runs in float16. Pass the model's name or path instead, so "
                    "it is loaded under the mixed_float16 policy.",
                    ZooWarning,
                    stacklevel=4,
                )
        backbone = self.load_backbone(strategy)
        if recipe.from_scratch:
            if recipe.seed is not None:
                keras.utils.set_random_seed(recipe.seed)
            reinitialize(backbone)
        if recipe.feature_layer is not None:
            backbone = backbone.at_cut(recipe.feature_layer)
        train, val, num_classes = load_data(
            train_data, validation_data, backbone, recipe, self.num_classes
        )
        refuse_short_calibration(recipe.export_formats if recipe.export_dir else (), train.count)
        if recipe.seed is not None:  # again: loading or cloning may have drawn numbers
            keras.utils.set_random_seed(recipe.seed)
        head = head_layers(
            num_classes,
            dropout=recipe.dropout,
            hidden_units=recipe.hidden_units,
            activation=recipe.activation,
        )
        model = build_classifier(
            backbone,
            num_classes,
            input_shape=train.shape,
            augmentation=augmentation_layers(recipe.augmentation, recipe.seed),
            head=head,
            backbone_training=None if recipe.train_batchnorm else False,
        )
        apply_freeze(backbone.features, recipe.freeze, train_batchnorm=recipe.train_batchnorm)
        return _Built(backbone, model, head, train, val, num_classes)

    def _run_state(
        self, chief: bool, workdir: Path, train_data: object, validation_data: object
    ) -> RunState | None:
        if self.recipe.checkpoint_dir is None:
            return None
        # non-chief workers of a cluster keep their (identical) state to themselves
        directory = Path(self.recipe.checkpoint_dir) if chief else workdir / "checkpoint"
        return RunState(directory, self.fingerprint(train_data, validation_data))

    def fingerprint(self, train_data: object, validation_data: object) -> dict[str, Any]:
        """What this run trains (recipe, data, model): a checkpoint of another is refused."""
        resolved: ModelSpec | None = self._resolved[0] if self._resolved is not None else None
        spec = resolved or (self.source.spec if isinstance(self.source, Backbone) else None)
        return {
            "recipe": recipe_fingerprint(self.recipe),
            "data": data_fingerprint(train_data, validation_data),
            "model": run_callbacks.model_fingerprint(spec, self.num_classes),
        }

    def load_backbone(self, strategy: tf.distribute.Strategy | None = None) -> Backbone:
        """The source as a Backbone (loaded from the resolved spec, or the one given)."""
        if self._resolved is None:
            assert isinstance(self.source, Backbone)
            if strategy is not None:
                return distribute.clone_into_scope(self.source)
            return self.source
        return self.session.load_resolved(*self._resolved)

    # -- phases ------------------------------------------------------------------------------

    @staticmethod
    def _resumed(name: str, built: _Built, result: FinetuneResult, state: RunState | None) -> bool:
        """True when phase ``name`` finished in an earlier run; its weights are restored."""
        done = state.finished(name) if state is not None else None
        if done is None or state is None:
            return False
        built.model.load_weights(str(state.weights(name)))
        result.phases.append(done)
        log.info("resumed: phase %r finished before; restored from %s", name, state.directory)
        return True

    def _phase_head(
        self, built: _Built, result: FinetuneResult, state: RunState | None, cache_root: Path
    ) -> bool:
        """Train the head; return whether its history's last epoch shows the final weights."""
        recipe = self.recipe
        if self._resumed("head", built, result, state):
            return False
        mode = features.cache_mode(
            recipe, built.train, built.backbone.feature_dim, bool(recipe.augmentation)
        )
        model, train, val = built.model, built.train, built.val
        if mode is not None:
            start = time.perf_counter()
            extractor, model = features.split_model(built.model, built.head)

            def cached(data: Data) -> Data:
                return features.extract(
                    extractor,
                    data,
                    batch_size=recipe.batch_size,
                    mode=mode,
                    shuffle=recipe.shuffle and train.is_array,  # datasets: Keras ignores it
                    workdir=cache_root,
                )

            with label_errors():
                train = cached(train)
                val = cached(val) if val is not None else None
            if isinstance(train.x, np.ndarray) and not features.feature_signal(train.x):
                # the classic recipe does what it was told, but says it cannot work; the
                # auto recipe stops (zoo.finetune.auto)
                warnings.warn(
                    features.no_signal_message(built.backbone.name, train.x),
                    ZooWarning,
                    stacklevel=4,
                )
            result.feature_cache = mode
            result.phases.append(PhaseResult("features", time.perf_counter() - start))
        return self._train(
            built,
            result,
            model,
            train,
            val,
            "head",
            recipe.learning_rate,
            recipe.epochs,
            state,
            cached=mode is not None,
        )

    def _phase_finetune(
        self, built: _Built, result: FinetuneResult, state: RunState | None
    ) -> bool:
        """Unfreeze and train; return whether its history's last epoch shows the final weights."""
        recipe = self.recipe
        if self._resumed("finetune", built, result, state):
            return False
        unfreeze(
            built.backbone.features, recipe.unfreeze_top, train_batchnorm=recipe.train_batchnorm
        )
        return self._train(
            built,
            result,
            built.model,
            built.train,
            built.val,
            "finetune",
            recipe.phase2_learning_rate,
            recipe.unfreeze_epochs,
            state,
        )

    def _train(
        self,
        built: _Built,
        result: FinetuneResult,
        model: keras.Model,
        train: Data,
        val: Data | None,
        name: str,
        learning_rate: float,
        epochs: int,
        state: RunState | None,
        *,
        cached: bool = False,
    ) -> bool:
        """Compile ``model`` afresh (trainable flags changed), fit it, record the phase in
        ``result`` (and ``state``); Ctrl-C stops at a batch boundary (``interrupts``).

        Returns whether the last epoch of its history shows the final weights (False when
        early stopping restored an earlier epoch's, or no epoch ran).
        """
        recipe = self.recipe
        train = repeated(train, recipe.epoch_steps, recipe.batch_size, recipe.cache_memory_limit)
        smoothing = smoothed(recipe)
        n = int(model.outputs[0].shape[-1])
        if smoothing:
            train = one_hot(train, n)
            val = one_hot(val, n) if val is not None else None
        # a head on cached features is tiny: run a whole epoch per call, not one step, so
        # Python overhead does not dominate (same batches, same updates). Not under a
        # tf.distribute strategy: Keras's multi-step loop fails there ("You must feed a value
        # for placeholder tensor ... while/cond/Placeholder").
        # Likewise for a whole model on data that repeats to epoch_steps: small data, where
        # one step is cheap and the Python loop around it is not.
        steps = 1
        whole_epochs = cached or recipe.epoch_steps is not None
        if whole_epochs and train.count and self._strategy is None:
            steps = -(-train.count // recipe.batch_size)
        self._compile(model, learning_rate, steps_per_execution=steps)
        self._build_before_fit(model, train)
        callbacks = phase_callbacks(
            recipe,
            name,
            learning_rate,
            validation=val is not None,
            checkpoint_dir=state.directory if state is not None else None,
        )
        resumed_from = state.begin(name) if state is not None else None
        if resumed_from is not None:
            log.info(
                "resumed: phase %r continues after epoch %d of %d (%s)",
                name,
                resumed_from,
                epochs,
                state.directory if state is not None else "",
            )
        start = time.perf_counter()
        # the first Ctrl-C stops at the next batch boundary (StopOnInterrupt); one after the
        # last check is raised as the block ends, once this phase is saved
        with interrupts.deferred():
            try:
                with label_errors():
                    history = model.fit(
                        **train.fit_args(recipe.batch_size),
                        validation_data=val.validation_arg() if val is not None else None,
                        epochs=epochs,
                        shuffle=recipe.shuffle and train.is_array,  # datasets: Keras ignores it
                        callbacks=callbacks,
                        verbose=recipe.verbose,
                    )
            finally:
                # BackupAndRestore sets the epoch to start from on the model and Keras never
                # clears it: the next phase's fit on the same model would start there too and
                # skip epochs (F32)
                model._initial_epoch = None
            seconds = time.perf_counter() - start
            logged = state.history(name) if state is not None else None
            phase = PhaseResult(
                name=name,
                seconds=seconds,
                epochs=len(next(iter(logged.values()))) if logged else len(history.epoch),
                history=logged or {k: [float(v) for v in vs] for k, vs in history.history.items()},
                learning_rate=learning_rate,
                trainable_weights=len(model.trainable_weights),
                resumed_from=resumed_from,
            )
            if history.epoch and (kept := restored_epoch(callbacks, history.epoch)) is not None:
                phase.kept_epoch = kept + 1  # early stopping put back that epoch's weights
            # a resumed fit that ran no epoch leaves the log's last row unconfirmed
            current = bool(history.epoch) and phase.kept_epoch is None
            result.phases.append(phase)
            if state is not None:
                state.finish(phase, built.model)
        return current

    def _build_before_fit(self, model: keras.Model, data: Data) -> None:
        """The MultiWorkerMirroredStrategy workaround; draws a batch only for that strategy."""
        batch_size = min(self.recipe.batch_size, 2)
        distribute.build_before_fit(model, self._strategy, lambda: next(data.batches(batch_size)))

    def _compile(
        self, model: keras.Model, learning_rate: float, steps_per_execution: int = 1
    ) -> None:
        """Compile afresh: trainable flags changed, or a new phase with its learning rate."""
        recipe = self.recipe
        model.compile(
            steps_per_execution=steps_per_execution,
            optimizer=optimizer(recipe.optimizer, learning_rate),
            loss=loss(recipe),
            metrics=list(recipe.metrics),
            jit_compile=recipe.jit_compile,
        )

    def _final_metrics(
        self, built: _Built, phase: PhaseResult, *, current: bool
    ) -> dict[str, float]:
        """Loss and metrics of the returned model, from the last training phase.

        Training metrics: that phase's last epoch, or the epoch early stopping kept (one row
        of the history, not one epoch's loss beside another's val_loss). Validation metrics:
        its last epoch too when that epoch's weights are the final ones (``current``);
        otherwise (early stopping restored an earlier epoch, the phase was restored from a
        checkpoint) the validation set is evaluated once with the final weights.
        """
        at = phase.kept_epoch - 1 if phase.kept_epoch else -1
        last = {k: v[at] for k, v in phase.history.items() if len(v) > max(at, 0)}
        metrics = {k: v for k, v in last.items() if not k.startswith("val_")}
        if built.val is None:
            return metrics
        logged = {k: v for k, v in last.items() if k.startswith("val_")}
        if current and logged:
            return {**metrics, **logged}
        val = built.val
        if smoothed(self.recipe):
            val = one_hot(val, built.num_classes)
        self._build_before_fit(built.model, built.train)
        with label_errors():
            scores = built.model.evaluate(
                **val.fit_args(self.recipe.batch_size), verbose=0, return_dict=True
            )
        return {**metrics, **{f"val_{k}": float(v) for k, v in scores.items()}}


# -- helpers -------------------------------------------------------------------------------------


def _images(data: Data, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``limit`` raw images and class ids of ``data``, in its order, as arrays."""
    xs, ys, count = [], [], 0
    for x, y in data.batches(64):
        xs.append(np.asarray(x, dtype="float32"))
        labels = np.asarray(y)
        ys.append(labels.argmax(-1) if labels.ndim == 2 else labels)  # one-hot when smoothed
        count += len(xs[-1])
        if count >= limit:
            break
    return np.concatenate(xs)[:limit], np.concatenate(ys)[:limit].astype("int64")


def _check_dependencies(recipe: Recipe) -> None:
    """Optional packages the recipe needs, checked before any work."""
    if recipe.tensorboard_dir is not None:
        try:
            importlib.import_module("tensorboard")  # tf.summary needs it to write events
        except ImportError:
            raise MissingDependencyError(
                "tensorboard_dir needs the tensorboard package, which is not installed: "
                "pip install tensorboard (or pip install 'tfzoo[tensorboard]')"
            ) from None
    if recipe.export_dir is not None and "onnx" in recipe.export_formats:
        from zoo.export.runtimes import require

        for module in ("tf2onnx", "onnx", "onnxruntime"):  # before training, not after it
            require(module)


def _explicit_fields(registry: Mapping[str, Any] | None, recipe: object) -> set[str]:
    """Recipe fields a registry block or the ``recipe`` argument set."""
    fields = set(registry or {})
    if isinstance(recipe, Recipe):  # an object: the fields that differ from the defaults
        default = Recipe()
        fields |= {
            f for f in Recipe.__dataclass_fields__ if getattr(recipe, f) != getattr(default, f)
        }
    elif isinstance(recipe, Mapping):
        fields |= set(recipe)
    return fields - {"auto"}
