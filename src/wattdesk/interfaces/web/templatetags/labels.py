"""Template filters that print a stored code with the model's own label, so every page names a status the
same way (the choices' labels, translated by the catalogs).

    {% load labels %}  {{ h.status|bill_status }}  {{ "held"|bill_status }}
"""

from __future__ import annotations

from django import template

from wattdesk.domain.billing.models import BillStatus

register = template.Library()


@register.filter
def bill_status(code: str) -> str:
    """The label of a bill status code (``BillStatus``); an unknown code is printed as it is."""
    try:
        return str(BillStatus(code).label)
    except ValueError:
        return str(code)
