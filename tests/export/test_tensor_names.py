"""Compacted TFLite files (no intermediate tensor names, each quantization vector stored
once): smaller, the same model.

Each TFLite format is written twice (the default, names stripped, and
``keep_tensor_names=True``) and the two files are compared by hand: the names, every constant
buffer byte for byte, the ``serve`` signature, and the outputs in LiteRT and ``zoo predict``'s
runner, which must be identical, not merely close. The shared quantization vectors are checked
against the converter's layout (one vector per tensor) the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zoo
from tests.export.conftest import SHAPE
from tests.finetune.util import blobs
from zoo.export import FORMATS, ExportReport
from zoo.export.flatbuffer import (
    BUFFER_ALIGNMENT,
    compact,
    quantization_vectors,
    tensor_names,
)

TFLITE = [name for name in FORMATS if name.startswith("tflite")]


@pytest.fixture(scope="module")
def both(tiny: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[ExportReport, Path, Path]:
    """Every TFLite format, names stripped (verified) and kept (written only)."""
    x, y = blobs(160, SHAPE, seed=1)
    stripped = tmp_path_factory.mktemp("stripped")
    kept = tmp_path_factory.mktemp("kept")
    report = zoo.export(tiny, stripped, TFLITE, data=(x, y), timing_runs=0, samples=64)
    zoo.export(tiny, kept, TFLITE, data=(x, y), verify=False, keep_tensor_names=True)
    return report, stripped, kept


def _buffers(flat: bytes) -> list[tuple[bytes, int]]:
    """Each buffer's bytes and the file offset they start at."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(flat, 0)
    out = []
    for i in range(model.BuffersLength()):
        buffer = model.Buffers(i)
        data = buffer.DataAsNumpy()
        if isinstance(data, np.ndarray) and data.size:
            start = buffer._tab.Vector(buffer._tab.Offset(4))
            out.append((data.tobytes(), start))
    return out


@pytest.mark.parametrize("fmt", TFLITE)
def test_only_inputs_and_outputs_keep_their_names(
    both: tuple[ExportReport, Path, Path], fmt: str
) -> None:
    report, stripped, kept = both
    assert report[fmt].status == "ok", report[fmt].problems  # verified against Keras
    small = (stripped / FORMATS[fmt].filename).read_bytes()
    full = (kept / FORMATS[fmt].filename).read_bytes()
    (names,) = tensor_names(small)
    (all_names,) = tensor_names(full)
    assert len(names) == len(all_names)
    assert [n for n in names if n] == ["serve_image:0", "StatefulPartitionedCall:0"]
    assert sum(1 for n in all_names if n) == len(all_names)  # the converter names them all
    assert any("conv" in n for n in all_names)
    saved = sum(len(n) for n in all_names) - sum(len(n) for n in names)
    assert len(full) - len(small) >= saved  # the names' bytes (and their length fields) go
    assert report[fmt].size_bytes == len(small)


@pytest.mark.parametrize("fmt", TFLITE)
def test_the_constants_are_the_same_bytes_and_aligned(
    both: tuple[ExportReport, Path, Path], fmt: str
) -> None:
    _, stripped, kept = both
    small = _buffers((stripped / FORMATS[fmt].filename).read_bytes())
    full = _buffers((kept / FORMATS[fmt].filename).read_bytes())
    assert [data for data, _ in small] == [data for data, _ in full]
    assert all(start % BUFFER_ALIGNMENT == 0 for _, start in small)


