from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChangesConfig(AppConfig):
    name = "wattdesk.domain.changes"
    label = "changes"
    verbose_name = _("Service changes")
    default_auto_field = "django.db.models.BigAutoField"
