"""一户多人口 tier quota end to end, as a clerk enters it: the tariff file, the onboarding file, readings files
month by month, billing runs, and the quota granted through POST /api/tier-quotas in the middle of the year.
Then the API's refusals (422 with the reason, 404, 403) and ending a quota (POST /api/tier-quotas/{id}/end).

The case (annual tiers, billing-rules-2.md §6.3/§6.5, Guangdong-style default policy): 浙江 annual tiers
2760 / 4800 kWh at 0.538 / 0.588 / 0.838 元/kWh. January 1000, February 1000, March 900 kWh are billed without a
quota: March's position 2000 .. 2900 puts 140 kWh in tier 2. A household of 5 applies on 2026-03-20; the default
policy (5 persons or more, +100 kWh per month on every boundary, from the next month, 2 years) gives +100 from
April, i.e. 9 months = +900 on the 2026 boundaries: 3660 / 5700. April's 1000 kWh start at the kept position
2900: tier 1 up to 3660 (760 kWh), tier 2 240 kWh; March's bill keeps its 140 kWh in tier 2.
"""

from __future__ import annotations

import importlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.application.billing import run as billing
from wattdesk.application.billing.adjustment import rebuild_bill
from wattdesk.application.customers.onboarding import import_accounts
from wattdesk.application.metering.readings_import import import_readings
from wattdesk.application.tariffs.catalog import import_tariff_files
from wattdesk.domain.access import roles
from wattdesk.domain.access.operations import grant_role
from wattdesk.domain.billing.models import Bill, BillLine
from wattdesk.domain.customers.models import HouseholdQuotaPolicy, TierQuotaGrant
from wattdesk.interfaces.api.tokens import create_token

pytestmark = pytest.mark.db

SH = ZoneInfo("Asia/Shanghai")
D = Decimal
JSON = "application/json"
NOW = datetime(2026, 1, 2, 8, 0, tzinfo=SH)
TARIFF = (
    Path(__file__).resolve().parents[3]
    / "src"
    / "wattdesk"
    / "config"
    / "tariffs"
    / "zhejiang-residential-annual.yaml"
)
BJ_TARIFF = (
    Path(__file__).resolve().parents[3]
    / "src"
    / "wattdesk"
    / "config"
    / "tariffs"
    / "beijing-residential-monthly.yaml"
)

ONBOARDING = (
    "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,address,"
    "region,voltage_kv,capacity_kva,pf_standard,meter_serial,registers,tariff_code,tariff_from\n"
    "C1,张家,residential,A1,2025-01-01,SP1,幸福路1号,R1,0.22,8,,M1,active_total,ZJ-RES-TIER,2025-01-01\n"
    "C2,小卖部,commercial,A2,2025-01-01,SP2,幸福路2号,R1,0.22,8,,M2,active_total,ZJ-RES-TIER,2025-01-01\n"
    "C3,李家,residential,A3,2025-01-01,SP3,幸福路3号,R1,0.22,8,,M3,active_total,BJ-RES-TIER,2025-01-01\n"
)
# register values of M1 (A1) on the 25th of each month: Jan 1000, Feb 1000, Mar 900, Apr 1000 kWh
M1_VALUES = {"2025-12-25": 0, "2026-01-25": 1000, "2026-02-25": 2000, "2026-03-25": 2900, "2026-04-25": 3900}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def api_client(role: str) -> Client:
    user = get_user_model().objects.create_user(username=f"u-{role}", password="x")
    grant_role(user=user, role=role)
    token = create_token(username=user.username, name="t", created_at=NOW)
    return Client(headers={"Authorization": f"Bearer {token.secret}"})


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type=JSON)


def read(tmp_path: Path, day: str, rows: list[tuple[str, int]]) -> None:
    text = "meter_serial,register,read_on,value\n" + "".join(f"{m},active_total,{day},{v}\n" for m, v in rows)
    d = date.fromisoformat(day)
    import_readings(
        path=write(tmp_path, f"r-{day}.csv", text),
        as_of=d,
        imported_at=datetime(d.year, d.month, d.day, 18, 0, tzinfo=SH),
    )


def run(period: str) -> None:
    y, m = int(period[:4]), int(period[5:])
    at = datetime(y + (m == 12), m % 12 + 1, 2, 8, 0, tzinfo=SH)
    billing.run_billing(period=period, run_at=at, workers=1)


def tier_lines(account: str, period: str) -> list[tuple[str, Decimal, Decimal]]:
    bill = Bill.objects.get(account__number=account, period=period)
    return [(ln.code, ln.quantity, ln.amount) for ln in BillLine.objects.filter(bill=bill).order_by("seq")]


