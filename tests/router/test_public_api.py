"""The package's public face: everything in ``__all__`` exists and nothing private leaks."""

from __future__ import annotations

import pyroku.router


def test_all_names_exist_and_are_public() -> None:
    for name in pyroku.router.__all__:
        assert hasattr(pyroku.router, name), name
        assert not name.startswith("_"), name
    assert sorted(pyroku.router.__all__) == sorted(set(pyroku.router.__all__))
