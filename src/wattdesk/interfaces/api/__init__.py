"""The REST API under ``/api/`` (django-ninja): token or session auth, one capability per endpoint, objects
fetched through the scoped querysets of ``wattdesk.domain.access.queries``. See docs/api.md."""
