"""Reference data shipped as configuration in ``wattdesk/config`` and tariff files, read in one place.

Core functions take parsed values; this module does the I/O: the power-factor table
(``config/pf-adjustment.csv``), the public-holiday calendar (the maintained ``chinese_calendar`` library, updated
each year from the State Council notice, plus the local overrides in ``config/holidays-local.yaml``), the example tariffs (``config/tariffs/*.yaml``) and tariff files given by a user (WattDesk YAML/JSON
or a URDB v8 record). Parsed config is cached per process: it is read-only data.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from wattdesk.application.errors import InputError
from wattdesk.core.calendar import HolidayCalendar
from wattdesk.core.pf import PfTable, PfTableError, parse_pf_table
from wattdesk.core.tariff import Tariff, TariffError, parse_tariff
from wattdesk.core.text import EncodingUndecided, decode_import
from wattdesk.core.urdb import is_urdb_record, tariff_from_urdb


def _config_text(name: str) -> str:
    return resources.files("wattdesk").joinpath("config", name).read_text(encoding="utf-8")


@cache
def load_pf_table() -> PfTable:
    """The power-factor adjustment table shipped in config/pf-adjustment.csv."""
    try:
        return parse_pf_table(csv.DictReader(io.StringIO(_config_text("pf-adjustment.csv"))))
    except PfTableError as exc:
        raise InputError(f"config/pf-adjustment.csv: {exc}") from None


def _date_items(values: object, where: str) -> set[date]:
    out: set[date] = set()
    if values is None:
        return out
    if not isinstance(values, list):
        raise InputError(f"{where}: must be a list")
    for i, v in enumerate(values):
        try:
            if isinstance(v, date):
                out.add(v)
            elif isinstance(v, str) and ".." in v:
                a, b = (date.fromisoformat(x.strip()) for x in v.split("..", 1))
                while a <= b:
                    out.add(a)
                    a += timedelta(days=1)
            else:
                out.add(date.fromisoformat(str(v)))
        except ValueError:
            raise InputError(f"{where}[{i}]: not a date or FROM..TO range: {v!r}") from None
    return out


HOLIDAY_OVERRIDES = "config/holidays-local.yaml"


def parse_holidays(doc: object, *, where: str = HOLIDAY_OVERRIDES) -> HolidayCalendar:
    """``{years: {YYYY: {holidays: [...], workdays: [...]}}}`` -> :class:`HolidayCalendar` covering the
    years listed (``years: {}`` is an empty calendar). Every date must lie in the year it is listed under."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("years") or {}, Mapping):
        raise InputError(f"{where}: years: must be a mapping")
    holidays: set[date] = set()
    workdays: set[date] = set()
    years: set[int] = set()
    for year, entry in (doc.get("years") or {}).items():
        if not isinstance(year, int) or not 1900 <= year <= 2200:
            raise InputError(f"{where}: years.{year}: not a year")
        if not isinstance(entry, Mapping):
            raise InputError(f"{where}: years.{year}: must be a mapping")
        for key, into in (("holidays", holidays), ("workdays", workdays)):
            days = _date_items(entry.get(key), f"{where}: years.{year}.{key}")
            stray = sorted(d for d in days if d.year != year)
            if stray:
                raise InputError(f"{where}: years.{year}.{key}: {stray[0].isoformat()} is not in {year}")
            into |= days
        years.add(year)
    both = sorted(holidays & workdays)
    if both:
        raise InputError(f"{where}: {both[0].isoformat()} is listed both as a holiday and as a working day")
    return HolidayCalendar(holidays=frozenset(holidays), workdays=frozenset(workdays), years=frozenset(years))


def official_holidays() -> HolidayCalendar:
    """The public holidays and make-up working days of the ``chinese_calendar`` library (maintained from the
    State Council's annual notice), covering the years it knows."""
    from chinese_calendar import constants

    holidays = frozenset(constants.holidays)
    workdays = frozenset(constants.workdays)
    years = frozenset(d.year for d in holidays | workdays)
    return HolidayCalendar(holidays=holidays, workdays=workdays, years=years)


