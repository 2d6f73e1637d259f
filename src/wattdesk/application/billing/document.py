"""The bill document (电费通知单 / 电费账单): everything a printed Chinese electricity bill shows, and its PDF.

Public API (used by the back office and by the customer portal — keep it stable):

    doc = bill_document(bill_id=42)      # -> BillDocument (plain frozen dataclasses, Decimals)
    pdf = render_pdf(doc)                # -> bytes of an A4 PDF (starts with b"%PDF")

``bill_document`` does not check who may see the bill: the interface fetches the bill through the scoped
queryset (``domain.access.queries.bills_for(user)``) first and passes its id. It raises ``BillNotFound``
for an unknown id.

Fetch, then assemble: a fixed number of queries (bill + account + customer, lines, service points, the
readings dated in the bill's period with their previous readings, the account's balance); no rounding is
done here — amounts are the bill's own (``core.money.round_fen`` already applied by the run).

What the document carries (and where it comes from):
  issuer header / hotline / payment channels  settings.WATTDESK_BILL_* (per deployment)
  customer, account, service addresses         customers.*
  meter readings per register                  metering.RegisterReading dated in [start, end): previous
                                               billable reading of the register, current, 倍率, consumption
  kWh by TOU period, tier lines, prices        the bill's energy lines (code ``energy.<period>[.tN]``)
  basic charge / PF adjustment / funds / other the bill's lines by rule (``basic.*``, ``pf.*``, ``fund``, …)
  total, 大写金额                               Bill.total, ``core.chinese_numerals.amount_in_words``
  due date, balance                            Bill.due_on, ``domain.ledger.queries.balance``

The PDF uses reportlab's built-in CID font ``STSong-Light`` (Adobe-GB1), so no font file is shipped or needed
(intranet installations); figures are set in Helvetica.
"""

from __future__ import annotations

import io
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import F, Q
from django.utils import translation

from wattdesk.application.billing.run import BillNotFound
from wattdesk.core.chinese_numerals import amount_in_words
from wattdesk.domain.billing.models import Bill, BillLine, BillStatus
from wattdesk.domain.customers.models import ServicePoint
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.metering.models import BILLABLE_STATUSES, RegisterKind, RegisterReading

__all__ = [
    "BillDocument",
    "BillNotFound",
    "DocLine",
    "Issuer",
    "MeterReadingRow",
    "PeriodKwh",
    "ServiceAddress",
    "bill_document",
    "render_pdf",
]

ZERO = Decimal(0)
_PF_RE = re.compile(r"(?:实际|PF )(\d+(?:\.\d+)?)")

REGISTER_LABELS: dict[str, str] = {
    RegisterKind.ACTIVE_TOTAL: "有功总",
    RegisterKind.ACTIVE_PEAK: "有功峰",
    RegisterKind.ACTIVE_FLAT: "有功平",
    RegisterKind.ACTIVE_VALLEY: "有功谷",
    RegisterKind.ACTIVE_CRITICAL: "有功尖峰",
    RegisterKind.ACTIVE_DEEP_VALLEY: "有功深谷",
    RegisterKind.REACTIVE: "无功",
    RegisterKind.MAX_DEMAND: "最大需量",
    # per-TOU-period maximum demand (metering TOU_DEMAND_KINDS)
    "max_demand_critical": "最大需量尖峰",
    "max_demand_peak": "最大需量峰",
    "max_demand_flat": "最大需量平",
    "max_demand_valley": "最大需量谷",
    "max_demand_deep_valley": "最大需量深谷",
}


