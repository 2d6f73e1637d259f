"""Back office: disconnection and restore orders (停复电工单) in the user's scope.

* ``/disconnection-orders/?kind=&status=&account=``: the orders with filters (status: planned, awaiting
  approval, approved, executed, cancelled);
* ``POST /disconnection-orders/<id>/approve/``: a supervisor (``dunning.approve``) approves a notified
  disconnection whose notice period has elapsed;
* ``POST /disconnection-orders/<id>/execute/``: the field crew (``dunning.execute``) records the execution,
  with a note; a disconnection is re-checked at that moment (still owes, not protected, not at night, not on
  a public holiday) and refused with the reason otherwise.

Cancelling stays on the dunning page's endpoint (``dunning.manage``). Each action redirects back to the list
with the same filters and a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from wattdesk.application.dunning import disconnection
from wattdesk.application.errors import InputError
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.domain.dunning.models import OrderKind
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

nav.register(
    nav.NavItem(
        section="staff",
        order=73,
        label=_("停复电工单"),
        url_name="web:disconnection_orders",
        capability=roles.COLLECTION_VIEW,
        icon="plug-connected-x",
    )
)

ROWS = 300


@capability_required(roles.COLLECTION_VIEW)
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    account = request.GET.get("account", "").strip()[:32]
    errors: list[str] = []
    try:
        qs = disconnection.orders_for(user=request.user, kind=kind, status=status, account=account)
    except InputError as exc:
        errors.append(str(exc))
        qs = disconnection.orders_for(user=request.user)
    orders = [{"o": o, "state": disconnection.display_status(o)} for o in qs[:ROWS]]
    return render(
        request,
        "web/disconnection/orders.html",
        {
            "orders": orders,
            "kind": kind,
            "status": status,
            "account": account,
            "kinds": OrderKind.choices,
            "statuses": disconnection.FILTER_STATUSES,
            "errors": errors,
            "back": request.get_full_path(),
            "can_approve": has_capability(request.user, roles.DUNNING_APPROVE),
            "can_execute": has_capability(request.user, roles.DUNNING_EXECUTE),
            "can_cancel": has_capability(request.user, roles.DUNNING_MANAGE),
        },
        status=400 if errors else 200,
    )


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("back", "")
    base = reverse("web:disconnection_orders")
    ok = target.startswith(base) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    )
    return redirect(target if ok else base)


@capability_required(roles.DUNNING_APPROVE)
@require_POST
def order_approve(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        order = disconnection.approve_order(order_id=order_id, user=request.user, now=timezone.now())
    except disconnection.OrderNotFound:
        raise Http404("order") from None
    except InputError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _g("停电工单 %(id)s 已批准") % {"id": order.pk})
    return _back(request)


@capability_required(roles.DUNNING_EXECUTE)
@require_POST
def order_execute(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        done = disconnection.execute_order(
            order_id=order_id, user=request.user, now=timezone.now(), note=request.POST.get("note", "")
        )
    except disconnection.OrderNotFound:
        raise Http404("order") from None
    except InputError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _g("工单 %(id)s 已执行") % {"id": done.order.pk})
    return _back(request)


urlpatterns = [
    path("disconnection-orders/", order_list, name="disconnection_orders"),
    path("disconnection-orders/<int:order_id>/approve/", order_approve, name="disconnection_approve"),
    path("disconnection-orders/<int:order_id>/execute/", order_execute, name="disconnection_execute"),
]
