"""Tensor names out of a TFLite flatbuffer: the same model, a smaller file.

The converter names every tensor after the TensorFlow ops fused into it, e.g.
``"model/block_1/Relu6;model/block_1_BN/batchnorm/add_1;model/block_1/depthwise;..."``: a
MobileNetV2 of a fine-tuned classifier carries 46 KB of such names in every TFLite format
(1.7% of its int8 file, 6.9% of the int8 file at alpha 0.35). No runtime reads them: LiteRT
finds inputs and outputs by index, and its signature runner through the signature defs, which
name the tensors they map themselves. :func:`strip_tensor_names` drops the names of every
tensor but the model's inputs and outputs, and keeps the signature defs, the metadata and
every buffer byte for byte (each aligned to 16 bytes, as the converter writes them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BUFFER_ALIGNMENT", "strip_tensor_names", "tensor_names"]

#: Bytes constant buffers start on (what the TFLite converter uses).
BUFFER_ALIGNMENT = 16


def _schema() -> Any:
    from tensorflow.lite.python import schema_py_generated

    return schema_py_generated


def tensor_names(flat: bytes) -> list[list[str]]:
    """Every tensor's name, subgraph by subgraph (``""`` for a tensor without one)."""
    model = _schema().Model.GetRootAs(flat, 0)
    out: list[list[str]] = []
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        names = [subgraph.Tensors(t).Name() for t in range(subgraph.TensorsLength())]
        out.append([name.decode() if name else "" for name in names])
    return out


def strip_tensor_names(flat: bytes) -> bytes:
    """``flat`` without the names of its intermediate tensors; it computes the same.

    Kept: the names of each subgraph's input and output tensors, the signature defs (the
    signature runner's names), operators, buffers (byte for byte), quantization parameters,
    metadata and the model description. A file whose constants live outside the flatbuffer
    (the converter's layout for models over 2 GB) is returned as it is, and so is every file
    when this TensorFlow lacks the generated TFLite schema (a private module): names cost
    size, never correctness.
    """
    try:
        schema = _schema()
    except ImportError:
        return flat
    model = schema.ModelT.InitFromPackedBuf(bytearray(flat), 0)
    if any(b.offset for b in model.buffers or []) or model.externalBuffers:
        return flat  # constants outside the flatbuffer (a file over 2 GB): left as written
    for subgraph in model.subgraphs or []:
        keep = {int(i) for i in (subgraph.inputs if subgraph.inputs is not None else [])}
        keep |= {int(i) for i in (subgraph.outputs if subgraph.outputs is not None else [])}
        for index, tensor in enumerate(subgraph.tensors or []):
            if index not in keep:
                tensor.name = None
    model.buffers = [_AlignedBuffer(b) for b in model.buffers or []]
    import flatbuffers  # type: ignore[import-untyped]  # TensorFlow's own dependency

    builder = flatbuffers.Builder(len(flat))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class _AlignedBuffer:
    """A ``BufferT`` whose data is written on a :data:`BUFFER_ALIGNMENT` boundary.

    The generated ``BufferT.Pack`` aligns the bytes to 4 only; the converter aligns them to
    16, which runtimes may read constants in place with.
    """

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer

    def Pack(self, builder: Any) -> int:  # the name the generated ModelT.Pack calls
        schema = _schema()
        buffer = self.buffer
        data = None
        if buffer.data is not None:
            payload = np.asarray(buffer.data, dtype=np.uint8).tobytes()
            builder.StartVector(1, len(payload), BUFFER_ALIGNMENT)
            builder.head = builder.head - len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            builder.vectorNumElems = len(payload)
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        schema.BufferAddOffset(builder, buffer.offset)
        schema.BufferAddSize(builder, buffer.size)
        return int(schema.BufferEnd(builder))
