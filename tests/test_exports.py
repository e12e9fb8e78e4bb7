"""The package exports exactly its public names (websockets' tests/test_exports.py)."""

from __future__ import annotations

import inspect

import msgspec

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
