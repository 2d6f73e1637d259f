"""Seed the national behaviour list and the 1996 rule set (billing-rules-2.md §5.1, §5.2, §5.4).

Sources (all [OK] in billing-rules-2.md): 1996 《供电营业规则》 Art. 100 items 1, 2, 4, 5 (aolonic.com,
o15.net), Art. 101 behaviours 1-6 (kuaiyichina.com), Art. 102 (×3), Art. 103 (180 days, 12 h / 6 h).
Not seeded: Art. 100 item 3 (超计划分配用电指标, planned-economy language the 2024 revision calls outdated)
and item 6 (引入/供出电源, 500 元/kW: [UNVERIFIED]) — a province adds them as data once checked.
The 2024 rule set is not seeded: its text was not readable (see docs/billing-cases/theft-and-violations.md).
"""

from datetime import date
from decimal import Decimal

from django.db import migrations

ART_101 = "1996《供电营业规则》第一百零一条、第一百零三条"
ART_100 = "1996《供电营业规则》第一百条"

CODES = (
    ("T1", "在供电企业的供电设施上，擅自接线用电", "theft", "unauthorised_connection", ART_101 + "第1项"),
    ("T2", "绕越供电企业用电计量装置用电", "theft", "meter_capacity", ART_101 + "第2项"),
    ("T3", "伪造或者开启供电企业加封的用电计量装置封印用电", "theft", "meter_capacity", ART_101 + "第3项"),
    ("T4", "故意损坏供电企业用电计量装置", "theft", "meter_capacity", ART_101 + "第4项"),
    ("T5", "故意使供电企业用电计量装置不准或者失效", "theft", "meter_capacity", ART_101 + "第5项"),
    ("T6", "采用其他方法窃电", "theft", "meter_capacity", ART_101 + "第6项"),
    ("V1", "在电价低的供电线路上，擅自接用电价高的用电设备或私自改变用电类别", "violation", "reclass",
     ART_100 + "第1项"),
    ("V2", "私自超过合同约定的容量用电", "violation", "over_capacity", ART_100 + "第2项"),
    ("V4", "擅自使用已办理暂停手续的电力设备或启用供电企业封存的电力设备", "violation", "sealed_equipment",
     ART_100 + "第4项"),
    ("V5", "私自迁移、更动和擅自操作供电企业的用电计量装置、电力负荷管理装置、供电设施以及约定由供电企业调度的用户受电设备",
     "violation", "meter_tamper", ART_100 + "第5项"),
)  # fmt: skip


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    Code = apps.get_model("inspection", "BehaviourCode")
    Rules = apps.get_model("inspection", "InspectionRuleSet")
    for code, name, category, method, article in CODES:
        Code.objects.get_or_create(
            code=code, defaults={"name": name, "category": category, "method": method, "article": article}
        )
    Rules.objects.get_or_create(
        code="1996",
        defaults={
            "name": "供电营业规则（1996，电力工业部令第8号）第一百条至第一百零三条",
            "effective_from": date(1996, 10, 8),
            "effective_to": date(2024, 5, 31),
            "source": "billing-rules-2.md §5.1, §5.2 [OK]: Arts 100 (aolonic.com/aa/1dgakw3g5.html, "
            "o15.net/1897645572543682300.html), 101-103 (kuaiyichina.com/ToiletriesBeauty/13474792.html, "
            "85l.net/l/1964993444585318580.html); 改类 3 months × 30 days and 12/6 h: tk.swop.cn/question.php?id=5076399",
            "theft_multiple": Decimal(3),
            "theft_default_days": 180,
            "hours_power": Decimal(12),
            "hours_lighting": Decimal(6),
            "reclass_multiple": Decimal(2),
            "reclass_default_days": 90,
            "over_capacity_multiple": Decimal(3),
            "over_capacity_per_kw": Decimal(50),
            "sealed_multiple": Decimal(2),
            "sealed_per_kw": Decimal(30),
            "tamper_residential": Decimal(500),
            "tamper_other": Decimal(5000),
            "month_days": 30,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("inspection", "0001_inspection_cases")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
