"""Helper run as a separate process by test_billing_run_kill.py: ``wattdesk ARGS…`` whose billing run stops
(sleeps) after HANG_AFTER committed batches, so that a SIGKILL surely lands in the middle of the run, however
loaded the machine. The product code is unchanged; only the pause is added after ``run._write_batch``.

    python billing_run_child.py bill run --period 2026-10 --batch-size 40 --no-progress
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any


def main() -> int:
    from wattdesk.interfaces.cli import main as wattdesk
    from wattdesk.interfaces.cli import setup_django

    setup_django()
    from wattdesk.application.billing import run as uc

    write = uc._write_batch
    hang_after = int(os.environ.get("HANG_AFTER", "2"))
    written = 0

    def write_then_pause(ctx: Any, batch: Any) -> None:
        nonlocal written
        write(ctx, batch)
        written += 1
        if written >= hang_after:
            time.sleep(600)  # the test kills the process here

    uc._write_batch = write_then_pause  # type: ignore[assignment]
    return wattdesk(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
