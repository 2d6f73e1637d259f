"""The audit trail's Django app (label ``auditing``): registers the models to audit when Django starts.

What is audited and how batch writes are recorded is in ``wattdesk.domain.audit``.
"""
