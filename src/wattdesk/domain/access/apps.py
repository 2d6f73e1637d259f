from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "wattdesk.domain.access"
    label = "access"
    verbose_name = "访问控制 Access"
    default_auto_field = "django.db.models.BigAutoField"
