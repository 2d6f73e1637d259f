"""Reads of the inspection app: the rule set in force on a day, the behaviour codes, the cases a user sees."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Q, QuerySet

from wattdesk.core.inspection import RuleSet
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.inspection.models import BehaviourCode, InspectionCase, InspectionRuleSet


class NoRuleSet(LookupError):
    """No rule set (or more than one) is in force on the day: the message says what an administrator must do."""


def rule_set_on(day: date) -> InspectionRuleSet:
    """The one rule set whose [effective_from, effective_to] (inclusive) contains ``day``."""
    rows = list(
        InspectionRuleSet.objects.filter(effective_from__lte=day)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=day))
        .order_by("effective_from")[:2]
    )
    if not rows:
        latest = InspectionRuleSet.objects.filter(effective_from__lte=day).order_by("-effective_from").first()
        ended = f"; the latest set ({latest.code}) ended on {latest.effective_to}" if latest else ""
        raise NoRuleSet(
            f"no 窃电/违约用电 rule set is in force on {day}{ended}. The 2024 《供电营业规则》 (in force "
            "2024-06-01) amounts are not entered yet: an administrator must add that rule set from the "
            "official text (admin: inspection rule sets) before a case found after 2024-05-31 can be computed"
        )
    if len(rows) > 1:
        raise NoRuleSet(
            f"two rule sets are in force on {day} ({rows[0].code}, {rows[1].code}): fix their dates"
        )
    return rows[0]


def to_core(row: InspectionRuleSet) -> RuleSet:
    return RuleSet(
        code=row.code,
        theft_multiple=row.theft_multiple,
        theft_default_days=row.theft_default_days,
        hours_power=row.hours_power,
        hours_lighting=row.hours_lighting,
        reclass_multiple=row.reclass_multiple,
        reclass_default_days=row.reclass_default_days,
        over_capacity_multiple=row.over_capacity_multiple,
        over_capacity_per_kw=row.over_capacity_per_kw,
        sealed_multiple=row.sealed_multiple,
        sealed_per_kw=row.sealed_per_kw,
        tamper_residential=row.tamper_residential,
        tamper_other=row.tamper_other,
        month_days=row.month_days,
    )


def active_behaviours() -> QuerySet[BehaviourCode]:
    return BehaviourCode.objects.filter(active=True).order_by("category", "code")


def cases_for(user: Any) -> QuerySet[InspectionCase]:
    """The cases on accounts in the user's scope."""
    return InspectionCase.objects.filter(account__in=accounts_for(user)).select_related(
        "account",
        "behaviour",
        "rule_set",
        "opened_by",
        "computed_by",
        "approved_by",
        "posted_by",
        "rejected_by",
    )
