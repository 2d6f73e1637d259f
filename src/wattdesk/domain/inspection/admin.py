"""Django admin for the inspection policy data: a system administrator enters a province's behaviour codes and
the 2024 rule set (from the official text) here. Cases are changed only through application.inspection."""

from django.contrib import admin

from wattdesk.domain.inspection.models import BehaviourCode, InspectionRuleSet


@admin.register(BehaviourCode)
class BehaviourCodeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "category", "method", "province", "active")
    list_filter = ("category", "province", "active")


@admin.register(InspectionRuleSet)
class InspectionRuleSetAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "effective_from", "effective_to")
