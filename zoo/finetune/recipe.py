"""Recipe: every choice the fine-tune engine makes, as one validated dataclass. No TensorFlow.

The defaults are the Keras transfer-learning recipe: freeze the backbone and call it with
``training=False`` (BatchNorm stays in inference mode), train a new head, then optionally
unfreeze and train a few epochs more with a learning rate 100x lower.

A recipe is written in Python (``Recipe(epochs=5)``), as keyword overrides of
``zoo.finetune`` (``epochs=5``), or as a ``recipe:`` block of a registry entry::

    models:
      my_net:
        provider: local
        source: ./my_net.keras
        recipe: {epochs: 5, unfreeze_epochs: 3, hidden_units: [64], augmentation: [flip]}
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import linecache
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import InvalidOptionError
from zoo.export.names import DEFAULT_FORMATS, FORMATS

__all__ = [
    "AUGMENTATIONS",
    "AUGMENTATION_LAYERS",
    "CACHE_MODES",
    "EXPORT_FORMATS",
    "RECIPE_NAMES",
    "Recipe",
    "RecipeField",
    "recipe_fields",
    "resolve_recipe",
]

#: Makes an augmentation layer from ``(keras.layers, strength, seed)``; keras stays unimported.
_LayerFactory = Callable[[Any, float, int | None], Any]
#: Augmentation names a recipe may list -> (default strength, Keras preprocessing layer).
AUGMENTATION_LAYERS: Mapping[str, tuple[float, _LayerFactory]] = {
    "flip": (0.0, lambda k, f, seed: k.RandomFlip("horizontal", seed=seed, name="augment_flip")),
    "rotation": (0.1, lambda k, f, seed: k.RandomRotation(f, seed=seed, name="augment_rotation")),
    "zoom": (0.1, lambda k, f, seed: k.RandomZoom(f, seed=seed, name="augment_zoom")),
    "translation": (
        0.1,
        lambda k, f, seed: k.RandomTranslation(f, f, seed=seed, name="augment_translation"),
    ),
    "contrast": (0.2, lambda k, f, seed: k.RandomContrast(f, seed=seed, name="augment_contrast")),
}
#: Augmentation names -> default strength.
AUGMENTATIONS: Mapping[str, float] = {name: d for name, (d, _) in AUGMENTATION_LAYERS.items()}
#: How head training on cached features is chosen ("auto": when the backbone is frozen and
#: there is no augmentation; in memory unless the features exceed ``cache_memory_limit``).
CACHE_MODES = ("auto", "memory", "disk", "off")
#: Formats exported by default (every name of :data:`zoo.export.FORMATS` is accepted).
EXPORT_FORMATS = DEFAULT_FORMATS
_STRATEGY_WORDS = ("default", "mirrored", "multi_worker")
#: Names ``recipe=`` takes besides a Recipe or a mapping.
RECIPE_NAMES = ("auto", "classic")


@dataclass(frozen=True)
class Recipe:
    """How to fine-tune: head, freezing, phases, optimisation, data, callbacks, export.

    Example:
        >>> r = Recipe(epochs=5, unfreeze_epochs=3)
        >>> r.phase2_learning_rate
        1e-05
        >>> Recipe.from_mapping({"epochs": 2, "hidden_units": [64]}).hidden_units
        (64,)
    """

    # -- the search ------------------------------------------------------------------------
    auto: bool = True  # search cut point / what trains / steps by validation (zoo.finetune.auto)
    time_budget: float | None = None  # seconds the auto search may take (None: 600)
    # -- the new head ----------------------------------------------------------------------
    feature_layer: str | None = None  # backbone layer the head reads (None: classifier's input)
    hidden_units: tuple[int, ...] = ()  # widths of hidden Dense layers before the classifier
    dropout: float = 0.2  # dropout rate before each new Dense layer (0 = none)
    activation: str = "relu"  # activation of the hidden layers
    # -- phase 1: train the head -----------------------------------------------------------
    freeze: str | int = "backbone"  # "backbone", "none", a layer index or name, "re:PATTERN"
    from_scratch: bool = False  # fresh weights, not the pretrained ones (needs freeze="none")
    epochs: int = 10  # epochs of phase 1
    learning_rate: float = 1e-3  # learning rate of phase 1
    batch_size: int = 32  # global batch size (split across replicas when distributed)
    epoch_steps: int | None = None  # an epoch is at least this many steps (small data repeats)
    # -- phase 2: unfreeze and fine-tune ---------------------------------------------------
    unfreeze_epochs: int = 0  # epochs of phase 2 (0 = no phase 2)
    unfreeze_top: int | None = None  # phase 2 trains the last N backbone layers; None = all
    unfreeze_learning_rate: float | None = None  # learning rate of phase 2 (learning_rate / 100)
    train_batchnorm: bool = False  # let unfrozen BatchNorm layers update their statistics
    # -- optimisation ----------------------------------------------------------------------
    optimizer: str | Mapping[str, Any] = "adam"  # Keras optimizer name or config
    loss: str | None = None  # Keras loss; default: sparse categorical cross-entropy
    label_smoothing: float = 0.0  # label smoothing in [0, 1) (the loss becomes categorical)
    metrics: tuple[str, ...] = ("accuracy",)  # Keras metric names
    seed: int | None = None  # seeds Python, NumPy and TensorFlow (keras.utils.set_random_seed)
    shuffle: bool = True  # reshuffle array and directory data every epoch
    jit_compile: bool | str = "auto"  # XLA: True, False or "auto" (Keras's choice)
    mixed_precision: bool = False  # mixed_float16 for layers built by the engine
    # -- data ------------------------------------------------------------------------------
    augmentation: tuple[Any, ...] = ()  # names (see AUGMENTATIONS), {name: factor}, or layers
    image_size: tuple[int, int] | None = None  # size images of a directory are read at
    skip_bad_images: bool = True  # skip undecodable files of a directory (warned); False: error
    validation_split: float = 0.0  # fraction of array / directory data held out
    cache_features: str | bool = "auto"  # head on cached features: auto, memory, disk, off
    cache_dir: str | None = None  # where disk feature caches go (default: a temp dir)
    cache_memory_limit: int = 1 << 30  # bytes of features "auto" keeps in memory
    # -- callbacks -------------------------------------------------------------------------
    checkpoint_dir: str | None = None  # back up every epoch; a rerun resumes from there
    early_stopping: int | Mapping[str, Any] | None = None  # patience, or EarlyStopping kwargs
    tensorboard_dir: str | None = None  # TensorBoard logs (one subdirectory per phase)
    callbacks: tuple[Any, ...] = ()  # more keras.callbacks.Callback objects
    verbose: int | str = "auto"  # Keras fit verbosity: 0, 1, 2 or "auto"
    # -- distribution and export -----------------------------------------------------------
    strategy: Any = None  # tf.distribute.Strategy, "mirrored", "multi_worker" or None
    export_dir: str | None = None  # write the fine-tuned model here
    export_formats: tuple[str, ...] = EXPORT_FORMATS  # names of zoo.export formats (onnx ...)

    def __post_init__(self) -> None:
        _normalize(self)

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, origin: str | None = None) -> Recipe:
        """A recipe from plain data (a registry ``recipe:`` block); unknown keys are refused.

        Args:
            data: field name -> value.
            origin: where the mapping came from ("zoo.yaml:12"), for error messages.
        """
        return cls().replace(_origin=origin, **dict(data))

    def replace(self, _origin: str | None = None, **changes: Any) -> Recipe:
        """A copy with some fields changed; misspelt names get a "did you mean"."""
        names = [f.name for f in dataclasses.fields(self)]
        for key in changes:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                where = f" (in {_origin})" if _origin else ""
                raise InvalidOptionError(
                    f"unknown recipe field {key!r}{where}{hint} Known fields: {', '.join(names)}"
                )
        try:
            return dataclasses.replace(self, **changes)
        except InvalidOptionError as exc:
            if _origin:
                raise InvalidOptionError(f"{_origin}: {exc}") from None
            raise

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (objects such as layers or strategies become their repr)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [v if isinstance(v, str | int | float | dict) else repr(v) for v in value]
            elif isinstance(value, Mapping):
                value = dict(value)
            elif value is not None and not isinstance(value, str | int | float | bool):
                value = repr(value)
            out[f.name] = value
        return out

    def plain_fields(self) -> dict[str, Any]:
        """The fields that are plain data (lists, not tuples), as :meth:`to_yaml` writes them;
        those holding Python objects are left out. :meth:`from_mapping` reads them back."""
        return {
            f.name: _plain_copy(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if _is_plain(getattr(self, f.name))
        }

    def to_yaml(self) -> str:
        """The recipe as YAML, read back by :meth:`from_yaml` (``recipe.yaml`` of an export).

        Fields holding Python objects (callbacks, layer augmentations, a strategy or
        optimizer object) cannot be written; they are left out and named in a comment, so
        the file says what it does not reproduce.
        """
        import yaml

        plain = self.plain_fields()
        left_out = [f.name for f in dataclasses.fields(self) if f.name not in plain]
        text = yaml.safe_dump(plain, sort_keys=False, default_flow_style=None)
        if left_out:
            text = f"# not written (Python objects): {', '.join(left_out)}\n" + text
        return text

    @classmethod
    def from_yaml(cls, path: str | Path) -> Recipe:
        """The recipe a ``recipe.yaml`` (:meth:`to_yaml`) holds.

        Example:
            >>> again = zoo.finetune(model, (x, y), recipe=zoo.Recipe.from_yaml("out/recipe.yaml"))
        """
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidOptionError(f"cannot read a recipe from {path}: {exc}") from None
        if not isinstance(data, Mapping):
            raise InvalidOptionError(f"{path} holds no mapping of recipe fields")
        return cls.from_mapping(data, origin=str(path))

    # -- derived -----------------------------------------------------------------------------

    @property
    def phase2_learning_rate(self) -> float:
        """The learning rate of phase 2 (100x lower than phase 1 unless given)."""
        if self.unfreeze_learning_rate is not None:
            return self.unfreeze_learning_rate
        return self.learning_rate / 100.0

    @property
    def cache_mode(self) -> str:
        """``cache_features`` as one of CACHE_MODES."""
        value = self.cache_features
        if value is True:
            return "auto"
        if value is False:
            return "off"
        return str(value)


@dataclass(frozen=True)
class RecipeField:
    """One :class:`Recipe` field as the CLI and the docs see it."""

    name: str  # the field name ("learning_rate")
    type: Any  # the evaluated annotation (``float``, ``tuple[int, ...]``, ``str | None``)
    default: Any  # the Recipe's default
    help: str  # the field's one-line comment in the class body
    group: str  # the ``# -- heading --`` it sits under ("phase 1: train the head")


_FIELD_LINE = re.compile(r"^    (\w+): .+? = .+?  # (.+)$")
_GROUP_LINE = re.compile(r"^    # -- (.+?) -+$")


@functools.cache
def recipe_fields() -> tuple[RecipeField, ...]:
    """Every Recipe field with its type, default, one-line comment and group, in order.

    The comments are the documentation (timm's style): each field's line ends with one, and
    the ``zoo finetune`` flags and docs/cli.md's table are made from them.
    """
    comments: dict[str, tuple[str, str]] = {}
    group = ""
    # linecache, not inspect.getsource: that parses the whole module (tens of ms at start-up)
    lines = linecache.getlines(__file__, globals())
    start = next(i for i, line in enumerate(lines) if line.startswith("class Recipe:"))
    for line in lines[start + 1 :]:
        if line.startswith("    def ") or (line.strip() and not line.startswith(" ")):
            break  # the fields come before the first method
        line = line.rstrip("\n")
        heading = _GROUP_LINE.match(line)
        if heading:
            group = heading.group(1)
        found = _FIELD_LINE.match(line)
        if found:
            comments[found.group(1)] = (found.group(2).strip(), group)
    hints = typing.get_type_hints(Recipe)
    defaults = Recipe()
    return tuple(
        RecipeField(
            f.name, hints[f.name], getattr(defaults, f.name), *comments.get(f.name, ("", ""))
        )
        for f in dataclasses.fields(Recipe)
    )


def resolve_recipe(
    registry_recipe: Mapping[str, Any] | None,
    recipe: Recipe | Mapping[str, Any] | str | None,
    overrides: Mapping[str, Any],
    *,
    origin: str | None = None,
) -> Recipe:
    """Registry defaults < ``recipe`` < keyword overrides.

    A :class:`Recipe` object is complete, so it replaces the registry's block; a mapping is
    merged over it. ``"auto"`` (the default) searches by validation for what the user left
    open; ``"classic"`` is the fixed Keras recipe (``Recipe(auto=False)``).
    """
    if isinstance(recipe, str):
        if recipe not in RECIPE_NAMES:
            raise InvalidOptionError(
                f"recipe must be one of {', '.join(map(repr, RECIPE_NAMES))}, a zoo.Recipe or a "
                f"mapping of its fields; received {recipe!r}"
            )
        recipe = {"auto": recipe == "auto"}
    if isinstance(recipe, Recipe):
        base = recipe
    else:
        base = Recipe.from_mapping(registry_recipe or {}, origin=origin)
        if recipe is not None:
            if not isinstance(recipe, Mapping):
                raise InvalidOptionError(
                    f"recipe must be a zoo.Recipe or a mapping, received {type(recipe).__name__}"
                )
            base = base.replace(**dict(recipe))
    return base.replace(**dict(overrides)) if overrides else base


# -- validation --------------------------------------------------------------------------------


def _is_plain(value: object) -> bool:
    """Whether YAML can hold ``value`` (numbers, strings, lists and mappings of them)."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, tuple | list):
        return all(_is_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _plain_copy(value: Any) -> Any:
    """Tuples -> lists and mappings -> dicts, all the way down (safe_dump takes only those)."""
    if isinstance(value, tuple | list):
        return [_plain_copy(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain_copy(v) for k, v in value.items()}
    return value


def _fail(name: str, expected: str, value: object) -> InvalidOptionError:
    return InvalidOptionError(f"recipe field {name!r} must be {expected}, received {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _set(recipe: Recipe, name: str, value: object) -> None:
    object.__setattr__(recipe, name, value)


def _tuple(recipe: Recipe, name: str) -> tuple[Any, ...]:
    """The field as a tuple; a single value (a string, a layer, a mapping) becomes one item."""
    value = getattr(recipe, name)
    if isinstance(value, str) or not isinstance(value, Sequence):
        value = (value,)
    result = tuple(value)
    _set(recipe, name, result)
    return result


def _normalize(r: Recipe) -> None:
    """Check every field of ``r`` and normalize lists to tuples (raises InvalidOptionError)."""
    hidden = _tuple(r, "hidden_units")
    if not all(_is_int(u) and u > 0 for u in hidden):
        raise _fail("hidden_units", "a list of positive integers", hidden)
    for name in ("epochs", "batch_size"):
        value = getattr(r, name)
        if not _is_int(value) or value < 1:
            raise _fail(name, "a positive integer", value)
    if r.epoch_steps is not None and (not _is_int(r.epoch_steps) or r.epoch_steps < 1):
        raise _fail("epoch_steps", "a positive integer or None (one pass)", r.epoch_steps)
    if not _is_int(r.unfreeze_epochs) or r.unfreeze_epochs < 0:
        raise _fail("unfreeze_epochs", "an integer >= 0", r.unfreeze_epochs)
    if r.unfreeze_top is not None and (not _is_int(r.unfreeze_top) or r.unfreeze_top < 1):
        raise _fail("unfreeze_top", "a positive integer or None (all layers)", r.unfreeze_top)
    for name in ("learning_rate", "unfreeze_learning_rate"):
        value = getattr(r, name)
        if value is None and name == "unfreeze_learning_rate":
            continue
        if not _is_number(value) or not value > 0:
            raise _fail(name, "a positive number", value)
        _set(r, name, float(value))
    for name, high in (("dropout", 1.0), ("label_smoothing", 1.0), ("validation_split", 1.0)):
        value = getattr(r, name)
        if not _is_number(value) or not 0.0 <= value < high:
            raise _fail(name, f"a number in [0, {high:g})", value)
        _set(r, name, float(value))
    if r.time_budget is not None:
        if not _is_number(r.time_budget) or not r.time_budget > 0:
            raise _fail("time_budget", "a positive number of seconds or None", r.time_budget)
        _set(r, "time_budget", float(r.time_budget))
    names = (
        "activation",
        "loss",
        "cache_dir",
        "checkpoint_dir",
        "tensorboard_dir",
        "feature_layer",
    )
    for name in names:
        value = getattr(r, name)
        if value is not None and not isinstance(value, str):
            raise _fail(name, "a string", value)
    if r.export_dir is not None:
        _set(r, "export_dir", str(r.export_dir))  # accept pathlib.Path
    for name in ("auto", "from_scratch", "train_batchnorm", "shuffle", "mixed_precision"):
        if not isinstance(getattr(r, name), bool):
            raise _fail(name, "true or false", getattr(r, name))
    if r.from_scratch and r.freeze != "none":
        raise InvalidOptionError(
            f"from_scratch=True trains freshly initialized weights, so nothing of the backbone "
            f"may stay frozen: pass freeze='none' (and train_batchnorm=True for a network with "
            f"BatchNorm). Received: freeze={r.freeze!r}"
        )
    if r.jit_compile not in (True, False, "auto"):
        raise _fail("jit_compile", "true, false or 'auto'", r.jit_compile)
    if r.seed is not None and not _is_int(r.seed):
        raise _fail("seed", "an integer or None", r.seed)
    if not (isinstance(r.optimizer, str | Mapping) or hasattr(r.optimizer, "apply")):
        raise _fail("optimizer", "an optimizer name or config mapping", r.optimizer)
    metrics = _tuple(r, "metrics")
    if not all(isinstance(m, str) for m in metrics):
        raise _fail("metrics", "a list of metric names", metrics)
    _check_freeze(r.freeze)
    _check_augmentation(_tuple(r, "augmentation"))
    _tuple(r, "callbacks")
    _check_image_size(r)
    if r.cache_mode not in CACHE_MODES:
        raise _fail(
            "cache_features", f"one of {', '.join(CACHE_MODES)} or true/false", r.cache_mode
        )
    if not _is_int(r.cache_memory_limit) or r.cache_memory_limit < 0:
        raise _fail("cache_memory_limit", "a number of bytes", r.cache_memory_limit)
    _check_early_stopping(r.early_stopping)
    if isinstance(r.strategy, str) and r.strategy not in _STRATEGY_WORDS:
        raise _fail("strategy", f"a tf.distribute.Strategy or one of {_STRATEGY_WORDS}", r.strategy)
    formats = _tuple(r, "export_formats")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise _fail("export_formats", f"a list of {', '.join(FORMATS)}", formats)
    if r.verbose not in (0, 1, 2, "auto"):
        raise _fail("verbose", "0, 1, 2 or 'auto'", r.verbose)


def _check_freeze(freeze: object) -> None:
    if _is_int(freeze) or (isinstance(freeze, str) and freeze):
        if isinstance(freeze, str) and freeze.startswith("re:"):
            try:
                re.compile(freeze[3:])
            except re.error as exc:
                raise _fail(
                    "freeze", f"a valid regular expression after 're:' ({exc})", freeze
                ) from None
        return
    raise _fail(
        "freeze",
        "'backbone', 'none', a layer index, a layer name or 're:PATTERN'",
        freeze,
    )


def _check_augmentation(items: tuple[Any, ...]) -> None:
    for item in items:
        names: list[object] = []
        if isinstance(item, str):
            names = [item]
        elif isinstance(item, Mapping):
            names = list(item)
            if not all(_is_number(v) for v in item.values()):
                raise _fail("augmentation", "{name: strength} with numeric strengths", item)
        elif callable(item):
            continue  # a Keras layer
        for name in names:
            if name not in AUGMENTATIONS:
                close = difflib.get_close_matches(str(name), list(AUGMENTATIONS), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise _fail(
                    "augmentation", f"names from {', '.join(AUGMENTATIONS)} or layers{hint}", item
                )
        if not names:
            raise _fail("augmentation", "a list of names, {name: strength} or Keras layers", item)


def _check_image_size(r: Recipe) -> None:
    size = r.image_size
    if size is None:
        return
    if (
        isinstance(size, str)
        or not isinstance(size, Sequence)
        or len(size) != 2
        or not all(_is_int(s) and s > 0 for s in size)
    ):
        raise _fail("image_size", "[height, width] of positive integers", size)
    _set(r, "image_size", (int(size[0]), int(size[1])))


def _check_early_stopping(value: object) -> None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return
    allowed = {"patience", "min_delta", "monitor", "restore_best_weights", "start_from_epoch"}
    if isinstance(value, Mapping) and set(value) <= allowed:
        return
    raise _fail(
        "early_stopping", f"a patience (integer) or a mapping with keys {sorted(allowed)}", value
    )
