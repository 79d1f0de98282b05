"""Built-in plugin: TF Hub and Kaggle Models handles, as Keras 3 layers.

Sources: ``https://tfhub.dev/...`` handles, ``https://www.kaggle.com/models/...`` URLs, any
other ``https://`` URL of a Hub-compatible server, ``hub:<handle or directory>`` and
``tfhub:<...>``; plain ``http://`` only from loopback addresses or with ``allow_http=True``.
How a handle becomes an archive URL, and where the model is cached (``TFHUB_CACHE_DIR`` in
tensorflow_hub's layout, else ``ZOO_HOME``), is in :mod:`zoo.savedmodel.handles`; the download goes
through :func:`zoo.download.fetcher.fetch_archive`, which needs a pinned ``sha256`` (registry or
override) or ``trust=True`` for a remote model archive (F19).

The SavedModel becomes a :class:`zoo.HubLayer` inside a small functional model; its output is
the feature (pooled if it is a feature map). Preprocessing defaults to the Hub image
convention, ``unit`` ([0, 1]).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar

from zoo.host.hookspecs import hookimpl
from zoo.host.provider import Provider

if TYPE_CHECKING:
    from zoo.download.artifact import Artifact
    from zoo.model.backbone import Backbone
    from zoo.spec import ModelSpec

__all__ = ["TFHubProvider"]


class TFHubProvider(Provider):
    """TF Hub / Kaggle Models handles and Hub-format directories as Backbones."""

    name: ClassVar[str] = "tfhub"
    description: ClassVar[str] = (
        "TF Hub / Kaggle Models handles (TF2 SavedModels) as Keras 3 layers"
    )
    options: ClassVar[Mapping[str, str]] = {
        "trust": "load a remote model archive that has no pinned sha256 (it is a program)",
        "allow_http": "permit plain http:// to a non-loopback host",
        "signature": "call this signature instead of __call__",
        "output_key": "output of a model or signature that returns a dict",
        "pooling": "'avg' (default) or 'max' pooling when the model returns a feature map",
    }

    def claim(self, source: object) -> str | None:
        """Claims ``hub:`` sources and http(s) URLs (Hub handles, Kaggle models, archives)."""
        if not isinstance(source, str):
            return None
        text = source.strip()
        if text.startswith("hub:") or text.startswith(("https://", "http://")):
            from zoo.savedmodel.handles import normalize_handle  # only for such sources

            return normalize_handle(text)
        return None

    def artifacts(self, spec: ModelSpec) -> list[Artifact]:
        """The compressed archive of a remote handle (a model: a program, extracted)."""
        from zoo.download.artifact import Artifact  # lazily: zoo list never needs it
        from zoo.savedmodel.handles import archive_url, is_remote, normalize_handle

        handle = normalize_handle(spec.source)
        if not is_remote(handle):
            return []
        return [
            Artifact(
                url=archive_url(handle, provider=self.name),
                sha256=spec.sha256,
                kind="model",
                archive=True,
            )
        ]

    def load(self, spec: ModelSpec) -> Backbone:
        from zoo.savedmodel.handles import normalize_handle, resolve
        from zoo.savedmodel.loader import backbone_from_saved_model

        handle = normalize_handle(spec.source)
        trust = bool(spec.options.get("trust", False))
        allow_http = bool(spec.options.get("allow_http", False))
        path = resolve(
            handle,
            sha256=spec.sha256,
            trust=trust,
            allow_http=allow_http,
            name=spec.name,
            provider=self.name,
        )
        return backbone_from_saved_model(
            path,
            spec,
            provider=self.name,
            handle=handle,
            split=False,
            preprocessing="unit",
            hub_options={"sha256": spec.sha256, "trust": trust, "allow_http": allow_http},
        )


@hookimpl
def zoo_register_providers(register: Callable[[Provider], None]) -> None:
    """Register the TF Hub provider."""
    register(TFHubProvider())
