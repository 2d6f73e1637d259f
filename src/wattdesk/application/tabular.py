"""Tabular input files (CSV, Excel) read for imports, and the row/column error every import reports.

An import validates the whole file first and reports every bad row as ``row N, column: reason`` (the header is
row 1); if any row is bad nothing is written (``ImportRejected``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl

from wattdesk.application.errors import InputError
from wattdesk.core.text import REPLACEMENT, DecodedText, EncodingUndecided, decode_import


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based, header = row 1
    column: str
    reason: str  # English, one line: what the CLI and the API print
    #: A reason code and its parameters, for pages that say the reason in the user's language
    #: (``interfaces.web.errors.row_error_message``); empty when there is none (the page shows ``reason``).
    code: str = field(default="", compare=False)
    params: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.reason}"


class ImportRejected(InputError):
    """The file has bad rows; nothing was written. `errors` lists every one of them."""

    def __init__(self, file_name: str, errors: Sequence[RowError]) -> None:
        self.file_name = file_name
        self.errors = tuple(errors)
        shown = "; ".join(str(e) for e in self.errors[:5])
        more = f"; … and {len(self.errors) - 5} more" if len(self.errors) > 5 else ""
        super().__init__(f"{file_name}: {len(self.errors)} bad row(s), nothing imported: {shown}{more}")

    @property
    def summary(self) -> str:
        """One line for a CLI's stderr: the reason itself when the whole file is refused (encoding, not a
        CSV), else the count of bad rows (each listed separately)."""
        if len(self.errors) == 1 and self.errors[0].column == "-":
            e = self.errors[0]
            return f"{self.file_name} line {e.row}: {e.reason}; nothing imported"
        return f"{self.file_name}: {len(self.errors)} bad row(s), nothing imported"


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV or .xlsx file, every cell as text (validation does the typing)."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise ImportRejected(
                path.name, [RowError(1, "-", f"not a readable .xlsx file ({exc})", "xlsx_unreadable")]
            ) from exc
        try:
            it = wb.worksheets[0].iter_rows(values_only=True)
            header = [_cell_text(c) for c in next(it, ())]
            rows = [[_cell_text(c) for c in r] for r in it]
        finally:
            wb.close()
        while rows and not any(rows[-1]):
            rows.pop()  # trailing blank rows Excel leaves behind
        _refuse_replacement_characters(path.name, header, rows)
        return header, rows
    data = read_csv_utf8(path, allow_replacement=True)  # U+FFFD is reported below by row and column
    try:
        df = pl.read_csv(io.BytesIO(data), infer_schema=False)
    except Exception as exc:
        raise ImportRejected(
            path.name, [RowError(1, "-", f"not a readable CSV file ({exc})", "csv_unreadable")]
        ) from exc
    header = [c.strip() for c in df.columns]
    rows = [[(c or "").strip() for c in r] for r in df.iter_rows()]
    _refuse_replacement_characters(path.name, header, rows)
    return header, rows


def decode_text(data: bytes, *, name: str, allow_replacement: bool = False) -> str:
    """The text of an uploaded or imported file: UTF-8 (BOM optional) or GB18030, decided strictly
    (``wattdesk.core.text.decode_import``); :class:`ImportRejected` naming the line when it cannot be decided."""
    return _decoded(data, name=name, allow_replacement=allow_replacement).text


def _decoded(data: bytes, *, name: str, allow_replacement: bool) -> DecodedText:
    try:
        return decode_import(data, name=name, allow_replacement=allow_replacement)
    except EncodingUndecided as exc:
        raise ImportRejected(name, [RowError(exc.line or 1, "-", exc.reason, exc.code, exc.params)]) from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImportRejected(
            path.name, [RowError(1, "-", f"cannot read the file ({exc.strerror})", "unreadable")]
        ) from None


def read_csv_utf8(path: Path, *, allow_replacement: bool = False) -> bytes:
    """A CSV file's bytes as UTF-8 without BOM, for a CSV reader (polars): the file itself when it already is
    (no copy of a large interval file), else its decoded text re-encoded. Decided as :func:`decode_text`."""
    data = _read_bytes(path)
    decoded = _decoded(data, name=path.name, allow_replacement=allow_replacement)
    return data if decoded.encoding == "utf-8" else decoded.text.encode("utf-8")


def _refuse_replacement_characters(
    file_name: str, header: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    """Never store U+FFFD: it is what is left of text that an earlier tool decoded with the wrong encoding."""
    reason = "holds the replacement character U+FFFD (text damaged by a wrong encoding): fix the source file"
    errors = [
        RowError(1, name or f"column {j + 1}", reason, "replacement")
        for j, name in enumerate(header)
        if REPLACEMENT in name
    ]
    for n, row in enumerate(rows, start=2):
        for j, cell in enumerate(row):
            if REPLACEMENT in cell:
                errors.append(
                    RowError(
                        n,
                        header[j] if j < len(header) and header[j] else f"column {j + 1}",
                        reason,
                        "replacement",
                    )
                )
    if errors:
        raise ImportRejected(file_name, errors)


def column_index(file_name: str, header: Sequence[str], required: Iterable[str]) -> dict[str, int]:
    idx = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [c for c in required if c not in idx]
    if missing:
        raise ImportRejected(
            file_name, [RowError(1, c, "required column is missing", "missing_column") for c in missing]
        )
    return idx


def parse_decimal(text: str) -> Decimal | None:
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


# --- exports: every CSV (or spreadsheet) WattDesk writes for a person to open ---------------------------------

#: A cell whose text starts with one of these (after any leading blanks) is read as a formula by Excel,
#: LibreOffice or WPS (OWASP "CSV injection"): ``=HYPERLINK(...)``, ``@SUM(...)``, ``+cmd|' /C calc'!A0``.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?", re.ASCII)


def export_cell(value: Any) -> Any:
    """A cell as it may be exported: text that a spreadsheet would read as a formula gets a single quote in
    front (``'=HYPERLINK(...)``), also when it starts with blanks; numbers (``Decimal``, ``int``) and text
    that is just a number (``-12.50``) are left as they are; ``None`` is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    text = str(value)
    stripped = text.lstrip(" \u3000\n")
    if stripped[:1] in FORMULA_TRIGGERS and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class ExportWriter:
    """``csv.writer`` whose every cell goes through :func:`export_cell`: the one way WattDesk writes a CSV
    export (audit trail, gateway reconciliation, bank withholding file). ``writerow`` returns what the
    underlying writer returns (the line, for a streaming response written to an echo buffer)."""

    def __init__(self, stream: Any, **fmtparams: Any) -> None:
        self._writer = csv.writer(stream, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([export_cell(c) for c in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def export_csv(header: Sequence[str], rows: Iterable[Iterable[Any]], *, lineterminator: str = "\r\n") -> str:
    """A whole CSV export as text (header + rows), formulas neutralised."""
    out = io.StringIO()
    writer = ExportWriter(out, lineterminator=lineterminator)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
