"""Use case: reconcile an uploaded gateway statement (对账单) for a day, from the back office or the API.

``reconcile_upload(content=, day=, user=, now=)`` checks the file strictly first — UTF-8, the header
``txn_id,order_no,amount,paid_at``, and on every row the column count, a non-empty ``txn_id``, an ``amount``
in yuan with at most two decimals, a ``paid_at`` ISO 8601 date-time with a UTC offset — and refuses a bad
file with the row and the column (:class:`StatementError`), before anything runs. Then it runs
``application.gateway.reconcile`` on it (the same comparison as ``wattdesk gateway reconcile``), records one
audit entry (``gateway.reconcile``: the day, the number of lines and the mismatch counts by kind) and returns
every mismatch. Nothing else is stored: the statement itself is not kept.

``fetch_statement(day=)`` downloads the day's statement from the gateway instead of an upload: the sandbox
gateway (``wattdesk sandbox gateway``) serves it at ``/statement/YYYY-MM-DD.csv`` next to its pay page
(``WATTDESK_GATEWAY_PAY_URL``), so the URL is derived from that setting.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from wattdesk.application.errors import InputError
from wattdesk.application.payments.channels.gateway import (
    Mismatch,
    StatementLine,
    parse_statement,
    reconcile,
)
from wattdesk.application.tabular import RowError, export_csv
from wattdesk.core.text import EncodingUndecided, decode_import
from wattdesk.domain import audit

MAX_BYTES = 20 * 1024 * 1024
#: every kind ``reconcile`` reports, in the order the page shows them
KINDS = (
    "missing_in_wattdesk",
    "missing_in_statement",
    "amount_differs",
    "order_differs",
    "day_differs",
    "duplicate_in_statement",
)


class StatementError(InputError):
    """The uploaded statement is malformed; the message names the row and the column. ``row_error`` (when set:
    an encoding refusal) carries the reason code a page says in the user's language."""

    row_error: RowError | None = None
    file_name: str = ""


class StatementUnavailable(InputError):
    """The gateway's statement could not be downloaded."""


def statement_url(day: date) -> str:
    """Where the gateway serves the statement of ``day`` (next to its pay page)."""
    return urljoin(settings.WATTDESK_GATEWAY_PAY_URL, f"statement/{day.isoformat()}.csv")


def fetch_statement(*, day: date, timeout: float = 10.0) -> bytes:
    url = statement_url(day)
    if urlsplit(url).scheme not in ("http", "https"):
        raise StatementUnavailable(f"the gateway URL {url} is not http(s)")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body: bytes = resp.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise StatementUnavailable(f"cannot download the gateway statement {url}: {exc}") from exc
    return body


@dataclass(frozen=True)
class Reconciliation:
    day: date
    lines: int  # statement rows (blank lines not counted)
    mismatches: tuple[Mismatch, ...]
    counts: dict[str, int] = field(default_factory=dict)  # kind -> number, every kind present (0 included)

    @property
    def agrees(self) -> bool:
        return not self.mismatches


def _decode(content: bytes, *, name: str) -> str:
    """UTF-8 (BOM optional) or GB18030, decided strictly: never a replacement character."""
    try:
        return decode_import(content, name=name).text
    except EncodingUndecided as exc:
        error = StatementError(str(exc))
        error.row_error = RowError(exc.line or 1, "-", exc.reason, exc.code, exc.params)
        error.file_name = name
        raise error from None


def _parse(content: bytes, *, name: str) -> list[StatementLine]:
    """The statement's lines by the one statement parser (``gateway.parse_statement``, also the CLI's);
    :class:`StatementError` with the row and column of the first bad cell."""
    if len(content) > MAX_BYTES:
        raise StatementError(f"{name}: larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        return parse_statement(_decode(content, name=name), name=name)
    except StatementError:
        raise
    except InputError as exc:
        raise StatementError(str(exc)) from None


def check_statement(content: bytes, *, name: str = "statement") -> int:
    """Validate the statement; the number of data rows. :class:`StatementError` on the first bad cell."""
    return len(_parse(content, name=name))


def reconcile_upload(
    *, content: bytes, day: date, user: Any, now: datetime, name: str = "statement"
) -> Reconciliation:
    parsed = _parse(content, name=name)  # row / column errors before anything runs
    lines = len(parsed)
    mismatches = tuple(reconcile(lines=parsed, day=day))
    found = Counter(m.kind for m in mismatches)
    counts = {k: found.get(k, 0) for k in KINDS} | {k: v for k, v in found.items() if k not in KINDS}
    audit.record_batch(
        actor=user,
        action="gateway.reconcile",
        object_repr=f"gateway statement {day.isoformat()}",
        changes={
            "day": day.isoformat(),
            "lines": lines,
            "mismatches": len(mismatches),
            "by_kind": {k: v for k, v in counts.items() if v},
            "at": now.isoformat(),
        },
    )
    return Reconciliation(day, lines, mismatches, counts)


CSV_COLUMNS = ("kind", "txn_id", "order_no", "statement_amount", "wattdesk_amount", "detail")


def mismatches_csv(mismatches: tuple[Mismatch, ...] | list[Mismatch]) -> str:
    """The mismatches as CSV (UTF-8 text; amounts as stored, empty where one side has none). The transaction
    ids, order numbers and details come from the gateway's statement: formulas are neutralised
    (:func:`wattdesk.application.tabular.export_csv`)."""
    return export_csv(
        CSV_COLUMNS,
        (
            (
                m.kind,
                m.txn_id,
                m.order_no,
                "" if m.statement_amount is None else str(m.statement_amount),
                "" if m.wattdesk_amount is None else str(m.wattdesk_amount),
                m.detail,
            )
            for m in mismatches
        ),
    )
