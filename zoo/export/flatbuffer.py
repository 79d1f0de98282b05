"""A TFLite flatbuffer written smaller: the same model, the same bytes where it matters.

Two things in the converter's file take space no runtime needs:

- **Tensor names.** The converter names every tensor after the TensorFlow ops fused into it,
  e.g. ``"model/block_1/Relu6;model/block_1_BN/batchnorm/add_1;model/block_1/depthwise;..."``:
  a MobileNetV2 classifier carries 46 KB of such names in every TFLite format (1.7% of its
  int8 file, 6.9% at alpha 0.35). LiteRT finds inputs and outputs by index, and its signature
  runner through the signature defs, which name the tensors they map themselves.
- **Repeated quantization vectors.** A per-channel int8 tensor stores one float32 scale and one
  int64 zero point per channel, and a bias stores them again. Zero points of weights are all 0,
  so a MobileNetV2 at alpha 1.0 writes 274 KB of zero points (10% of its int8 file) of which
  34 KB differ. A flatbuffer may point many tables at one vector (FlatBuffers' shared strings
  work the same way); the runtime only reads them.

:func:`compact` writes each distinct quantization vector once and, unless asked to keep them,
drops the names of every tensor but the model's inputs and outputs. The signature defs, the
metadata, the operators and every buffer stay byte for byte (each aligned to 16 bytes, as the
converter writes them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BUFFER_ALIGNMENT", "compact", "float_edges", "quantization_vectors", "tensor_names"]

#: Bytes constant buffers start on (what the TFLite converter uses).
BUFFER_ALIGNMENT = 16

#: The vectors of a ``QuantizationParameters`` table and the element type each holds.
_QUANTIZATION_VECTORS = {"min": "<f4", "max": "<f4", "scale": "<f4", "zeroPoint": "<i8"}


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


#: Elementwise arithmetic a model's input scaling is made of (``Rescaling``, ``Normalization``,
#: tfzoo's ``Preprocess``).
_SCALING_OPS = ("ADD", "SUB", "MUL", "DIV")


def float_edges(flat: bytes) -> list[str]:
    """Output names of the ops of a float TFLite model that an int8 file keeps in float.

    - **The input's scaling:** the chain of elementwise arithmetic that reads only the model's
      input and constants (``x / 127.5 - 1``). In int8 each of these ops requantizes the full
      image (MobileNetV2 at 96x96 spends ~10% of its int8 time there, the same ops in float a
      fraction of it) and adds a rounding step before the first layer with weights.
    - **A final softmax:** an int8 softmax gives probabilities in steps of 1/256 that need not
      sum to 1, and XNNPACK has no int8 softmax, so LiteRT leaves its delegate for it; in
      float it reads the dequantized logits.

    Everything from the first layer with weights on stays int8.
    """
    schema = _schema()
    model = schema.Model.GetRootAs(flat, 0)
    codes = {getattr(schema.BuiltinOperator, name): name for name in (*_SCALING_OPS, "SOFTMAX")}
    subgraph = model.Subgraphs(0)

    def code(op: Any) -> int:
        opcode = model.OperatorCodes(op.OpcodeIndex())
        return max(int(opcode.BuiltinCode()), int(opcode.DeprecatedBuiltinCode()))

    def constant(index: int) -> bool:
        buffer = model.Buffers(subgraph.Tensors(index).Buffer())
        return buffer is not None and buffer.DataLength() > 0

    def name(index: int) -> str:
        return (subgraph.Tensors(index).Name() or b"").decode()

    reached = {int(i) for i in subgraph.InputsAsNumpy()}
    outputs = {int(i) for i in subgraph.OutputsAsNumpy()}
    edges: list[str] = []
    for o in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(o)
        kind = codes.get(code(op))
        ins = [int(i) for i in op.InputsAsNumpy() if i >= 0]
        outs = [int(i) for i in op.OutputsAsNumpy()]
        scaling = kind in _SCALING_OPS and all(i in reached or constant(i) for i in ins)
        if scaling and any(i in reached for i in ins):
            reached.update(outs)
            edges += [name(i) for i in outs]
        elif kind == "SOFTMAX" and set(outs) <= outputs:
            edges += [name(i) for i in outs]
    return [edge for edge in edges if edge]


def quantization_vectors(flat: bytes) -> dict[str, tuple[int, int]]:
    """Per vector kind (``"scale"``, ``"zeroPoint"``, ...): how many tensors carry one, and
    at how many distinct places in the file they are stored."""
    model = _schema().Model.GetRootAs(flat, 0)
    places: dict[str, tuple[int, set[int]]] = {}
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for t in range(subgraph.TensorsLength()):
            quantization = subgraph.Tensors(t).Quantization()
            if quantization is None:
                continue
            table = quantization._tab
            for slot, kind in enumerate(_QUANTIZATION_VECTORS):
                field = table.Offset(4 + 2 * slot)
                if field and table.VectorLen(field):
                    count, seen = places.setdefault(kind, (0, set()))
                    seen.add(table.Vector(field))
                    places[kind] = (count + 1, seen)
    return {kind: (count, len(seen)) for kind, (count, seen) in places.items()}


def compact(flat: bytes, *, keep_tensor_names: bool = False) -> bytes:
    """``flat`` with each distinct quantization vector stored once and, unless
    ``keep_tensor_names``, without the names of its intermediate tensors; it computes the same.

    Kept: the names of each subgraph's input and output tensors, the signature defs (the
    signature runner's names), operators, buffers (byte for byte), every tensor's
    quantization values, metadata and the model description. A file whose constants live
    outside the flatbuffer (the converter's layout for models over 2 GB) is returned as it
    is, and so is every file when this TensorFlow lacks the generated TFLite schema (a
    private module): the savings cost size, never correctness.
    """
    try:
        schema = _schema()
    except ImportError:
        return flat
    model = schema.ModelT.InitFromPackedBuf(bytearray(flat), 0)
    if any(b.offset for b in model.buffers or []) or model.externalBuffers:
        return flat  # constants outside the flatbuffer (a file over 2 GB): left as written
    shared: dict[tuple[str, bytes], int] = {}
    for subgraph in model.subgraphs or []:
        keep = {int(i) for i in (subgraph.inputs if subgraph.inputs is not None else [])}
        keep |= {int(i) for i in (subgraph.outputs if subgraph.outputs is not None else [])}
        for index, tensor in enumerate(subgraph.tensors or []):
            if not keep_tensor_names and index not in keep:
                tensor.name = None
            if tensor.quantization is not None and tensor.quantization.details is None:
                tensor.quantization = _SharedQuantization(tensor.quantization, shared)
    model.buffers = [_AlignedBuffer(b) for b in model.buffers or []]
    import flatbuffers  # type: ignore[import-untyped]  # TensorFlow's own dependency

    builder = flatbuffers.Builder(len(flat))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class _SharedQuantization:
    """A ``QuantizationParametersT`` whose vectors are written once per distinct content.

    ``shared`` maps (element type, bytes) to the offset of a vector already in the builder;
    a table written later points at it (offsets run towards the end of the buffer, where
    the builder put everything written before).
    """

    def __init__(self, quantization: Any, shared: dict[tuple[str, bytes], int]) -> None:
        self.quantization = quantization
        self.shared = shared

    def _vector(self, builder: Any, kind: str) -> int | None:
        values = getattr(self.quantization, kind)
        if values is None:
            return None
        dtype = _QUANTIZATION_VECTORS[kind]
        array = np.asarray(values, dtype=dtype)
        key = (dtype, array.tobytes())
        if key not in self.shared:
            self.shared[key] = int(builder.CreateNumpyVector(array))
        return self.shared[key]

    def Pack(self, builder: Any) -> int:  # the name the generated TensorT.Pack calls
        schema = _schema()
        offsets = {kind: self._vector(builder, kind) for kind in _QUANTIZATION_VECTORS}
        schema.QuantizationParametersStart(builder)
        for kind, add in (
            ("min", schema.QuantizationParametersAddMin),
            ("max", schema.QuantizationParametersAddMax),
            ("scale", schema.QuantizationParametersAddScale),
            ("zeroPoint", schema.QuantizationParametersAddZeroPoint),
        ):
            if offsets[kind] is not None:
                add(builder, offsets[kind])
        schema.QuantizationParametersAddDetailsType(builder, self.quantization.detailsType)
        schema.QuantizationParametersAddQuantizedDimension(
            builder, self.quantization.quantizedDimension
        )
        return int(schema.QuantizationParametersEnd(builder))


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
