"""``zoo publish``: an export as a versioned, content-addressed entry of a team registry.

Layout of the registry directory (any static HTTP server can serve it)::

    registry.yaml                      every published name and version
    artifacts/<sha256>.tar.gz          the export (saved_model/, model.keras, ..., labels.txt)
    <name>/<version>/README.md         the model card (and confusion.png when evaluated)

``team/my_model`` is always the latest version, ``team/my_model:1``, ``:2`` ... each one; old
versions stay resolvable. Publishing the same bytes again changes nothing; different bytes
under a published name need ``force=True`` and become the next version. The archive is
deterministic (sorted members, no owners or times), so its sha256 names the content.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import InvalidModelError, InvalidOptionError, RegistryError
from zoo.registry import NAME_RE
from zoo.settings import expand_user

__all__ = ["Published", "publish"]

_PLAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*(/[a-z0-9][a-z0-9_.\-]*)?$")
_HEADER = "# A tfzoo team registry written by `zoo publish`; serve this directory over HTTP(S)\n"


@dataclass(frozen=True)
class Published:
    """Where ``publish`` put things."""

    name: str  # the name given ("team/my_model"), which resolves to the latest version
    version: int  # this version's number
    sha256: str  # of the artifact
    artifact: Path  # artifacts/<sha256>.tar.gz
    registry: Path  # registry.yaml
    card: Path  # the model card
    unchanged: bool  # the same bytes were already published as this version

    @property
    def versioned_name(self) -> str:
        """``name:version``, which always resolves to exactly these bytes."""
        return f"{self.name}:{self.version}"


def _check_export(directory: Path) -> None:
    if not (directory / "saved_model" / "saved_model.pb").is_file():
        held = (
            ", ".join(sorted(p.name for p in directory.iterdir())[:8]) if directory.is_dir() else ""
        )
        raise InvalidModelError(
            f"{directory} is not a tfzoo export: no saved_model/saved_model.pb (it holds: "
            f"{held or 'nothing'}). Write one with `zoo export MODEL_FILE OUT` or "
            "`zoo finetune NAME --data DIR --export OUT`",
            source=str(directory),
        )


def _pack(directory: Path, dest_dir: Path) -> tuple[Path, str]:
    """A deterministic .tar.gz of ``directory`` in ``dest_dir``, named by its sha256."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(directory.rglob("*")):
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                continue  # an export holds files and directories only
            info = tar.gettarinfo(str(path), arcname=path.relative_to(directory).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    data = packed.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    final = dest_dir / f"{digest}.tar.gz"
    if not final.exists():
        fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".upload.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, final)
    return final, digest


def _read_registry(path: Path) -> dict[str, Any]:
    """The ``models`` of the registry file being published into; a file that is not valid
    registry YAML is a RegistryError naming it (and the line), as ``zoo list`` reports it."""
    if not path.is_file():
        return {}
    from zoo.registry_yaml import registry_yaml_error, safe_load_bounded

    try:
        text = path.read_text(encoding="utf8")
    except UnicodeDecodeError:
        raise RegistryError("registry file is not UTF-8 text", path=str(path)) from None
    try:
        data = safe_load_bounded(text, str(path)) or {}
    except yaml.YAMLError as exc:
        raise registry_yaml_error(exc, str(path), text) from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise InvalidOptionError(f"{path} is not a tfzoo registry (no 'models' mapping)")
    return dict(models)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _facts(result: Any, evaluation: Any) -> tuple[str | None, dict[str, Any], dict[str, Any], Any]:
    """(backbone, recipe, metrics, evaluation dict) from a FinetuneResult / Evaluation or
    their ``--json`` dictionaries."""
    if result is not None and not isinstance(result, Mapping):
        result = result.to_dict()
    if evaluation is not None and not isinstance(evaluation, Mapping):
        evaluation = evaluation.to_dict()
    backbone = result.get("backbone") if result else None
    recipe = dict(result.get("recipe") or {}) if result else {}
    metrics: dict[str, Any] = {k: float(v) for k, v in (result or {}).get("metrics", {}).items()}
    if evaluation:
        metrics["eval_accuracy"] = float(evaluation["accuracy"])
        metrics["eval_images"] = int(evaluation["count"])
    return backbone, recipe, metrics, evaluation


def _card(
    name: str,
    version: int,
    entry: dict[str, Any],
    recipe: Mapping[str, Any],
    evaluation: Mapping[str, Any] | None,
    confusion: str | None,
    classes: Sequence[str] | None,
) -> str:
    options = entry["options"]
    lines = [
        f"# {name} (version {version})",
        "",
        entry.get("description") or "A fine-tuned image classifier.",
        "",
    ]
    lines += ["## What it is", ""]
    lines.append(f"- input: raw pixels, {'x'.join(str(d) for d in entry['input_shape'])} "
                 "(resizing and preprocessing are inside the model)")  # fmt: skip
    lines.append(f"- classes ({len(classes or [])}): {', '.join(classes or []) or 'unnamed'}")
    lines.append(f"- fine-tuned from: {options.get('backbone') or 'not recorded'}")
    lines.append(f"- license: {entry.get('license') or 'not stated'}")
    lines.append(f"- artifact: `{entry['source']}`, sha256 `{entry['sha256']}`")
    if entry.get("tags"):
        lines.append(f"- tags: {', '.join(entry['tags'])}")
    lines += ["", "## How it was trained", ""]
    if recipe:
        lines += [f"- {k}: {v}" for k, v in sorted(recipe.items()) if v is not None]
    else:
        lines.append("Not recorded (publish with the fine-tune result to include the recipe).")
    lines += ["", "## Metrics", ""]
    metrics = options.get("metrics") or {}
    if metrics:
        lines += ["| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {v:.4g} |" for k, v in sorted(metrics.items())]
    else:
        lines.append("Not recorded (publish with an evaluation to include them).")
    if evaluation:
        lines += ["", f"Evaluated on {evaluation['count']} images:", ""]
        lines += [
            "| class | precision | recall | F1 | support |",
            "| --- | --- | --- | --- | --- |",
        ]
        for m in evaluation["per_class"]:
            lines.append(
                f"| {m['label']} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
                f"{m['support']} |"
            )
        labels = evaluation["labels"]
        lines += ["", "Confusion matrix (rows: true class, columns: predicted):", ""]
        lines += ["| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        for label, row in zip(labels, evaluation["confusion"], strict=True):
            lines.append(f"| {label} | " + " | ".join(str(n) for n in row) + " |")
        if confusion:
            lines += ["", f"![confusion matrix]({confusion})"]
    lines += [
        "",
        "## Use it",
        "",
        "```",
        "export ZOO_REGISTRY=<URL of this directory>/registry.yaml",
        f"zoo predict {name}:{version} photo.jpg",
        f"zoo lock {name}:{version}",
        "```",
        "",
    ]
    return "\n".join(lines)


def publish(
    export_dir: str | Path,
    *,
    name: str,
    to: str | Path,
    force: bool = False,
    description: str = "",
    license: str | None = None,
    tags: Sequence[str] = (),
    result: Any = None,
    evaluation: Any = None,
) -> Published:
    """Publish ``export_dir`` as ``name`` into the registry directory ``to``; see zoo.publish."""
    directory = expand_user(Path(export_dir), InvalidOptionError)
    _check_export(directory)
    if not _PLAIN_NAME.match(name or ""):
        raise InvalidOptionError(
            "a published name is lower case letters, digits, '_', '.' or '-', optionally "
            f"after one 'namespace/' (team/my_model); versions are numbered for you. "
            f"Received {name!r}"
        )
    from zoo.workflows.runner import labels_beside, open_model

    labels = labels_beside(directory / "saved_model")
    shape = open_model(directory / "saved_model").input_shape
    root = expand_user(Path(to), InvalidOptionError)
    registry_path = root / "registry.yaml"
    models = _read_registry(registry_path)
    artifact, digest = _pack(directory, root / "artifacts")
    versions = {
        int(key.rsplit(":", 1)[1]): entry
        for key, entry in models.items()
        if isinstance(key, str) and key.startswith(f"{name}:") and key.rsplit(":", 1)[1].isdigit()
    }
    latest = max(versions, default=0)
    if latest and versions[latest].get("sha256") == digest:
        card = root / name / str(latest) / "README.md"
        return Published(name, latest, digest, artifact, registry_path, card, unchanged=True)
    if latest and not force:
        raise InvalidOptionError(
            f"{name} is already published in {registry_path} as {name}:{latest} (sha256 "
            f"{versions[latest].get('sha256')}), and this export differs (sha256 {digest}). "
            f"Publish it as {name}:{latest + 1} with --force (force=True); {name}:{latest} "
            "stays resolvable"
        )
    version = latest + 1
    backbone, recipe, metrics, evaluation_data = _facts(result, evaluation)
    folder = root / name / str(version)
    confusion = None
    figures = (evaluation_data or {}).get("figures") or {}
    if figures.get("confusion") and Path(figures["confusion"]).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(figures["confusion"], folder / "confusion.png")
        confusion = "confusion.png"
    entry: dict[str, Any] = {
        "provider": "published",
        "source": f"artifacts/{digest}.tar.gz",
        "sha256": digest,
        "input_shape": [d for d in shape],
        "preprocessing": "raw",
        "labels": list(labels) if labels else None,
        "license": license,
        "description": description or f"{name} version {version}",
        "tags": list(tags),
        "options": {
            "version": version,
            "backbone": backbone,
            "metrics": metrics,
            "card": f"{name}/{version}/README.md",
        },
    }
    entry = {k: v for k, v in entry.items() if v is not None}
    card = folder / "README.md"
    _write_text(card, _card(name, version, entry, recipe, evaluation_data, confusion, labels))
    models[f"{name}:{version}"] = entry
    models[name] = {**entry, "description": f"{entry['description']} (latest: {name}:{version})"}
    for key in models:
        if not isinstance(key, str) or not NAME_RE.match(key):
            raise InvalidOptionError(f"{registry_path} holds an invalid model name {key!r}")
    text = _HEADER + yaml.safe_dump({"models": models}, sort_keys=True, allow_unicode=True)
    _write_text(registry_path, text)
    return Published(name, version, digest, artifact, registry_path, card, unchanged=False)
