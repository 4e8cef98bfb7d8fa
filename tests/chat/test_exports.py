"""`factory.chat.__all__` names exactly the public surface."""

from __future__ import annotations

import factory.chat


def test_all_is_the_public_surface() -> None:
    # (pytest rewrites the asserts of this distribution, which adds `@py_builtins`-style names)
    public = {name for name in vars(factory.chat) if name.isidentifier() and not name.startswith("_")}
    modules = {"ui"}
    assert set(factory.chat.__all__) == public - modules
    for name in factory.chat.__all__:
        assert getattr(factory.chat, name).__module__.startswith("factory.chat")
