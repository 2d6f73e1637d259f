"""What a page tells the user when a use case refuses the input, in the page's language.

The application's errors carry an English message for the CLI and the API; an error that also carries a reason
code (an amount: :class:`wattdesk.application.payments.posting.AmountInvalid` /
:class:`wattdesk.core.money.AmountError`) is shown through the catalogs instead, so the Chinese UI never shows
``amount '1e20' is not an amount in yuan``.

    except InputError as exc:
        messages.error(request, user_message(exc))
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from wattdesk.interfaces.web.templatetags.fmt import format_fixed


def field_label(field: str) -> str:
    """The page's name of an amount field the application names in English (``money(..., name=...)``)."""
    labels = {
        "amount": _("金额"),
        "amount collected": _("收款金额"),
        "declared cash": _("申报现金"),
        "handed-over cash": _("交款金额"),
    }
    return labels.get(field) or _("金额")


def amount_message(reason: str, limit: Decimal | None = None, field: str = "amount") -> str:
    values = {"field": field_label(field), "limit": format_fixed(limit)}
    messages = {
        "empty": _("请填写%(field)s。"),
        "not_a_number": _("%(field)s格式不正确：请填写以元为单位的数字，最多两位小数，例如 120.50。"),
        "too_large": _("%(field)s超过上限 %(limit)s 元。"),
        "too_many_decimals": _("%(field)s最多两位小数（精确到分）。"),
        "not_positive": _("%(field)s必须大于 0。"),
        "negative": _("%(field)s不能为负数。"),
    }
    return (messages.get(reason) or _("%(field)s格式不正确。")) % values


def user_message(exc: BaseException) -> str:
    """The message for ``exc``: translated when it carries a reason code, its own text otherwise."""
    reason: Any = getattr(exc, "reason", None)
    if reason is not None and hasattr(exc, "limit") and hasattr(exc, "field"):
        return amount_message(str(reason), getattr(exc, "limit", None), str(getattr(exc, "field", "amount")))
    return str(exc)
