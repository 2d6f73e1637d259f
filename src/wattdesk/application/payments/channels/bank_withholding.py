"""Use cases: bank withholding (代扣) — export the deduction file, import the bank's return file.

File layouts (docs/bank-withholding.md): UTF-8 CSV, comma-separated, one header row, LF line ends.

    export  batch_no,line_no,account_number,bank_account,amount
    return  batch_no,line_no,account_number,amount,result_code,reason

The export of a day is batch ``DK<YYYYMMDD>``: every account with an active mandate and an amount due > 0,
ordered by account number. Exporting the same day again writes the same file from the stored lines.

An import is validated whole before anything is written: every error names its row and column and the file
is refused. Then the batch (status ``running``) and its lines are stored in one transaction, and each success
line (result code 0000) is posted by ``post_payment(channel="bank", channel_txn_id="<batch_no>-<line_no>")``
in its own transaction; the batch is marked ``completed`` at the end. So:
* the same file again (same SHA-256) is a no-op that says so;
* an import killed half-way and re-run resumes the ``running`` batch: lines already posted answer
  ``duplicate``, the rest post, and the ledger ends exactly as after one clean import;
* another file carrying the same lines (re-sent by the bank) posts nothing twice either.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from wattdesk.application.errors import InputError
from wattdesk.application.payments.posting import PostResult, money, post_payment
from wattdesk.application.tabular import export_csv
from wattdesk.core.text import EncodingUndecided, decode_import
from wattdesk.domain import audit
from wattdesk.domain.bank.models import (
    SUCCESS,
    BatchStatus,
    Direction,
    WithholdingBatch,
    WithholdingLine,
    WithholdingMandate,
)
from wattdesk.domain.counter.queries import due
from wattdesk.domain.payments import queries as payment_queries
from wattdesk.domain.payments.models import PaymentChannel

EXPORT_HEADER = ("batch_no", "line_no", "account_number", "bank_account", "amount")
RETURN_HEADER = ("batch_no", "line_no", "account_number", "amount", "result_code", "reason")
ZERO = Decimal("0.00")
MAX_ERRORS = 20


class BadReturnFile(InputError):
    """The return file is malformed; the message lists row / column of each problem."""


def batch_no_for(day: date) -> str:
    return f"DK{day:%Y%m%d}"


def _render(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> bytes:
    return export_csv(header, rows, lineterminator="\n").encode("utf-8")


@dataclass(frozen=True)
class ExportResult:
    batch_no: str
    lines: int
    total: Decimal
    content: bytes
    created: bool


def export_deductions(
    *, day: date, file_name: str, created_at: datetime, user: object = None
) -> ExportResult:
    """The deduction file of ``day`` (created once; a second export of the day returns the same content)."""
    number = batch_no_for(day)
    with transaction.atomic():
        batch = WithholdingBatch.objects.filter(direction=Direction.EXPORT, batch_no=number).first()
        created = batch is None
        if batch is None:
            mandates = list(
                WithholdingMandate.objects.filter(active=True)
                .select_related("account")
                .order_by("account__number")
            )
            ids = [m.account_id for m in mandates]
            items = payment_queries.open_items(ids)
            rows: list[tuple[int, int, str, Decimal]] = []
            for m in mandates:
                if m.account_id not in items:
                    continue
                owed = due(account_id=m.account_id).due
                if owed > 0:
                    rows.append((len(rows) + 1, m.account_id, m.masked_account_no, owed))
            content = _export_content(number, [(n, a, mask, amt) for n, a, mask, amt in rows], mandates)
            batch = WithholdingBatch.objects.create(
                batch_no=number,
                file_name=file_name[:255],
                sha256=hashlib.sha256(content).hexdigest(),
                direction=Direction.EXPORT,
                day=day,
                status=BatchStatus.COMPLETED,
                counts={"lines": len(rows), "total": str(sum((r[3] for r in rows), ZERO))},
                created_at=created_at,
                completed_at=created_at,
            )
            WithholdingLine.objects.bulk_create(
                WithholdingLine(batch=batch, line_no=n, account_id=a, masked_account_no=mask, amount=amt)
                for n, a, mask, amt in rows
            )
            audit.record_batch(
                actor=user,
                action="bank.export",
                object_repr=f"withholding export {number}",
                object_pk=batch.pk,
                changes={"lines": len(rows), "total": batch.counts["total"]},
            )
        lines = list(batch.lines.select_related("account").order_by("line_no"))
        content = _render(
            [
                (number, str(ln.line_no), ln.account.number, ln.masked_account_no, f"{ln.amount:.2f}")
                for ln in lines
            ],
            EXPORT_HEADER,
        )
        return ExportResult(number, len(lines), sum((ln.amount for ln in lines), ZERO), content, created)


def _export_content(
    number: str, rows: list[tuple[int, int, str, Decimal]], mandates: list[WithholdingMandate]
) -> bytes:
    numbers = {m.account_id: m.account.number for m in mandates}
    return _render(
        [(number, str(n), numbers[a], mask, f"{amt:.2f}") for n, a, mask, amt in rows], EXPORT_HEADER
    )


@dataclass(frozen=True)
class ReturnLine:
    batch_no: str
    line_no: int
    account_id: int
    account_number: str
    amount: Decimal
    result_code: str
    reason: str


def parse_return(content: bytes, *, name: str = "file") -> list[ReturnLine]:
    """Validate a whole return file against the exported batches; raise ``BadReturnFile`` listing every
    problem by row (the header is row 1) and column."""
    try:  # UTF-8 (BOM optional) or GB18030: bank files often are GBK
        text = decode_import(content, name=name).text
    except EncodingUndecided as exc:
        raise BadReturnFile(str(exc)) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(c.strip() for c in rows[0]) != RETURN_HEADER:
        raise BadReturnFile(f"{name}: row 1: header must be {','.join(RETURN_HEADER)}")
    errors: list[str] = []
    parsed: list[tuple[int, list[str]]] = []
    for i, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(RETURN_HEADER):
            errors.append(f"row {i}: expected {len(RETURN_HEADER)} columns, got {len(row)}")
            continue
        parsed.append((i, [c.strip() for c in row]))
    batch_nos = {r[0] for _, r in parsed}
    exported = {
        (ln.batch.batch_no, ln.line_no): ln
        for ln in WithholdingLine.objects.filter(
            batch__direction=Direction.EXPORT, batch__batch_no__in=batch_nos
        ).select_related("batch", "account")
    }
    known_batches = {b for b, _ in exported} | set(
        WithholdingBatch.objects.filter(direction=Direction.EXPORT, batch_no__in=batch_nos).values_list(
            "batch_no", flat=True
        )
    )
    seen: set[tuple[str, int]] = set()
    out: list[ReturnLine] = []
    for i, (batch_no, line_text, account_number, amount_text, code, reason) in parsed:
        where = f"row {i}"
        if batch_no not in known_batches:
            errors.append(f"{where}, column batch_no: {batch_no!r} is not an exported batch")
            continue
        try:
            line_no = int(line_text)
        except ValueError:
            errors.append(f"{where}, column line_no: {line_text!r} is not an integer")
            continue
        sent = exported.get((batch_no, line_no))
        if sent is None:
            errors.append(f"{where}, column line_no: batch {batch_no} has no line {line_no}")
            continue
        if (batch_no, line_no) in seen:
            errors.append(f"{where}, column line_no: line {line_no} appears twice")
            continue
        seen.add((batch_no, line_no))
        if account_number != sent.account.number:
            errors.append(
                f"{where}, column account_number: {account_number!r} is not the account of line {line_no}"
            )
            continue
        try:  # the one amount parser: no exponent / NaN, at most what a MoneyField holds
            amount = money(amount_text, allow_zero=True)
        except InputError:
            errors.append(
                f"{where}, column amount: {amount_text[:40]!r} is not an amount in yuan with 2 decimals"
            )
            continue
        if len(code) != 4 or not code.isdigit():
            errors.append(f"{where}, column result_code: {code!r} is not a 4-digit code")
            continue
        if code == SUCCESS and not (0 < amount <= sent.amount):
            errors.append(
                f"{where}, column amount: a success must deduct more than 0 and at most {sent.amount}"
            )
            continue
        if code != SUCCESS and not reason:
            errors.append(f"{where}, column reason: a failure ({code}) needs a reason")
            continue
        out.append(
            ReturnLine(batch_no, line_no, sent.account_id, sent.account.number, amount, code, reason[:200])
        )
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS]) + (
            f"; … {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        )
        raise BadReturnFile(f"{name}: {len(errors)} error(s), nothing imported: {shown}")
    return out


@dataclass(frozen=True)
class ImportResult:
    outcome: str  # imported | resumed | already_imported
    batch_id: int
    lines: int
    succeeded: int
    failed: int
    posted: int  # payments posted by this call
    duplicates: int  # success lines already posted (a re-run, or the same lines in another file)
    amount: Decimal  # total deducted


def import_return(
    *, content: bytes, file_name: str, imported_at: datetime, user: object = None
) -> ImportResult:
    """Import the bank's return file; see the module docstring for the guarantees."""
    digest = hashlib.sha256(content).hexdigest()
    batch = WithholdingBatch.objects.filter(sha256=digest).first()
    if batch is not None and batch.direction != Direction.IMPORT:
        raise InputError(f"{file_name}: this is an exported deduction file, not a return file")
    if batch is not None and batch.status == BatchStatus.COMPLETED:
        c = batch.counts
        return ImportResult("already_imported", batch.pk, c.get("lines", 0), c.get("succeeded", 0),
                            c.get("failed", 0), 0, 0, Decimal(c.get("amount", "0.00")))  # fmt: skip
    outcome = "resumed" if batch is not None else "imported"
    if batch is None:
        lines = parse_return(content, name=file_name)
        with transaction.atomic():
            batch = WithholdingBatch.objects.create(
                batch_no=",".join(sorted({ln.batch_no for ln in lines}))[:32] or "-",
                file_name=file_name[:255],
                sha256=digest,
                direction=Direction.IMPORT,
                day=timezone.localtime(imported_at).date(),
                status=BatchStatus.RUNNING,
                created_at=imported_at,
            )
            WithholdingLine.objects.bulk_create(
                WithholdingLine(
                    batch=batch,
                    line_no=i,
                    account_id=ln.account_id,
                    amount=ln.amount,
                    result_code=ln.result_code,
                    reason=ln.reason,
                )
                for i, ln in enumerate(lines, start=1)
            )
        stored = lines
    else:
        stored = parse_return(content, name=file_name)
    posted = duplicates = 0
    for i, ln in enumerate(stored, start=1):
        if ln.result_code != SUCCESS:
            continue
        result = _post_line(ln, imported_at=imported_at, user=user)
        if result.outcome == "posted":
            posted += 1
        else:
            duplicates += 1
        if not WithholdingLine.objects.filter(payment_id=result.payment_id).exists():
            # the line that posted the payment links to it (a re-sent file's lines stay unlinked)
            WithholdingLine.objects.filter(batch=batch, line_no=i).update(payment_id=result.payment_id)
    ok = [ln for ln in stored if ln.result_code == SUCCESS]
    counts = {
        "lines": len(stored),
        "succeeded": len(ok),
        "failed": len(stored) - len(ok),
        "amount": str(sum((ln.amount for ln in ok), ZERO)),
    }
    with transaction.atomic():
        WithholdingBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.COMPLETED, counts=counts, completed_at=imported_at
        )
        audit.record_batch(
            actor=user,
            action="bank.import",
            object_repr=f"withholding return {file_name}",
            object_pk=batch.pk,
            changes={"status": (BatchStatus.RUNNING, BatchStatus.COMPLETED), **counts, "posted": posted},
        )
    return ImportResult(outcome, batch.pk, len(stored), len(ok), len(stored) - len(ok), posted, duplicates,
                        Decimal(str(counts["amount"])))  # fmt: skip


def _post_line(ln: ReturnLine, *, imported_at: datetime, user: object) -> PostResult:
    return post_payment(
        account_number=ln.account_number,
        amount=ln.amount,
        channel=PaymentChannel.BANK,
        channel_txn_id=f"{ln.batch_no}-{ln.line_no}",
        received_at=imported_at,
        user=user,
        memo="代扣",
    )


def read_file(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such file")
    return p.read_bytes()
