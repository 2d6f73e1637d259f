"""Back-office screens for tariffs (电价)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from wattdesk.domain.tariffs import models as m


@admin.register(m.TariffVersion)
class TariffVersionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "version", "name", "effective_from", "effective_to")
    list_filter = ("code",)
    search_fields = ("code", "name", "version")
    date_hierarchy = "effective_from"


@admin.register(m.TariffAssignment)
class TariffAssignmentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("service_point", "tariff_code", "effective_from", "effective_to")
    list_filter = ("tariff_code",)
    search_fields = ("service_point__number", "service_point__account__number", "tariff_code")
    raw_id_fields = ("service_point",)
    list_select_related = ("service_point",)


@admin.register(m.SubUseAgreement)
class SubUseAgreementAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read only: agreements are created and ended through the audited use cases (POST /api/sub-uses)."""

    list_display = (
        "service_point",
        "label",
        "mode",
        "value",
        "tariff_code",
        "effective_from",
        "effective_to",
    )
    list_filter = ("mode", "tariff_code")
    search_fields = ("service_point__number", "service_point__account__number", "label", "tariff_code")
    list_select_related = ("service_point",)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
