"""The built wheel: registry.yaml packaged inside, py.typed, the console script and entry group."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_holds_the_registry_and_type_marker(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("tfzoo-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert {"zoo/registry.yaml", "zoo/py.typed", "zoo/__init__.py"} <= names
        assert zf.read("zoo/registry.yaml") == (ROOT / "registry.yaml").read_bytes()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
        metadata = zf.read(f"{dist_info}/METADATA").decode()
    assert "zoo = zoo.cli:main" in entry_points
    assert "Requires-Python: >=3.10" in metadata
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any("tensorflow>=2.16" in r for r in requirements)
    assert not any("tf-keras" in r or "tf_keras" in r for r in requirements)
    assert not any(
        r.startswith("Requires-Dist: tensorflow-hub") and "extra" not in r for r in requirements
    )
