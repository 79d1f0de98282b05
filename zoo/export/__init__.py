"""Exports of a classifier, each file checked in its own runtime against the Keras model.

Modules: ``names`` (the format table, TF-free), ``formats`` (writers), ``runtimes`` (each
file run in LiteRT, onnxruntime, a loaded SavedModel or Keras), ``samples`` (the images
to check and calibrate on), ``verify`` (the comparison), ``report`` (``export_report.json``),
``exporter`` (:func:`zoo.export.exporter.export`, re-exported as ``zoo.export``).

This package sits above ``zoo.model`` and beside ``zoo.finetune``: the engine calls it, it
never imports the engine. This ``__init__`` stays free of TensorFlow.
"""

from zoo.export.names import DEFAULT_FORMATS, FORMATS, QUANTIZATIONS, Tolerance
from zoo.export.report import ExportReport, FormatReport

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "QUANTIZATIONS",
    "ExportReport",
    "FormatReport",
    "Tolerance",
]
