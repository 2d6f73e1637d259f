"""Metering (计量): meters, their registers, installations at service points, readings and their validation.

Flow: an import batch brings register readings (抄表示数) or interval data; VEE (wattdesk.core.vee) computes the
advance and consumption of each reading and records findings as ReadingException rows; billing reads the
validated consumption through ``queries.consumption_by_account``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.fields import QuantityField


class Meter(models.Model):
    """An electricity meter (电能表). consumption = register advance x multiplier (倍率 = CT ratio x PT ratio)."""

    serial = models.CharField(_("serial number"), max_length=40, unique=True)
    multiplier = QuantityField(_("multiplier (倍率)"), default=1)
    digits = models.PositiveSmallIntegerField(
        _("integer digits"), default=6, help_text=_("the register rolls over at 10**digits")
    )
    interval = models.BooleanField(_("interval meter"), default=False)
    max_kw_physical = QuantityField(_("physical maximum kW"), null=True, blank=True)

    class Meta:
        verbose_name = _("meter")
        verbose_name_plural = _("meters")
        constraints = (
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="metering_meter_multiplier_positive"),
            models.CheckConstraint(condition=Q(digits__gte=1), name="metering_meter_digits_positive"),
        )

    def __str__(self) -> str:
        return self.serial


class RegisterKind(models.TextChoices):
    ACTIVE_TOTAL = "active_total", _("active energy, total (有功总)")
    ACTIVE_PEAK = "active_peak", _("active energy, peak (峰)")
    ACTIVE_FLAT = "active_flat", _("active energy, flat (平)")
    ACTIVE_VALLEY = "active_valley", _("active energy, valley (谷)")
    ACTIVE_CRITICAL = "active_critical", _("active energy, critical peak (尖峰)")
    ACTIVE_DEEP_VALLEY = "active_deep_valley", _("active energy, deep valley (深谷)")
    REACTIVE = "reactive", _("reactive energy (无功)")
    MAX_DEMAND = "max_demand", _("maximum demand (最大需量)")
    # maximum demand per TOU period (分时最大需量), read from the meter's per-period demand registers for tariffs
    # with TOU demand charges: like max_demand a per-period maximum (kW = value x multiplier), not cumulative
    MAX_DEMAND_CRITICAL = "max_demand_critical", _("maximum demand, critical peak (最大需量尖峰)")
    MAX_DEMAND_PEAK = "max_demand_peak", _("maximum demand, peak (最大需量峰)")
    MAX_DEMAND_FLAT = "max_demand_flat", _("maximum demand, flat (最大需量平)")
    MAX_DEMAND_VALLEY = "max_demand_valley", _("maximum demand, valley (最大需量谷)")
    MAX_DEMAND_DEEP_VALLEY = "max_demand_deep_valley", _("maximum demand, deep valley (最大需量深谷)")


#: the per-TOU-period maximum-demand registers (``max_demand_<period>``)
TOU_DEMAND_KINDS = frozenset(k.value for k in RegisterKind if k.value.startswith("max_demand_"))
#: registers holding a per-period maximum (kW), not an accumulating energy value
DEMAND_KINDS = frozenset({RegisterKind.MAX_DEMAND.value}) | TOU_DEMAND_KINDS
#: registers whose value accumulates energy (advance = value - previous)
CUMULATIVE_KINDS = frozenset(RegisterKind.values) - DEMAND_KINDS
#: every register kind an import or onboarding accepts
REGISTER_KINDS = frozenset(RegisterKind.values)


class MeterRegister(models.Model):
    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="registers")
    kind = models.CharField(_("kind"), max_length=24, choices=RegisterKind.choices)

    class Meta:
        verbose_name = _("meter register")
        verbose_name_plural = _("meter registers")
        constraints = (
            models.UniqueConstraint(fields=["meter", "kind"], name="metering_register_unique_kind"),
        )

    def __str__(self) -> str:
        return f"{self.meter_id}:{self.kind}"


class MeterInstallation(models.Model):
    """A meter installed at a service point from installed_on to removed_on (inclusive); 换表 history.

    ``initial_values`` / ``final_values`` map register kind -> register value (a decimal string) at
    installation / removal.
    """

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="installations")
    service_point = models.ForeignKey(
        "customers.ServicePoint", on_delete=models.PROTECT, related_name="meter_installations"
    )
    installed_on = models.DateField(_("installed on"))
    removed_on = models.DateField(_("removed on"), null=True, blank=True)
    initial_values = models.JSONField(_("register values at installation"), default=dict, blank=True)
    final_values = models.JSONField(_("register values at removal"), default=dict, blank=True)

    class Meta:
        verbose_name = _("meter installation")
        verbose_name_plural = _("meter installations")
        indexes = (
            models.Index(fields=["meter", "installed_on"], name="metering_inst_meter_idx"),
            models.Index(fields=["service_point", "installed_on"], name="metering_inst_sp_idx"),
        )
        constraints = (
            models.CheckConstraint(
                condition=Q(removed_on__isnull=True) | Q(removed_on__gte=models.F("installed_on")),
                name="metering_installation_dates_ordered",
            ),
        )

    def __str__(self) -> str:
        return f"{self.meter_id}@{self.service_point_id} {self.installed_on}..{self.removed_on or ''}"


class ImportKind(models.TextChoices):
    REGISTER = "register", _("register readings")
    INTERVAL = "interval", _("interval data")


class ImportBatch(models.Model):
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256 of the content"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=ImportKind.choices)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created_at = models.DateTimeField(_("created at"))
    status = models.CharField(
        _("status"),
        max_length=24,
        choices=[("imported", _("imported")), ("with_exceptions", _("imported with exceptions"))],
        default="imported",
    )

    class Meta:
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.kind}, {self.rows} rows)"


class ReadingSource(models.TextChoices):
    ACTUAL = "actual", _("actual (实抄)")
    ESTIMATED = "estimated", _("estimated (估抄)")


class ReadingStatus(models.TextChoices):
    VALID = "valid", _("valid")
    EXCEPTION = "exception", _("exception (待核)")
    ESTIMATED = "estimated", _("estimated")
    SUPERSEDED = "superseded", _("superseded")


#: statuses billing uses
BILLABLE_STATUSES = (ReadingStatus.VALID, ReadingStatus.ESTIMATED)


class RegisterReading(models.Model):
    """One register value read (or estimated) on a date.

    ``advance`` and ``consumption`` are computed by VEE when the reading is imported: consumption is kWh
    (kvarh for reactive) since the previous billable reading of the same service point and register kind
    (x multiplier, corrected for rollover, meter exchange and true-up after estimates). For max_demand,
    consumption holds the period's maximum demand in kW (value x multiplier). Null = the reading only opens a
    register (first reading).
    """

    register = models.ForeignKey(MeterRegister, on_delete=models.PROTECT, related_name="readings")
    read_on = models.DateField(_("read on"))
    value = QuantityField(_("register value"))
    source = models.CharField(_("source"), max_length=16, choices=ReadingSource.choices, default="actual")
    status = models.CharField(_("status"), max_length=16, choices=ReadingStatus.choices, default="valid")
    import_batch = models.ForeignKey(
        ImportBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="readings"
    )
    advance = QuantityField(_("advance"), null=True, blank=True)
    consumption = QuantityField(_("consumption"), null=True, blank=True)
    estimated_from = models.CharField(_("estimated from"), max_length=255, blank=True, default="")

    class Meta:
        verbose_name = _("register reading")
        verbose_name_plural = _("register readings")
        constraints = (
            # One live reading per register, date and source; superseded readings stay as history (a
            # correction of a held reading supersedes it instead of editing it in place).
            models.UniqueConstraint(
                fields=["register", "read_on", "source"],
                condition=~Q(status="superseded"),
                name="metering_reading_unique_per_day_source",
            ),
        )
        indexes = (models.Index(fields=["read_on", "status"], name="metering_reading_date_idx"),)

    def __str__(self) -> str:
        return f"{self.register_id} {self.read_on} {self.value} ({self.source}/{self.status})"


class IntervalFile(models.Model):
    """The interval data of one meter in one import batch (one Parquet file per batch, all its meters).

    The file (columns meter_id, meter_serial, timestamp, kwh, kvarh) lives at settings.WATTDESK_INTERVAL_DIR / path.
    Timestamps are interval starts; the file covers [start, end].
    """

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="interval_files")
    start = models.DateTimeField(_("first interval"))
    end = models.DateTimeField(_("last interval"))
    path = models.CharField(_("path"), max_length=255)
    rows = models.PositiveIntegerField(_("rows"))
    kwh = QuantityField(_("kWh total"), default=0)
    kvarh = QuantityField(_("kvarh total"), null=True, blank=True)
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="interval_files")

    class Meta:
        verbose_name = _("interval file")
        verbose_name_plural = _("interval files")
        indexes = (models.Index(fields=["meter", "start"], name="metering_interval_meter_idx"),)

    def __str__(self) -> str:
        return self.path


class Severity(models.TextChoices):
    INFO = "info", _("info")
    WARNING = "warning", _("warning")
    ERROR = "error", _("error")


class ReadingException(models.Model):
    """A VEE finding (抄表异常) to review. ``check_code`` is a wattdesk.core.vee.Check code."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="exceptions")
    register = models.ForeignKey(
        MeterRegister, on_delete=models.PROTECT, null=True, blank=True, related_name="exceptions"
    )
    reading = models.ForeignKey(
        RegisterReading, on_delete=models.PROTECT, null=True, blank=True, related_name="exceptions"
    )
    import_batch = models.ForeignKey(
        ImportBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="exceptions"
    )
    period = models.CharField(_("period (YYYY-MM)"), max_length=7)
    check_code = models.CharField(_("check"), max_length=40)
    reason = models.TextField(_("reason"))
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices)
    resolved = models.BooleanField(_("resolved"), default=False)

    class Meta:
        verbose_name = _("reading exception")
        verbose_name_plural = _("reading exceptions")
        indexes = (models.Index(fields=["period", "resolved"], name="metering_exc_period_idx"),)

    def __str__(self) -> str:
        return f"{self.period} {self.check_code} {self.meter_id}"