def status_label(code: str) -> str:
    """The bill status as every page names it: the model's label (``BillStatus``), in the deployment's language
    (``settings.LANGUAGE_CODE``, Chinese by default) like the rest of the printed bill."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(BillStatus(code).label)


CLASS_LABELS = {
    "residential": "居民生活",
    "commercial": "一般工商业",
    "industrial": "大工业",
    "agricultural": "农业生产",
}


@dataclass(frozen=True)
class Issuer:
    name: str
    hotline: str
    payment_channels: tuple[str, ...]


@dataclass(frozen=True)
class ServiceAddress:
    number: str
    address: str
    voltage_kv: Decimal
    capacity_kva: Decimal
    route: str


@dataclass(frozen=True)
class MeterReadingRow:
    """One register of one meter: 上次示数 → 本次示数, × 倍率 = 电量 (kWh, kvarh, or kW for max demand)."""

    meter_serial: str
    register: str  # RegisterKind value
    register_label: str
    previous_on: date | None
    previous: Decimal | None
    current_on: date
    current: Decimal
    multiplier: Decimal
    consumption: Decimal | None
    estimated: bool


@dataclass(frozen=True)
class PeriodKwh:
    key: str  # tariff TOU period key (peak, flat, valley …; "all" for a flat tariff)
    name: str
    kwh: Decimal


@dataclass(frozen=True)
class DocLine:
    code: str
    description: str
    quantity: Decimal
    unit: str
    rate: Decimal
    amount: Decimal
    rule: str


@dataclass(frozen=True)
class BillDocument:
    issuer: Issuer
    bill_id: int
    period: str
    version: int
    status: str
    status_label: str
    start: date
    end: date  # exclusive
    last_day: date  # end - 1 day, as printed ("2026-10-01 至 2026-10-31")
    issued_at: datetime | None
    due_on: date | None
    hold_reason: str
    customer_number: str
    customer_name: str
    customer_class: str
    customer_class_label: str
    account_number: str
    billing_address: str
    service_addresses: tuple[ServiceAddress, ...]
    readings: tuple[MeterReadingRow, ...]
    kwh: Decimal
    kwh_by_period: tuple[PeriodKwh, ...]
    energy_lines: tuple[DocLine, ...]  # tier / TOU lines with their prices
    basic_lines: tuple[DocLine, ...]  # 基本电费
    pf_lines: tuple[DocLine, ...]  # 功率因数调整电费
    power_factor: Decimal | None  # the actual PF the adjustment used
    pf_standard: Decimal | None
    fund_lines: tuple[DocLine, ...]  # 政府性基金及附加
    other_lines: tuple[DocLine, ...]  # fixed charges, minimum charge
    notes: tuple[str, ...]  # zero-amount note lines (estimated readings …)
    energy_total: Decimal
    basic_total: Decimal
    pf_total: Decimal
    funds_total: Decimal
    other_total: Decimal
    total: Decimal
    total_in_words: str
    balance: Decimal  # what the account owes now, all bills and payments (+ owes, - credit)
    loss_lines: tuple[DocLine, ...] = ()
    """变损电量 (高供低计): the transformer loss added to the billed quantities, per TOU period (``loss.active.*``,
    kWh) and reactive (``loss.reactive``, kvarh); amount 0, the energy lines are priced on metered + loss."""

    @property
    def loss_kwh(self) -> Decimal:
        return sum((ln.quantity for ln in self.loss_lines if ln.unit == "kWh"), ZERO)

    @property
    def loss_kvarh(self) -> Decimal:
        return sum((ln.quantity for ln in self.loss_lines if ln.unit == "kvarh"), ZERO)


def _issuer() -> Issuer:
    return Issuer(
        name=str(getattr(settings, "WATTDESK_BILL_ISSUER", "WattDesk")),
        hotline=str(getattr(settings, "WATTDESK_BILL_HOTLINE", "95598")),
        payment_channels=tuple(str(c) for c in getattr(settings, "WATTDESK_BILL_PAYMENT_CHANNELS", ())),
    )


def _period_name(description: str) -> str:
    name = description
    for prefix in ("电度电费 ", "Energy "):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return re.sub(r" (第\d+档|tier \d+)$", "", name).strip() or description


def _readings(account_id: int, start: date, end: date) -> tuple[MeterReadingRow, ...]:
    """Billable readings dated in [start, end) on the meters installed at the account's service points,
    each with the register's previous billable reading (two queries)."""
    current = list(
        RegisterReading.objects.filter(
            Q(register__meter__installations__removed_on__isnull=True)
            | Q(register__meter__installations__removed_on__gte=F("read_on")),
            register__meter__installations__service_point__account_id=account_id,
            register__meter__installations__installed_on__lte=F("read_on"),
            read_on__gte=start,
            read_on__lt=end,
            status__in=BILLABLE_STATUSES,
        )
        .distinct()
        .order_by("register__meter__serial", "register__kind", "read_on")
        .values_list(
            "register_id",
            "register__meter__serial",
            "register__kind",
            "read_on",
            "value",
            "register__meter__multiplier",
            "consumption",
            "source",
        )
    )
    register_ids = sorted({r[0] for r in current})
    earliest = {r[0]: r[3] for r in reversed(current)}
    previous: dict[int, tuple[date, Decimal]] = {}
    if register_ids:
        for reg_id, read_on, value in (
            RegisterReading.objects.filter(
                register_id__in=register_ids,
                status__in=BILLABLE_STATUSES,
                read_on__lt=end,
                read_on__gte=start - timedelta(days=400),
            )
            .order_by("register_id", "read_on", "source")
            .values_list("register_id", "read_on", "value")
        ):
            if read_on < earliest.get(reg_id, start):
                previous[reg_id] = (read_on, value)
    rows: list[MeterReadingRow] = []
    last_seen: dict[int, tuple[date, Decimal]] = {}
    for reg_id, serial, kind, read_on, value, mult, consumption, source in current:
        prev = last_seen.get(reg_id) or previous.get(reg_id)
        if prev is not None and prev[0] >= read_on:
            prev = None
        rows.append(
            MeterReadingRow(
                meter_serial=serial,
                register=kind,
                register_label=REGISTER_LABELS.get(kind, kind),
                previous_on=prev[0] if prev else None,
                previous=prev[1] if prev else None,
                current_on=read_on,
                current=value,
                multiplier=mult,
                consumption=consumption,
                estimated=source == "estimated",
            )
        )
        last_seen[reg_id] = (read_on, value)
    return tuple(rows)


