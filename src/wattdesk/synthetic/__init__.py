"""Synthetic county (模拟县供电公司): customers, meters, tariffs, readings and interval data for demos, tests and
benchmarks. ``generate_county`` is the use case (Django); profiles / population / generator are pure numpy
and import without Django, so the package exports the use case lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wattdesk.synthetic.county import CountySummary, Progress, SynthError, generate_county

__all__ = ["CountySummary", "Progress", "SynthError", "generate_county"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from wattdesk.synthetic import county

        return getattr(county, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