@pytest.fixture
def county(db: None, tmp_path: Path) -> Path:
    # the documented default policies are data seeded by customers/0005 (re-seeded here in case a transactional
    # test flushed the tables before this one)
    seed = importlib.import_module("wattdesk.domain.customers.migrations.0005_household_quota_policies")
    for row in seed.POLICIES:
        HouseholdQuotaPolicy.objects.get_or_create(
            code=row["code"], effective_from=row["effective_from"], defaults=row
        )
    import_tariff_files(paths=[TARIFF, BJ_TARIFF])
    import_accounts(path=write(tmp_path, "onboarding.csv", ONBOARDING))
    read(tmp_path, "2025-12-25", [("M1", 0), ("M2", 0), ("M3", 0)])
    return tmp_path


def grant_body(**changes: Any) -> dict[str, Any]:
    body = {"account": "A1", "persons": 5, "applied_on": "2026-03-20", "evidence": "户口簿 5人 同一住址"}
    body.update(changes)
    return body


class TestMidYearQuotaOnAnnualTiers:
    def test_april_widens_the_year_and_march_keeps_its_tier_2(self, county: Path) -> None:
        for day, period in (("2026-01-25", "2026-01"), ("2026-02-25", "2026-02"), ("2026-03-25", "2026-03")):
            read(county, day, [("M1", M1_VALUES[day])])
            run(period)
        # March: position 2000 .. 2900 on 2760 / 4800: 760 x 0.538 = 408.88, 140 x 0.588 = 82.32
        march = [("energy.flat.t1", D(760), D("408.88")), ("energy.flat.t2", D(140), D("82.32"))]
        assert tier_lines("A1", "2026-03") == march

        clerk = api_client(roles.BILLING_CLERK)
        r = post(clerk, "/api/tier-quotas", grant_body())
        assert r.status_code == 201, r.content
        body = r.json()
        assert (body["valid_from"], body["valid_to"], body["uplift_kwh"], body["unit"], body["tiers"]) == (
            "2026-04",
            "2028-04",
            "100.0000",
            "per_month",
            "all",
        )
        entry = LogEntry.objects.get(additional_data__batch="customers.tier_quota.grant")
        assert entry.actor is not None and entry.actor.username == "u-billing_clerk"

        read(county, "2026-04-25", [("M1", M1_VALUES["2026-04-25"])])
        run("2026-04")
        # April: boundaries 2760 + 9 x 100 = 3660 and 4800 + 900 = 5700; position 2900 .. 3900:
        #   tier 1: 3660 - 2900 = 760 x 0.538 = 408.88; tier 2: 3900 - 3660 = 240 x 0.588 = 141.12
        lines = tier_lines("A1", "2026-04")
        assert lines[:2] == [("energy.flat.t1", D(760), D("408.88")), ("energy.flat.t2", D(240), D("141.12"))]
        assert lines[2][0] == "note.tier_quota"
        note = BillLine.objects.get(bill__period="2026-04", code="note.tier_quota").description
        assert note == "一户多人口 阶梯电量基数增加 (tier quota): 第1档 +900 kWh, 第2档 +900 kWh"
        assert Bill.objects.get(account__number="A1", period="2026-04").total == D("550.00")
        # the March bill is not re-rated: its 140 kWh stay in tier 2
        assert tier_lines("A1", "2026-03") == march
        # a 退补 rebuilds the April bill with the quota, also after the quota is ended from August (the months
        # before an early end keep the year's uplift as granted)
        april = Bill.objects.get(account__number="A1", period="2026-04")
        assert [u.det.tier_uplift_kwh for u in rebuild_bill(april)] == [(D(900), D(900))]
        grant_id = body["grant_id"]
        ended = post(
            clerk, f"/api/tier-quotas/{grant_id}/end", {"ends_from": "2026-08", "reason": "户籍迁出"}
        )
        assert ended.status_code == 200, ended.content
        assert [u.det.tier_uplift_kwh for u in rebuild_bill(april)] == [(D(900), D(900))]

        listed = clerk.get("/api/tier-quotas?account=A1")
        assert listed.status_code == 200 and [q["valid_from"] for q in listed.json()] == ["2026-04"]

    def test_a_monthly_tier_account_gets_100_in_each_covered_month(self, county: Path) -> None:
        clerk = api_client(roles.BILLING_CLERK)
        r = post(clerk, "/api/tier-quotas", grant_body(account="A3", applied_on="2026-01-10"))
        assert r.status_code == 201, r.content
        assert r.json()["valid_from"] == "2026-02"
        read(county, "2026-01-25", [("M3", 450)])
        read(county, "2026-02-25", [("M3", 900)])
        run("2026-01")
        run("2026-02")
        # January (before the quota), 450 kWh on 240 / 400: 240 x 0.4883 = 117.19; 160 x 0.5383 = 86.13;
        #   50 x 0.7883 = 39.415 -> 39.42
        assert [(c, q) for c, q, _a in tier_lines("A3", "2026-01")] == [
            ("energy.flat.t1", D(240)),
            ("energy.flat.t2", D(160)),
            ("energy.flat.t3", D(50)),
        ]
        # February, 450 kWh on 340 / 500: 340 x 0.4883 = 166.022 -> 166.02; 110 x 0.5383 = 59.213 -> 59.21
        assert tier_lines("A3", "2026-02")[:2] == [
            ("energy.flat.t1", D(340), D("166.02")),
            ("energy.flat.t2", D(110), D("59.21")),
        ]


