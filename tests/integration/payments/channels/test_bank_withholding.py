"""Bank withholding (代扣): the exported file exactly; a return file imported twice, or killed half-way and
re-run, leaves the ledger as one clean import; a bad file is refused whole with its row and column."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from payments_helpers import at, issue_bill

from wattdesk.application.payments.channels import bank_withholding as bw
from wattdesk.domain.bank.models import WithholdingBatch, WithholdingLine, WithholdingMandate
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.payments.models import Payment
from wattdesk.interfaces.cli import main

pytestmark = pytest.mark.django_db
D = Decimal
DAY = date(2024, 4, 10)
HEADER = "batch_no,line_no,account_number,amount,result_code,reason\n"


@pytest.fixture
def accounts(make_account: Any) -> list[Any]:
    """Three mandated accounts owing 120.50, 80.00 and 45.30 (+ late fee 0.50); a fourth owes but has no
    mandate, a fifth has a mandate and owes nothing."""
    accs = [make_account() for _ in range(5)]
    for acc, total in zip(accs, ("120.50", "80.00", "45.30", "99.00"), strict=False):
        issue_bill(acc, "2024-02", total, date(2024, 3, 20))
    from wattdesk.domain.ledger.operations import post_entry

    bill = accs[2].bills.get()
    post_entry(
        account_id=accs[2].pk, kind="late_fee", amount=D("0.50"), posted_at=at(2024, 4, 1), bill_id=bill.pk
    )
    for i, acc in enumerate(accs):
        if i != 3:
            WithholdingMandate.objects.create(
                account=acc, bank_code="ICBC", masked_account_no=f"6222****{i:04d}"
            )
    return accs


def export() -> bw.ExportResult:
    return bw.export_deductions(day=DAY, file_name="DK20240410.csv", created_at=at(2024, 4, 10, 8))


def return_file(accs: list[Any]) -> bytes:
    return (
        HEADER
        + f"DK20240410,1,{accs[0].number},120.50,0000,\n"
        + f"DK20240410,2,{accs[1].number},80.00,3001,余额不足\n"
        + f"DK20240410,3,{accs[2].number},45.80,0000,\n"
    ).encode()


def import_(content: bytes, name: str = "RET20240410.csv") -> bw.ImportResult:
    return bw.import_return(content=content, file_name=name, imported_at=at(2024, 4, 11, 9))


def ledger_state() -> tuple[Any, ...]:
    payments = sorted(Payment.objects.values_list("channel_txn_id", "account__number", "amount", "status"))
    entries = sorted(LedgerEntry.objects.values_list("account__number", "kind", "amount", "memo"))
    return tuple(payments), tuple(entries)


class TestExport:
    def test_writes_mandated_accounts_with_an_amount_due(self, accounts: list[Any]) -> None:
        result = export()
        a = accounts
        assert result.content.decode() == (
            "batch_no,line_no,account_number,bank_account,amount\n"
            f"DK20240410,1,{a[0].number},6222****0000,120.50\n"
            f"DK20240410,2,{a[1].number},6222****0001,80.00\n"
            f"DK20240410,3,{a[2].number},6222****0002,45.80\n"
        )
        assert (result.lines, result.total, result.created) == (3, D("246.30"), True)

    def test_a_second_export_of_the_day_is_the_same_file(self, accounts: list[Any]) -> None:
        first = export()
        again = export()
        assert (again.content, again.created) == (first.content, False)
        assert WithholdingBatch.objects.count() == 1 and WithholdingLine.objects.count() == 3


class TestImport:
    def test_posts_each_success_once(self, accounts: list[Any]) -> None:
        export()
        r = import_(return_file(accounts))
        assert (r.outcome, r.lines, r.succeeded, r.failed, r.posted, r.amount) == (
            "imported", 3, 2, 1, 2, D("166.30"))  # fmt: skip
        assert [balance(account_id=a.pk) for a in accounts[:3]] == [D("0.00"), D("80.00"), D("0.00")]
        p = Payment.objects.get(channel_txn_id="DK20240410-3")
        assert (p.channel, p.amount) == ("bank", D("45.80"))
        assert WithholdingBatch.objects.get(direction="import").status == "completed"

    def test_the_same_file_twice_changes_nothing_and_says_so(self, accounts: list[Any]) -> None:
        export()
        import_(return_file(accounts))
        state = ledger_state()
        again = import_(return_file(accounts))
        assert (again.outcome, again.posted) == ("already_imported", 0)
        resent = import_(return_file(accounts) + b"\n", name="RET-resent.csv")  # same lines, other bytes
        assert (resent.outcome, resent.posted, resent.duplicates) == ("imported", 0, 2)
        assert ledger_state() == state

    def test_killed_half_way_and_rerun_equals_one_clean_import(
        self, accounts: list[Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        export()
        content = return_file(accounts)
        with transaction.atomic():  # one clean import, measured, then rolled back
            import_(content)
            clean = ledger_state()
            transaction.set_rollback(True)
        assert Payment.objects.count() == 0
        original = bw._post_line
        calls = {"n": 0}

        def dies_after_first(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("killed")
            return original(*args, **kwargs)

        monkeypatch.setattr(bw, "_post_line", dies_after_first)
        with pytest.raises(RuntimeError):
            import_(content)
        assert Payment.objects.count() == 1
        assert WithholdingBatch.objects.get(direction="import").status == "running"
        monkeypatch.setattr(bw, "_post_line", original)
        r = import_(content)
        assert (r.outcome, r.posted, r.duplicates) == ("resumed", 1, 1)
        assert ledger_state() == clean
        assert len(clean[0]) == 2 and WithholdingBatch.objects.get(direction="import").status == "completed"

    def test_a_bad_file_is_refused_whole_with_row_and_column(self, accounts: list[Any]) -> None:
        export()
        a = accounts
        bad = (
            HEADER
            + f"DK20240410,1,{a[0].number},120.50,0000,\n"
            + f"DK20240410,2,{a[1].number},8o.00,0000,\n"
            + f"DK20240410,3,{a[0].number},45.80,0000,\n"
            + f"DK20240410,1,{a[0].number},120.50,3001,\n"
        ).encode()
        with pytest.raises(bw.BadReturnFile) as exc:
            import_(bad)
        msg = str(exc.value)
        assert "3 error(s)" in msg
        assert "row 3, column amount" in msg
        assert "row 4, column account_number" in msg
        assert "row 5, column line_no: line 1 appears twice" in msg
        assert (Payment.objects.count(), WithholdingBatch.objects.filter(direction="import").count()) == (
            0,
            0,
        )

    @pytest.mark.parametrize("amount", ["1e2", "1E+2", "100_00", "NaN"])
    def test_an_amount_in_another_notation_is_refused(self, accounts: list[Any], amount: str) -> None:
        """The one amount parser: Decimal() read 1e2 as 100.00 and the line was posted."""
        export()
        bad = (HEADER + f"DK20240410,1,{accounts[0].number},{amount},0000,\n").encode()
        with pytest.raises(bw.BadReturnFile, match="row 2, column amount"):
            import_(bad)
        assert not Payment.objects.exists()


class TestCli:
    def test_export_and_import(self, accounts: list[Any], tmp_path: Path, capsys: Any) -> None:
        out = tmp_path / "dk.csv"
        assert main(["bank", "export", "--date", "2024-04-10", "--out", str(out)]) == 0
        assert out.read_text().count("\n") == 4
        ret = tmp_path / "ret.csv"
        ret.write_bytes(return_file(accounts))
        assert main(["bank", "import", str(ret)]) == 0
        assert main(["bank", "import", str(ret)]) == 0
        assert "already imported" in capsys.readouterr().out
        assert Payment.objects.count() == 2

    def test_a_bad_file_exits_2_with_one_line(self, accounts: list[Any], tmp_path: Path, capsys: Any) -> None:
        export()
        ret = tmp_path / "bad.csv"
        ret.write_text(HEADER + f"DK20240410,9,{accounts[0].number},1.00,0000,\n")
        assert main(["bank", "import", str(ret)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "row 2, column line_no: batch DK20240410 has no line 9" in err
        assert Payment.objects.count() == 0