@pytest.mark.parametrize("fmt", TFLITE)
# zoo predict re-normalises int8 softmax outputs, whose 1/256 steps need not sum to 1 (and
# says so): the same for both files, which is what is compared here
@pytest.mark.filterwarnings("ignore:.*does not output probabilities")
def test_the_serve_signature_and_the_outputs_are_unchanged(
    both: tuple[ExportReport, Path, Path], fmt: str
) -> None:
    from ai_edge_litert.interpreter import Interpreter

    from zoo.workflows.runner import open_model

    _, stripped, kept = both
    x, _ = blobs(16, SHAPE, seed=3)
    x = x.astype("float32")
    by_signature, by_predict = [], []
    for folder in (stripped, kept):
        path = folder / FORMATS[fmt].filename
        interpreter = Interpreter(model_path=str(path))
        signatures = interpreter.get_signature_list()
        assert signatures == {"serve": {"inputs": ["image"], "outputs": ["output_0"]}}
        by_signature.append(interpreter.get_signature_runner("serve")(image=x)["output_0"])
        by_predict.append(open_model(path)(x))  # what zoo predict runs
        assert by_signature[-1].shape == by_predict[-1].shape == (16, 3)
    np.testing.assert_array_equal(by_signature[0], by_signature[1])
    np.testing.assert_array_equal(by_predict[0], by_predict[1])
    assert np.array_equal(by_signature[0].argmax(1), by_predict[0].argmax(1))


def test_stripping_twice_changes_nothing_more(both: tuple[ExportReport, Path, Path]) -> None:
    _, stripped, _ = both
    flat = (stripped / "model_int8.tflite").read_bytes()
    again = compact(flat)
    assert tensor_names(again) == tensor_names(flat)
    assert [d for d, _ in _buffers(again)] == [d for d, _ in _buffers(flat)]
    assert abs(len(again) - len(flat)) < BUFFER_ALIGNMENT * 4


def test_a_file_with_constants_outside_the_flatbuffer_is_left_as_written(
    both: tuple[ExportReport, Path, Path],
) -> None:
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    _, _, kept = both
    model = schema.ModelT.InitFromPackedBuf(bytearray((kept / "model.tflite").read_bytes()), 0)
    last = model.buffers[-1]
    last.offset, last.size, last.data = 1 << 31, len(last.data), None  # the >2 GB layout
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    flat = bytes(builder.Output())
    assert compact(flat) == flat
    assert all(tensor_names(flat)[0])


def _one_vector_per_tensor(flat: bytes) -> bytes:
    """``flat`` packed by the generated schema code: every tensor writes its own quantization
    vectors, as the converter does."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    builder = flatbuffers.Builder(len(flat))
    model = schema.ModelT.InitFromPackedBuf(bytearray(flat), 0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _quantization(flat: bytes) -> list[tuple[Any, ...]]:
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(flat), 0)
    out = []
    for tensor in model.subgraphs[0].tensors:
        q = tensor.quantization
        if q is None:
            out.append(())
            continue
        vectors = (q.min, q.max, q.scale, q.zeroPoint)
        out.append((*(None if v is None else list(v) for v in vectors), q.quantizedDimension))
    return out


def test_each_quantization_vector_is_stored_once_and_reads_the_same(
    both: tuple[ExportReport, Path, Path],
) -> None:
    from ai_edge_litert.interpreter import Interpreter

    _, _, kept = both
    plain = _one_vector_per_tensor((kept / "model_int8.tflite").read_bytes())
    count, places = quantization_vectors(plain)["zeroPoint"]
    assert count == places > 4  # the converter's layout: one zero-point vector per tensor
    shared = compact(plain, keep_tensor_names=True)
    count, places = quantization_vectors(shared)["zeroPoint"]
    assert count == quantization_vectors(plain)["zeroPoint"][0] and places < count
    assert len(shared) < len(plain)
    assert _quantization(shared) == _quantization(plain)  # every tensor keeps its own values
    assert tensor_names(shared) == tensor_names(plain)
    x, _ = blobs(16, SHAPE, seed=4)
    outputs = []
    for flat in (plain, shared):
        runner = Interpreter(model_content=flat).get_signature_runner("serve")
        outputs.append(runner(image=x.astype("float32"))["output_0"])
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert len(set(outputs[0].argmax(1))) > 1  # a model that tells inputs apart
