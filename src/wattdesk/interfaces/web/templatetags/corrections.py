"""``{% bill_adjustments bill_id %}`` / ``{% bill_adjustments bill_id portal=True %}``: the 退补单 linked to a
bill, listed on the back-office bill page and the portal bill page (customers see only issued ones), with the
"new 退补" link for staff allowed to create one."""

from __future__ import annotations

from typing import Any

from django import template

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability

register = template.Library()


@register.inclusion_tag("web/corrections/_bill_adjustments.html", takes_context=True)
def bill_adjustments(context: Any, bill_id: int, portal: bool = False, status: str = "") -> dict[str, Any]:
    from wattdesk.interfaces.web.pages.corrections import adjustment_links

    user = context["request"].user
    return {
        "links": adjustment_links(user=user, bill_id=bill_id, portal=portal),
        "portal": portal,
        "bill_id": bill_id,
        "can_create": status == "issued" and not portal and has_capability(user, roles.BILLING_REVIEW),
    }


@register.inclusion_tag("web/corrections/_account_adjustments.html", takes_context=True)
def account_adjustments(context: Any, account_number: str) -> dict[str, Any]:
    """The 退补单 of an account (the 360° page), each with its original bill and a link to the document."""
    from django.urls import reverse

    from wattdesk.domain.access.queries import bills_for
    from wattdesk.domain.billing.models import BillAdjustment

    user = context["request"].user
    rows = (
        BillAdjustment.objects.filter(account__number=account_number, original_bill__in=bills_for(user))
        .select_related("original_bill")
        .order_by("-created_at", "-id")
    )
    return {"links": [(a, reverse("web:adjustment_detail", kwargs={"adjustment_id": a.pk})) for a in rows]}