# --- transformer loss (变损) of customers metered on the low-voltage side (高供低计) -----------------------------


class VectorGroup(models.TextChoices):
    DYN11 = "Dyn11", _("Dyn11 (D,yn11)")
    YYN0 = "Yyn0", _("Yyn0 (Y,yn0)")


class LossMethod(models.TextChoices):
    NONE = "none", _("no loss (不计算)")
    FORMULA = "formula", _("formula (公式法)")
    TABLE = "table", _("loss table (查表法)")
    # xgettext:no-python-format
    SIMPLIFIED = "simplified", _("iron loss + % of kWh (简化法)")
    FIXED = "fixed", _("agreed fixed loss (协议变损)")


class TransformerModel(models.Model):
    """A transformer model's nameplate losses (变压器型号参数), valid on [effective_from, effective_to).

    ``code`` names the model as the archive does (``S11-M-315/10``); a corrected or re-tested parameter set is a
    new version from its date (billing-rules-2.md §1.6: nameplate or test report, the GB table only as a fallback).
    """

    code = models.CharField(_("model code"), max_length=40)
    series = models.CharField(_("series"), max_length=16, blank=True, default="")
    capacity_kva = QuantityField(_("rated capacity (kVA)"))
    p0_kw = QuantityField(_("no-load loss P0 (kW)"))
    pk_dyn11_kw = QuantityField(_("load loss Pk, Dyn11 (kW)"), null=True, blank=True)
    pk_yyn0_kw = QuantityField(_("load loss Pk, Yyn0 (kW)"), null=True, blank=True)
    i0_percent = QuantityField(_("no-load current I0 (%)"))
    uk_percent = QuantityField(_("impedance voltage Uk (%)"))
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True, default="")

    class Meta:
        ordering = ("code", "effective_from")
        verbose_name = _("transformer model")
        verbose_name_plural = _("transformer models")
        constraints = (
            models.UniqueConstraint(
                fields=["code", "effective_from"], name="metering_trmodel_code_from_uniq"
            ),
            models.CheckConstraint(
                condition=Q(capacity_kva__gt=0), name="metering_trmodel_capacity_positive"
            ),
            models.CheckConstraint(
                condition=Q(p0_kw__gte=0, i0_percent__gte=0, uk_percent__gte=0),
                name="metering_trmodel_losses_nonneg",
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
                name="metering_trmodel_dates_ordered",
            ),
        )

    def __str__(self) -> str:
        return f"{self.code} ({self.effective_from}–{self.effective_to or '…'})"


