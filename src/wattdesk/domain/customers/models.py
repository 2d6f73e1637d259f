"""Customers and where they take supply: Region, ReadingRoute (抄表段), TransformerArea (台区), Customer,
Account (户号 / 电费账户) and ServicePoint (用电点 / 计量点所在地址)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wattdesk.core.text import find_unsafe_character
from wattdesk.domain.fields import CoordinateField, QuantityField, RatioField


def validate_clean_text(value: str) -> None:
    """Names and addresses (printed on bills, notices and work orders): no control characters, no
    bidirectional overrides, no U+FFFD (``wattdesk.core.text.unsafe_text_reason``)."""
    found = find_unsafe_character(value)
    if found is not None:
        messages = {
            "bidi": _("A name or an address may not contain the bidirectional control character %(code)s."),
            "replacement": _(
                "A name or an address may not contain the replacement character %(code)s (text damaged by a "
                "wrong encoding)."
            ),
            "control": _("A name or an address may not contain the control character %(code)s."),
            "surrogate": _("A name or an address may not contain the unpaired surrogate %(code)s."),
        }
        raise ValidationError(messages[found.kind], params={"code": found.code}, code="unsafe_text")


class Region(models.Model):
    """A supply region (供电所 / 营业区): the unit routes and transformer areas belong to."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100, validators=[validate_clean_text])

    class Meta:
        ordering = ("code",)
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ReadingRoute(models.Model):
    """抄表段 reading route: the set of service points read together on one schedule and billed in one run."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100, validators=[validate_clean_text])
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="routes", verbose_name=_("region")
    )

    class Meta:
        ordering = ("code",)
        verbose_name = _("reading route")
        verbose_name_plural = _("reading routes")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class TransformerArea(models.Model):
    """台区 transformer area: the low-voltage network fed by one distribution transformer."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100, validators=[validate_clean_text])
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="transformer_areas", verbose_name=_("region")
    )
    capacity_kva = QuantityField(_("transformer capacity (kVA)"), null=True, blank=True)

    class Meta:
        ordering = ("code",)
        verbose_name = _("transformer area")
        verbose_name_plural = _("transformer areas")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CustomerKind(models.TextChoices):
    INDIVIDUAL = "individual", _("individual")
    ENTERPRISE = "enterprise", _("enterprise")


class CustomerClass(models.TextChoices):
    """用电类别 as used for tariff selection."""

    RESIDENTIAL = "residential", _("residential")
    COMMERCIAL = "commercial", _("commercial")
    INDUSTRIAL = "industrial", _("industrial")
    AGRICULTURAL = "agricultural", _("agricultural")


