"""The public surface: what `import zoo` exports, and that it stays free of TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import types

import zoo
import zoo.errors


def test_all_is_sorted_and_unique() -> None:
    assert list(zoo.__all__) == sorted(set(zoo.__all__))


def test_all_is_complete_and_every_name_exists() -> None:
    public = {
        name
        for name, value in vars(zoo).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public | set(zoo._LAZY) == set(zoo.__all__)
    for name in zoo.__all__:
        assert getattr(zoo, name) is not None


def test_every_error_is_exported_and_rooted_at_zoo_error() -> None:
    for name in zoo.errors.__all__:
        cls = getattr(zoo.errors, name)
        assert getattr(zoo, name) is cls
        if name not in ("ZooWarning", "PluginWarning"):
            assert issubclass(cls, zoo.ZooError), name


def test_import_zoo_and_listing_do_not_import_tensorflow() -> None:
    code = (
        "import sys, zoo; zoo.list_models(); zoo.list_models('res*', tag='keras'); "
        "zoo.get_spec('inception_v3'); "
        "mods = ('tensorflow', 'keras', 'tf_keras', 'tensorflow_hub'); "
        "bad = [m for m in mods if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "[]"


def test_loading_a_model_never_imports_tf_keras() -> None:
    code = (
        "import sys, zoo; zoo.create('mobilenet_v2', 3, weights=None, input_shape=(32, 32, 3)); "
        "print([m for m in ('tf_keras', 'tensorflow_hub') if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_import_zoo_imports_only_the_errors_and_resolves_the_rest_on_use() -> None:
    code = (
        "import sys, zoo\n"
        "print(sorted(m for m in sys.modules if m.startswith('zoo')))\n"
        "assert zoo.list_models is zoo.api.list_models and zoo.export is zoo.api.export\n"
        "import zoo.export.report, zoo.finetune.recipe\n"
        "assert callable(zoo.export) and callable(zoo.finetune), (zoo.export, zoo.finetune)\n"
        "from zoo.finetune.recipe import Recipe\n"
        "print('ok' if zoo.Recipe is Recipe and zoo.Backbone.__name__ == 'Backbone' else 'no')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    first, last = proc.stdout.strip().splitlines()
    loaded = ["zoo", "zoo._lazy", "zoo._version", "zoo.errors", "zoo.export", "zoo.finetune"]
    assert first == str(loaded)
    assert last == "ok"
