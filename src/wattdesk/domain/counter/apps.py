from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CounterConfig(AppConfig):
    name = "wattdesk.domain.counter"
    label = "counter"
    verbose_name = _("Counter and collectors")
    default_auto_field = "django.db.models.BigAutoField"
