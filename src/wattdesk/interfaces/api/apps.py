from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API (django-ninja) and its access tokens."""

    name = "wattdesk.interfaces.api"
    label = "api"
    verbose_name = "REST API"
    default_auto_field = "django.db.models.BigAutoField"
