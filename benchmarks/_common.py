"""Shared helpers for the benchmark scripts: machine description and synthetic interval loads."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
URDB_DIR = Path(
    os.environ.get(
        "WATTDESK_URDB_DIR", Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "urdb-tariffs"
    )
)


def machine() -> str:
    """One line: CPU model (from /proc/cpuinfo), nproc, Python and numpy versions."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = os.environ.get("OPENBLAS_CORETYPE")
    extra = f", OPENBLAS_CORETYPE={blas}" if blas else ""
    return f"{model}, nproc={os.cpu_count()}, Python {sys.version.split()[0]}, numpy {np.__version__}{extra}"


def hourly_loads(*, n: int, steps: int, steps_per_hour: int = 1, seed: int = 0) -> npt.NDArray[np.float64]:
    """``n`` synthetic commercial loads (kWh per step, 4 decimals like a meter export), accounts x steps.

    Daily and seasonal shape, weekday/weekend difference, a per-customer size (lognormal) and noise, so
    that every TOU period, tier and demand window gets realistic, different values per customer.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(steps) / steps_per_hour  # hours since Jan 1 00:00
    hour = t % 24
    day = t // 24
    daily = 0.55 + 0.45 * np.clip(np.sin((hour - 6) / 14 * np.pi), 0, None)
    seasonal = 1.0 + 0.25 * np.cos((day - 200) / 365 * 2 * np.pi)
    weekend = np.where(day % 7 >= 5, 0.6, 1.0)
    shape = daily * seasonal * weekend
    out = np.empty((n, steps), dtype=np.float64)
    size = rng.lognormal(mean=3.0, sigma=0.8, size=n) / steps_per_hour
    block = 2048
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        noise = rng.gamma(8.0, 1 / 8.0, size=(hi - lo, steps))
        out[lo:hi] = np.round(size[lo:hi, None] * shape[None, :] * noise, 4)
    return out