def mask_id_number(value: str) -> str:
    """Show only the first 3 and last 4 characters of an identity / credit code: ``110***********1234``."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


class Customer(models.Model):
    """A person or organisation that takes electricity (用电客户)."""

    number = models.CharField(_("customer number"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200, validators=[validate_clean_text])
    kind = models.CharField(_("kind"), max_length=16, choices=CustomerKind.choices)
    birth_year = models.PositiveSmallIntegerField(_("birth year"), null=True, blank=True)
    customer_class = models.CharField(_("customer class"), max_length=16, choices=CustomerClass.choices)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    id_number = models.CharField(
        _("ID / credit code"),
        max_length=32,
        blank=True,
        help_text=_("Resident ID or unified social credit code. Shown masked everywhere."),
    )
    protected = models.BooleanField(
        _("protected"),
        default=False,
        help_text=_("Protected from disconnection (e.g. medical equipment, vulnerable household)."),
    )
    payment_profile = models.JSONField(_("payment profile"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ("number",)
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = (models.Index(fields=["name"], name="customer_name_idx"),)
        constraints = (
            models.CheckConstraint(
                condition=Q(birth_year__isnull=True) | Q(birth_year__gte=1900, birth_year__lte=2100),
                name="customer_birth_year_range",
            ),
        )

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)


class AccountStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    SUSPENDED = "suspended", _("suspended")
    CLOSED = "closed", _("closed")


class Account(models.Model):
    """户号: the unit that is billed. One customer may hold several accounts."""

    number = models.CharField(_("account number"), max_length=32, unique=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("customer")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    billing_day = models.PositiveSmallIntegerField(
        _("billing day"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text=_("Day of month the billing period starts (1-28)."),
    )
    prepaid = models.BooleanField(_("prepaid (费控)"), default=False)
    billing_address = models.CharField(
        _("billing address"), max_length=300, blank=True, validators=[validate_clean_text]
    )

    class Meta:
        ordering = ("number",)
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        indexes = (models.Index(fields=["status"], name="account_status_idx"),)
        constraints = (
            models.CheckConstraint(
                condition=Q(billing_day__gte=1, billing_day__lte=28), name="account_billing_day_1_28"
            ),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=models.F("opened_on")),
                name="account_closed_after_opened",
            ),
        )

    def __str__(self) -> str:
        return self.number


class VoltageLevel(models.TextChoices):
    """Nominal supply voltages in China (kV), stored in ServicePoint.voltage_kv as a Decimal."""

    V220 = "0.22", _("220 V")
    V380 = "0.38", _("380 V")
    KV10 = "10", _("10 kV")
    KV20 = "20", _("20 kV")
    KV35 = "35", _("35 kV")
    KV110 = "110", _("110 kV")
    KV220 = "220", _("220 kV")


VOLTAGE_KV_CHOICES = [(Decimal(value), label) for value, label in VoltageLevel.choices]


class ServicePoint(models.Model):
    """用电点: the place where one account takes supply, and the network it hangs on."""

    number = models.CharField(_("service point number"), max_length=32, unique=True)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="service_points", verbose_name=_("account")
    )
    address = models.CharField(_("address"), max_length=300, validators=[validate_clean_text])
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="service_points", verbose_name=_("region")
    )
    route = models.ForeignKey(
        ReadingRoute,
        on_delete=models.PROTECT,
        related_name="service_points",
        null=True,
        blank=True,
        verbose_name=_("reading route"),
    )
    transformer_area = models.ForeignKey(
        TransformerArea,
        on_delete=models.PROTECT,
        related_name="service_points",
        null=True,
        blank=True,
        verbose_name=_("transformer area"),
    )
    voltage_kv = QuantityField(_("supply voltage (kV)"), choices=VOLTAGE_KV_CHOICES, default=Decimal("0.22"))
    capacity_kva = QuantityField(_("contracted capacity (kVA)"), default=Decimal(0))
    contract_kw = QuantityField(_("contract maximum demand (kW)"), null=True, blank=True)
    pf_standard = RatioField(
        _("power factor standard"),
        null=True,
        blank=True,
        help_text=_("功率因数考核标准: 0.90, 0.85 or 0.80; empty = not assessed."),
    )
    lat = CoordinateField(_("latitude"), null=True, blank=True)
    lon = CoordinateField(_("longitude"), null=True, blank=True)

    class Meta:
        ordering = ("number",)
        verbose_name = _("service point")
        verbose_name_plural = _("service points")
        constraints = (
            models.CheckConstraint(condition=Q(voltage_kv__gt=0), name="service_point_voltage_positive"),
            models.CheckConstraint(condition=Q(capacity_kva__gte=0), name="service_point_capacity_nonneg"),
            models.CheckConstraint(
                condition=Q(pf_standard__isnull=True) | Q(pf_standard__gt=0, pf_standard__lte=1),
                name="service_point_pf_standard_0_1",
            ),
        )

    def __str__(self) -> str:
        return self.number

    @property
    def customer_class(self) -> str:
        """The customer class (用电类别) of the customer that holds this service point's account."""
        return str(self.account.customer.customer_class)


# --- per-account tier quotas (一户多人口) ----------------------------------------------------------------------


class QuotaUnit(models.TextChoices):
    PER_MONTH = "per_month", _("kWh per month")
    PER_YEAR = "per_year", _("kWh per year")


class QuotaTiers(models.TextChoices):
    TIER1 = "tier1", _("first tier boundary only")
    ALL = "all", _("every tier boundary")


class QuotaBasis(models.TextChoices):
    HOUSEHOLD = "household", _("per household")
    PER_PERSON_ABOVE = "per_person_above", _("per person above the base count")


class QuotaStart(models.TextChoices):
    NEXT_MONTH = "next_month", _("the month after the application")
    THIS_MONTH = "this_month", _("the month of the application")


class QuotaAnnualMode(models.TextChoices):
    REMAINING_MONTHS = "remaining_months", _("all covered months of the tier year, from the first one")
    TO_DATE = "to_date", _("covered months of the tier year up to the billed month")


