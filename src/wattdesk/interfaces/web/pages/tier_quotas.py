"""Back office: an account's tier quotas (一户多人口 阶梯电量基数核增).

* ``/customers/<number>/tier-quotas/``: the account's quotas (``customers.view``, scoped), with the grant form
  for a user holding ``billing.review``.
* ``POST /customers/<number>/tier-quotas/grant/``: grant one (``billing.review``) through the one use case
  ``application.customers.household_quota.grant_quota`` (account lock, audit entry); a refusal comes back as a
  message with the reason. Ending a quota is ``POST /api/tier-quotas/{id}/end``.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.views.decorators.http import require_GET, require_POST

from wattdesk.application.customers import household_quota as quotas
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for, has_capability
from wattdesk.domain.customers.models import HouseholdQuotaPolicy
from wattdesk.interfaces.web.access import capability_required
from wattdesk.interfaces.web.errors import user_message


@capability_required(roles.CUSTOMERS_VIEW)
@require_GET
def tier_quotas(request: HttpRequest, number: str) -> HttpResponse:
    account = get_object_or_404(accounts_for(request.user).select_related("customer"), number=number)
    today = timezone.localdate()
    policies = sorted(
        set(
            HouseholdQuotaPolicy.objects.filter(effective_from__lte=today)
            .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=today))
            .values_list("code", flat=True)
        )
    )
    context = {
        "account": account,
        "quotas": quotas.quotas_of(account_number=account.number),
        "can_grant": has_capability(request.user, roles.BILLING_REVIEW),
        "policies": policies,
        "default_policy": quotas.DEFAULT_POLICY,
        "today": today,
    }
    return render(request, "web/customers/tier_quotas.html", context)


@capability_required(roles.BILLING_REVIEW)
@require_POST
def tier_quota_grant(request: HttpRequest, number: str) -> HttpResponse:
    account = get_object_or_404(accounts_for(request.user), number=number)
    back = redirect("web:tier_quotas", number=account.number)
    try:
        persons = int(request.POST.get("persons", ""))
        applied_on = date.fromisoformat(request.POST.get("applied_on", ""))
    except ValueError:
        messages.error(request, _g("人口数和申请日期必须填写正确"))
        return back
    try:
        q = quotas.grant_quota(
            account_number=account.number,
            persons=persons,
            evidence=request.POST.get("evidence", ""),
            applied_on=applied_on,
            user=request.user,
            granted_at=timezone.now(),
            policy_code=request.POST.get("policy", quotas.DEFAULT_POLICY)[:32],
            note=request.POST.get("note", ""),
        )
    except quotas.QuotaInputError as exc:
        messages.error(request, user_message(exc))
        return back
    messages.success(
        request,
        _g("已核增阶梯电量基数：%(from)s 起，%(kwh)s 千瓦时")
        % {"from": q.valid_from, "kwh": q.uplift_kwh.normalize()},
    )
    return back


urlpatterns = [
    path("customers/<str:number>/tier-quotas/", tier_quotas, name="tier_quotas"),
    path("customers/<str:number>/tier-quotas/grant/", tier_quota_grant, name="tier_quota_grant"),
]
