"""Built-in plugin: every architecture of ``keras.applications``, by name.

Sources are Keras function names (``"InceptionV3"``), ``"keras:InceptionV3"``, or the function
itself (``keras.applications.InceptionV3``). Registry entries (``inception_v3`` ...) live in
the packaged registry.yaml. ``weights`` is ``"imagenet"`` (the file Keras names, downloaded
through ``zoo.download.fetcher`` with Keras's hash checked too: see ``keras_weights``), ``None``
(random
init), a local weights file, or an https URL of one. Downloads are pinned by the entry's
``sha256`` or ``zoo.lock``, and never happen under ``ZOO_OFFLINE=1``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from zoo import settings
from zoo.errors import (
    FetchError,
    InvalidModelError,
    InvalidOptionError,
    SourceNotFoundError,
    ZooError,
)
from zoo.host.hookspecs import hookimpl
from zoo.host.provider import Provider
from zoo.providers.keras_weights import routed_downloads, weights_url
from zoo.spec import InputSpec, ModelSpec

if TYPE_CHECKING:
    from zoo.download.artifact import Artifact
    from zoo.model.backbone import Backbone

__all__ = ["MODULE_PREPROCESSING", "KerasAppsProvider"]

#: keras.applications module -> the preprocessing mode its ``preprocess_input`` applies.
#: "raw" families normalize inside the graph (EfficientNet; ConvNeXt, EfficientNetV2 and
#: MobileNetV3 with include_preprocessing=True, the Keras default).
MODULE_PREPROCESSING: Mapping[str, str] = {
    "convnext": "raw",
    "densenet": "torch",
    "efficientnet": "raw",
    "efficientnet_v2": "raw",
    "inception_resnet_v2": "tf",
    "inception_v3": "tf",
    "mobilenet": "tf",
    "mobilenet_v2": "tf",
    "mobilenet_v3": "raw",
    "nasnet": "tf",
    "resnet": "caffe",
    "resnet_v2": "tf",
    "vgg16": "caffe",
    "vgg19": "caffe",
    "xception": "tf",
}

_APPLICATION_MODULES = ("keras.src.applications.", "keras.applications.", "tf_keras.")


class KerasAppsProvider(Provider):
    """keras.applications architectures as Backbones."""

    name: ClassVar[str] = "keras"
    description: ClassVar[str] = "keras.applications architectures, ImageNet weights"
    options: ClassVar[Mapping[str, str]] = {
        "include_top": "keep the ImageNet classifier (default: yes when weights are loaded "
        "at the native input size)",
        "pooling": "'avg' (default) or 'max' pooling of the last feature map",
        "alpha": "width multiplier (MobileNet family)",
        "depth_multiplier": "depth multiplier (MobileNet V1)",
        "minimalistic": "minimalistic variant (MobileNetV3)",
    }

    #: its one download (the weights) goes through zoo.download.fetch, pins checked there
    pins_checked_on_load: ClassVar[bool] = True

    def claim(self, source: object) -> str | None:
        """Claims keras.applications functions passed as objects."""
        module = getattr(source, "__module__", "") or ""
        if callable(source) and module.startswith(_APPLICATION_MODULES):
            return str(getattr(source, "__name__", ""))
        return None

    def artifacts(self, spec: ModelSpec) -> list[Artifact]:
        """The weights file: its URL, or for ``"imagenet"`` the one Keras would download.

        Finding Keras's URL builds the architecture (no download), so this costs about what
        building it does; ``zoo fetch`` and ``zoo lock`` call it.
        """
        from zoo.download.artifact import Artifact  # lazily: zoo list never needs it

        if spec.weights is not None and "://" in spec.weights:
            return [Artifact(spec.weights, sha256=spec.sha256, kind="weights")]
        if spec.weights != "imagenet":
            return []
        fn, _, kwargs, include_top = self._plan(spec)
        url = weights_url(lambda: _build(fn, spec, kwargs, include_top))
        return [Artifact(url, sha256=spec.sha256, kind="weights")] if url else []

    def _plan(self, spec: ModelSpec) -> tuple[Callable[..., Any], str | None, dict[str, Any], bool]:
        """The Keras function, its preprocessing mode, its arguments, and include_top."""
        fn = _application(spec.source)
        module = fn.__module__.rsplit(".", 1)[-1]
        mode = MODULE_PREPROCESSING.get(module)
        if mode is None and spec.preprocessing is None:
            raise InvalidModelError(
                f"keras.applications.{spec.source} comes from module {module!r}, whose "
                "preprocessing tfzoo does not know; give it with preprocessing= (a mode or "
                "numbers)",
                provider=self.name,
                source=spec.source,
            )
        params = inspect.signature(fn).parameters
        kwargs: dict[str, Any] = {"weights": _weights(spec), "pooling": "avg"}
        kwargs.update({k: v for k, v in spec.options.items() if k != "include_top"})
        for key in kwargs:
            if key not in params:
                raise InvalidOptionError(
                    f"keras.applications.{spec.source} does not take {key!r}",
                    provider=self.name,
                )
        if kwargs["pooling"] not in ("avg", "max"):
            raise InvalidOptionError(
                f"pooling must be 'avg' or 'max', received {kwargs['pooling']!r}",
                provider=self.name,
            )
        if spec.input_shape is not None:
            kwargs["input_shape"] = spec.input_shape
        include_top = spec.options.get("include_top")
        if include_top is None:
            include_top = kwargs["weights"] is not None
        return fn, mode, kwargs, bool(include_top)

    def load(self, spec: ModelSpec) -> Backbone:
        """Build the architecture; ImageNet weights come through ``zoo.download.fetcher``."""
        from zoo.model.backbone import Backbone

        fn, mode, kwargs, include_top = self._plan(spec)
        with routed_downloads(spec.name, spec.sha256):
            model = _build(fn, spec, kwargs, include_top)
        base = InputSpec.from_mode(mode or "raw", shape=model.input_shape[1:])
        return Backbone.from_model(
            model,
            name=spec.name,
            provider=self.name,
            input_spec=spec.input_spec(base),
            feature_layer=spec.feature_layer,
            classifier_layer=spec.classifier_layer,
            labels=spec.labels,
            spec=spec,
            pooling=kwargs["pooling"],
            headless=not include_top,
        )


def _application(source: str) -> Callable[..., Any]:
    import keras

    fn = getattr(keras.applications, source, None)
    if not inspect.isfunction(fn):
        names = [n for n in dir(keras.applications) if n[:1].isupper()]
        import difflib

        close = difflib.get_close_matches(source, names, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise SourceNotFoundError(
            f"keras.applications has no architecture {source!r}{hint}",
            provider="keras",
            source=source,
        )
    return fn


def _weights(spec: ModelSpec) -> str | None:
    weights = spec.weights
    if weights is None or weights == "imagenet":
        return weights
    if "://" in weights:
        from zoo.download.fetcher import fetch

        # Weights are data (an .h5 / .weights.h5 of arrays): fetched, pinned by the entry's
        # sha256 or zoo.lock, and cached; Keras reads them from the cache.
        return str(fetch(weights, sha256=spec.sha256, name=spec.name, kind="weights"))
    path = settings.user_path(weights)
    if not path.is_file():
        raise SourceNotFoundError(
            f"weights file for {spec.name!r} not found: {weights}", provider="keras", source=weights
        )
    return str(path)


def _build(
    fn: Callable[..., Any],
    spec: ModelSpec,
    kwargs: dict[str, Any],
    include_top: bool,
) -> Any:
    """Call the Keras function; when the top was not asked for and does not fit, drop it.

    A top needs the native input size with ImageNet weights, and a local weights file may
    hold no top ("notop"); either way the weights are kept and the top is left out.
    """
    try:
        return fn(include_top=include_top, **kwargs)
    except ZooError:
        raise  # from zoo.download.fetcher (offline, pins, integrity): already says what to do
    except ValueError as exc:
        text = str(exc)
        if include_top and spec.options.get("include_top") is None:
            return _build(fn, spec, kwargs, False)
        raise InvalidOptionError(
            f"keras.applications.{spec.source} refused the arguments "
            f"{ {**kwargs, 'include_top': include_top} }: {text}",
            provider="keras",
        ) from None
    except Exception as exc:
        if _looks_like_download_failure(exc):
            raise FetchError(
                f"could not download the {spec.weights} weights of keras.applications."
                f"{spec.source}: {exc}. Offline? Pass weights=None or weights='/path/to/file.h5'.",
            ) from exc
        raise


def _looks_like_download_failure(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in ("url fetch failure", "urlopen", "http", "connection"))


@hookimpl
def zoo_register_providers(register: Callable[[Provider], None]) -> None:
    """Register the keras.applications provider."""
    register(KerasAppsProvider())