def _doc_line(ln: BillLine) -> DocLine:
    return DocLine(ln.code, ln.description, ln.quantity, ln.unit, ln.rate, ln.amount, ln.rule)


def bill_document(*, bill_id: int) -> BillDocument:
    """Assemble the printed bill of ``bill_id`` (any status). Raises ``BillNotFound``."""
    bill = Bill.objects.select_related("account", "account__customer").filter(pk=bill_id).first()
    if bill is None:
        raise BillNotFound(f"no bill with id {bill_id}")
    account = bill.account
    customer = account.customer
    lines = list(BillLine.objects.filter(bill_id=bill.pk).order_by("seq"))
    points = tuple(
        ServiceAddress(
            sp.number, sp.address, sp.voltage_kv, sp.capacity_kva, sp.route.code if sp.route else ""
        )
        for sp in ServicePoint.objects.filter(account_id=account.pk)
        .select_related("route")
        .order_by("number")
    )
    energy: list[DocLine] = []
    basic: list[DocLine] = []
    pf: list[DocLine] = []
    funds: list[DocLine] = []
    other: list[DocLine] = []
    losses: list[DocLine] = []
    notes: list[str] = []
    by_period: OrderedDict[str, tuple[str, Decimal]] = OrderedDict()
    power_factor: Decimal | None = None
    pf_standard: Decimal | None = None
    for ln in lines:
        category = ln.rule.split(".", 1)[0]
        dl = _doc_line(ln)
        if ln.code.startswith("note.") or (ln.amount == 0 and ln.unit == "" and category not in {"energy"}):
            notes.append(ln.description)
        elif category == "loss":  # 变损电量: a quantity, not a charge (application.billing.transformer_loss)
            losses.append(dl)
        elif category == "energy":
            energy.append(dl)
            parts = ln.code.split(".")
            key = parts[1] if len(parts) > 1 else "all"
            name, kwh = by_period.get(key, (_period_name(ln.description), ZERO))
            by_period[key] = (name, kwh + ln.quantity)
        elif category == "basic":
            basic.append(dl)
        elif category == "pf":
            pf.append(dl)
            m = _PF_RE.search(ln.description)
            power_factor = Decimal(m.group(1)) if m else None
            std = ln.rule.split(".", 1)[1] if "." in ln.rule else ""
            # two decimals as written (0.90): bills rated before the standard kept its places say "pf.0.9"
            pf_standard = (
                Decimal(std).quantize(Decimal("0.01")) if re.fullmatch(r"\d+(\.\d+)?", std) else None
            )
        elif category == "fund":
            funds.append(dl)
        else:
            other.append(dl)

    def total_of(xs: list[DocLine]) -> Decimal:
        return sum((x.amount for x in xs), Decimal("0.00"))

    return BillDocument(
        issuer=_issuer(),
        bill_id=bill.pk,
        period=bill.period,
        version=bill.version,
        status=bill.status,
        status_label=status_label(bill.status),
        start=bill.start,
        end=bill.end,
        last_day=bill.end - timedelta(days=1),
        issued_at=bill.issued_at,
        due_on=bill.due_on,
        hold_reason=bill.hold_reason,
        customer_number=customer.number,
        customer_name=customer.name,
        customer_class=customer.customer_class,
        customer_class_label=CLASS_LABELS.get(customer.customer_class, customer.customer_class),
        account_number=account.number,
        billing_address=account.billing_address,
        service_addresses=points,
        readings=_readings(account.pk, bill.start, bill.end),
        kwh=bill.kwh,
        kwh_by_period=tuple(PeriodKwh(k, n, q) for k, (n, q) in by_period.items()),
        energy_lines=tuple(energy),
        basic_lines=tuple(basic),
        pf_lines=tuple(pf),
        power_factor=power_factor,
        pf_standard=pf_standard,
        fund_lines=tuple(funds),
        other_lines=tuple(other),
        notes=tuple(notes),
        energy_total=total_of(energy),
        basic_total=total_of(basic),
        pf_total=total_of(pf),
        funds_total=total_of(funds),
        other_total=total_of(other),
        total=bill.total,
        total_in_words=amount_in_words(bill.total),
        balance=balance(account_id=account.pk),
        loss_lines=tuple(losses),
    )


