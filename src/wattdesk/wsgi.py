"""WSGI entry point: ``gunicorn wattdesk.wsgi`` (or any WSGI server)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wattdesk.settings")

application = get_wsgi_application()
