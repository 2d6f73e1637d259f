"""The two rule sets whose text was found (billing-rules-2.md §3.1, §3.2, §3.3, §7). The 2024 《供电营业规则》
articles were not readable: its rule set is data to be added, not guessed (open question 1).

The 1583 start date 2016-08-01 is the boundary chosen here ([UNVERIFIED]: the notice's own date and its
effective date were not found); edit the rows, not code, when the text is in hand.
"""

from django.db import migrations

RULE_SETS = (
    {
        "code": "1996",
        "effective_from": "1996-10-08",
        "effective_to": "2016-08-01",
        "document": {
            "version": "1996",
            "denominator": "30",
            "sealing_day_charged": False,
            "unsealing_day_charged": True,
            "suspension_min_days": 15,
            "suspension_max_per_year": 2,
            "suspension_max_days_per_year": 183,
            "short_suspension_charged_in_full": True,
            "reduction_min_days": 183,
            "two_year_rule": True,
            "two_year_factor": "0.5",
            "demand_changes_on_period_boundary": False,
        },
        "source": (
            "供电营业规则 (1996) Arts 23-25 [OK]: hyxxzfwzxzwfww.gov.cn/lawguide/MA40WG547GG72386005.jspx, "
            "d736.com/news/show-2697.html; /30 and part day = 1 day: 160170.com …/658977.jsp [OK, origin unnamed]; "
            "sealing day not charged, unsealing day charged: zysnt.com [OK]"
        ),
    },
    {
        "code": "1583",
        "effective_from": "2016-08-01",
        "effective_to": None,
        "document": {
            "version": "1583",
            "denominator": "30",
            "sealing_day_charged": False,
            "unsealing_day_charged": True,
            "suspension_min_days": 15,
            "suspension_max_per_year": 2,
            "suspension_max_days_per_year": 183,
            "short_suspension_charged_in_full": True,
            "reduction_min_days": 0,
            "two_year_rule": False,
            "two_year_factor": "0.5",
            "demand_changes_on_period_boundary": True,
        },
        "source": (
            "发改办价格〔2016〕1583号 §二 as summarised [OK-summary]: hbxmad.com/newdetail-49324.html (新装/增容 users "
            "may 减容/暂停, sealed part free from the sealing day); 20230611.cn/category-6021_7.html (需量 users by "
            "calendar month / reading period); 减容 period limit conflicting (不超过一年 vs 不受时间限制): no check; "
            "times per year kept at 2 [UNVERIFIED whether removed]"
        ),
    },
)


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    ChangeRuleSet = apps.get_model("changes", "ChangeRuleSet")
    for row in RULE_SETS:
        ChangeRuleSet.objects.update_or_create(
            code=row["code"], defaults={k: v for k, v in row.items() if k != "code"}
        )


def unseed(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("changes", "ChangeRuleSet").objects.filter(
        code__in=[r["code"] for r in RULE_SETS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("changes", "0001_service_changes")]

    operations = [migrations.RunPython(seed, unseed)]
