from django.apps import AppConfig


class AuditingConfig(AppConfig):
    name = "wattdesk.domain.auditing"
    label = "auditing"
    verbose_name = "审计 Audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from wattdesk.domain import audit

        audit.register_models()
