"""User workflows above the engine: compare backbones, predict, evaluate, publish.

- ``images``: find, decode and fit images (files, folders, ``.npy``) to a model's input
- ``runner``: open an exported model (SavedModel, ``.keras``, TFLite, ONNX, a fine-tune
  result) as one callable with its input shape and labels
- ``predict``: top-k class names with probabilities (``zoo predict``)
- ``evaluate``: accuracy, per-class metrics, confusion matrix and worst mistakes
  (``zoo evaluate``); ``figures`` draws their PNGs
- ``compare``: frozen features + k-fold linear probe per candidate backbone (``zoo compare``)
- ``publish``: a content-addressed export in a static-HTTP team registry (``zoo publish``)

They sit above ``zoo.session`` and ``zoo.finetune`` and below ``zoo.api`` and ``zoo.cli``.
"""
