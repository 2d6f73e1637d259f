"""Read-side use case of the customer self-service portal (网上营业厅): plain dataclasses for each screen.

Everything starts from the user: accounts come from ``access.queries.accounts_for(user)`` and bills from
``bills_for(user)``, so a customer can never reach another customer's data through these functions. The
interface passes "today"; nothing here reads the clock.

Money stays ``Decimal`` (the template renders it to the fen); only the chart series carry floats, for plotting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wattdesk.application.billing.run import account_window
from wattdesk.application.tariffs.reference_data import parse_tariff_document
from wattdesk.core.money import round_fen
from wattdesk.core.period import add_months, period_text
from wattdesk.core.tariff import CHINESE_PERIODS, Tariff, Tier
from wattdesk.domain.access.queries import accounts_for, bills_for
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import Account, ServicePoint
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.metering.models import (
    BILLABLE_STATUSES,
    DEMAND_KINDS,
    IntervalFile,
    MeterInstallation,
    RegisterKind,
    RegisterReading,
)
from wattdesk.domain.metering.queries import consumption_by_account, load_intervals
from wattdesk.domain.tariffs.queries import assignment_on, version_in_force

#: Bills a customer sees: issued ones (电费发行). A draft or held bill is still under review: it is neither
#: shown nor payable until it is issued.
VISIBLE_STATUSES = (BillStatus.ISSUED,)
USAGE_MONTHS = 13
TIER_NAMES = tuple(gettext_lazy(n) for n in ("第一档", "第二档", "第三档", "第四档", "第五档"))


class AccountNotFound(LookupError):
    """The requested account is not one of the user's (or the user has none)."""


# --- accounts and bills ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountOption:
    number: str
    address: str


@dataclass(frozen=True)
class BillSummary:
    id: int
    period: str
    start: date
    last_day: date  # inclusive, as printed on a bill
    kwh: Decimal
    total: Decimal
    due_on: date | None
    status: str
    status_label: str


@dataclass(frozen=True)
class PortalHome:
    accounts: tuple[AccountOption, ...]
    account: AccountOption
    current_bill: BillSummary | None
    balance: Decimal  # what the account owes now (+) or has in credit (-), from the ledger


def _option(account: Account, addresses: dict[int, str]) -> AccountOption:
    return AccountOption(number=account.number, address=addresses.get(account.id, ""))


