from django.contrib import admin

from wattdesk.domain.access.models import CustomerLogin, StaffScope


@admin.register(StaffScope)
class StaffScopeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "all_regions")
    filter_horizontal = ("regions", "routes")
    search_fields = ("user__username",)


@admin.register(CustomerLogin)
class CustomerLoginAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "customer")
    search_fields = ("user__username", "customer__number", "customer__name")
    raw_id_fields = ("customer",)
