"""Back office: the cashier screen at a payment outlet (营业厅收费) and the door-to-door collector's phone
screen (走收): find an account, see what it owes, take a payment, print / reprint (重打) the receipt, close
the day (日结) or hand over the cash (交款). Views translate; the rules are in ``application.counter``."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from wattdesk.application.errors import InputError
from wattdesk.application.payments.channels import counter as use_case
from wattdesk.application.payments.posting import money
from wattdesk.core.chinese_numerals import amount_in_words
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.collection import queries as collection_queries
from wattdesk.domain.counter import queries
from wattdesk.domain.counter.models import PaymentMethod, Receipt
from wattdesk.domain.ledger import queries as ledger_queries
from wattdesk.domain.outlets.models import PaymentOutlet
from wattdesk.domain.payments.models import PaymentChannel
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required
from wattdesk.interfaces.web.errors import user_message

nav.register(nav.NavItem(section="staff", order=60, label=_("营业厅收费"), url_name="web:cashier",
                         capability=roles.PAYMENTS_COUNTER, icon="cash"))  # fmt: skip
nav.register(nav.NavItem(section="staff", order=61, label=_("走收"), url_name="web:collector",
                         capability=roles.PAYMENTS_COLLECT, icon="walk"))  # fmt: skip
nav.register(nav.NavItem(section="staff", order=62, label=_("日结审核"), url_name="web:cash_closes",
                         capability=roles.PAYMENTS_CLOSE_APPROVE, icon="clipboard-check"))  # fmt: skip

SESSION_OUTLET = "cashier_outlet"


def _outlets() -> list[tuple[str, str]]:
    """The active payment outlets (code, name) a cashier or collector can pick."""
    return list(PaymentOutlet.objects.filter(active=True).order_by("code").values_list("code", "name"))


def _uid(request: HttpRequest) -> int:
    return int(request.user.pk or 0)  # the views are behind capability_required: a logged-in user


def _account(request: HttpRequest, number: str) -> Any:
    number = (number or "").strip()
    if not number:
        return None
    acc = accounts_for(request.user).filter(number=number).select_related("customer").first()
    return acc


def _receipts(request: HttpRequest) -> Any:
    """Receipts the user may see: their own, or every receipt for a supervisor (admin)."""
    if request.user.is_superuser:
        return Receipt.objects.all()
    return Receipt.objects.filter(user_id=_uid(request))


@capability_required(roles.PAYMENTS_COUNTER)
def cashier(request: HttpRequest) -> HttpResponse:
    outlets = _outlets()
    if "outlet" in request.GET:
        request.session[SESSION_OUTLET] = request.GET["outlet"]
    outlet = request.session.get(SESSION_OUTLET) or (outlets[0][0] if outlets else "")
    number = request.GET.get("account", "")
    acc = _account(request, number)
    today = timezone.localdate()
    close = queries.cash_close(cashier_id=_uid(request), outlet_code=outlet, business_date=today)
    till = queries.expected_till(
        cashier_id=_uid(request), outlet_code=outlet, business_date=today, close=close
    )
    ctx: dict[str, Any] = {
        "outlets": outlets,
        "outlet": outlet,
        "number": number,
        "account": acc,
        "not_found": bool(number.strip()) and acc is None,
        "due": queries.due(account_id=acc.pk) if acc else None,
        "methods": PaymentMethod.choices,
        "token": uuid.uuid4().hex,
        "today": today,
        "receipts": queries.receipts_of_day(
            user_id=_uid(request), business_date=today, channels=queries.COUNTER_CHANNELS
        ).filter(outlet_code=outlet),
        "totals": till.totals,
        "handovers": till.handovers,  # collectors' cash received into this till today (交款入柜)
        "handover_cash": till.handover_cash,
        "expected_cash": till.expected_cash,
        "close": close,
        "closed": queries.day_closed(cashier_id=_uid(request), business_date=today),
    }
    return render(request, "web/cashier/cashier.html", ctx)


@capability_required(roles.PAYMENTS_COUNTER)
@require_POST
def cashier_pay(request: HttpRequest) -> HttpResponse:
    number = request.POST.get("account", "")
    if _account(request, number) is None:
        raise Http404
    try:
        r = use_case.take_counter_payment(
            account_number=number,
            amount=request.POST.get("amount", ""),
            method=request.POST.get("method", ""),
            user=request.user,
            outlet_code=request.POST.get("outlet", ""),
            received_at=timezone.now(),
            request_token=request.POST.get("token", ""),
        )
    except InputError as exc:
        messages.error(request, user_message(exc))
        return redirect(f"{reverse('web:cashier')}?account={number}")
    return redirect(f"{reverse('web:cashier_receipt')}?no={r.receipt_no}")


def _receipt_page(request: HttpRequest, *, reprint_no: int = 0) -> HttpResponse:
    no = request.GET.get("no") or request.POST.get("no", "")
    receipt = (
        _receipts(request)
        .filter(receipt_no=no)
        .select_related("account__customer", "user", "payment")
        .first()
    )
    if receipt is None:
        raise Http404
    back = "web:collector" if receipt.channel == PaymentChannel.COLLECTOR else "web:cashier"
    return render(
        request,
        "web/cashier/receipt.html",
        {
            "r": receipt,
            "company": settings.WATTDESK_BILL_ISSUER,
            "details": queries.receipt_details(receipt=receipt),
            "amount_words": amount_in_words(receipt.amount),
            "reprint_no": reprint_no,
            "back": back,
            "mobile": receipt.channel == PaymentChannel.COLLECTOR,
        },
    )


@capability_required(roles.PAYMENTS_COUNTER)
def cashier_receipt(request: HttpRequest) -> HttpResponse:
    return _receipt_page(request)


@capability_required(roles.PAYMENTS_COUNTER)
@require_POST
def cashier_reprint(request: HttpRequest) -> HttpResponse:
    try:
        _receipt, n = use_case.reprint(
            receipt_no=request.POST.get("no", ""), receipts=_receipts(request), user=request.user
        )
    except use_case.ReceiptNotFound:
        raise Http404 from None
    return _receipt_page(request, reprint_no=n)


@capability_required(roles.PAYMENTS_COUNTER)
@require_POST
def cashier_close(request: HttpRequest) -> HttpResponse:
    try:
        result = use_case.close_day(
            cashier=request.user,
            outlet_code=request.POST.get("outlet", ""),
            business_date=timezone.localdate(),
            declared_cash=request.POST.get("declared_cash", ""),
            reason=request.POST.get("reason", ""),
            closed_at=timezone.now(),
        )
    except InputError as exc:
        messages.error(request, user_message(exc))
        return redirect("web:cashier")
    if result.closed:
        messages.success(request, f"日结完成 / day closed: {result.status}")
    else:
        messages.error(
            request,
            f"现金差额 {result.discrepancy}：已记录，待主管审核后日结 / awaiting a supervisor's approval",
        )
    return redirect("web:cashier")


# --- cash close approval (日结审核): four eyes on a discrepancy --------------------------------------------


@capability_required(roles.PAYMENTS_CLOSE_APPROVE)
def cash_closes(request: HttpRequest) -> HttpResponse:
    ctx = {"pending": queries.pending_closes(), "recent": queries.approved_closes()}
    return render(request, "web/cashier/closes.html", ctx)


@capability_required(roles.PAYMENTS_CLOSE_APPROVE)
@require_POST
def cash_close_approve(request: HttpRequest, close_id: int) -> HttpResponse:
    try:
        close = use_case.approve_close(
            close_id=close_id,
            user=request.user,
            note=request.POST.get("note", ""),
            approved_at=timezone.now(),
        )
    except InputError as exc:
        messages.error(request, user_message(exc))
    else:
        messages.success(
            request, f"日结已审核 / cash close approved: {close.outlet_code} {close.business_date}"
        )
    return redirect("web:cash_closes")


# --- collector (走收), phone-sized ------------------------------------------------------------------------


COLLECTOR_PAGE_SIZE = 50
CONFIRM_SALT = "wattdesk.collector.confirm"
CONFIRM_MAX_AGE = 15 * 60  # seconds: a confirmation screen left open longer is shown again


def _collector_account(request: HttpRequest, number: str) -> Any:
    """An account the user collects on today (their debtors' definition: ``collector_accounts``), or None."""
    number = (number or "").strip()
    if not number:
        return None
    accounts = collection_queries.collector_accounts(user=request.user, on=timezone.localdate())
    return accounts.filter(number=number).select_related("customer").first()


@capability_required(roles.PAYMENTS_COLLECT)
def collector(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    total, count = queries.collected(collector_id=_uid(request), business_date=today)
    owing = collection_queries.debtors(
        accounts=collection_queries.collector_accounts(user=request.user, on=today)
    )
    page = Paginator(owing, COLLECTOR_PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "outlets": _outlets(),
        "work": collection_queries.debtor_details(debtors=list(page.object_list), on=today),
        "page": page,
        "debtors": len(owing),
        "unassigned": collection_queries.works_by_assignment(request.user)
        and not collection_queries.assigned_route_ids(user=request.user, on=today),
        "today": today,
        "collected": total,
        "count": count,
        "receipts": queries.receipts_of_day(
            user_id=_uid(request), business_date=today, channels=[PaymentChannel.COLLECTOR]
        ),
        "handover": queries.handover(collector_id=_uid(request), business_date=today),
    }
    return render(request, "web/collector/collector.html", ctx)


def _confirmation(*, user_id: int, account: str, amount: str, token: str) -> str:
    """The signed field that proves the collector saw the confirmation screen for this account, amount and
    form (one tap on 收现金 only opens that screen)."""
    return signing.dumps([user_id, account, amount, token], salt=CONFIRM_SALT)


@capability_required(roles.PAYMENTS_COLLECT)
def collector_confirm(request: HttpRequest) -> HttpResponse:
    """收现金 step 1: show the account, the name and the amount, and ask to confirm (nothing is posted)."""
    number = request.GET.get("account", "")
    acc = _collector_account(request, number)
    if acc is None:
        raise Http404
    try:
        amount = money(request.GET.get("amount", ""))
    except InputError as exc:
        messages.error(request, user_message(exc))
        return redirect("web:collector")
    token = uuid.uuid4().hex
    ctx = {
        "account": acc,
        "amount": amount,
        "amount_words": amount_in_words(amount),
        "owed": ledger_queries.balance(account_id=acc.pk),
        "token": token,
        "confirmation": _confirmation(
            user_id=_uid(request), account=acc.number, amount=str(amount), token=token
        ),
    }
    return render(request, "web/collector/confirm.html", ctx)


@capability_required(roles.PAYMENTS_COLLECT)
@require_POST
def collector_pay(request: HttpRequest) -> HttpResponse:
    """收现金 step 2: post the confirmed amount. Without the confirmation of step 1 for exactly this account,
    amount and form, nothing is posted."""
    number = request.POST.get("account", "")
    if _collector_account(request, number) is None:
        raise Http404
    token = request.POST.get("token", "")
    try:
        amount = str(money(request.POST.get("amount", "")))
    except InputError as exc:
        messages.error(request, user_message(exc))
        return redirect("web:collector")
    try:
        signed = signing.loads(
            request.POST.get("confirmation", ""), salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE
        )
    except signing.BadSignature:
        signed = None
    if signed != [_uid(request), number.strip(), amount, token]:
        messages.error(request, _("请先确认户号、户名和金额，再收款。"))
        return redirect("web:collector")
    try:
        r = use_case.collect_payment(
            account_number=number,
            amount=amount,
            user=request.user,
            received_at=timezone.now(),
            request_token=token,
        )
    except InputError as exc:
        messages.error(request, user_message(exc))
        return redirect("web:collector")
    return redirect(f"{reverse('web:collector_receipt')}?no={r.receipt_no}")


@capability_required(roles.PAYMENTS_COLLECT)
def collector_receipt(request: HttpRequest) -> HttpResponse:
    return _receipt_page(request)


@capability_required(roles.PAYMENTS_COLLECT)
@require_POST
def collector_handover(request: HttpRequest) -> HttpResponse:
    try:
        h = use_case.hand_over(
            collector=request.user,
            business_date=timezone.localdate(),
            handed_over=request.POST.get("handed_over", ""),
            receiver_username=request.POST.get("receiver", ""),
            reason=request.POST.get("reason", ""),
            handed_at=timezone.now(),
            outlet_code=request.POST.get("outlet", ""),
        )
    except InputError as exc:
        messages.error(request, user_message(exc))
        return redirect("web:collector")
    messages.success(request, f"交款 {h.handed_over} → {h.receiver}（差额 {h.discrepancy}）")
    return redirect("web:collector")