def _addresses(account_ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for acc_id, address in (
        ServicePoint.objects.filter(account_id__in=list(account_ids))
        .order_by("account_id", "number")
        .values_list("account_id", "address")
    ):
        out.setdefault(acc_id, address)
    return out


def account_of(*, user: Any, number: str | None) -> Account:
    """The user's account ``number``, or their first account; AccountNotFound when not theirs / none."""
    qs = accounts_for(user).order_by("number")
    account = qs.filter(number=number).first() if number else qs.first()
    if account is None:
        raise AccountNotFound(number or "")
    return account


def status_label(status: str) -> str:
    """A bill status as every page names it: the model's label (``BillStatus``), in the active language."""
    return str(BillStatus(status).label)


def _summary(bill: Bill) -> BillSummary:
    return BillSummary(
        id=bill.id,
        period=bill.period,
        start=bill.start,
        last_day=bill.end - timedelta(days=1),
        kwh=bill.kwh,
        total=bill.total,
        due_on=bill.due_on,
        status=bill.status,
        status_label=status_label(bill.status),
    )


def visible_bills(*, user: Any) -> QuerySet[Bill]:
    """The bills the portal shows the user (scoped by ``bills_for``), newest period first."""
    return bills_for(user).filter(status__in=VISIBLE_STATUSES).order_by("-period", "-version")


def home(*, user: Any, number: str | None) -> PortalHome:
    account = account_of(user=user, number=number)
    accounts = list(accounts_for(user).order_by("number"))
    addresses = _addresses([a.id for a in accounts])
    latest = visible_bills(user=user).filter(account=account).first()
    return PortalHome(
        accounts=tuple(_option(a, addresses) for a in accounts),
        account=_option(account, addresses),
        current_bill=_summary(latest) if latest is not None else None,
        balance=round_fen(balance(account_id=account.id)),
    )


def bill_history(*, user: Any, number: str | None) -> tuple[AccountOption, tuple[BillSummary, ...]]:
    account = account_of(user=user, number=number)
    bills = visible_bills(user=user).filter(account=account)
    return _option(account, _addresses([account.id])), tuple(_summary(b) for b in bills)


# --- a bill explained --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplainedLine:
    seq: int
    group: str  # 电度电费 / 基本电费 / 功率因数调整 / 政府性基金及附加 / 其他
    label: str  # plain words: "第一档", "峰时段 第二档", the fund's name …
    formula: str  # "80.1 kWh × 0.538 元/kWh"
    amount: Decimal
    description: str  # the line as printed by the rating engine


@dataclass(frozen=True)
class ReadingUsed:
    meter_serial: str
    register: str
    previous_on: date | None
    previous_value: Decimal | None
    current_on: date
    current_value: Decimal
    multiplier: Decimal
    kwh: Decimal | None  # consumption (multiplier applied), as stored with the reading
    estimated: bool


@dataclass(frozen=True)
class BillExplained:
    bill: BillSummary
    account_number: str
    address: str
    lines: tuple[ExplainedLine, ...]
    readings: tuple[ReadingUsed, ...]


def plain(value: Decimal) -> str:
    """A quantity or a unit price without trailing zeros (80.1000 -> 80.1, 0.538000 -> 0.538)."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def _tier_name(code: str) -> str:
    last = code.rsplit(".", 1)[-1]
    if last.startswith("t") and last[1:].isdigit():
        n = int(last[1:])
        return str(TIER_NAMES[n - 1]) if n <= len(TIER_NAMES) else _("第%(n)s档") % {"n": n}
    return ""


def _period_name(key: str) -> str:
    name = CHINESE_PERIODS.get(key)
    return _("%(name)s时段") % {"name": name} if name else key


def _explain_line(line: Any, tou: bool) -> ExplainedLine:
    qty, rate, unit, code, rule = line.quantity, line.rate, line.unit, line.code, line.rule
    amount_txt = f"{line.amount:.2f}"
    if rule.startswith("energy"):
        group = _("电度电费")
        parts = code.split(".")
        label = " ".join(
            x for x in (_period_name(parts[1]) if tou and len(parts) > 1 else "", _tier_name(code)) if x
        )
        label = label or _("电量电费")
        sub = code.rsplit(".", 1)[-1]
        if sub.startswith("sub") and sub[3:].isdigit():  # a 定量定比 sub-use, named by its description
            label = line.description
        formula = f"{plain(qty)} kWh × {plain(rate)} {_('元/kWh')} = {amount_txt} {_('元')}"
    elif rule == "fund":
        group = _("政府性基金及附加")
        label = line.description
        formula = f"{plain(qty)} kWh × {plain(rate)} {_('元/kWh')} = {amount_txt} {_('元')}"
    elif rule.startswith("pf"):
        group = _("功率因数调整")
        label = line.description
        formula = _("调整基数 %(base)s 元 × %(pct)s%% = %(amount)s 元") % {
            "base": f"{qty:.2f}",
            "pct": plain(rate * 100),
            "amount": amount_txt,
        }
    elif rule.startswith("loss"):  # 变损电量 (高供低计): a quantity the energy lines include, not a charge
        group = _("变损电量")
        label = line.description
        formula = _("%(qty)s %(unit)s，已计入计费电量") % {"qty": plain(qty), "unit": unit}
    elif rule.startswith("basic") or rule.startswith("demand"):
        group = _("基本电费")
        label = line.description
        if unit == "元":
            formula = f"{qty:.2f} {_('元')} × {plain(rate)} = {amount_txt} {_('元')}"
        else:
            formula = f"{plain(qty)} {unit} × {plain(rate)} {_('元')}/{unit} = {amount_txt} {_('元')}"
    else:
        group = _("其他")
        label = line.description
        formula = f"{plain(qty)} {unit} × {plain(rate)} {_('元')} = {amount_txt} {_('元')}"
    return ExplainedLine(
        seq=line.seq,
        group=group,
        label=label,
        formula=formula,
        amount=line.amount,
        description=line.description,
    )


def _register_label(kind: str) -> str:
    labels = {
        RegisterKind.ACTIVE_TOTAL: _("有功总"),
        RegisterKind.ACTIVE_CRITICAL: _("有功尖峰"),
        RegisterKind.ACTIVE_PEAK: _("有功峰"),
        RegisterKind.ACTIVE_FLAT: _("有功平"),
        RegisterKind.ACTIVE_VALLEY: _("有功谷"),
        RegisterKind.ACTIVE_DEEP_VALLEY: _("有功深谷"),
        RegisterKind.REACTIVE: _("无功"),
    }
    return str(labels.get(kind, kind))  # type: ignore[call-overload]


def readings_used(*, bill: Bill) -> tuple[ReadingUsed, ...]:
    """The billable readings dated in the bill's period on the meters installed at the account's service
    points, each with the reading before it on the same register (previous / current / multiplier)."""
    meter_ids = list(
        MeterInstallation.objects.filter(service_point__account_id=bill.account_id).values_list(
            "meter_id", flat=True
        )
    )
    fields = ("register_id", "register__kind", "register__meter__serial", "register__meter__multiplier")
    current = list(
        RegisterReading.objects.filter(
            register__meter_id__in=meter_ids,
            status__in=BILLABLE_STATUSES,
            read_on__gte=bill.start,
            read_on__lt=bill.end,
        )
        .exclude(register__kind__in=DEMAND_KINDS)  # maxima, not advances (max_demand and per-TOU-period)
        .order_by("register__meter__serial", "register__kind", "read_on")
        .values_list(*fields, "read_on", "value", "consumption", "source")
    )
    out: list[ReadingUsed] = []
    for reg_id, kind, serial, multiplier, read_on, value, consumption, source in current:
        prev = (
            RegisterReading.objects.filter(
                register_id=reg_id, status__in=BILLABLE_STATUSES, read_on__lt=read_on
            )
            .order_by("-read_on")
            .values_list("read_on", "value")
            .first()
        )
        out.append(
            ReadingUsed(
                meter_serial=serial,
                register=_register_label(kind),
                previous_on=prev[0] if prev else None,
                previous_value=prev[1] if prev else None,
                current_on=read_on,
                current_value=value,
                multiplier=multiplier,
                kwh=consumption,
                estimated=source == "estimated",
            )
        )
    return tuple(out)


def explain_bill(*, bill: Bill) -> BillExplained:
    """``bill`` must come from a scoped queryset (``visible_bills(user=...)``)."""
    lines = list(bill.lines.order_by("seq"))
    energy_periods = {
        ln.code.split(".")[1] for ln in lines if ln.rule.startswith("energy") and "." in ln.code
    }
    tou = len(energy_periods) > 1
    return BillExplained(
        bill=_summary(bill),
        account_number=bill.account.number,
        address=_addresses([bill.account_id]).get(bill.account_id, ""),
        lines=tuple(_explain_line(ln, tou) for ln in lines),
        readings=readings_used(bill=bill),
    )


# --- usage -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthUsage:
    period: str
    kwh: Decimal
    source: str  # "bill" (kWh of the issued bill) or "readings" (validated readings of the window)


@dataclass(frozen=True)
class Usage:
    account: AccountOption
    months: tuple[MonthUsage, ...]  # oldest first
    interval: bool  # the account has interval (load) data
    daily_month: str | None  # the latest month with interval data
    days: tuple[tuple[date, float], ...]  # daily kWh of daily_month (plotting only)
    day: date | None  # the day shown hourly (default: the latest day with data)
    hours: tuple[float, ...]  # 24 hourly kWh of ``day`` (plotting only)


def monthly_usage(*, account: Account, today: date, months: int = USAGE_MONTHS) -> tuple[MonthUsage, ...]:
    """kWh of the account's latest ``months`` complete billing windows (ending on or before ``today``): the
    kWh of the issued bill where there is one, else the validated readings of the window."""
    latest_start, latest_end = account_window(today.year, today.month, account.billing_day)
    while latest_end > today:
        latest_start = add_months(latest_start, -1)
        latest_end = add_months(latest_start, 1)
    starts = [add_months(latest_start, -i) for i in range(months - 1, -1, -1)]
    billed = dict(
        Bill.objects.filter(
            account=account, status__in=VISIBLE_STATUSES, period__in=[period_text(s) for s in starts]
        ).values_list("period", "kwh")
    )
    out: list[MonthUsage] = []
    for s in starts:
        p = period_text(s)
        if p in billed:
            out.append(MonthUsage(period=p, kwh=billed[p], source="bill"))
            continue
        usage = consumption_by_account(period_start=s, period_end=add_months(s, 1), account_ids=[account.id])
        kwh = sum((u.kwh for u in usage.values()), Decimal(0))
        out.append(MonthUsage(period=p, kwh=kwh, source="readings"))
    return tuple(out)


def _interval_meter_ids(account: Account) -> list[int]:
    meter_ids = MeterInstallation.objects.filter(service_point__account=account).values_list(
        "meter_id", flat=True
    )
    return sorted(
        set(IntervalFile.objects.filter(meter_id__in=list(meter_ids)).values_list("meter_id", flat=True))
    )


def _local(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=ZoneInfo(settings.TIME_ZONE))


def daily_kwh(*, account: Account, month_start: date) -> tuple[tuple[date, float], ...]:
    """kWh per day of the month starting ``month_start`` from the account's interval data."""
    meters = _interval_meter_ids(account)
    frame = load_intervals(
        start=_local(month_start), end=_local(add_months(month_start, 1)), meter_ids=meters
    )
    if frame.is_empty():
        return ()
    days = frame.group_by(pl.col("timestamp").dt.date().alias("day")).agg(pl.col("kwh").sum()).sort("day")
    return tuple((d, round(float(k), 3)) for d, k in days.iter_rows())


def hourly_kwh(*, account: Account, day: date) -> tuple[float, ...]:
    """24 values: kWh per hour of ``day`` (local wall clock) from the account's interval data."""
    meters = _interval_meter_ids(account)
    frame = load_intervals(start=_local(day), end=_local(day + timedelta(days=1)), meter_ids=meters)
    hours = [0.0] * 24
    for hour, kwh in (
        frame.group_by(pl.col("timestamp").dt.hour().alias("h")).agg(pl.col("kwh").sum()).iter_rows()
    ):
        hours[hour] = round(float(kwh), 3)
    return tuple(hours)


def latest_interval_day(*, account: Account) -> date | None:
    latest = IntervalFile.objects.filter(meter_id__in=_interval_meter_ids(account)).order_by("-end").first()
    if latest is None:
        return None
    return latest.end.astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def usage(*, user: Any, number: str | None, today: date, day: date | None = None) -> Usage:
    account = account_of(user=user, number=number)
    months = monthly_usage(account=account, today=today)
    latest = latest_interval_day(account=account)
    if latest is None:
        return Usage(_option(account, _addresses([account.id])), months, False, None, (), None, ())
    month_start = latest.replace(day=1)
    days = daily_kwh(account=account, month_start=month_start)
    shown = day or (days[-1][0] if days else latest)
    return Usage(
        account=_option(account, _addresses([account.id])),
        months=months,
        interval=True,
        daily_month=period_text(month_start),
        days=days,
        day=shown,
        hours=hourly_kwh(account=account, day=shown),
    )


def hourly(*, user: Any, number: str | None, day: date) -> tuple[float, ...]:
    return hourly_kwh(account=account_of(user=user, number=number), day=day)


# --- the tariff in force -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierRow:
    name: str
    lower: Decimal
    upper: Decimal | None  # None = no limit
    rate: Decimal


@dataclass(frozen=True)
class PeriodRow:
    name: str
    tiers: tuple[TierRow, ...]
    weekday_hours: str  # "08:00–22:00" ranges on a working day, this month
    weekend_hours: str


@dataclass(frozen=True)
class TariffExplained:
    service_point: str
    address: str
    code: str
    name: str
    version: str
    effective_from: date
    tier_unit: str  # kWh/月, kWh/年, kWh/kW
    tou: bool
    periods: tuple[PeriodRow, ...]
    funds: tuple[tuple[str, Decimal], ...]
    fixed: tuple[tuple[str, Decimal, str], ...]
    basic: str
    pf_standard: Decimal | None


def _tiers(tiers: Sequence[Tier]) -> tuple[TierRow, ...]:
    out = []
    lower = Decimal(0)
    for i, t in enumerate(tiers):
        name = str(TIER_NAMES[i]) if len(tiers) > 1 and i < len(TIER_NAMES) else ""
        out.append(TierRow(name=name, lower=lower, upper=t.upto, rate=t.rate))
        lower = t.upto if t.upto is not None else lower
    return tuple(out)


def hour_ranges(hours: Sequence[int], period: int) -> str:
    """'08:00–22:00' style ranges of the day's slots (24 hours, or 48 half-hours: '08:30–22:30') whose period
    index is ``period``."""
    n = len(hours)
    width = 1440 // n if n else 60
    ranges: list[tuple[int, int]] = []
    for h, p in enumerate(hours):
        if p != period:
            continue
        if ranges and ranges[-1][1] == h:
            ranges[-1] = (ranges[-1][0], h + 1)
        else:
            ranges.append((h, h + 1))
    if len(ranges) > 1 and ranges[0][0] == 0 and ranges[-1][1] == n:  # wraps midnight: 22:00–08:00
        first = ranges.pop(0)
        ranges[-1] = (ranges[-1][0], first[1])

    def clock(slot: int) -> str:
        minutes = slot * width % 1440
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    return "、".join(f"{clock(a)}–{clock(b)}" for a, b in ranges)


def _explain_tariff(tariff: Tariff, month: int) -> tuple[str, bool, tuple[PeriodRow, ...]]:
    energy = tariff.energy
    unit = {"monthly": _("kWh/月"), "annual": _("kWh/年"), "kwh_per_kw": _("kWh/kW")}[energy.tier_basis]
    tou = len(energy.periods) > 1
    rows = []
    for i, period in enumerate(energy.periods):
        wd = hour_ranges(energy.schedule.table[0][month - 1], i)
        we = hour_ranges(energy.schedule.table[1][month - 1], i)
        name = CHINESE_PERIODS.get(period.key, period.name) if tou else _("全天")
        rows.append(PeriodRow(name=name, tiers=_tiers(period.tiers), weekday_hours=wd, weekend_hours=we))
    return unit, tou, tuple(rows)


def tariffs(*, user: Any, number: str | None, on: date) -> tuple[AccountOption, tuple[TariffExplained, ...]]:
    """The tariff each of the account's service points is on, in the version in force on ``on``."""
    account = account_of(user=user, number=number)
    out = []
    for sp in ServicePoint.objects.filter(account=account).order_by("number"):
        assignment = assignment_on(service_point_id=sp.id, on=on)
        if assignment is None:
            continue
        version = version_in_force(code=assignment.tariff_code, on=on)
        if version is None:
            continue
        tariff = parse_tariff_document(doc=version.document, name=version.code).tariff
        unit, tou, periods = _explain_tariff(tariff, on.month)
        basic = ""
        if tariff.basic is not None:
            per = _("元/kVA·月") if tariff.basic.method == "capacity" else _("元/kW·月")
            basic = f"{plain(tariff.basic.rate)} {per}"
        out.append(
            TariffExplained(
                service_point=sp.number,
                address=sp.address,
                code=version.code,
                name=version.name,
                version=version.version,
                effective_from=version.effective_from,
                tier_unit=unit,
                tou=tou,
                periods=periods,
                funds=tuple(
                    (f.name, f.rate) for f in tariff.funds if tariff.customer_class not in f.exempt_classes
                ),
                fixed=tuple((f.name, f.amount, f.per) for f in tariff.fixed),
                basic=basic,
                pf_standard=tariff.power_factor.standard if tariff.power_factor is not None else None,
            )
        )
    return _option(account, _addresses([account.id])), tuple(out)


def group_lines(lines: Sequence[ExplainedLine]) -> list[tuple[str, list[ExplainedLine]]]:
    """Lines grouped by ``group``, in order of first appearance."""
    groups: dict[str, list[ExplainedLine]] = defaultdict(list)
    for ln in lines:
        groups[ln.group].append(ln)
    return list(groups.items())