class TestRefusalsAndEnd:
    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"persons": 4}, "4 persons do not qualify under policy 'default' (at least 5)"),
            (
                {"account": "A2"},
                "A2 is commercial; policy 'default' grants quotas to residential accounts only",
            ),
            ({"policy": "nowhere"}, "no household-quota policy 'nowhere' in force on 2026-03-20"),
            (
                {"persons": 6, "policy": "heilongjiang", "applied_on": "2019-06-01"},
                "no household-quota policy",
            ),
            ({"applied_on": "2999-01-01"}, "applied_on: 2999-01-01 is after the day of the grant"),
        ],
    )
    def test_bad_grants_are_422_with_the_reason(
        self, county: Path, changes: dict[str, Any], reason: str
    ) -> None:
        r = post(api_client(roles.BILLING_CLERK), "/api/tier-quotas", grant_body(**changes))
        assert r.status_code == 422 and reason in r.json()["detail"], r.content
        assert not TierQuotaGrant.objects.exists()

    def test_a_billed_month_and_an_overlap_are_refused(self, county: Path) -> None:
        read(county, "2026-01-25", [("M1", 1000)])
        run("2026-01")
        clerk = api_client(roles.BILLING_CLERK)
        r = post(clerk, "/api/tier-quotas", grant_body(applied_on="2025-12-15"))
        assert r.status_code == 422
        assert (
            "already billed up to 2026-01; a quota changes only unbilled months from 2026-01"
            in r.json()["detail"]
        )
        assert post(clerk, "/api/tier-quotas", grant_body()).status_code == 201
        r = post(clerk, "/api/tier-quotas", grant_body(applied_on="2026-05-02"))
        assert (
            r.status_code == 422
            and "already has a large_household quota from 2026-04 to 2028-04" in r.json()["detail"]
        )

    def test_unknown_account_is_404_and_a_meter_reader_is_403(self, county: Path) -> None:
        assert (
            post(api_client(roles.BILLING_CLERK), "/api/tier-quotas", grant_body(account="A9")).status_code
            == 404
        )
        assert post(api_client(roles.METER_READER), "/api/tier-quotas", grant_body()).status_code == 403

    def test_heilongjiang_seven_persons_get_816_per_year(self, county: Path) -> None:
        r = post(
            api_client(roles.BILLING_CLERK),
            "/api/tier-quotas",
            grant_body(persons=7, policy="heilongjiang", applied_on="2025-12-10"),
        )
        assert r.status_code == 201, r.content
        # (7 - 5) x 408 = 816 kWh per year, on both boundaries, re-verified yearly
        body = r.json()
        assert (body["uplift_kwh"], body["unit"], body["valid_from"], body["valid_to"]) == (
            "816.0000",
            "per_year",
            "2026-01",
            "2027-01",
        )

    def test_ending_a_quota(self, county: Path) -> None:
        clerk = api_client(roles.BILLING_CLERK)
        grant_id = post(clerk, "/api/tier-quotas", grant_body()).json()["grant_id"]
        r = post(clerk, f"/api/tier-quotas/{grant_id}/end", {"ends_from": "2026-04", "reason": "户籍迁出"})
        assert r.status_code == 422 and "not after the quota's first month 2026-04" in r.json()["detail"]
        r = post(clerk, f"/api/tier-quotas/{grant_id}/end", {"ends_from": "2028-04", "reason": "户籍迁出"})
        assert r.status_code == 422 and "not before the quota's end 2028-04" in r.json()["detail"]
        r = post(clerk, f"/api/tier-quotas/{grant_id}/end", {"ends_from": "2026-08", "reason": "户籍迁出"})
        assert r.status_code == 200, r.content
        assert (r.json()["valid_to"], r.json()["ended"], r.json()["end_reason"]) == (
            "2026-08",
            True,
            "户籍迁出",
        )
        again = post(clerk, f"/api/tier-quotas/{grant_id}/end", {"ends_from": "2026-06", "reason": "x"})
        assert again.status_code == 422 and "already ended from 2026-08" in again.json()["detail"]
        entry = LogEntry.objects.get(additional_data__batch="customers.tier_quota.end")
        assert "2028-04" in str(entry.changes) and "2026-08" in str(entry.changes)
        assert (
            post(clerk, "/api/tier-quotas/999999/end", {"ends_from": "2026-08", "reason": "x"}).status_code
            == 404
        )
