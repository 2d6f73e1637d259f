"""Use case: estimate the missing readings of a period (估抄) before it is billed.

Every cumulative register of a meter installed at the end of the period that has no billable reading dated
in the period gets an estimated reading on the period's last day (metering.operations.estimate_missing_readings:
same month last year, else the latest periods; flagged "estimated", with an open warning so a real read is
arranged; the next actual read is trued up against it). The billing run then bills these accounts and marks
their bills as estimated instead of skipping them. Idempotent: a register that already has a reading in the
period is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q

from wattdesk.application.periods import period_input
from wattdesk.domain.audit import record_batch
from wattdesk.domain.metering.models import MeterInstallation
from wattdesk.domain.metering.operations import estimate_missing_readings


@dataclass(frozen=True)
class EstimationResult:
    period: str
    meters: int
    estimated: int
    no_history: int


def estimate_period(*, period: str) -> EstimationResult:
    start, end = period_input(period).bounds
    read_on = end - timedelta(days=1)
    meter_ids = list(
        MeterInstallation.objects.filter(
            Q(removed_on__isnull=True) | Q(removed_on__gte=read_on), installed_on__lte=read_on
        )
        .values_list("meter_id", flat=True)
        .distinct()
    )
    with transaction.atomic():
        outcome = estimate_missing_readings(
            period_start=start, period_end=end, read_on=read_on, meter_ids=meter_ids
        )
        if outcome.estimated:
            record_batch(
                actor=None,
                action="readings.estimate",
                object_repr=f"estimated readings {period}",
                changes={"estimated": outcome.estimated, "no_history": outcome.no_history},
            )
    return EstimationResult(
        period=period, meters=len(meter_ids), estimated=outcome.estimated, no_history=outcome.no_history
    )
