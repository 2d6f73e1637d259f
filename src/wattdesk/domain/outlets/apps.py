from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutletsConfig(AppConfig):
    name = "wattdesk.domain.outlets"
    label = "outlets"
    verbose_name = _("Payment outlets")
    default_auto_field = "django.db.models.BigAutoField"
