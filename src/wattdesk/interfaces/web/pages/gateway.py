"""Online payment (在线缴费) in the customer portal, and the payment gateway's callback endpoint.

* ``/portal/pay/``: the customer picks one of their accounts and an amount (default: what the account owes),
  WattDesk creates a payment order and sends the browser to the gateway's pay page
  (``settings.WATTDESK_GATEWAY_PAY_URL``) with the order number, the amount and the return URL.
* ``/portal/pay/result/?order=``: the order's status (the gateway's callback arrives asynchronously).
* ``/gateway/reconcile/`` (staff, ``payments.reconcile``): upload the gateway's statement file for a day, see every
  mismatch by kind with counts (对账), or download them as CSV (the same upload with "export CSV"). A bad file is
  refused with its row and column and nothing is stored; a good one leaves one audit entry.
* ``POST /gateway/callback/``: public and CSRF-exempt — authenticated by the HMAC signature of the body
  instead (docs/payments-gateway.md); the answer is a one-line JSON ``{"outcome", "detail"}`` with 200 for a
  posted or already-processed payment, 4xx for a refusal.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from wattdesk.application.errors import InputError
from wattdesk.application.payments.channels import gateway, gateway_reconciliation
from wattdesk.core import gateway_signing
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.ledger.queries import balance
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required, public
from wattdesk.interfaces.web.errors import user_message
from wattdesk.interfaces.web.security import CONTENT_SECURITY_POLICY

nav.register(
    nav.NavItem(
        section="portal",
        order=15,
        label=_("缴费"),
        url_name="web:portal_pay",
        capability=roles.PORTAL_USE,
        icon="credit-card",
    )
)

nav.register(
    nav.NavItem(
        section="staff",
        order=76,
        label=_("线上缴费对账"),
        url_name="web:gateway_reconcile",
        capability=roles.PAYMENTS_RECONCILE,
        icon="arrows-exchange",
    )
)


def _accounts(request: HttpRequest) -> list[dict[str, object]]:
    out = []
    for account in accounts_for(request.user).order_by("number")[:50]:
        owed = balance(account_id=account.pk)
        out.append({"number": account.number, "due": owed if owed > 0 else Decimal("0.00")})
    return out


@capability_required(roles.PORTAL_USE)
def portal_pay(request: HttpRequest) -> HttpResponse:
    accounts = _accounts(request)
    chosen = request.POST.get("account") or request.GET.get("account") or ""
    if not chosen and accounts:
        chosen = str(accounts[0]["number"])
    due = next((a["due"] for a in accounts if a["number"] == chosen), Decimal("0.00"))
    error = ""
    amount = request.POST.get("amount", "").strip() or (str(due) if due else "")
    status = 200
    if request.method == "POST":
        try:
            order = gateway.create_order(
                user=request.user, account_number=chosen, amount=amount, created_at=timezone.now()
            )
        except gateway.AccountNotFound:
            raise Http404("account") from None
        except InputError as exc:
            error, status = user_message(exc), 400
        else:
            back = request.build_absolute_uri(reverse("web:portal_pay_result") + f"?order={order.order_no}")
            query = urlencode({"order_no": order.order_no, "amount": str(order.amount), "return_url": back})
            return redirect(f"{settings.WATTDESK_GATEWAY_PAY_URL}?{query}")
    context = {"accounts": accounts, "chosen": chosen, "amount": amount, "error": error}
    return _allow_gateway_form_action(render(request, "web/gateway/pay.html", context, status=status))


def _allow_gateway_form_action(response: HttpResponse) -> HttpResponse:
    """The pay form posts to us and is redirected to the gateway's pay page; browsers apply the page's CSP
    ``form-action`` to every redirect of a form submission, so ``'self'`` alone blocks the payment. This page's
    policy also allows the gateway's origin (the security middleware keeps a header the view has set)."""
    url = urlsplit(settings.WATTDESK_GATEWAY_PAY_URL)
    policy = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {url.scheme}://{url.netloc}"
    )
    response["Content-Security-Policy"] = policy
    return response


@capability_required(roles.PORTAL_USE)
def portal_pay_result(request: HttpRequest) -> HttpResponse:
    order_no = request.GET.get("order", "").strip()
    order = gateway.visible_orders(user=request.user).filter(order_no=order_no).first() if order_no else None
    if order_no and order is None:
        raise Http404("order")
    recent = list(gateway.visible_orders(user=request.user)[:10])
    return render(request, "web/gateway/result.html", {"order": order, "recent": recent})


@public
@csrf_exempt
@require_POST
def gateway_callback(request: HttpRequest) -> HttpResponseBase:
    result = gateway.handle_callback(
        body=request.body,
        signature=request.headers.get(gateway_signing.SIGNATURE_HEADER, ""),
        received_at=timezone.now(),
    )
    return JsonResponse({"outcome": result.outcome, "detail": result.detail}, status=result.http_status)


@capability_required(roles.PAYMENTS_RECONCILE)
@require_http_methods(["GET", "POST"])
def gateway_reconcile(request: HttpRequest) -> HttpResponse:
    day_text = (request.POST.get("day") or request.GET.get("day") or "").strip()
    context: dict[str, object] = {
        "day": day_text or timezone.localdate().isoformat(),
        "error": "",
        "result": None,
    }
    if request.method == "GET":
        return render(request, "web/gateway/reconcile.html", context)
    upload = request.FILES.get("statement")
    fetch = request.POST.get("source") == "gateway"
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        context["error"] = _g("日期格式应为 YYYY-MM-DD：%(v)s") % {"v": day_text[:20]}
        return render(request, "web/gateway/reconcile.html", context, status=400)
    if upload is None and not fetch:
        context["error"] = _g("请选择对账单文件")
        return render(request, "web/gateway/reconcile.html", context, status=400)
    if upload is not None and not fetch and (upload.size or 0) > gateway_reconciliation.MAX_BYTES:
        context["error"] = _g("对账单文件过大")
        return render(request, "web/gateway/reconcile.html", context, status=400)
    try:
        if fetch:
            content = gateway_reconciliation.fetch_statement(day=day)
            name = gateway_reconciliation.statement_url(day)
        else:
            assert upload is not None
            content, name = upload.read(), upload.name or "statement"
        result = gateway_reconciliation.reconcile_upload(
            content=content, day=day, user=request.user, now=timezone.now(), name=name
        )
    except InputError as exc:
        context["error"] = user_message(exc)
        return render(request, "web/gateway/reconcile.html", context, status=400)
    if request.POST.get("format") == "csv":
        response = HttpResponse(
            gateway_reconciliation.mismatches_csv(result.mismatches), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="reconciliation-{day.isoformat()}.csv"'
        return response
    context["result"] = result
    context["counts"] = [(k, n) for k, n in result.counts.items()]
    return render(request, "web/gateway/reconcile.html", context)
