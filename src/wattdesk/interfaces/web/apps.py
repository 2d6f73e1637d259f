from django.apps import AppConfig


class WebConfig(AppConfig):
    """The staff back office and the customer portal shell (server-rendered templates + HTMX)."""

    name = "wattdesk.interfaces.web"
    label = "web"
    verbose_name = "Web"
