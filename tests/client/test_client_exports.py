"""`factory.client.__all__` names exactly the public surface, and every name in it is defined there."""

from __future__ import annotations

import factory.client


def test_all_is_the_public_surface() -> None:
    public = {name for name in vars(factory.client) if name.isidentifier() and not name.startswith("_")}
    assert set(factory.client.__all__) == public
    defined = [getattr(factory.client, name) for name in factory.client.__all__]
    classes_and_functions = [v for v in defined if isinstance(v, type) or callable(v) and hasattr(v, "__code__")]
    assert len(classes_and_functions) >= 9
    for value in classes_and_functions:
        assert value.__module__.startswith("factory.client."), value
