"""Registry files: schema validation with file/line/field errors (F21, F22), merge order, lookup."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import zoo
from zoo.errors import RegistryError, UnknownModelError
from zoo.registry import Registry, load_registry_file, parse_registry_text
from zoo.session import Session, reset
from zoo.spec import ModelSpec

GOOD = """\
version: 1
models:
  my_net:
    provider: local
    source: ./my_net.keras
    input_shape: [64, 64, 3]
    preprocessing: unit
    feature_layer: -2
    sha256: "%s"
    tags: [mine, cnn]
    aliases: [MyNet]
    options: {trust: false}
""" % ("ab" * 32)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_parse_a_valid_file() -> None:
    (spec,) = parse_registry_text(GOOD, "zoo.yaml")
    assert spec.name == "my_net"
    assert spec.input_shape == (64, 64, 3)
    assert spec.feature_layer == -2
    assert spec.aliases == ("MyNet",)
    assert spec.options == {"trust": False}
    assert spec.origin == "zoo.yaml:3"


def test_f21_python_object_tags_are_refused(tmp_path: Path) -> None:
    """F21: YAML with !!python/object tags is a parse error (safe loading only)."""
    marker = tmp_path / "pwned"
    text = f"""\
    models:
      evil: !!python/object/apply:os.system ["touch {marker}"]
    """
    with pytest.raises(RegistryError, match=r"x\.yaml:2: .*python/object"):
        parse_registry_text(textwrap.dedent(text), "x.yaml")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("body", "line", "field", "message"),
    [
        ("  a:\n    provider: keras\n    source: 12\n", 5, "models.a.source", "expected a string"),
        ("  a:\n    provider: keras\n    sorce: X\n", 5, "models.a.sorce", "did you mean 'source'"),
        ("  a:\n    provider: keras\n", 3, "models.a", "missing required key 'source'"),
        (
            "  a:\n    provider: k\n    source: X\n  a:\n    provider: k\n    source: Y\n",
            6,
            "a",
            "duplicate key 'a' \\(first on line 3\\)",
        ),
        (
            "  a:\n    provider: k\n    source: X\n    sha256: abc\n",
            6,
            "models.a.sha256",
            "64 hexadecimal",
        ),
        (
            "  a:\n    provider: k\n    source: X\n    input_shape: [0, 3]\n",
            6,
            "models.a.input_shape",
            "height, width, channels",
        ),
        (
            "  a:\n    provider: k\n    source: X\n    tags: mine\n",
            6,
            "models.a.tags",
            "list of strings",
        ),
        (
            "  a:\n    provider: k\n    source: X\n    preprocessing: imagenet\n",
            6,
            "models.a.preprocessing",
            "unknown preprocessing mode",
        ),
        ("  Bad Name:\n    provider: k\n    source: X\n", 3, "models.Bad Name", "lower case"),
        (
            "  a:\n    provider: k\n    source: X\n    feature_layer: 1.5\n",
            6,
            "models.a.feature_layer",
            "layer name or index",
        ),
    ],
)
def test_f22_invalid_entries_name_file_line_and_field(
    body: str, line: int, field: str, message: str
) -> None:
    """F22: wrong types, unknown keys, missing source, duplicate names, malformed sha256."""
    text = "version: 1\nmodels:\n" + body
    with pytest.raises(RegistryError) as info:
        parse_registry_text(text, "reg.yaml")
    err = info.value
    assert (err.path, err.line, err.field) == ("reg.yaml", line, field)
    assert str(err).startswith(f"reg.yaml:{line}: {field}: ")
    assert re.search(message, str(err))


def test_top_level_errors() -> None:
    with pytest.raises(RegistryError, match="mapping with a 'models:' key"):
        parse_registry_text("- a\n- b\n", "r.yaml")
    with pytest.raises(RegistryError, match=r"r.yaml:2: model: unknown top-level key"):
        parse_registry_text("version: 1\nmodel: {}\n", "r.yaml")
    with pytest.raises(RegistryError, match="unsupported registry version 2"):
        parse_registry_text("version: 2\nmodels: {}\n", "r.yaml")
    with pytest.raises(RegistryError, match=r"r.yaml:\d: not valid registry YAML"):
        parse_registry_text("models:\n  a: [\n", "r.yaml")
    assert parse_registry_text("", "empty.yaml") == []


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read registry file"):
        load_registry_file(tmp_path / "missing.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(RegistryError, match="not UTF-8"):
        load_registry_file(tmp_path / "bin.yaml")


def test_packaged_registry_is_valid_and_has_every_keras_architecture() -> None:
    import inspect

    import keras

    from zoo.settings import packaged_registry

    specs = load_registry_file(packaged_registry())
    keras_sources = {s.source for s in specs if s.provider == "keras"}
    functions = {
        n for n in dir(keras.applications) if inspect.isfunction(getattr(keras.applications, n))
    }
    assert functions <= keras_sources, (
        f"missing registry entries: {sorted(functions - keras_sources)}"
    )
    for spec in specs:
        assert spec.description and spec.license and spec.tags, spec.name


def test_merge_order_later_sources_override(
    tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoo.settings import user_registry

    user = user_registry()
    user.parent.mkdir(parents=True)
    write(
        user,
        "models:\n  resnet50:\n    provider: keras\n    source: ResNet50\n    description: user\n"
        "  only_user:\n    provider: keras\n    source: VGG16\n    description: user\n",
    )
    write(
        isolated / "zoo.yaml",
        "models:\n  only_user:\n    provider: keras\n    source: VGG19\n    description: project\n",
    )
    extra = write(
        tmp_path / "extra.yaml",
        "models:\n  resnet50:\n    provider: keras\n    source: ResNet50V2\n    description: env\n",
    )
    monkeypatch.setenv("ZOO_REGISTRY", str(extra))
    reset()
    assert zoo.get_spec("resnet50").description == "env"
    assert zoo.get_spec("only_user").source == "VGG19"
    assert zoo.get_spec("only_user").origin.endswith("zoo.yaml:2")
    assert zoo.get_spec("vgg16").source == "VGG16"  # untouched packaged entry


def test_zoo_registry_missing_file_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "nope.yaml"))
    reset()
    with pytest.raises(RegistryError, match=r"nope\.yaml: cannot read"):
        zoo.list_models()


def test_lookup_aliases_case_and_suggestions() -> None:
    assert zoo.get_spec("InceptionV3").name == "inception_v3"
    assert zoo.get_spec("INCEPTION_V3").name == "inception_v3"
    assert zoo.get_spec("mobilenet_v1").name == "mobilenet"
    with pytest.raises(UnknownModelError) as info:
        zoo.get_spec("resnet_50")
    assert "resnet50" in info.value.suggestions
    assert "did you mean 'resnet50'" in str(info.value)
    assert isinstance(info.value, LookupError)


def test_list_models_filters() -> None:
    names = [s.name for s in zoo.list_models("efficientnet_v2_*")]
    assert names == sorted(names) and names[0] == "efficientnet_v2_b0" and len(names) == 7
    assert [s.name for s in zoo.list_models("InceptionV*")] == ["inception_v3"]
    assert all(s.provider == "keras" for s in zoo.list_models(provider="keras"))
    # provider= too: an installed plugin (zoo-keras-hub) may tag its own VGGs "vgg"
    assert {s.name for s in zoo.list_models(tag="vgg", provider="keras")} == {"vgg16", "vgg19"}
    assert zoo.list_models(provider="nope") == []


def test_alias_never_shadows_a_real_name() -> None:
    reg = Registry(
        [
            ModelSpec("a", "p", "s", aliases=("b",)),
            ModelSpec("b", "p", "t"),
        ]
    )
    assert reg.get("b").source == "t"


def test_listing_does_not_import_tensorflow_in_a_fresh_process(isolated: Path) -> None:
    write(isolated / "zoo.yaml", GOOD)
    code = "import sys, zoo; print(len(zoo.list_models())); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, imported = out.stdout.split()
    assert int(count) >= 41 and imported == "False"


def test_session_with_its_own_working_directory(tmp_path: Path, host: object) -> None:
    write(tmp_path / "zoo.yaml", GOOD)
    session = Session(host, cwd=tmp_path)  # type: ignore[arg-type]
    assert session.get_spec("MyNet").name == "my_net"


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"input_shape": (32, 32, True)}, "positive integers"),
        ({"input_shape": (0, 32)}, "positive integers"),
        ({"preprocessing": "bogus"}, "bogus"),
        ({"preprocessing": {"mode": "tf", "gamma": 2}}, "unknown preprocessing keys"),
        ({"labels": "cat,dog"}, "list of strings"),
        ({"feature_layer": 1.5}, "layer name or index"),
        ({"sha256": "abc"}, "64 hexadecimal"),
        ({"weights": 3}, "string or null"),
    ],
)
def test_overrides_are_checked_like_registry_fields_before_anything_loads(
    override: dict[str, object], reason: str
) -> None:
    """The same checks as a registry entry's fields: a ZooError naming the override."""
    from zoo.session import default_session

    with pytest.raises(zoo.InvalidOptionError, match=reason) as info:
        default_session().resolve("inception_v3", override)  # before any provider loads
    assert f"override {next(iter(override))}=" in str(info.value)


def test_good_overrides_are_normalized() -> None:
    from zoo.session import default_session

    spec, *_ = default_session().resolve(
        "inception_v3", {"input_shape": [96, 96], "sha256": "AB" * 32, "labels": ["a", "b"]}
    )
    assert spec.input_shape == (96, 96, 3)
    assert spec.sha256 == "ab" * 32 and spec.labels == ("a", "b")
