"""What an export wrote and how each file compares with the Keras model (``export_report.json``).

TF-free: the CLI and tests read reports without TensorFlow.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["REPORT_NAME", "ExportReport", "FormatReport"]

#: The report's file name, written beside the exported files.
REPORT_NAME = "export_report.json"


@dataclass
class FormatReport:
    """One format: where it went and what its own runtime computed on the held-out images."""

    format: str  # a name of zoo.export.names.FORMATS
    path: str | None  # the file or directory written; None when conversion failed
    runtime: str  # what ran it for the verification ("litert 2.3.0", "onnxruntime 1.32.0" ...)
    status: str  # "ok", "failed" (outside tolerance), "error" (not written), "unverified"
    size_bytes: int | None = None  # on disk (a directory: every file in it)
    max_abs_diff: float | None = None  # largest |p - p_keras| over samples and classes
    agreement: float | None = None  # fraction of samples with the Keras model's top-1 class
    accuracy: float | None = None  # top-1 accuracy when labels are known
    latency_ms_batch1: float | None = None  # median wall time of one call, batch of 1
    latency_ms_batch32: float | None = None  # median wall time of one call, batch of 32
    tolerance: dict[str, float | None] = field(default_factory=dict)  # what it had to meet
    problems: list[str] = field(default_factory=list)  # why it failed, in words
    extra: dict[str, Any] = field(default_factory=dict)  # format-specific checks

    @property
    def ok(self) -> bool:
        """True when written and verified within tolerance (or verification was not asked)."""
        return self.status in ("ok", "unverified")


@dataclass
class ExportReport:
    """Every format of one export, the reference Keras model's own figures, and the samples.

    Example:
        >>> report = zoo.export(model, "out", ["tflite_int8", "onnx"], data="photos/")
        >>> report.ok, report["tflite_int8"].agreement
        (True, 1.0)
    """

    model: str  # the Keras model's name
    directory: str  # where the files are
    samples: int  # held-out images the files were compared on
    sample_source: str  # where they came from ("directory photos/", "arrays", "noise" ...)
    labels_known: bool  # whether accuracy could be computed
    class_names: list[str]  # names of the output classes
    reference: FormatReport  # the Keras model in memory: accuracy and latency to compare to
    formats: list[FormatReport] = field(default_factory=list)
    representative: int | None = None  # images int8 calibration used
    #: what was done to the model before export (outputs turned into probabilities ...)
    notes: list[str] = field(default_factory=list)
    #: "unknown" when the model came from a file whose pixel range nobody said and nothing
    #: in it scales its input: the files take what it took, and ``zoo predict`` keeps
    #: warning and accepts ``--preprocessing`` for them
    input_scaling: str = "known"

    @property
    def ok(self) -> bool:
        """True when every format was written and met its tolerance."""
        return all(f.ok for f in self.formats)

    @property
    def failed(self) -> list[str]:
        """Names of the formats not written or outside tolerance."""
        return [f.format for f in self.formats if not f.ok]

    @property
    def paths(self) -> dict[str, Path]:
        """format -> path of every file written (plus ``labels`` and ``report``)."""
        out = {f.format: Path(f.path) for f in self.formats if f.path is not None}
        labels = Path(self.directory) / "labels.txt"
        if labels.exists():
            out["labels"] = labels
        out["report"] = Path(self.directory) / REPORT_NAME
        return out

    def __getitem__(self, name: str) -> FormatReport:
        for item in self.formats:
            if item.format == name:
                return item
        raise KeyError(
            f"no format {name!r} in this report; it has {[f.format for f in self.formats]}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (what ``export_report.json`` holds); NaN and infinity become None."""
        data = asdict(self)
        data["ok"] = self.ok
        data["failed"] = self.failed
        return _finite(data)  # type: ignore[no-any-return]

    def write(self) -> Path:
        """Write ``export_report.json`` into the export directory; return its path."""
        path = Path(self.directory) / REPORT_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, path: str | Path) -> ExportReport:
        """A report back from ``export_report.json`` (or the directory holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / REPORT_NAME
        data = json.loads(path.read_text())
        data.pop("ok", None)
        data.pop("failed", None)
        data["reference"] = FormatReport(**data["reference"])
        data["formats"] = [FormatReport(**f) for f in data["formats"]]
        return cls(**data)

    def rows(self) -> list[list[str]]:
        """The table people read: one row per format after the Keras reference (the problems of
        a failed format are listed apart, in ``FormatReport.problems``)."""
        out = []
        for item in (self.reference, *self.formats):
            out.append(
                [
                    item.format,
                    item.status,
                    _size(item.size_bytes),
                    _num(item.max_abs_diff, "{:.2e}"),
                    _num(item.agreement, "{:.2%}"),
                    _num(item.accuracy, "{:.2%}"),
                    _num(item.latency_ms_batch1, "{:.2f}"),
                    _num(item.latency_ms_batch32, "{:.2f}"),
                ]
            )
        return out

    #: Column titles of :meth:`rows`.
    COLUMNS = (
        "format",
        "status",
        "size",
        "max |Δp|",
        "top-1 agree",
        "accuracy",
        "ms @1",
        "ms @32",
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _num(value: float | None, fmt: str) -> str:
    return "" if value is None else fmt.format(value)


def _size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1 << 20:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1 << 20):.2f} MiB"
