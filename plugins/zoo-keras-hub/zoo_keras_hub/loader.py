"""Turn a ``keras_hub`` source into a tfzoo Backbone. Imports KerasHub (and so TensorFlow).

Only :meth:`KerasHubProvider.load` imports this module. KerasHub downloads presets itself
(kagglehub, huggingface_hub) into its own caches; this module decides what may be loaded,
refuses remote presets under ``ZOO_REQUIRE_HASHES=1`` (zoo_keras_hub.strict: no pin could be
checked), honours ``ZOO_OFFLINE=1`` by checking those caches before KerasHub is called, and
turns KerasHub's errors into tfzoo's.
"""

from __future__ import annotations

import difflib
import inspect
import json
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keras
import keras_hub
from zoo.plugin_api import (
    Backbone,
    FetchError,
    InputSpec,
    InvalidModelError,
    InvalidOptionError,
    MissingDependencyError,
    ModelSpec,
    OfflineError,
    SourceNotFoundError,
    ZooError,
    ZooWarning,
    is_offline,
)

from zoo_keras_hub.catalogue import catalogue
from zoo_keras_hub.converter import input_spec_from_converter
from zoo_keras_hub.layers import ClassToken
from zoo_keras_hub.sources import PRESET_WEIGHTS, PROVIDER_NAME, REMOTE_SCHEMES
from zoo_keras_hub.strict import refuse_remote_preset

__all__ = ["load"]

PROVIDER = PROVIDER_NAME
POOLINGS = ("avg", "max", "token")
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
CONVERTER_FILE = "image_converter.json"
_CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
_CONFIG_FORMATS = ("registered_name", "model_type", "architecture")  # Keras, Transformers, timm
# Constructor parameters that are not architecture options.
_NOT_OPTIONS = {"self", "kwargs", "name", "data_format"}


def load(spec: ModelSpec, *, provider: str = PROVIDER) -> Backbone:
    """Build or load the backbone ``spec`` names and normalize it."""
    options = dict(spec.options)
    pooling = options.pop("pooling", None)
    if pooling is not None and pooling not in POOLINGS:
        raise InvalidOptionError(
            f"pooling must be one of {', '.join(map(repr, POOLINGS))}; received {pooling!r}",
            provider=provider,
        )
    if _CLASS_NAME.match(spec.source):
        model = _build_class(spec, options)
        input_spec = InputSpec.from_mode("raw")  # a fresh KerasHub converter does nothing
    else:
        model, input_spec = _load_preset(spec, options)
    return _to_backbone(model, spec, input_spec, pooling, provider)


# -- Backbone classes ------------------------------------------------------------------------


