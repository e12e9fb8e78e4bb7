"""The package exports exactly its public names (websockets' tests/test_exports.py)."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys

import msgspec
import pytest

import phoenix_actors
from phoenix_actors import messages


def test_every_name_in_all_is_importable() -> None:
    for name in phoenix_actors.__all__:
        assert hasattr(phoenix_actors, name), name


def test_every_public_message_struct_is_exported() -> None:
    public = {
        name
        for name, obj in vars(messages).items()
        if inspect.isclass(obj)
        and issubclass(obj, msgspec.Struct)
        and not name.startswith("_")
        and obj.__module__.startswith("phoenix_actors")
    }
    assert public <= set(messages.__all__)
    assert public <= set(phoenix_actors.__all__)


def test_every_public_name_has_a_docstring() -> None:
    for name in phoenix_actors.__all__:
        obj = getattr(phoenix_actors, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name


def test_importing_the_package_loads_no_exported_module_until_a_name_is_used() -> None:
    code = (
        "import sys, phoenix_actors\n"
        "print('phoenix_actors.client' in sys.modules, 'pykka' in sys.modules)\n"
        "phoenix_actors.Client\n"
        "print('phoenix_actors.client' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["False", "False", "True"], proc.stderr


def test_dir_lists_every_export_and_an_unknown_name_is_an_attribute_error() -> None:
    assert set(phoenix_actors.__all__) <= set(dir(phoenix_actors))
    missing = "NoSuchName"
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        getattr(phoenix_actors, missing)


def test_the_lazy_name_table_matches_the_imports_type_checkers_see() -> None:
    """``_HOMES`` (runtime) and the ``if TYPE_CHECKING:`` imports (mypy) name the same things."""
    tree = ast.parse(inspect.getsource(phoenix_actors))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    imported = {
        alias.asname or alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == phoenix_actors._HOMES
    assert set(imported) == set(phoenix_actors.__all__) - {"__version__"}
