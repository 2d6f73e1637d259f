"""The one set of display filters every page uses for numbers, times and stored codes.

    {% load fmt %}
    {{ bill.total|money }}          12,345.67        amounts: 2 decimals, thousands separators
    {{ bill.kwh|kwh }}              1,197,305.91     energy: 2 decimals, thousands separators
    {{ sp.capacity_kva|qty }}       315              capacities, voltages, multipliers: no trailing zeros
    {{ r.value|reading }}           254,208.61       register readings: at least 2 decimals, none lost
    {{ total|big }}                 104.51万 (zh)    dashboard figures: 万 / 亿 in Chinese, K / M / B in English
    {{ entry.posted_at|when }}      2026-11-02 09:00 any datetime in the company's time zone (settings.TIME_ZONE)
    {{ value|local_times }}         free text (audit values, records): ISO / UTC times rewritten to local time
    {{ bill.hold_reason|hold_reason }}   the stored hold reason / review record, through the catalogs
    {{ code|label:"register_kind" }}     a stored code printed with its label (model choices ``CHOICES`` or ``CODES``)
    {% icon "menu-2" %}             an SVG icon from WattDesk's own sprite (interfaces/web/icons.py)

Numbers are formatted from the exact Decimal (no float), rounded half-up like the bill. ``None`` and ``""``
print as "—". A value that is not a number is printed as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.db import models
from django.templatetags.static import static
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wattdesk.application.billing.hold import HoldReason, parse_review_record
from wattdesk.core.money import FEN
from wattdesk.domain.billing.models import BillingRunStatus, BillStatus
from wattdesk.domain.customers.models import AccountStatus, CustomerClass, CustomerKind, VoltageLevel
from wattdesk.domain.dunning.models import ActionKind, Channel, OutboxStatus
from wattdesk.domain.ledger.models import LedgerEntryKind
from wattdesk.domain.metering.models import ReadingSource, ReadingStatus, RegisterKind, Severity
from wattdesk.domain.outlets.models import OutletKind
from wattdesk.domain.payments.models import PaymentStatus
from wattdesk.interfaces.web.icons import ICONS, SPRITE_STATIC_PATH

register = template.Library()

DASH = "—"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    try:
        d = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _grouped(d: Decimal, places: int | None) -> str:
    """``d`` with thousands separators; ``places`` fixed decimals (half-up), or None to keep its own digits."""
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if d < 0 else ""  # -0.00 after rounding prints as 0.00
    text = format(abs(d), "f")
    whole, _sep, frac = text.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + ",".join(groups) + (f".{frac}" if frac else "")


def format_fixed(value: Any, places: int = 2) -> str:
    d = _decimal(value)
    if d is None:
        return DASH if value is None or value == "" else str(value)
    return _grouped(d, places)


def format_qty(value: Any) -> str:
    """No trailing zeros, no exponent: 315.000 -> 315, 0.2200 -> 0.22, 1E+2 -> 100."""
    d = _decimal(value)
    if d is None:
        return DASH if value is None or value == "" else str(value)
    if d == d.to_integral_value():
        return _grouped(d.quantize(Decimal(1)), None)
    return _grouped(d.normalize(), None)


def format_reading(value: Any) -> str:
    """At least 2 decimals, more only when the reading has them (254208.6100 -> 254,208.61; 1.2345 kept)."""
    d = _decimal(value)
    if d is None:
        return DASH if value is None or value == "" else str(value)
    if d == d.quantize(FEN):
        return _grouped(d, 2)
    return _grouped(d.normalize(), None)


#: (from, divisor, suffix), largest first; Chinese counts in 万 (10^4) and 亿 (10^8).
_BIG_UNITS = {
    "zh": ((Decimal(10) ** 8, Decimal(10) ** 8, "亿"), (Decimal(10) ** 4, Decimal(10) ** 4, "万")),
    "en": (
        (Decimal(10) ** 9, Decimal(10) ** 9, "B"),
        (Decimal(10) ** 6, Decimal(10) ** 6, "M"),
        (Decimal(10) ** 4, Decimal(10) ** 3, "K"),  # 9,999 stays plain, 12,345 is 12.35K
    ),
}


def big_unit(value: Decimal, language: str | None = None) -> tuple[Decimal, str]:
    """``(divisor, suffix)`` that :func:`format_big` writes ``value`` in: ``(10000, "万")``, ``(1000, "K")``…;
    ``(1, "")`` below 10,000. A chart axis takes the unit of its largest value (``big_axis_unit``)."""
    lang = (language or translation.get_language() or "zh-hans").lower()
    for threshold, divisor, suffix in _BIG_UNITS["zh" if lang.startswith("zh") else "en"]:
        if abs(value) >= threshold:
            return divisor, suffix
    return Decimal(1), ""


def big_axis_unit(values: Iterable[Any], language: str | None = None) -> dict[str, Any]:
    """The unit of a chart axis, as ``{"divisor": 10000, "suffix": "万"}`` for the chart option
    (``static/web/charts.js`` formats the axis labels with it): the unit ``big`` shows the axis's largest
    absolute value in, so the labels read like the figures on the cards."""
    decimals = [d for d in (_decimal(v) for v in values) if d is not None]
    divisor, suffix = big_unit(max((abs(d) for d in decimals), default=Decimal(0)), language)
    return {"divisor": int(divisor), "suffix": suffix}


def format_big(value: Any, language: str | None = None, places: int = 2) -> str:
    """A large figure in 万 / 亿 (Chinese) or K / M / B (English); below 10,000 the plain number (2 decimals
    for a fraction, none for a whole count)."""
    d = _decimal(value)
    if d is None:
        return DASH if value is None or value == "" else str(value)
    divisor, suffix = big_unit(d, language)
    if suffix:
        return _grouped(d / divisor, places) + suffix
    return _grouped(d, 0 if d == d.to_integral_value() else places)


def local(value: datetime) -> datetime:
    """An aware datetime in the company's time zone (settings.TIME_ZONE, whatever the request activated); a
    naive one is taken as UTC (how Django and the audit log store times)."""
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return timezone.localtime(value, timezone.get_default_timezone())


def format_when(value: Any, seconds: bool = False) -> str:
    if value is None or value == "":
        return DASH
    if isinstance(value, str):
        parsed = _parse_iso(value)
        if parsed is None:
            return value
        value = parsed
    if isinstance(value, datetime):
        return local(value).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    return str(value)


_ISO_TIME = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?P<seconds>:\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?(?![\d:])"
)


def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def format_local_times(text: Any) -> str:
    """Every date-time inside ``text`` rewritten in the company's time zone (naive ones are UTC: Django and the
    audit log store times in UTC), to the second when the original had seconds."""
    if text is None:
        return ""

    def repl(m: re.Match[str]) -> str:
        parsed = _parse_iso(m.group(0))
        if parsed is None:
            return m.group(0)
        return format_when(parsed, seconds=m.group("seconds") is not None)

    return _ISO_TIME.sub(repl, str(text))


# --- stored codes ---------------------------------------------------------------------------------------


def describe_hold_reason(reason: HoldReason) -> str:
    p = reason.params
    if reason.code == "negative":
        return _("负数电费 %(total)s 元（退费账单）") % {"total": format_fixed(p["total"])}
    if reason.code == "new_account":
        return _("新装户：电费 %(total)s 元，超过%(cls)s首期限额 %(limit)s 元") % {
            "total": format_fixed(p["total"]),
            "limit": format_fixed(p["limit"]),
            "cls": choice_label(p["customer_class"], "customer_class"),
        }
    values = {
        "total": format_fixed(p["total"]),
        "median": format_fixed(p["median"]),
        "ratio": format_qty(p["ratio"]),
        "n": p["bills"],
    }
    if reason.code == "high":
        return _("电费异常偏高：%(total)s 元，超过近 %(n)s 期中位数 %(median)s 元的 %(ratio)s 倍") % values
    return _("电费异常偏低：%(total)s 元，低于近 %(n)s 期中位数 %(median)s 元的 %(ratio)s 倍") % values


def describe_review_record(text: Any) -> str:
    """``Bill.hold_reason`` for people: the reason through the catalogs, an approval with its local time."""
    if not text:
        return ""
    record = parse_review_record(str(text))
    reason = describe_hold_reason(record.reason) if record.reason else record.reason_text
    if record.approved_at is None:
        return reason
    return _("%(when)s 审核通过（原挂起原因：%(reason)s）") % {
        "when": format_when(record.approved_at),
        "reason": reason,
    }


#: stored code families a page may print with ``|label:"<name>"``; each is a model's choices, translated.
CHOICES: dict[str, type[models.TextChoices]] = {
    "bill_status": BillStatus,
    "run_status": BillingRunStatus,
    "customer_class": CustomerClass,
    "customer_kind": CustomerKind,
    "account_status": AccountStatus,
    "voltage_level": VoltageLevel,
    "register_kind": RegisterKind,
    "reading_source": ReadingSource,
    "reading_status": ReadingStatus,
    "severity": Severity,
    "outlet_kind": OutletKind,
    "outbox_status": OutboxStatus,
    "dunning_action": ActionKind,
    "dunning_channel": Channel,
    "ledger_kind": LedgerEntryKind,
    "payment_status": PaymentStatus,
}


#: stored codes that have no model choices: Chinese msgids (page-code convention), translated by locale/en.
CODES: dict[str, dict[str, Any]] = {
    # why a billing run did not bill an account (BillingRun.counts["skipped"], NotBillable.code)
    "skip_reason": {
        "not_in_service": gettext_lazy("未在供电（未立户或已销户）"),
        "reading_exception": gettext_lazy("有未处理的抄表异常"),
        "already_billed": gettext_lazy("本期已有有效账单"),
        "tariff_error": gettext_lazy("电价文件有误"),
        "no_readings": gettext_lazy("本期无可计费示数"),
        "no_tariff": gettext_lazy("期初无执行电价"),
        "no_tariff_version": gettext_lazy("执行电价在期初无有效版本"),
        "rating_error": gettext_lazy("计费出错"),
        "tou_registers": gettext_lazy("分时计度器示数不全"),
        "negative_usage": gettext_lazy("有效电量为负"),
        "no_demand_reading": gettext_lazy("按需量计费但未抄最大需量"),
        "tou_demand": gettext_lazy("分时需量电费需要负荷曲线数据"),
        "no_capacity": gettext_lazy("按容量计基本电费但用电点无合同容量"),
        "segmented_annual_tiers": gettext_lazy("年阶梯电价暂不支持期中变更分段计费"),
        "segmented_sub_use": gettext_lazy("计入功率因数调整基数的定量定比暂不支持期中变更分段计费"),
        "no_change_rules": gettext_lazy("期初无有效的变更用电规则"),
    },
    # VEE checks (wattdesk.core.vee.Check, ReadingException.check_code)
    "vee_check": {
        "negative_advance": gettext_lazy("示数倒走"),
        "rollover": gettext_lazy("表码翻转"),
        "meter_exchange": gettext_lazy("换表"),
        "zero_consumption": gettext_lazy("零电量"),
        "spike": gettext_lazy("电量突增"),
        "estimated": gettext_lazy("估抄"),
        "true_up": gettext_lazy("估抄后实抄校正"),
        "reactive_without_active": gettext_lazy("有无功电量无有功电量"),
        "demand_above_capacity": gettext_lazy("最大需量超过合同容量"),
    },
    # tariff document vocabulary (wattdesk.core.tariff, docs/tariffs.md)
    "tier_basis": {
        "monthly": gettext_lazy("按月"),
        "annual": gettext_lazy("按年"),
        "kwh_per_kw": gettext_lazy("按每 kW 用电量"),
    },
    "proration": {"average_month": gettext_lazy("按平均月折算"), "none": gettext_lazy("不折算")},
    "rounding": {"per_line": gettext_lazy("逐项舍入到分"), "per_bill": gettext_lazy("整单舍入到分")},
    "calendar_semantics": {"real": gettext_lazy("实际日历"), "pysam": gettext_lazy("PySAM 日历")},
    "charge_per": {"month": gettext_lazy("月"), "day": gettext_lazy("日"), "year": gettext_lazy("年")},
    "excess_reading": {
        "excess_over_105": gettext_lazy("超过合同需量 105% 的部分"),
        "excess_over_contract": gettext_lazy("超过合同需量的部分"),
    },
    # audit log actions (domain.audit.action_label)
    "audit_action": {
        "create": gettext_lazy("新增"),
        "update": gettext_lazy("修改"),
        "delete": gettext_lazy("删除"),
        "access": gettext_lazy("查看"),
    },
    # the batch actions of audit.record_batch ("batch bills.issue" -> 批量操作 电费发行)
    "batch_action": {
        "adjustments.approve": gettext_lazy("退补单审批"),
        "adjustments.cancel": gettext_lazy("退补单作废"),
        "adjustments.create": gettext_lazy("新建退补单"),
        "adjustments.issue": gettext_lazy("退补单发行"),
        "bank.export": gettext_lazy("银行代扣文件导出"),
        "bank.import": gettext_lazy("银行回盘导入"),
        "billing.run": gettext_lazy("电费核算"),
        "billing.run.restart": gettext_lazy("电费核算重算"),
        "billing.run.resume": gettext_lazy("电费核算续算"),
        "bills.approve": gettext_lazy("账单审核通过"),
        "bills.cancel": gettext_lazy("账单作废"),
        "bills.hold": gettext_lazy("账单转待审核"),
        "bills.issue": gettext_lazy("电费发行"),
        "changes.record": gettext_lazy("登记用电变更"),
        "collection.assign_collector": gettext_lazy("指派催费员"),
        "collection.assign_reader": gettext_lazy("指派抄表员"),
        "collection.remove_reader": gettext_lazy("撤销抄表员"),
        "collection.end_collector": gettext_lazy("结束催费员指派"),
        "counter.close_approve": gettext_lazy("柜台日结审批"),
        "counter.reprint": gettext_lazy("票据重打"),
        "customers.onboard": gettext_lazy("新装立户"),
        "customers.tier_quota.grant": gettext_lazy("核增阶梯电量基数"),
        "customers.tier_quota.end": gettext_lazy("终止阶梯电量基数核增"),
        "dunning.approve": gettext_lazy("停电审批"),
        "dunning.cancel_disconnection": gettext_lazy("撤销停电"),
        "dunning.execute": gettext_lazy("执行停电"),
        "dunning.run": gettext_lazy("催费运行"),
        "fee_control.run": gettext_lazy("费控运行"),
        "gateway.expire": gettext_lazy("支付订单过期"),
        "gateway.paid": gettext_lazy("在线支付到账"),
        "gateway.reconcile": gettext_lazy("支付对账"),
        "inspection.open": gettext_lazy("用电检查立案"),
        "inspection.compute": gettext_lazy("用电检查计算"),
        "inspection.approve": gettext_lazy("用电检查审批"),
        "inspection.post": gettext_lazy("用电检查入账"),
        "inspection.reject": gettext_lazy("用电检查驳回"),
        "inspection.reverse": gettext_lazy("用电检查冲正"),
        "late_fees.accrue": gettext_lazy("计收违约金"),
        "ledger.waive": gettext_lazy("减免"),
        "ledger.waive_request": gettext_lazy("申请减免"),
        "ledger.waive_approve": gettext_lazy("减免审批通过"),
        "ledger.waive_reject": gettext_lazy("减免驳回"),
        "metering.customer_transformer": gettext_lazy("登记用户变压器"),
        "metering.customer_transformer_end": gettext_lazy("停用用户变压器"),
        "metering.loss_table": gettext_lazy("变损表"),
        "metering.transformer_model": gettext_lazy("变压器型号参数"),
        "payments.batch": gettext_lazy("批量收费"),
        "payments.post": gettext_lazy("收费"),
        "payments.reverse": gettext_lazy("收费冲正"),
        "readings.accept": gettext_lazy("确认原表码"),
        "readings.correct": gettext_lazy("更正表码"),
        "readings.estimate": gettext_lazy("估抄"),
        "readings.field_check": gettext_lazy("派现场核查"),
        "readings.correct.approve": gettext_lazy("表码更正审批通过"),
        "readings.correct.reject": gettext_lazy("表码更正驳回"),
        "readings.import": gettext_lazy("抄表数据导入"),
        "readings.opening": gettext_lazy("录入起始表码"),
        "simulation.start": gettext_lazy("电价调整测算"),
        "synth.collection": gettext_lazy("生成样例催收数据"),
        "synth.payments": gettext_lazy("生成样例缴费数据"),
        "tariffs.reassign": gettext_lazy("更改电价"),
        "tariffs.sub_use.create": gettext_lazy("新增定量定比协议"),
        "tariffs.sub_use.end": gettext_lazy("终止定量定比协议"),
    },
}


def choice_label(code: Any, family: str) -> str:
    """The translated label of ``code`` in a choice family, without the Chinese hint in the English UI and
    without the English words in the Chinese one ("active energy, total (有功总)" -> 有功总 / active energy,
    total). An unknown code is printed as it is."""
    if family in CODES:
        text = str(code) if code is not None else ""
        if family == "audit_action" and text.startswith("batch "):
            name = text.removeprefix("batch ")
            return _("批量操作 %(name)s") % {"name": CODES["batch_action"].get(name, name)}
        found = CODES[family].get(text)
        return str(found) if found is not None else (text or DASH)
    choices = CHOICES[family]
    try:
        label = str(choices(code).label)
    except ValueError:
        return DASH if code is None or code == "" else str(code)
    return _strip_hint(label)


_HINT = re.compile(
    r"^(?P<en>[^()（）]*?[A-Za-z][^()（）]*?)\s*[（(](?P<zh>[^()（）]*[\u3400-\u9fff][^()（）]*)[)）]$"
)


def _strip_hint(label: str) -> str:
    """ "english (中文)" -> the half in the current language (a label that is already one language is kept)."""
    m = _HINT.match(label)
    if m is None:
        return label
    lang = (translation.get_language() or "zh-hans").lower()
    return m.group("zh") if lang.startswith("zh") else m.group("en")


# --- registration ---------------------------------------------------------------------------------------


@register.filter
def money(value: Any) -> str:
    return format_fixed(value, 2)


@register.filter
def kwh(value: Any) -> str:
    return format_fixed(value, 2)


@register.filter
def qty(value: Any) -> str:
    return format_qty(value)


@register.filter
def reading(value: Any) -> str:
    return format_reading(value)


@register.filter
def big(value: Any) -> str:
    return format_big(value)


@register.filter
def when(value: Any, arg: str = "") -> str:
    return format_when(value, seconds=arg == "s")


@register.filter
def local_times(value: Any) -> str:
    return format_local_times(value)


@register.filter
def hold_reason(value: Any) -> str:
    return describe_review_record(value)


@register.filter
def label(value: Any, family: str) -> str:
    return choice_label(value, family)


@register.simple_tag
def icon(name: str) -> str:
    """An inline ``<svg>`` that uses one symbol of the static sprite; an unknown name renders nothing."""
    if name not in ICONS:
        return ""
    return format_html(
        '<svg class="icon" aria-hidden="true" focusable="false"><use href="{}#{}"></use></svg>',
        static(SPRITE_STATIC_PATH),
        name,
    )


@register.filter
def row_error(error: Any) -> str:
    """An import's row error in the page's language (``interfaces.web.errors.row_error_message``)."""
    from wattdesk.interfaces.web.errors import row_error_message

    return row_error_message(error)
