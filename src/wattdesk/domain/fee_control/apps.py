from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeeControlConfig(AppConfig):
    name = "wattdesk.domain.fee_control"
    label = "fee_control"
    verbose_name = _("Fee control")
    default_auto_field = "django.db.models.BigAutoField"