class CustomerTransformer(models.Model):
    """A customer's own transformer (用户专变) feeding the service point(s) metered on its low-voltage side.

    One row per setting version: ``number`` is the asset number, valid on [effective_from, effective_to);
    installation is the first version's ``effective_from``, removal the last one's ``effective_to``. A point
    with a transformer in force whose ``loss_method`` is not ``none`` is billed with its loss (变损).
    """

    number = models.CharField(_("transformer number"), max_length=40)
    model_code = models.CharField(_("model code"), max_length=40)
    service_points = models.ManyToManyField(
        "customers.ServicePoint", related_name="customer_transformers", verbose_name=_("service points")
    )
    vector_group = models.CharField(
        _("vector group"), max_length=8, choices=VectorGroup.choices, default=VectorGroup.DYN11
    )
    correction_k = QuantityField(_("correction factor K (修正系数)"), default=Decimal(1))
    loss_method = models.CharField(
        _("loss method"), max_length=16, choices=LossMethod.choices, default=LossMethod.FORMULA
    )
    fixed_kwh = QuantityField(_("agreed loss kWh per month"), default=Decimal(0))
    fixed_kvarh = QuantityField(_("agreed loss kvarh per month"), default=Decimal(0))
    shift = models.CharField(_("shift pattern (生产班次)"), max_length=16, blank=True, default="")
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)

    class Meta:
        ordering = ("number", "effective_from")
        verbose_name = _("customer transformer")
        verbose_name_plural = _("customer transformers")
        constraints = (
            models.UniqueConstraint(
                fields=["number", "effective_from"], name="metering_custtr_number_from_uniq"
            ),
            models.CheckConstraint(condition=Q(correction_k__gt=0), name="metering_custtr_k_positive"),
            models.CheckConstraint(
                condition=Q(fixed_kwh__gte=0, fixed_kvarh__gte=0), name="metering_custtr_fixed_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
                name="metering_custtr_dates_ordered",
            ),
        )

    def __str__(self) -> str:
        return f"{self.number} {self.model_code} ({self.effective_from}–{self.effective_to or '…'})"


