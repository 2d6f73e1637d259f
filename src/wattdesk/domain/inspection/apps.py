from django.apps import AppConfig


class InspectionConfig(AppConfig):
    name = "wattdesk.domain.inspection"
    label = "inspection"
    verbose_name = "用电检查 Inspection"
    default_auto_field = "django.db.models.BigAutoField"
