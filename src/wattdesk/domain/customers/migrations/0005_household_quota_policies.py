"""The documented default 一户多人口 policies (docs/billing-cases/household-quota.md, billing-rules-2.md §6).

``default``: 江苏 (2021-03-01) / 广东 (2021-06-01) style — 5 persons or more, +100 kWh per month on every tier
boundary (广东 "第一、二、三档阶梯电量基数各增加100千瓦时"), valid 2 years (广东), effective the month after the
application. ``heilongjiang``: more than 5 persons, +408 kWh per person above 5 per year on both annual
boundaries, re-verified every year. Both are data: edit or add versions, do not change code.
"""

from datetime import date
from decimal import Decimal

from django.db import migrations

POLICIES = (
    {
        "code": "default",
        "name": "一户多人口 (江苏/广东式) 满5人每月+100kWh",
        "effective_from": date(2021, 3, 1),
        "min_persons": 5,
        "basis": "household",
        "persons_base": 0,
        "uplift_kwh": Decimal(100),
        "unit": "per_month",
        "tiers": "all",
        "starts": "next_month",
        "validity_months": 24,
        "annual_mode": "remaining_months",
        "residential_only": True,
        "source": "江苏 2021-02-01 (eff. 2021-03-01); 广东 2021-04-29 (eff. 2021-06-01); billing-rules-2.md §6.2",
    },
    {
        "code": "heilongjiang",
        "name": "一户多人口 (黑龙江) 5人以上每人每年+408kWh",
        "effective_from": date(2020, 1, 1),
        "min_persons": 6,
        "basis": "per_person_above",
        "persons_base": 5,
        "uplift_kwh": Decimal(408),
        "unit": "per_year",
        "tiers": "all",
        "starts": "next_month",
        "validity_months": 12,
        "annual_mode": "remaining_months",
        "residential_only": True,
        "source": "黑龙江 2019-12-19 (eff. 2020-01-01); billing-rules-2.md §6.2",
    },
)


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    policy = apps.get_model("customers", "HouseholdQuotaPolicy")
    for row in POLICIES:
        policy.objects.get_or_create(code=row["code"], effective_from=row["effective_from"], defaults=row)


def unseed(apps, schema_editor):  # type: ignore[no-untyped-def]
    policy = apps.get_model("customers", "HouseholdQuotaPolicy")
    for row in POLICIES:
        policy.objects.filter(
            code=row["code"], effective_from=row["effective_from"], grants__isnull=True
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_household_quota")]

    operations = [migrations.RunPython(seed, unseed)]