def merge_holidays(official: HolidayCalendar, local: HolidayCalendar) -> HolidayCalendar:
    """The official calendar with the local overrides on top: a local holiday is a day off even if the
    official calendar makes it a working day, a local working day is worked even on an official holiday; a
    year only the overrides list (not published in the library yet) is covered by them alone."""
    holidays = (official.holidays - local.workdays) | local.holidays
    workdays = (official.workdays - local.holidays) | local.workdays
    years = (official.years or frozenset()) | (local.years or frozenset())
    return HolidayCalendar(holidays=holidays, workdays=workdays, years=years)


@cache
def load_holidays() -> HolidayCalendar:
    """The public-holiday calendar: ``chinese_calendar`` with the local overrides of
    config/holidays-local.yaml. Its ``years`` say which years are known: a disconnection on a day of an
    unknown year is refused (``wattdesk.core.calendar.UnknownHolidayYear``), never guessed."""
    try:
        local = yaml.safe_load(_config_text("holidays-local.yaml"))
    except yaml.YAMLError as exc:
        raise InputError(f"{HOLIDAY_OVERRIDES}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return merge_holidays(official_holidays(), parse_holidays(local or {"years": {}}))


def json_safe(value: Any) -> Any:
    """A YAML document as JSON data: dates become ISO strings, Decimals strings, mappings dicts."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True)
class TariffDocument:
    """A tariff file as read: the raw document, its kind and the parsed, validated tariff."""

    name: str  # file name, for messages
    kind: str  # "wattdesk" | "urdb"
    document: Mapping[str, Any]
    tariff: Tariff


def parse_tariff_document(*, doc: object, name: str) -> TariffDocument:
    """Validate one tariff document (WattDesk or URDB v8), naming ``name`` and the field on error."""
    if isinstance(doc, list) and len(doc) == 1 and is_urdb_record(doc[0]):
        doc = doc[0]  # URDB API responses wrap records in a list
    if not isinstance(doc, Mapping):
        raise InputError(f"{name}: the top level must be an object")
    try:
        if is_urdb_record(doc):
            return TariffDocument(name=name, kind="urdb", document=doc, tariff=tariff_from_urdb(record=doc))
        tariff = parse_tariff(doc=doc, pf_table=load_pf_table())
        return TariffDocument(name=name, kind="wattdesk", document=doc, tariff=tariff)
    except TariffError as exc:
        raise InputError(f"{name}: {exc}") from None


def read_tariff_documents(*, path: Path) -> tuple[TariffDocument, ...]:
    """Read a tariff file: YAML (one or more documents, or a list) or JSON (an object or a list)."""
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror}") from None
    try:
        text = decode_import(data, name=name).text  # UTF-8 (BOM optional) or GB18030, decided strictly
    except EncodingUndecided as exc:
        raise InputError(str(exc)) from None
    is_json = path.suffix.lower() == ".json"
    try:
        docs: list[Any] = [json.loads(text)] if is_json else list(yaml.safe_load_all(text))
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{name}: not valid {'JSON' if is_json else 'YAML'}: {first}") from None
    if (
        len(docs) == 1
        and isinstance(docs[0], list)
        and not (len(docs[0]) == 1 and is_urdb_record(docs[0][0]))
    ):
        docs = docs[0]
    docs = [d for d in docs if d is not None]
    if not docs:
        raise InputError(f"{name}: no tariff in the file")
    return tuple(
        parse_tariff_document(doc=d, name=name if len(docs) == 1 else f"{name} document {i + 1}")
        for i, d in enumerate(docs)
    )


def example_tariff_paths() -> tuple[Path, ...]:
    """The example tariffs shipped in config/tariffs (docs/tariffs.md)."""
    base = resources.files("wattdesk").joinpath("config", "tariffs")
    return tuple(sorted(Path(str(p)) for p in base.iterdir() if p.name.endswith((".yaml", ".yml", ".json"))))
