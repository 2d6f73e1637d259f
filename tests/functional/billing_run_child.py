"""Helper run as a separate process by test_billing_run_kill.py: ``wattdesk ARGS…`` with every committed batch
of a billing run followed by a pause (BATCH_PAUSE seconds), so that a SIGKILL lands in the middle of a run.
The product code is unchanged; only the pause is added around ``run._write_batch``.

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
    pause = float(os.environ.get("BATCH_PAUSE", "0.3"))

    def write_then_pause(ctx: Any, batch: Any) -> None:
        write(ctx, batch)
        time.sleep(pause)

    uc._write_batch = write_then_pause  # type: ignore[assignment]
    return wattdesk(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
