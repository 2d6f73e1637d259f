"""Synthetic county (模拟县供电公司): customers, meters, tariffs, readings and interval data for demos, tests and
benchmarks. ``generate_county`` is the use case; profiles / population / generator are pure numpy."""

from wattdesk.application.synth.county import CountySummary, Progress, SynthError, generate_county

__all__ = ["CountySummary", "Progress", "SynthError", "generate_county"]
