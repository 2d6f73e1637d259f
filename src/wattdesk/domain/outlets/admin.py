from __future__ import annotations

from django.contrib import admin

from wattdesk.domain.outlets import models as m


@admin.register(m.PaymentOutlet)
class PaymentOutletAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "kind", "region", "lat", "lon", "active")
    list_filter = ("kind", "active", "region")
    search_fields = ("code", "name")
    list_select_related = ("region",)


@admin.register(m.CandidateSite)
class CandidateSiteAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "kind", "lat", "lon", "cost")
    list_filter = ("kind",)
    search_fields = ("code", "name")
