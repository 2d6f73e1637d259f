"""Read-only view of the ledger: entries are posted by operations and corrected by reversals only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from wattdesk.domain.ledger import models as m


@admin.register(m.LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "account", "kind", "amount", "bill", "posted_at", "reverses", "memo")
    list_filter = ("kind",)
    search_fields = ("account__number", "account__customer__name", "memo")
    date_hierarchy = "posted_at"
    list_select_related = ("account", "bill", "reverses")
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
