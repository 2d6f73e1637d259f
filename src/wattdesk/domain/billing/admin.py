"""Back-office screens for billing runs and bills. Issued and cancelled bills are read-only: a correction
is a new bill version (see billing.operations), never an edit."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from wattdesk.domain.billing import models as m

FINAL_STATUSES = (m.BillStatus.ISSUED, m.BillStatus.CANCELLED)


def _is_final(obj: m.Bill | None) -> bool:
    return obj is not None and obj.status in FINAL_STATUSES


class BillLineInline(admin.TabularInline):  # type: ignore[type-arg]
    model = m.BillLine
    extra = 0
    fields = ("seq", "code", "description", "quantity", "unit", "rate", "amount", "rule")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _is_final(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _is_final(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _is_final(obj) and super().has_delete_permission(request, obj)


@admin.register(m.Bill)
class BillAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("account", "period", "version", "status", "kwh", "total", "due_on", "run")
    list_filter = ("status", "period")
    search_fields = ("account__number", "account__customer__name", "period")
    raw_id_fields = ("account", "run", "replaces")
    list_select_related = ("account", "run")
    inlines = (BillLineInline,)

    def has_change_permission(self, request: HttpRequest, obj: m.Bill | None = None) -> bool:
        # Final bills stay viewable (view permission) but the form is read-only.
        return not _is_final(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: m.Bill | None = None) -> bool:
        return not _is_final(obj) and super().has_delete_permission(request, obj)


@admin.register(m.BillingRun)
class BillingRunAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "period", "route", "status", "started_at", "finished_at", "counts")
    list_filter = ("status", "period")
    search_fields = ("period", "route__code")
    readonly_fields = ("period", "route", "started_at", "finished_at", "status", "counts")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are started by `wattdesk bill run`, which owns the transaction
