"""Back-office screens for customer master data (客户档案)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.customers import models as m


@admin.register(m.Region)
class RegionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(m.ReadingRoute)
class ReadingRouteAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "region")
    list_filter = ("region",)
    search_fields = ("code", "name")
    list_select_related = ("region",)


@admin.register(m.TransformerArea)
class TransformerAreaAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "region", "capacity_kva")
    list_filter = ("region",)
    search_fields = ("code", "name")
    list_select_related = ("region",)


class AccountInline(admin.TabularInline):  # type: ignore[type-arg]
    model = m.Account
    extra = 0
    fields = ("number", "status", "opened_on", "closed_on", "billing_day", "prepaid")
    show_change_link = True


@admin.register(m.Customer)
class CustomerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "number",
        "name",
        "kind",
        "customer_class",
        "phone",
        "masked_id",
        "protected",
        "created_at",
    )
    list_filter = ("kind", "customer_class", "protected")
    search_fields = ("number", "name", "phone")
    date_hierarchy = "created_at"
    inlines = (AccountInline,)

    @admin.display(description=_("ID / credit code"))
    def masked_id(self, obj: m.Customer) -> str:
        return obj.id_number_masked


class ServicePointInline(admin.StackedInline):  # type: ignore[type-arg]
    model = m.ServicePoint
    extra = 0
    raw_id_fields = ("region", "route", "transformer_area")
    show_change_link = True


@admin.register(m.Account)
class AccountAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("number", "customer", "status", "billing_day", "prepaid", "opened_on", "closed_on")
    list_filter = ("status", "prepaid", "billing_day", "customer__customer_class")
    search_fields = ("number", "customer__number", "customer__name", "billing_address")
    raw_id_fields = ("customer",)
    list_select_related = ("customer",)
    inlines = (ServicePointInline,)


@admin.register(m.ServicePoint)
class ServicePointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "number",
        "account",
        "address",
        "region",
        "route",
        "transformer_area",
        "voltage_kv",
        "capacity_kva",
    )
    list_filter = ("region", "route", "voltage_kv", "account__customer__customer_class")
    search_fields = ("number", "address", "account__number", "account__customer__name")
    raw_id_fields = ("account", "region", "route", "transformer_area")
    list_select_related = ("account", "region", "route", "transformer_area")


@admin.register(m.HouseholdQuotaPolicy)
class HouseholdQuotaPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """一户多人口 policy versions (effective-dated data, audited). Grants are made only through the audited use
    case (application.customers.household_quota), never here."""

    list_display = (
        "code",
        "effective_from",
        "effective_to",
        "min_persons",
        "basis",
        "uplift_kwh",
        "unit",
        "tiers",
        "starts",
        "validity_months",
        "annual_mode",
    )
    list_filter = ("code", "unit", "tiers", "annual_mode")
    search_fields = ("code", "name", "source")
