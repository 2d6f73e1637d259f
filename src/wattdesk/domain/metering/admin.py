from django.contrib import admin

from wattdesk.domain.metering import models as m


class RegisterInline(admin.TabularInline):  # type: ignore[type-arg]
    model = m.MeterRegister
    extra = 0


class InstallationInline(admin.TabularInline):  # type: ignore[type-arg]
    model = m.MeterInstallation
    extra = 0
    raw_id_fields = ("service_point",)


@admin.register(m.Meter)
class MeterAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("serial", "multiplier", "digits", "interval", "max_kw_physical")
    search_fields = ("serial",)
    list_filter = ("interval",)
    inlines = (RegisterInline, InstallationInline)


@admin.register(m.MeterInstallation)
class MeterInstallationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("meter", "service_point", "installed_on", "removed_on")
    search_fields = ("meter__serial", "service_point__number")
    raw_id_fields = ("meter", "service_point")


@admin.register(m.ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("file_name", "kind", "rows", "status", "created_at")
    readonly_fields = ("file_name", "sha256", "kind", "rows", "status", "created_at")


@admin.register(m.RegisterReading)
class RegisterReadingAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("register", "read_on", "value", "advance", "consumption", "source", "status")
    list_filter = ("status", "source", "register__kind")
    search_fields = ("register__meter__serial",)
    date_hierarchy = "read_on"
    raw_id_fields = ("register", "import_batch")


@admin.register(m.IntervalFile)
class IntervalFileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("meter", "start", "end", "rows", "kwh", "path")
    search_fields = ("meter__serial",)
    raw_id_fields = ("meter", "batch")


@admin.register(m.ReadingException)
class ReadingExceptionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("period", "meter", "check_code", "severity", "resolved", "reason")
    list_filter = ("period", "check_code", "severity", "resolved")
    search_fields = ("meter__serial",)
    raw_id_fields = ("meter", "register", "reading", "import_batch")