def _backbone_class(source: str) -> type:
    cls = getattr(keras_hub.models, source, None)
    if inspect.isclass(cls) and issubclass(cls, keras_hub.models.Backbone):
        return cls
    known = sorted(catalogue().backbones)
    every = [n for n in dir(keras_hub.models) if n.endswith("Backbone")]
    close = difflib.get_close_matches(source, known + every, n=3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise SourceNotFoundError(
        f"keras_hub.models has no Backbone class {source!r}{hint} (image backbones: "
        f"{', '.join(known)})",
        provider=PROVIDER,
        source=source,
    )


def _arguments(cls: type) -> dict[str, inspect.Parameter]:
    # cls.__init__, not cls: keras.Model defines __new__(*args, **kwargs)
    params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    return {
        name: p
        for name, p in params.items()
        if name not in _NOT_OPTIONS and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def _shape_argument(cls: type) -> str | None:
    """The constructor argument that sets the input size (EfficientNet says input_shape)."""
    params = _arguments(cls)
    return next((a for a in ("image_shape", "input_shape") if a in params), None)


def _option_names(cls: type) -> list[str]:
    """The options a class takes: its arguments, the input size being tfzoo's input_shape."""
    return [a for a in _arguments(cls) if a not in ("image_shape", "input_shape")]


def _check_options(cls: type, options: Mapping[str, Any]) -> None:
    accepted = _option_names(cls)
    for key in options:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InvalidOptionError(
                f"KerasHub {cls.__name__} does not take {key!r}; {hint}its arguments: "
                f"{', '.join(accepted)}",
                provider=PROVIDER,
            )


def _build_class(spec: ModelSpec, options: dict[str, Any]) -> keras.Model:
    cls = _backbone_class(spec.source)
    weights_file = _weights(spec, preset=False)[1]
    _check_options(cls, options)
    kwargs = dict(options)
    if spec.input_shape is not None:
        shape_arg = _shape_argument(cls)
        if shape_arg is None:
            raise InvalidOptionError(
                f"KerasHub {cls.__name__} takes no input size; received input_shape="
                f"{spec.input_shape}",
                provider=PROVIDER,
            )
        kwargs[shape_arg] = tuple(spec.input_shape)
    try:
        model = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise InvalidOptionError(
            f"KerasHub {cls.__name__} refused the arguments {kwargs}: {exc}. Its arguments: "
            f"{', '.join(_option_names(cls))} (and input_shape)",
            provider=PROVIDER,
        ) from None
    if weights_file is not None:
        _load_weights_file(model, weights_file, spec)
    return model


# -- presets ---------------------------------------------------------------------------------


def _load_preset(spec: ModelSpec, options: dict[str, Any]) -> tuple[keras.Model, InputSpec]:
    preset, remote = _resolve_preset(spec.source)
    if remote:  # ZOO_REQUIRE_HASHES=1: refused before KerasHub is asked for any file
        refuse_remote_preset(preset, _download_handle(preset))
    load_weights, weights_file = _weights(spec, preset=True)
    offline = is_offline()
    if offline and remote:
        needed = [CONFIG_FILE, CONVERTER_FILE] + ([WEIGHTS_FILE] if load_weights else [])
        _require_cached(preset, needed)
    sharded = "model.weights.json"
    if (
        load_weights
        and not remote
        and not any(Path(preset, f).is_file() for f in (WEIGHTS_FILE, sharded))
    ):
        raise InvalidModelError(
            f"KerasHub preset {preset} has no weights file ({WEIGHTS_FILE}); pass weights=None "
            "for a random initialization of its architecture",
            provider=PROVIDER,
            source=preset,
        )
    with _network_guard(offline):
        config = _read_config(preset, remote)
        cls = _config_class(preset, config)
        kwargs: dict[str, Any] = dict(options)
        if cls is not None:
            _check_options(cls, options)
        converter = _converter(preset, remote)
        _add_shape(kwargs, spec, cls, config, converter)
        # a build failure is blamed on the user's arguments only when there were any
        asked = {**options, **({"input_shape": spec.input_shape} if spec.input_shape else {})}
        with _translate(preset, remote, f"KerasHub preset {preset!r}", asked):
            model = keras_hub.models.Backbone.from_preset(
                preset, load_weights=load_weights, **kwargs
            )
    if weights_file is not None:
        _load_weights_file(model, weights_file, spec)
    if converter is None:
        if load_weights and spec.preprocessing is None:
            warnings.warn(
                f"KerasHub preset {preset!r} has no image converter, so the preprocessing its "
                "weights expect is unknown; assuming raw [0, 255] pixels. Pass preprocessing= "
                "(a mode or numbers) to set it.",
                ZooWarning,
                stacklevel=4,
            )
        converter = InputSpec.from_mode("raw")
    return model, converter


def _resolve_preset(source: str) -> tuple[str, bool]:
    """(what to hand KerasHub, whether it is downloaded) for a preset source."""
    if source.startswith(REMOTE_SCHEMES):
        return source, True
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / CONFIG_FILE).is_file():
            raise InvalidModelError(
                f"{source} is a directory but not a KerasHub preset: it has no {CONFIG_FILE} "
                "(a preset directory is what backbone.save_to_preset(path) writes)",
                provider=PROVIDER,
                source=source,
            )
        return str(path), False
    if os.sep in source or "/" in source or source.startswith((".", "~")):
        raise SourceNotFoundError(
            f"no KerasHub preset directory at {source}", provider=PROVIDER, source=source
        )
    builtin = keras_hub.models.Backbone.presets
    if source not in builtin:
        names = [p.name for p in catalogue()]
        close = difflib.get_close_matches(source, names, n=3) or difflib.get_close_matches(
            source, list(builtin), n=3
        )
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise SourceNotFoundError(
            f"{source!r} is not a KerasHub preset{hint} (`zoo list --provider keras_hub` lists "
            "the image presets; also accepted: kaggle:// and hf:// handles, a preset "
            "directory, or keras_hub:<BackboneClass>)",
            provider=PROVIDER,
            source=source,
        )
    if not any(source in getattr(keras_hub.models, c).presets for c in catalogue().backbones):
        raise InvalidModelError(
            f"{source!r} is a KerasHub preset but not of an image backbone; tfzoo loads "
            f"image backbones ({', '.join(sorted(catalogue().backbones))})",
            provider=PROVIDER,
            source=source,
        )
    return source, True


def _weights(spec: ModelSpec, *, preset: bool) -> tuple[bool, Path | None]:
    """(load the preset's weights, a local weights file to load instead)."""
    weights = spec.weights
    if weights is None:
        return False, None
    if weights == PRESET_WEIGHTS and preset:
        return True, None
    if weights == PRESET_WEIGHTS or "://" in weights or weights == "imagenet":
        what = "the preset's own ('preset'), " if preset else ""
        raise InvalidOptionError(
            f"weights for {spec.source!r} are {what}None (random initialization) or a local "
            f".weights.h5 file; received {weights!r}",
            provider=PROVIDER,
        )
    path = Path(weights).expanduser()
    if not path.is_file():
        raise SourceNotFoundError(
            f"weights file for {spec.name!r} not found: {weights}",
            provider=PROVIDER,
            source=weights,
        )
    return False, path


def _load_weights_file(model: keras.Model, path: Path, spec: ModelSpec) -> None:
    try:
        model.load_weights(str(path))
    except (ValueError, OSError, KeyError) as exc:
        raise InvalidModelError(
            f"{spec.name}: cannot load the weights file {path} into KerasHub "
            f"{type(model).__name__}: {exc}",
            provider=PROVIDER,
            source=str(path),
        ) from None


def _read_config(preset: str, remote: bool) -> dict[str, Any]:
    from keras_hub.src.utils import preset_utils  # the one file fetcher for every scheme

    with _translate(preset, remote, f"{CONFIG_FILE} of KerasHub preset {preset!r}"):
        path = Path(preset_utils.get_file(preset, CONFIG_FILE))
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidModelError(
            f"{path} is not valid JSON ({exc}); the preset is damaged: save it again with "
            "backbone.save_to_preset(path)",
            provider=PROVIDER,
            source=preset,
        ) from None
    if not isinstance(config, dict) or not any(k in config for k in _CONFIG_FORMATS):
        found = sorted(config)[:8] if isinstance(config, dict) else type(config).__name__
        raise InvalidModelError(
            f"{path} is not a KerasHub preset config: expected a Keras object config with "
            f"'registered_name' (or a Transformers / timm config); received {found}",
            provider=PROVIDER,
            source=preset,
        )
    return config


def _config_class(preset: str, config: Mapping[str, Any]) -> type | None:
    """The Backbone class a Keras-format config names (None for Transformers / timm)."""
    if "registered_name" not in config:
        return None
    name = config["registered_name"]
    cls = keras.saving.get_registered_object(name) if isinstance(name, str) else None
    if not isinstance(config.get("config"), dict):
        raise InvalidModelError(
            f"{CONFIG_FILE} of {preset} has no 'config' mapping of constructor arguments; "
            "the preset is damaged",
            provider=PROVIDER,
            source=preset,
        )
    if not (inspect.isclass(cls) and issubclass(cls, keras_hub.models.Backbone)):
        raise InvalidModelError(
            f"{CONFIG_FILE} of {preset} names {name!r}, which is not a Backbone class of "
            f"keras-hub {keras_hub.__version__} (a newer keras-hub may know it)",
            provider=PROVIDER,
            source=preset,
        )
    return cls


def _converter(preset: str, remote: bool) -> InputSpec | None:
    """The InputSpec of the preset's image converter, or None when it has none."""
    try:
        with _translate(preset, remote, f"{CONVERTER_FILE} of KerasHub preset {preset!r}"):
            try:
                layer = keras_hub.layers.ImageConverter.from_preset(preset)
            except FileNotFoundError:
                return None
            except ValueError as exc:
                if "Unable to find a subclass" in str(exc):  # the class has no converter
                    return None
                raise
    except InvalidModelError as exc:
        raise InvalidModelError(
            f"{exc}; the preset's image converter is damaged", provider=PROVIDER, source=preset
        ) from None
    try:
        return input_spec_from_converter(
            image_size=layer.image_size,
            scale=layer.scale,
            offset=layer.offset,
            interpolation=str(layer.interpolation),
        )
    except ValueError as exc:
        raise InvalidModelError(
            f"image converter of {preset}: {exc}", provider=PROVIDER, source=preset
        ) from None


def _add_shape(
    kwargs: dict[str, Any],
    spec: ModelSpec,
    cls: type | None,
    config: Mapping[str, Any],
    converter: InputSpec | None,
) -> None:
    """Build at the asked input size, or at the converter's size where the net is free-sized."""
    shape_arg = _shape_argument(cls) if cls is not None else None
    configured = config.get("config", {}).get(shape_arg) if shape_arg else None
    if spec.input_shape is not None:
        if shape_arg is None:
            raise InvalidOptionError(
                f"the input size of {spec.source!r} cannot be changed; received input_shape="
                f"{spec.input_shape}",
                provider=PROVIDER,
            )
        if list(configured or []) != list(spec.input_shape):
            kwargs[shape_arg] = tuple(spec.input_shape)
        return
    size = converter.size if converter is not None else (None, None)
    free = isinstance(configured, list | tuple) and len(configured) == 3 and None in configured[:2]
    if shape_arg and free and None not in size:
        kwargs[shape_arg] = (size[0], size[1], configured[2] or 3)  # type: ignore[index]


# -- offline mode and errors -----------------------------------------------------------------


def _cache_state(handle: str, filename: str) -> str:
    """'cached', 'absent' (known not to exist upstream) or 'missing', from the local caches."""
    if handle.startswith("kaggle://"):
        from kagglehub.cache import Cache
        from kagglehub.handle import parse_model_handle

        try:
            parsed = parse_model_handle(handle.removeprefix("kaggle://"))
        except ValueError:
            return "missing"
        if not parsed.is_versioned():  # the latest version is only known online
            return "missing"
        return "cached" if Cache().load_from_cache(parsed, filename) else "missing"
    if handle.startswith("hf://"):
        import huggingface_hub

        found = huggingface_hub.try_to_load_from_cache(handle.removeprefix("hf://"), filename)
        if isinstance(found, str):
            return "cached"
        return "missing" if found is None else "absent"
    return "missing"


def _download_handle(preset: str) -> str:
    """The handle KerasHub downloads a remote preset from (a built-in name's Kaggle handle)."""
    if preset.startswith(REMOTE_SCHEMES):
        return preset
    return str(keras_hub.models.Backbone.presets[preset].get("kaggle_handle", ""))


def _require_cached(preset: str, files: list[str]) -> None:
    """ZOO_OFFLINE=1: refuse, before any socket, a preset whose files are not all cached."""
    handle = _download_handle(preset)
    states = {name: _cache_state(handle, name) for name in files}
    missing = [name for name, state in states.items() if state == "missing"]
    if missing:
        raise OfflineError(
            f"ZOO_OFFLINE=1 and KerasHub preset {preset!r} ({handle}) is not in the local cache "
            f"(missing: {', '.join(missing)}). Load it once with network access (KerasHub caches "
            "it under KAGGLEHUB_CACHE or HF_HOME), or save it with backbone.save_to_preset(dir) "
            "and load that directory.",
            url=handle,
        )


@contextmanager
def _network_guard(offline: bool) -> Iterator[None]:
    """In offline mode, also tell huggingface_hub, which otherwise revalidates cached files."""
    if not offline:
        yield
        return
    import huggingface_hub.constants as hf

    before = hf.HF_HUB_OFFLINE
    hf.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hf.HF_HUB_OFFLINE = before


def _is_network_error(exc: BaseException) -> bool:
    module = type(exc).__module__.split(".")[0]
    return module in ("requests", "urllib3", "httpx", "httpcore", "huggingface_hub", "kagglehub")


@contextmanager
def _translate(
    preset: str, remote: bool, what: str, kwargs: Mapping[str, Any] | None = None
) -> Iterator[None]:
    """KerasHub / download errors -> tfzoo errors that say what was wrong and what to do."""
    try:
        yield
    except ZooError:
        raise
    except ImportError as exc:
        package = exc.name or "the missing package"
        raise MissingDependencyError(
            f"{what} needs {package}: pip install {package}", provider=PROVIDER, source=preset
        ) from exc
    except FileNotFoundError as exc:
        cls = SourceNotFoundError if remote else InvalidModelError
        raise cls(
            f"{what}: {exc}" + (_ONLINE_HINT if remote else ""), provider=PROVIDER, source=preset
        ) from None
    except Exception as exc:
        if remote and (isinstance(exc, OSError) or _is_network_error(exc)):
            raise FetchError(
                f"could not download {what}: {type(exc).__name__}: {exc}.{_ONLINE_HINT}",
                url=preset,
            ) from exc
        if kwargs and isinstance(exc, ValueError | TypeError):
            raise InvalidOptionError(
                f"{what} cannot be built with {dict(kwargs)}: {exc}", provider=PROVIDER
            ) from None
        if isinstance(exc, ValueError | TypeError | KeyError | OSError):
            raise InvalidModelError(
                f"{what} cannot be loaded: {type(exc).__name__}: {exc}",
                provider=PROVIDER,
                source=preset,
            ) from None
        raise


_ONLINE_HINT = (
    " Check the name or handle; without network access, load a preset directory "
    "(backbone.save_to_preset(dir)) or set ZOO_OFFLINE=1 to use only cached presets."
)


# -- the Backbone ----------------------------------------------------------------------------


def _to_backbone(
    model: keras.Model,
    spec: ModelSpec,
    input_spec: InputSpec,
    pooling: str | None,
    provider: str,
) -> Backbone:
    outputs = list(getattr(model, "outputs", None) or [])
    if len(outputs) != 1:
        raise InvalidModelError(
            f"{spec.name}: KerasHub {type(model).__name__} has {len(outputs)} outputs; tfzoo "
            "loads image backbones with one feature output",
            provider=provider,
            source=spec.source,
        )
    rank = len(outputs[0].shape)
    if pooling is None:
        has_token = bool(model.get_config().get("use_class_token", True))
        pooling = "token" if rank == 3 and has_token else "avg"
    head_input = model
    if pooling == "token":
        if rank != 3:
            raise InvalidOptionError(
                f"pooling='token' needs a token sequence (batch, tokens, dim); KerasHub "
                f"{type(model).__name__} gives rank {rank} output {tuple(outputs[0].shape)}",
                provider=provider,
            )
        # the same layers, with the class token picked: feature_layer names still resolve
        tokens = ClassToken(name="class_token")(outputs[0])
        head_input = keras.Model(model.inputs, tokens, name=model.name)
    return Backbone.from_model(
        head_input,
        name=spec.name,
        provider=provider,
        input_spec=spec.input_spec(input_spec),
        feature_layer=spec.feature_layer,
        classifier_layer=spec.classifier_layer,
        labels=spec.labels,
        spec=spec,
        pooling="avg" if pooling == "token" else pooling,
        feature_maps=_feature_maps(model),
    )


def _feature_maps(model: keras.Model) -> keras.Model | None:
    """The backbone's spatial pyramid outputs (ResNet's P2..P5) as one dict-output model."""
    pyramid = getattr(model, "pyramid_outputs", None) or {}
    maps = {str(k): v for k, v in pyramid.items() if len(v.shape) == 4}
    if not maps:
        return None
    return keras.Model(model.inputs, maps, name=f"{model.name}_feature_maps")