class LossTableBasis(models.TextChoices):
    KWH = "kwh", _("monthly kWh band")
    LOAD_RATIO = "load_ratio", _("load ratio band")


class LossTableRow(models.Model):
    """One row of the utility's loss table (变损查对表), valid on [effective_from, effective_to): for a capacity,
    a shift pattern ("" = any) and a band [lower, upper) of the month's kWh or load ratio, the monthly loss."""

    capacity_kva = QuantityField(_("capacity (kVA)"))
    shift = models.CharField(_("shift pattern (生产班次)"), max_length=16, blank=True, default="")
    basis = models.CharField(_("band basis"), max_length=16, choices=LossTableBasis.choices)
    lower = QuantityField(_("band lower bound (inclusive)"))
    upper = QuantityField(_("band upper bound (exclusive)"), null=True, blank=True)
    loss_kwh = QuantityField(_("loss kWh per month"))
    loss_kvarh = QuantityField(_("loss kvarh per month"), default=Decimal(0))
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True, default="")

    class Meta:
        ordering = ("capacity_kva", "shift", "basis", "lower")
        verbose_name = _("loss table row")
        verbose_name_plural = _("loss table rows")
        constraints = (
            models.UniqueConstraint(
                fields=["capacity_kva", "shift", "basis", "lower", "effective_from"],
                name="metering_losstable_row_uniq",
            ),
            models.CheckConstraint(
                condition=Q(upper__isnull=True) | Q(upper__gt=models.F("lower")),
                name="metering_losstable_band",
            ),
            models.CheckConstraint(
                condition=Q(loss_kwh__gte=0, loss_kvarh__gte=0, lower__gte=0),
                name="metering_losstable_nonneg",
            ),
        )

    def __str__(self) -> str:
        return f"{self.capacity_kva} kVA {self.basis} [{self.lower}, {self.upper or '…'}) {self.shift}"
