"""The Spark engine as a `spark-submit` job, for an export already on storage the cluster reads (docs/scale.md).

    spark-submit ... -m wattdesk.application.simulation.spark_job DETERMINANTS OUT CURRENT.yaml PROPOSED.yaml [PARTITIONS]

DETERMINANTS is the export's directory (``part-*.parquet``; hdfs://, s3a:// or a shared path), OUT a directory URI
the executors write the per-account Parquet dataset to (or a local ``.parquet`` file, collected on the driver),
the tariffs are WattDesk tariff files. No database, no Django: ``engine.summarize`` reads OUT afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wattdesk.application.billing.quote import load_tariff
from wattdesk.application.simulation.engine import run_spark


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    determinants, out, current, proposed = argv[:4]
    run_spark(
        determinants=determinants,
        out=out,
        tariff_from=load_tariff(path=Path(current)).tariff,
        tariff_to=load_tariff(path=Path(proposed)).tariff,
        partitions=int(argv[4]) if len(argv) == 5 else None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
