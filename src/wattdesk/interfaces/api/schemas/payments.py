"""Request and response schemas of the payments endpoints (``/api/payments``).

Amounts are decimal strings in yuan with at most two decimals (``"120.50"``); JSON numbers are accepted and
read exactly as written, floats never reach the ledger (``Decimal``). ``received_at`` must carry a UTC offset.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import AwareDatetime, BeforeValidator, WithJsonSchema

from wattdesk.application.payments.posting import money
from wattdesk.domain.payments.models import PaymentChannel
from wattdesk.domain.payments.queries import payment_allocations
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN, NO_CONTROL_CHARS, DecimalStr

#: A channel transaction id: printable, no leading or trailing blank (it is the idempotency key as given).
TXN_PATTERN = r"^[^\x00-\x20\x7f/](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?$"


def _amount_in(value: Any) -> Decimal:
    """The one amount parser (``payments.posting.money``: > 0, at most two decimals, at most what a
    ``MoneyField`` holds; no exponent, NaN, infinity or underscores). A JSON number is read as written (its
    shortest text), never as a binary float."""
    return money(repr(value) if isinstance(value, float) else value, name="amount")


#: Money in a request: > 0, at most two decimals (fen), at most 14 digits like ``MoneyField``.
AmountIn = Annotated[
    Decimal,
    BeforeValidator(_amount_in),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["120.50"]}),
]


class PaymentCreate(Schema):
    """One payment received on a channel; ``(channel, channel_txn_id)`` is its idempotency key."""

    account: str = Field(max_length=32, pattern=KEY_PATTERN, description="account number")
    amount: AmountIn
    channel: PaymentChannel
    channel_txn_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=TXN_PATTERN,
        description="the channel's own transaction id (receipt, order, bank file line): the idempotency key",
    )
    outlet: str = Field("", max_length=32, pattern=NO_CONTROL_CHARS, description="payment outlet code")
    received_at: AwareDatetime | None = Field(
        None, description="when the money was received (with offset); default: when the request arrives"
    )
    memo: str = Field("", max_length=300, pattern=NO_CONTROL_CHARS)


class PaymentAllocationRead(Schema):
    bill_id: int | None
    kind: str = Field(description="charge or late_fee")
    amount: DecimalStr


class PaymentPostedRead(Schema):
    outcome: str = Field(description="posted (201) or duplicate (200: this transaction was already posted)")
    payment_id: int
    account: str
    amount: DecimalStr
    allocations: list[PaymentAllocationRead] = Field(description="what this payment settled (销账)")
    credit: DecimalStr = Field(description="the account's unallocated credit (预存) after posting")
    balance: DecimalStr = Field(description="the account's ledger balance after posting (negative = credit)")


class PaymentBatchRead(Schema):
    posted: int
    duplicates: int
    results: list[PaymentPostedRead] = Field(description="one per request item, in request order")


class PaymentRead(Schema):
    id: int
    account: str
    amount: DecimalStr
    channel: str
    channel_txn_id: str
    received_at: datetime
    received_on: date
    status: str = Field(description="posted or reversed")
    outlet: str
    memo: str

    @staticmethod
    def resolve_account(obj: Any) -> str:
        return str(obj.account.number)


class PaymentAllocationDetailRead(PaymentAllocationRead):
    ledger_entry_id: int = Field(description="the ledger entry (charge or late fee) this allocation settled")
    void: bool = Field(
        description="true when the allocation no longer counts: the entry it settled was reversed (late fee "
        "waived, bill cancelled) or the payment itself was reversed; the money is credit again"
    )
    voided_at: datetime | None = Field(description="when it stopped counting (the reversal's posting time)")


class PaymentDetailRead(PaymentRead):
    ledger_entry_id: int
    reversal_entry_id: int | None
    allocations: list[PaymentAllocationDetailRead]

    @staticmethod
    def resolve_allocations(obj: Any) -> list[dict[str, Any]]:
        return [
            {
                "bill_id": a.bill_id,
                "kind": a.kind,
                "amount": a.amount,
                "ledger_entry_id": a.ledger_entry_id,
                "void": a.voided_at is not None,
                "voided_at": a.voided_at,
            }
            for a in payment_allocations(payment_id=obj.pk)
        ]


class PaymentReverse(Schema):
    reason: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL_CHARS, examples=["bank recall"])


class PaymentReversedRead(Schema):
    payment_id: int
    reversal_entry_id: int
    amount: DecimalStr = Field(description="the reversal entry's amount (+: the customer owes it again)")
    balance: DecimalStr
