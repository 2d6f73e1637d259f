"""The seeded rule sets name their choice for a 改类 between annual-tier tariffs inside the tier year
(``annual_tiers_on_reclass``, core.rating.segments.ChangeRules): ``carry``, the year-to-date position goes on,
as the run does when a tariff changes on a period boundary. No published rule was found [UNVERIFIED]; a
province that restarts the count edits the row (``restart``), not code (docs/billing-cases/mid-period-changes.md).
"""

from django.db import migrations

KEY = "annual_tiers_on_reclass"
CODES = ("1996", "1583")


def add(apps, schema_editor):  # type: ignore[no-untyped-def]
    ChangeRuleSet = apps.get_model("changes", "ChangeRuleSet")
    for rules in ChangeRuleSet.objects.filter(code__in=CODES):
        if KEY not in rules.document:
            rules.document = {**rules.document, KEY: "carry"}
            rules.save(update_fields=["document"])


def remove(apps, schema_editor):  # type: ignore[no-untyped-def]
    ChangeRuleSet = apps.get_model("changes", "ChangeRuleSet")
    for rules in ChangeRuleSet.objects.filter(code__in=CODES):
        if KEY in rules.document:
            rules.document = {k: v for k, v in rules.document.items() if k != KEY}
            rules.save(update_fields=["document"])


class Migration(migrations.Migration):
    dependencies = [("changes", "0002_rule_sets")]

    operations = [migrations.RunPython(add, remove)]
