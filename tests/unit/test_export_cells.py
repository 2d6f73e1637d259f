"""The one export helper (application.tabular): spreadsheet formulas are neutralised in every CSV export."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from wattdesk.application.tabular import ExportWriter, export_cell, export_csv


class TestExportCell:
    @pytest.mark.parametrize(
        "text",
        [
            '=HYPERLINK("http://evil.example","x")',
            "@SUM(A1:A2)",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "\t=1+1",
            "\r=1+1",
            "  =1+1",
            "\u3000=1+1",
            "\n@x",
            "=",
            "-",
        ],
    )
    def test_quotes_what_a_spreadsheet_would_run(self, text: str) -> None:
        assert export_cell(text) == "'" + text

    @pytest.mark.parametrize("text", ["", "GW1", "居民平价", "a=b", "12.50", "-12.50", "+7", "2026-11-27"])
    def test_leaves_plain_text_and_numbers(self, text: str) -> None:
        assert export_cell(text) == text

    def test_numbers_and_none(self) -> None:
        assert export_cell(Decimal("-12.50")) == Decimal("-12.50")
        assert export_cell(-3) == -3
        assert export_cell(None) == ""
        assert export_cell(True) == "True"


class TestExportWriter:
    def test_every_cell_of_every_row(self) -> None:
        out = io.StringIO()
        writer = ExportWriter(out, lineterminator="\n")
        writer.writerow(["=a", "b", Decimal("-1.00")])
        writer.writerows([["@c", None]])
        assert list(csv.reader(io.StringIO(out.getvalue()))) == [["'=a", "b", "-1.00"], ["'@c", ""]]

    def test_export_csv_has_the_header_first(self) -> None:
        text = export_csv(("kind", "txn_id"), [("x", "+1+1")])
        assert text == "kind,txn_id\r\nx,'+1+1\r\n"
