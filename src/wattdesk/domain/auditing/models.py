"""A marker model for batch writes in the audit trail (no table).

Bulk writes (billing run, readings import, onboarding…) bypass model signals, so they are recorded as one
``auditlog.LogEntry`` per batch whose content type is ``BatchOperation``: the audit page can filter them like
any other model. ``managed = False``: nothing is ever stored in a table of its own.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class BatchOperation(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("batch operation")
        verbose_name_plural = _("batch operations")
