"""Widgets built over several event-loop turns, so that building never holds the window long."""

from __future__ import annotations

from collections.abc import Iterator


class StagedBuild:
    """Mixin: ``_construction`` is a generator that builds the object and yields after each piece."""

    _construction: Iterator[str]

    def step(self) -> bool:
        """Build the next piece; False once the object is complete."""
        return next(self._construction, None) is not None

    def finish(self) -> None:
        """Build whatever is left, now."""
        for _ in self._construction:
            pass
