from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollectionConfig(AppConfig):
    name = "wattdesk.domain.collection"
    label = "collection"
    verbose_name = _("Collection management")
    default_auto_field = "django.db.models.BigAutoField"
