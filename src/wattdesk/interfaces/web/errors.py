"""What a page tells the user when a use case refuses the input, in the page's language.

The application's errors carry an English message for the CLI and the API; an error that also carries a reason
code (an amount: :class:`wattdesk.application.payments.posting.AmountInvalid` /
:class:`wattdesk.core.money.AmountError`) is shown through the catalogs instead, so the Chinese UI never shows
``amount '1e20' is not an amount in yuan``.

    except InputError as exc:
        messages.error(request, user_message(exc))
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from wattdesk.domain.inspection.models import CaseStatus
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
    row_error: Any = getattr(exc, "row_error", None)  # a file refused as a whole (its encoding), by line
    if str(getattr(row_error, "code", None) or ""):
        return _("%(file)s 第 %(line)s 行：%(reason)s") % {
            "file": getattr(exc, "file_name", "") or "-",
            "line": row_error.row,
            "reason": row_error_message(row_error),
        }
    coded = reason_message(str(getattr(exc, "reason_code", "") or ""), getattr(exc, "params", None) or {})
    return coded if coded is not None else str(exc)


def reason_message(code: str, params: Mapping[str, Any]) -> str | None:
    """A use case's refusal by its ``reason_code`` and ``params`` (the inspection cases' ``CaseRefused``) in the
    page's language; None for a code without a message here (the page shows the English message then)."""
    fields = {
        "inspector": _("检查人员"),
        "evidence": _("证据"),
        "reason": _("原因"),
        "note": _("备注"),
        "kind": _("类型"),
    }
    actions = {
        "compute": _("计算"),
        "approve": _("审批"),
        "post": _("入账"),
        "reject": _("驳回"),
        "reverse": _("冲正"),
    }
    status = str(params.get("status", ""))
    values = {
        **{str(k): v for k, v in params.items()},
        "field": fields.get(str(params.get("field", "")), str(params.get("field", ""))),
        "action": actions.get(str(params.get("action", "")), str(params.get("action", ""))),
        "status": CaseStatus(status).label if status in CaseStatus.values else status,
    }
    messages = {
        "required": _("请填写%(field)s。"),
        "too_long": _("%(field)s不能超过 %(limit)s 个字。"),
        "inspection.capability": _("用电检查需要账单审核权限。"),
        "inspection.state": _("立案 #%(case_id)s 当前为“%(status)s”，不能%(action)s。"),
        "inspection.found_on_late": _("查获日期 %(found_on)s 晚于立案日期。"),
        "inspection.behaviour": _("没有启用的违约用电/窃电行为代码 %(code)s。"),
        "inspection.too_large": _("按所填事实计算的金额超出账单可记载的范围：请检查容量、天数和电价。"),
        "inspection.nothing": _("按所填事实计算没有应收金额（0.00）：请检查日期和容量。"),
        "inspection.four_eyes": _("立案 #%(case_id)s 须由立案人、计算人以外的另一人审批。"),
        # 一户多人口 tier quotas (application.customers.household_quota)
        "quota.persons_range": _("人口数须为 1 至 %(max)s 的整数。"),
        "quota.applied_late": _("申请日期 %(applied_on)s 晚于核增日期。"),
        "quota.persons_min": _("%(persons)s 人不符合政策 %(policy)s 的条件（至少 %(min)s 人）。"),
        "quota.residential_only": _("户号 %(account)s 不是居民用户：政策 %(policy)s 只核增居民用户。"),
        "quota.closed": _("户号 %(account)s 已于 %(closed_on)s 销户。"),
        "quota.billed": _(
            "户号 %(account)s 已出账至 %(latest)s：核增只改变 %(month)s 起未出账的月份（已出账的月份请退补）。"
        ),
        "quota.clash": _(
            "户号 %(account)s 已有 %(start)s 至 %(until)s 的同类核增（#%(grant)s）：请先终止，或从其终止月起申请。"
        ),
    }
    text = messages.get(code)
    return text % values if text is not None else None


def row_error_message(error: Any) -> str:
    """An import's row error (:class:`wattdesk.application.tabular.RowError`) in the page's language: through
    the catalogs when it carries a reason code, its English reason otherwise (a reason with no code yet)."""

    def get(key: str) -> Any:
        return error.get(key) if isinstance(error, Mapping) else getattr(error, key, None)

    code = str(get("code") or "")  # a dict: a row error as a queued import's result stores it
    params = {str(k): str(v) for k, v in dict(get("params") or {}).items()}
    reason = str(get("reason") or error)
    save_as = _("请在 Excel 中另存为“CSV UTF-8”或“CSV”（GB18030）。")
    messages = {
        # the file as a whole (encoding, format)
        "utf32": _("不接受 UTF-32 文本。") + save_as,
        "utf16": _("不接受 UTF-16 文本（“Unicode 文本”）。") + save_as,
        "bom_not_utf8": _("文件以 UTF-8 字节序标记开头，但字节 %(byte)s 不是 UTF-8。"),
        "encoding_undecided": _(
            "无法判断文本编码：既不是 UTF-8（第 %(utf8_line)s 行字节 %(utf8_byte)s），"
            "也不是 GB18030（第 %(gb_line)s 行字节 %(gb_byte)s）。"
        )
        + save_as,
        "private_use": _("无法判断文本编码：不是 UTF-8，按 GB18030 读取则含有私用区字符 %(char)s。")
        + save_as,
        "nul": _("含有 NUL 字符：不是文本文件。"),
        "replacement": _("含有替换字符 U+FFFD（文本已被错误的编码转换损坏）：请修正源文件。"),
        "xlsx_unreadable": _("不是可读取的 .xlsx 文件。"),
        "csv_unreadable": _("不是可读取的 CSV 文件。"),
        "unreadable": _("无法读取该文件。"),
        "missing_column": _("缺少必需的列。"),
        # one cell
        "required": _("必填。"),
        "unknown_meter": _("未知电能表 %(meter)s。"),
        "unknown_register": _("未知计度器 %(register)s（可选：%(choices)s）。"),
        "no_such_register": _("电能表 %(meter)s 没有 %(register)s 计度器。"),
        "bad_date": _("日期 %(value)s 格式不正确（应为 YYYY-MM-DD）。"),
        "future_date": _("抄表日期 %(date)s 晚于今天（%(as_of)s）。"),
        "not_a_number": _("%(value)s 不是数字。"),
        "negative_value": _("示数不能为负数：%(value)s。"),
        "value_too_large": _("%(value)s 超出范围（最多 12 位整数、4 位小数）。"),
        "duplicate_row": _("文件中重复的行（与第 %(first_row)s 行的电能表、计度器和日期相同）。"),
        "not_installed": _("电能表 %(meter)s 在 %(date)s 未安装在任何计量点。"),
        "not_after_latest": _("不晚于该计度器已存的最新示数（%(date)s）。"),
        "correction_billed": _(
            "更正 %(date)s 的待审核示数，但该日期已出账（账单 %(bill)s，%(period)s，%(status)s）："
            "请先作废重出该账单，再导入更正。"
        ),
    }
    template = messages.get(code)
    if template is None:
        return reason
    try:
        return template % params
    except (KeyError, TypeError, ValueError):
        return reason