# --- PDF -----------------------------------------------------------------------------------------------------

CJK_FONT = "STSong-Light"
NUM_FONT = "Helvetica"


def _fmt(x: Decimal | None, places: int | None = None) -> str:
    if x is None:
        return "—"
    if places is not None:
        x = x.quantize(Decimal(1).scaleb(-places))
    s = format(x, "f")
    if places is None and "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def render_pdf(doc: BillDocument) -> bytes:
    """An A4 PDF of the bill (reportlab, built-in CID font STSong-Light: no font file needed)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    base = ParagraphStyle("zh", fontName=CJK_FONT, fontSize=9, leading=12, wordWrap="CJK")
    title = ParagraphStyle("title", parent=base, fontSize=16, leading=20, alignment=1)
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10)
    buf = io.BytesIO()
    pdf = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"电费账单 {doc.account_number} {doc.period}",
        author=doc.issuer.name,
        invariant=True,
    )
    width = A4[0] - 30 * mm

    def p(text: str, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), style)

    grid = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), CJK_FONT, 8.5),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
    )

    def table(rows: list[list[object]], widths: list[float], numeric_from: int = 1) -> Table:
        t = Table(rows, colWidths=widths, repeatRows=1)
        t.setStyle(grid)
        t.setStyle(TableStyle([("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT")]))
        return t

    story: list[object] = [
        p(doc.issuer.name, ParagraphStyle("h", parent=base, fontSize=11, alignment=1)),
        p("电 费 账 单", title),
        Spacer(1, 3 * mm),
    ]
    head = [
        ["户号", doc.account_number, "户名", doc.customer_name],
        ["客户编号", doc.customer_number, "用电类别", doc.customer_class_label],
        ["账单月份", doc.period, "计费期间", f"{doc.start:%Y-%m-%d} 至 {doc.last_day:%Y-%m-%d}"],
        ["账单编号", f"{doc.bill_id} (第{doc.version}版)", "状态", doc.status_label],
    ]
    for sp in doc.service_addresses:
        head.append(["用电地址", sp.address, "计量点", f"{sp.number} / {_fmt(sp.voltage_kv)}kV"])
    ht = Table(head, colWidths=[22 * mm, width / 2 - 22 * mm, 22 * mm, width / 2 - 22 * mm])
    ht.setStyle(
        TableStyle([("FONT", (0, 0), (-1, -1), CJK_FONT, 9), ("GRID", (0, 0), (-1, -1), 0.4, colors.grey)])
    )
    story += [ht, Spacer(1, 3 * mm), p("抄表示数", small)]
    rrows: list[list[object]] = [["电能表", "示数类型", "上次示数", "本次示数", "倍率", "电量"]]
    for r in doc.readings:
        rrows.append(
            [
                r.meter_serial,
                r.register_label + (" (估)" if r.estimated else ""),
                _fmt(r.previous),
                _fmt(r.current),
                _fmt(r.multiplier),
                _fmt(r.consumption),
            ]
        )
    story += [
        table(rrows, [35 * mm, 25 * mm, 30 * mm, 30 * mm, 20 * mm, width - 140 * mm], 2),
        Spacer(1, 3 * mm),
    ]
    if doc.kwh_by_period:
        story.append(
            p(
                "分时电量: "
                + "  ".join(f"{k.name} {_fmt(k.kwh)} kWh" for k in doc.kwh_by_period)
                + f"  合计 {_fmt(doc.kwh)} kWh"
            )
        )
    if doc.loss_lines:
        story.append(
            p(
                "变损电量 (已计入计费电量): "
                + "  ".join(f"{ln.description} {_fmt(ln.quantity)} {ln.unit}" for ln in doc.loss_lines)
            )
        )
    crows: list[list[object]] = [["项目", "数量", "单位", "单价", "金额(元)"]]
    for group in (doc.energy_lines, doc.basic_lines, doc.pf_lines, doc.fund_lines, doc.other_lines):
        for ln in group:
            crows.append(
                [p(ln.description, small), _fmt(ln.quantity), ln.unit, _fmt(ln.rate), _fmt(ln.amount, 2)]
            )
    story += [
        Spacer(1, 2 * mm),
        table(crows, [width - 115 * mm, 30 * mm, 15 * mm, 35 * mm, 35 * mm]),
        Spacer(1, 3 * mm),
    ]
    if doc.power_factor is not None:
        story.append(p(f"功率因数: 实际 {doc.power_factor}, 考核标准 {_fmt(doc.pf_standard, 2)}"))
    tot = Table(
        [
            ["本期电费合计 (小写)", f"¥ {_fmt(doc.total, 2)}"],
            ["本期电费合计 (大写)", doc.total_in_words],
            ["缴费截止日期", f"{doc.due_on:%Y-%m-%d}" if doc.due_on else "发行后确定"],
            ["当前账户应缴余额", f"¥ {_fmt(doc.balance, 2)}"],
        ],
        colWidths=[45 * mm, width - 45 * mm],
    )
    tot.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), CJK_FONT, 10),
                ("FONT", (1, 0), (1, 0), NUM_FONT + "-Bold", 12),
                ("FONT", (1, 3), (1, 3), NUM_FONT, 10),
                ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
            ]
        )
    )
    story += [Spacer(1, 2 * mm), tot, Spacer(1, 3 * mm)]
    for note in doc.notes:
        story.append(p("注: " + note, small))
    story.append(p("缴费渠道: " + "; ".join(doc.issuer.payment_channels), small))
    story.append(p(f"服务热线: {doc.issuer.hotline}", small))
    pdf.build(story)
    return buf.getvalue()
