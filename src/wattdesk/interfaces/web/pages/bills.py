"""Back office: bill list (账单查询) and the bill document (电费账单), print-ready HTML and PDF.

Bills come through ``bills_for(request.user)``: a collector sees only the bills of their routes / regions and
a bill id outside the scope is a 404. The document is ``application.bill_document`` (the portal uses the
same functions).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from wattdesk.application.billing.document import bill_document, render_pdf
from wattdesk.core.period import Period
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import bills_for
from wattdesk.domain.billing.models import BillStatus
from wattdesk.domain.billing.queries import latest_billed_period
from wattdesk.domain.customers.models import CustomerClass
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required
from wattdesk.interfaces.web.keyset import Key, count_matches, keyset_page

nav.register(
    nav.NavItem(
        section="staff",
        order=60,
        label=_("账单查询"),
        url_name="web:bills",
        capability=roles.BILLING_VIEW,
        icon="file-invoice",
    )
)

PAGE_SIZE = 50
#: The bill count stops here ("more than 10,000 bills"): an exact count of a 1,000,000-bill period scans it all.
COUNT_CAP = 10_000


@capability_required(roles.BILLING_VIEW)
@require_GET
def bills(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period", "").strip()
    if not Period.is_valid(period):
        # The latest period billed in the user's scope; the previous calendar month only when nothing is billed.
        period = latest_billed_period(bills_for(request.user)) or str(
            Period.of(timezone.localdate()).previous()
        )
    status = request.GET.get("status", "")
    klass = request.GET.get("class", "")
    route = request.GET.get("route", "").strip()[:32]
    qs = bills_for(request.user).filter(period=period)
    if status in BillStatus.values:
        qs = qs.filter(status=status)
    if klass in CustomerClass.values:
        qs = qs.filter(account__customer__customer_class=klass)
    if route:
        qs = qs.filter(account__service_points__route__code=route).distinct()
    count, more = count_matches(qs, cap=COUNT_CAP)
    # Keyset pages in account-number order (then bill id: a later version after the earlier one), so a
    # deep page costs what the first does; the links carry the key of the last / first row shown.
    page = keyset_page(
        qs.select_related("account", "account__customer"),
        column="account__number",
        size=PAGE_SIZE,
        after=Key.parse(request.GET.get("after")),
        before=Key.parse(request.GET.get("before")),
    )
    filters = {"period": period, "status": status, "class": klass, "route": route}
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "web/bills/list.html",
        {
            "page": page,
            "count": count,
            "count_capped": more,
            "count_cap": COUNT_CAP,
            "filters": filters,
            "query": query,
            "statuses": BillStatus.choices,
            "classes": CustomerClass.choices,
        },
    )


@capability_required(roles.BILLING_VIEW)
@require_GET
def bill_detail(request: HttpRequest, bill_id: int) -> HttpResponse:
    bill = get_object_or_404(bills_for(request.user), pk=bill_id)
    return render(request, "web/bills/document.html", {"doc": bill_document(bill_id=bill.pk)})


@capability_required(roles.BILLING_VIEW)
@require_GET
def bill_pdf(request: HttpRequest, bill_id: int) -> HttpResponse:
    bill = get_object_or_404(bills_for(request.user), pk=bill_id)
    doc = bill_document(bill_id=bill.pk)
    response = HttpResponse(render_pdf(doc), content_type="application/pdf")
    name = get_valid_filename(f"bill-{doc.account_number}-{doc.period}-v{doc.version}.pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


urlpatterns = [
    path("bills/", bills, name="bills"),
    path("bills/<int:bill_id>/", bill_detail, name="bill_detail"),
    path("bills/<int:bill_id>/pdf", bill_pdf, name="bill_pdf"),
]
