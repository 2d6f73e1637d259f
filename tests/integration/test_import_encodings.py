"""Every import reads UTF-8 (with or without BOM) and GB18030 (what Excel writes on Chinese Windows) exactly,
never stores U+FFFD, says which line when the encoding cannot be decided, and keeps control characters and
bidi overrides out of names and addresses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from openpyxl import Workbook
from payments_helpers import at, issue_bill

from wattdesk.application.customers.onboarding import import_accounts
from wattdesk.application.errors import InputError
from wattdesk.application.metering.readings_import import import_readings
from wattdesk.application.payments.channels import bank_withholding as bw
from wattdesk.application.payments.channels import gateway_reconciliation as gr
from wattdesk.application.payments.channels.gateway import read_statement
from wattdesk.application.tabular import ImportRejected
from wattdesk.application.tariffs.catalog import import_tariff_files
from wattdesk.application.tariffs.reference_data import example_tariff_paths
from wattdesk.domain.bank.models import WithholdingLine, WithholdingMandate
from wattdesk.domain.customers.models import Customer, ServicePoint
from wattdesk.domain.metering.models import Meter, MeterInstallation, MeterRegister, RegisterReading
from wattdesk.interfaces.cli import main

pytestmark = pytest.mark.django_db

HEADER = (
    "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,address,"
    "region,meter_serial,tariff_code\n"
)
ROW_1 = "C001,张三,residential,A001,2025-01-01,SP001,城关镇人民路1号,R1,M001,BJ-RES-TIER\n"
ROW_2 = "E001,某某纺织有限公司,industrial,A002,2025-01-01,SP002,工业园区𠮷路3号,R1,M002,BJ-RES-TIER\n"
UNDECIDABLE = b"\xff\xfe\xff"  # neither UTF-8 nor GB18030


@pytest.fixture
def catalog(db: None) -> None:
    import_tariff_files(paths=list(example_tariff_paths()))


def _write(tmp_path: Path, data: bytes, name: str = "onboarding.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


class TestOnboardingEncodings:
    @pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig", "utf-8"])
    def test_cli_stores_the_names_exactly(
        self, catalog: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str
    ) -> None:
        rows = ROW_1 if encoding == "gbk" else ROW_1 + ROW_2  # GBK has no 𠮷 (a GB18030 four-byte character)
        data = (HEADER + rows).encode(encoding)
        assert main(["accounts", "import", str(_write(tmp_path, data))]) == 0, capsys.readouterr()
        assert Customer.objects.get(number="C001").name == "张三"
        assert ServicePoint.objects.get(number="SP001").address == "城关镇人民路1号"
        if encoding != "gbk":
            assert Customer.objects.get(number="E001").name == "某某纺织有限公司"
            assert ServicePoint.objects.get(number="SP002").address == "工业园区𠮷路3号"

    def test_gb18030_bytes_are_not_stored_as_mojibake(self, catalog: None, tmp_path: Path) -> None:
        data = (HEADER + ROW_1).encode("gb18030")
        assert b"\xd5\xc5\xc8\xfd" in data  # 张三 in GB18030: not valid UTF-8
        import_accounts(path=_write(tmp_path, data))
        assert Customer.objects.get().name == "张三"

    def test_undecidable_encoding_exits_2_with_one_line_naming_the_line(
        self, catalog: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        data = (HEADER + ROW_1).encode("utf-8") + b"C002," + UNDECIDABLE + b",residential\n"
        assert main(["accounts", "import", str(_write(tmp_path, data))]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0
        assert err.startswith(
            "wattdesk accounts: error: onboarding.csv line 3: cannot tell the text encoding"
        )
        assert "nothing imported" in err
        assert Customer.objects.count() == 0

    def test_nul_is_refused_for_the_whole_file_with_its_line(self, catalog: None, tmp_path: Path) -> None:
        with pytest.raises(ImportRejected) as err:
            import_accounts(
                path=_write(tmp_path, (HEADER + ROW_1.replace("张三", "张\x00三")).encode("gb18030"))
            )
        assert [(e.row, e.column) for e in err.value.errors] == [(2, "-")]
        assert "NUL" in err.value.errors[0].reason

    def test_replacement_characters_are_refused_by_row_and_column(
        self, catalog: None, tmp_path: Path
    ) -> None:
        damaged = HEADER + ROW_1 + ROW_2.replace("某某", "\ufffd\ufffd")
        with pytest.raises(ImportRejected) as err:
            import_accounts(path=_write(tmp_path, damaged.encode("utf-8")))
        assert [(e.row, e.column) for e in err.value.errors] == [(3, "customer_name")]
        assert "U+FFFD" in err.value.errors[0].reason
        assert Customer.objects.count() == 0

    @pytest.mark.parametrize(
        ("column", "value", "code"),
        [
            ("customer_name", "张\x07三", "U+0007"),
            ("customer_name", "张三\u202e1234", "U+202E"),
            ("address", "人民路\u20661号", "U+2066"),
            ("address", "人民路\u200f1号", "U+200F"),
            ("address", "人民路\x1b1号", "U+001B"),
        ],
    )
    def test_control_and_bidi_characters_in_names_and_addresses_are_refused(
        self, catalog: None, tmp_path: Path, column: str, value: str, code: str
    ) -> None:
        row = ROW_1.replace("张三" if column == "customer_name" else "城关镇人民路1号", value)
        with pytest.raises(ImportRejected) as err:
            import_accounts(path=_write(tmp_path, (HEADER + row).encode("gb18030")))
        assert [(e.row, e.column) for e in err.value.errors] == [(2, column)]
        assert code in err.value.errors[0].reason
        assert Customer.objects.count() == 0

    def test_excel_cells_are_checked_too(self, catalog: None, tmp_path: Path) -> None:
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.append(HEADER.strip().split(","))
        ws.append(ROW_1.strip().replace("张三", "张三\u202e").split(","))
        ws.append(ROW_2.strip().replace("某某", "\ufffd").split(","))
        path = tmp_path / "onboarding.xlsx"
        wb.save(path)
        with pytest.raises(ImportRejected) as err:
            import_accounts(path=path)
        assert [(e.row, e.column) for e in err.value.errors] == [(3, "customer_name")]  # U+FFFD first
        wb2 = Workbook()
        ws2 = wb2.active
        assert ws2 is not None
        ws2.append(HEADER.strip().split(","))
        ws2.append(ROW_1.strip().replace("张三", "张三\u202e").split(","))
        wb2.save(path)
        with pytest.raises(ImportRejected) as err:
            import_accounts(path=path)
        assert [(e.row, e.column) for e in err.value.errors] == [(2, "customer_name")]


class TestModelValidation:
    """The admin (and any model form) validates names and addresses with the same rule."""

    def test_customer_name_and_service_point_address(self, make_account: Any) -> None:
        account = make_account()
        customer = account.customer
        customer.name = "张三\u202e"
        with pytest.raises(ValidationError) as err:
            customer.full_clean()
        assert "name" in err.value.message_dict
        sp = account.service_points.get()
        sp.address = "幸福路\x001号"
        with pytest.raises(ValidationError) as err:
            sp.full_clean()
        assert "address" in err.value.message_dict
        sp.address = "幸福路1号"
        sp.full_clean()

    def test_the_message_is_translated(self, make_account: Any) -> None:
        from django.utils import translation

        customer = make_account().customer
        customer.name = "张三\u202e"
        with translation.override("zh-hans"):
            with pytest.raises(ValidationError) as err:
                customer.full_clean()
            assert err.value.message_dict["name"] == ["名称和地址中不能含有双向文字控制字符 U+202E。"]
        with translation.override("en"):
            with pytest.raises(ValidationError) as err:
                customer.full_clean()
            assert err.value.message_dict["name"] == [
                "A name or an address may not contain the bidirectional control character U+202E."
            ]


@pytest.fixture
def meter(make_account: Any) -> Meter:
    sp = make_account().service_points.get()
    m = Meter.objects.create(serial="M0001")
    MeterRegister.objects.create(meter=m, kind="active_total")
    MeterInstallation.objects.create(
        meter=m, service_point=sp, installed_on=date(2024, 1, 1), initial_values={"active_total": "100"}
    )
    return m


class TestReadingsEncodings:
    def test_gb18030_file_with_a_chinese_column_imports(
        self, meter: Meter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        text = (
            "meter_serial,register,read_on,value,备注\nM0001,active_total,2024-02-01,150,张三家 抄表员李四\n"
        )
        path = _write(tmp_path, text.encode("gb18030"), "readings.csv")
        assert main(["readings", "import", str(path), "--as-of", "2024-03-01"]) == 0, capsys.readouterr()
        assert RegisterReading.objects.get().value == Decimal(150)

    def test_gb18030_interval_csv_imports(self, meter: Meter, tmp_path: Path, settings: Any) -> None:
        settings.WATTDESK_INTERVAL_DIR = tmp_path / "iv"
        text = "meter_serial,timestamp,kwh,备注\nM0001,2024-02-01 00:00,1.5,张三\nM0001,2024-02-01 00:15,1.25,李四\n"
        path = _write(tmp_path, text.encode("gb18030"), "intervals.csv")
        result = import_readings(path=path, as_of=date(2024, 3, 1), imported_at=at(2024, 3, 1, 9))
        assert result.rows == 2

    def test_undecidable_file_exits_2_with_one_line(
        self, meter: Meter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        data = b"meter_serial,register,read_on,value\nM0001,active_total,2024-02-01,150" + UNDECIDABLE + b"\n"
        path = _write(tmp_path, data, "readings.csv")
        assert main(["readings", "import", str(path), "--as-of", "2024-03-01"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "readings.csv line 2: cannot tell the text encoding" in err
        assert RegisterReading.objects.count() == 0

    def test_undecidable_header_is_refused_not_a_traceback(self, meter: Meter, tmp_path: Path) -> None:
        path = _write(tmp_path, b"meter_serial,register,read_on,value," + UNDECIDABLE + b"\n", "r.csv")
        with pytest.raises(ImportRejected) as err:
            import_readings(path=path, as_of=date(2024, 3, 1), imported_at=at(2024, 3, 1, 9))
        assert err.value.errors[0].row == 1


class TestPaymentFilesEncodings:
    def test_bank_return_file_in_gb18030_keeps_the_chinese_reason(
        self, make_account: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        day = date(2024, 4, 10)
        accs = [make_account(), make_account()]
        for acc, total in zip(accs, ("120.50", "80.00"), strict=True):
            issue_bill(acc, "2024-02", total, date(2024, 3, 20))
            WithholdingMandate.objects.create(account=acc, bank_code="ICBC", masked_account_no="6222****0001")
        bw.export_deductions(day=day, file_name="DK20240410.csv", created_at=at(2024, 4, 10, 8))
        text = (
            "batch_no,line_no,account_number,amount,result_code,reason\n"
            f"DK20240410,1,{accs[0].number},120.50,0000,\n"
            f"DK20240410,2,{accs[1].number},80.00,3001,余额不足\n"
        )
        ret = _write(tmp_path, text.encode("gb18030"), "ret.csv")
        assert main(["bank", "import", str(ret)]) == 0, capsys.readouterr()
        reasons = set(WithholdingLine.objects.exclude(reason="").values_list("reason", flat=True))
        assert reasons == {"余额不足"}

    def test_bank_return_file_that_is_neither_encoding_is_refused(self) -> None:
        with pytest.raises(bw.BadReturnFile, match=r"ret\.csv line 2: cannot tell the text encoding"):
            bw.parse_return(b"batch_no,line_no\nDK," + UNDECIDABLE + b"\n", name="ret.csv")

    def test_gateway_statement_encodings(self, tmp_path: Path) -> None:
        good = "txn_id,order_no,amount,paid_at\n"
        assert gr.check_statement(("\ufeff" + good).encode("utf-8"), name="s.csv") == 0
        with pytest.raises(gr.StatementError, match=r"s\.csv line 2: cannot tell the text encoding"):
            gr.check_statement(good.encode() + b"T1," + UNDECIDABLE + b",1.00,x\n", name="s.csv")
        path = _write(tmp_path, good.encode() + b"T1," + UNDECIDABLE + b"\n", "s.csv")
        with pytest.raises(ValueError, match="line 2: cannot tell the text encoding"):
            read_statement(path)


class TestTariffFileEncodings:
    """Tariff files are read like every import: UTF-8 or GB18030, strictly (an undecidable file is an
    InputError naming the line, not a traceback)."""

    def test_gb18030_tariff_file_is_read(self, tmp_path: Path) -> None:
        from wattdesk.application.tariffs.reference_data import example_tariff_paths, read_tariff_documents

        source = next(iter(example_tariff_paths()))
        text = source.read_text(encoding="utf-8")
        assert any(ord(c) > 127 for c in text)  # the example files hold Chinese names
        path = tmp_path / source.name
        path.write_bytes(text.encode("gb18030"))
        assert read_tariff_documents(path=path) == read_tariff_documents(path=source)

    def test_undecidable_tariff_file_is_an_input_error(self, tmp_path: Path) -> None:
        from wattdesk.application.tariffs.reference_data import read_tariff_documents

        path = tmp_path / "t.yaml"
        path.write_bytes(b"code: X\nname: \xff\xfe\xff\n")
        with pytest.raises(InputError, match=r"t\.yaml line 2: cannot tell the text encoding"):
            read_tariff_documents(path=path)
