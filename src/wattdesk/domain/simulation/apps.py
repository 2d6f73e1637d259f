from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SimulationConfig(AppConfig):
    name = "wattdesk.domain.simulation"
    label = "simulation"
    verbose_name = _("Tariff-change simulations")
    default_auto_field = "django.db.models.BigAutoField"