class HouseholdQuotaPolicy(models.Model):
    """一户多人口 policy (provincial notice) as effective-dated data: who qualifies and what a grant adds to the
    residential tier boundaries. Rows are versions of a ``code``; the version in force on the application
    date decides a grant (application.customers.household_quota). Defaults: docs/billing-cases/household-quota.md.
    """

    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to"), null=True, blank=True)
    min_persons = models.PositiveSmallIntegerField(_("minimum persons"))
    basis = models.CharField(_("basis"), max_length=24, choices=QuotaBasis.choices)
    persons_base = models.PositiveSmallIntegerField(
        _("persons base"), default=0, help_text=_("per_person_above: persons counted above this number.")
    )
    uplift_kwh = QuantityField(_("uplift (kWh)"))
    unit = models.CharField(_("unit"), max_length=16, choices=QuotaUnit.choices)
    tiers = models.CharField(_("tiers affected"), max_length=8, choices=QuotaTiers.choices)
    starts = models.CharField(_("takes effect"), max_length=16, choices=QuotaStart.choices)
    validity_months = models.PositiveSmallIntegerField(_("validity (months)"), null=True, blank=True)
    annual_mode = models.CharField(
        _("annual tiers"),
        max_length=24,
        choices=QuotaAnnualMode.choices,
        default=QuotaAnnualMode.REMAINING_MONTHS,
    )
    residential_only = models.BooleanField(_("residential accounts only"), default=True)
    source = models.CharField(_("source"), max_length=300, blank=True)

    class Meta:
        ordering = ("code", "effective_from")
        verbose_name = _("household quota policy")
        verbose_name_plural = _("household quota policies")
        constraints = (
            models.UniqueConstraint(fields=("code", "effective_from"), name="quota_policy_code_from_unique"),
            models.CheckConstraint(condition=Q(uplift_kwh__gte=0), name="quota_policy_uplift_nonneg"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
                name="quota_policy_to_after_from",
            ),
        )

    def __str__(self) -> str:
        return f"{self.code} {self.effective_from}"


class TierQuotaGrant(models.Model):
    """A tier quota granted to an account (一户多人口 …): from ``valid_from`` (first day of a month) to
    ``valid_to`` (first month without it, as granted; empty = open), ``uplift_kwh`` per ``unit`` added to the
    ``tiers`` boundaries. An early end sets ``ended_from`` and keeps ``valid_to``, so the months billed before
    it are re-rated as they were billed (core.rating.quota). Written only by
    application.customers.household_quota (audited); billing reads it."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="tier_quotas", verbose_name=_("account")
    )
    kind = models.CharField(_("kind"), max_length=32, default="large_household")
    persons = models.PositiveSmallIntegerField(_("persons"))
    policy = models.ForeignKey(
        HouseholdQuotaPolicy, on_delete=models.PROTECT, related_name="grants", verbose_name=_("policy")
    )
    applied_on = models.DateField(_("applied on"))
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    uplift_kwh = QuantityField(_("uplift (kWh)"))
    unit = models.CharField(_("unit"), max_length=16, choices=QuotaUnit.choices)
    tiers = models.CharField(_("tiers affected"), max_length=8, choices=QuotaTiers.choices)
    evidence = models.CharField(_("evidence"), max_length=300, validators=[validate_clean_text])
    note = models.CharField(_("note"), max_length=300, blank=True, validators=[validate_clean_text])
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("granted by"),
    )
    granted_at = models.DateTimeField(_("granted at"))
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ended by"),
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_from = models.DateField(_("ended from"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=300, blank=True)

    class Meta:
        ordering = ("account", "valid_from")
        verbose_name = _("tier quota grant")
        verbose_name_plural = _("tier quota grants")
        indexes = (models.Index(fields=["account", "valid_from"], name="tier_quota_account_idx"),)
        constraints = (
            models.CheckConstraint(condition=Q(uplift_kwh__gte=0), name="tier_quota_uplift_nonneg"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="tier_quota_to_after_from",
            ),
            models.CheckConstraint(
                condition=Q(ended_from__isnull=True) | Q(ended_from__gt=models.F("valid_from")),
                name="tier_quota_ended_after_from",
            ),
        )

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.valid_from}"
