from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DunningConfig(AppConfig):
    name = "wattdesk.domain.dunning"
    label = "dunning"
    verbose_name = _("Dunning")
    default_auto_field = "django.db.models.BigAutoField"
