"""Back office: differentiated dunning (差异化催费): the day's actions, the outbox status and the
disconnection / restore orders, within the user's scope; cancel a planned disconnection with a reason."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from wattdesk.application.dunning.nightly import OrderCancelRefused, cancel_disconnection
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for, has_capability
from wattdesk.domain.dunning import queries
from wattdesk.domain.dunning.models import Channel, OutboxMessage, OutboxStatus
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

nav.register(
    nav.NavItem(
        section="staff",
        order=72,
        label=_("催费与停复电"),
        url_name="web:dunning",
        capability=roles.COLLECTION_VIEW,
        icon="speakerphone",
    )
)

ROWS = 200


@capability_required(roles.COLLECTION_VIEW)
@require_GET
def dunning(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    day = timezone.localdate()
    text = request.GET.get("day", "")
    if text:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            errors.append(_g("日期格式应为 YYYY-MM-DD：%(v)s") % {"v": text[:20]})
    scope = accounts_for(request.user)
    actions = list(queries.actions_on(day=day, accounts=scope)[:ROWS])
    counts = queries.outbox_status_counts(accounts=scope)
    statuses = [s.value for s in OutboxStatus]
    outbox = [
        {"channel": label, "counts": [counts.get((value, s), 0) for s in statuses]}
        for value, label in Channel.choices
    ]
    recent = list(
        OutboxMessage.objects.filter(action__account__in=scope)
        .select_related("action__account")
        .order_by("-created_at", "-id")[:50]
    )
    orders = list(queries.orders(accounts=scope)[:ROWS])
    return render(
        request,
        "web/dunning/dunning.html",
        {
            "day": day,
            "errors": errors,
            "actions": actions,
            "statuses": statuses,
            "outbox": outbox,
            "recent": recent,
            "orders": orders,
            "can_cancel": has_capability(request.user, roles.DUNNING_MANAGE),
        },
        status=400 if errors else 200,
    )


@capability_required(roles.DUNNING_MANAGE)
@require_POST
def cancel_order(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        order = cancel_disconnection(
            order_id=order_id,
            reason=request.POST.get("reason", ""),
            user=request.user,
            accounts=accounts_for(request.user),
        )
    except OrderCancelRefused as exc:
        messages.error(request, str(exc))
        return redirect("web:dunning")
    messages.success(request, _g("停电工单 %(id)s 已取消") % {"id": order.pk})
    return redirect("web:dunning")


urlpatterns = [
    path("dunning/", dunning, name="dunning"),
    path("dunning/orders/<int:order_id>/cancel/", cancel_order, name="dunning_cancel_order"),
]
