"""build_living_county: the one code path of `wattdesk synth` and the demo (both databases)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from wattdesk.domain.billing.models import Bill
from wattdesk.domain.customers.models import Account
from wattdesk.domain.outlets.models import CandidateSite, PaymentOutlet
from wattdesk.domain.payments.models import Payment
from wattdesk.synthetic.demo import LivingParts, build_living_county, enrol_prepaid

pytestmark = pytest.mark.django_db
ARGS: dict[str, Any] = {
    "accounts": 60,
    "months": 3,
    "seed": 4,
    "end_month": date(2026, 9, 1),
    "through": date(2026, 11, 20),
    "interval_share": 0.0,
}


@pytest.fixture(autouse=True)
def interval_dir(settings: Any, tmp_path: Path) -> None:
    settings.WATTDESK_INTERVAL_DIR = tmp_path / "intervals"


def test_every_part_by_default() -> None:
    living = build_living_county(**ARGS)
    assert living.outlets is not None
    assert PaymentOutlet.objects.count() == living.outlets.outlets > 0
    assert CandidateSite.objects.count() == living.outlets.candidates > 0
    prepaid = Account.objects.filter(prepaid=True)
    assert prepaid.count() == living.prepaid_accounts >= 1
    assert set(prepaid.values_list("customer__customer_class", flat=True)) == {"residential"}
    assert living.history is not None and living.history.periods == ("2026-07", "2026-08")
    assert Bill.objects.filter(status="issued").count() == living.history.issued > 0
    assert living.payments is not None and Payment.objects.count() == living.payments.payments > 0
    assert not Bill.objects.filter(period="2026-09").exists()


def test_parts_can_be_left_out() -> None:
    living = build_living_county(**ARGS, parts=LivingParts(outlets=False, prepaid=False, payments=False))
    assert (living.outlets, living.prepaid_accounts, living.history, living.payments) == (None, 0, None, None)
    assert not PaymentOutlet.objects.exists() and not Account.objects.filter(prepaid=True).exists()
    assert not Bill.objects.exists() and not Payment.objects.exists()


def test_prepaid_enrolment_is_deterministic_per_seed() -> None:
    build_living_county(**ARGS, parts=LivingParts(outlets=False, prepaid=False, payments=False))
    first = enrol_prepaid(seed=9)
    chosen = set(Account.objects.filter(prepaid=True).values_list("number", flat=True))
    Account.objects.update(prepaid=False)
    assert enrol_prepaid(seed=9) == first
    assert set(Account.objects.filter(prepaid=True).values_list("number", flat=True)) == chosen
