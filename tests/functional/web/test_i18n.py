"""Both UI languages are complete: Chinese by default, English after switching, from the gettext catalogs.

The code mixes source languages (pages and templates use Chinese msgids, model verbose names and choice labels
use English ones), so src/wattdesk/locale/zh_Hans translates the English msgids and locale/en the Chinese
ones. See docs/i18n.md for the workflow (makemessages, translate, compilemessages, commit the .mo files).
"""

from __future__ import annotations

import ast
import gettext
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import translation
from django.utils.functional import Promise

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import CustomerClass

LOCALE_DIR = Path(__file__).resolve().parents[3] / "src" / "wattdesk" / "locale"
CATALOGS = {"zh-hans": LOCALE_DIR / "zh_Hans" / "LC_MESSAGES", "en": LOCALE_DIR / "en" / "LC_MESSAGES"}

# --- which msgids a catalog must translate -------------------------------------------------------------------
_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
_PLACEHOLDER = re.compile(r"%(\([^)]*\))?[sd%]")
#: units and format names that read the same in both languages ("220 V", "kWh", "导出 CSV")
_UNITS = {"kWh", "kW", "kVA", "kV", "V", "kvarh", "MB", "A4"}
_NEUTRAL = _UNITS | {"CSV", "PDF", "Excel", "xlsx", "Parquet", "YYYY", "MM", "DD"}


def needs_translation(language: str, msgid: str) -> bool:
    """True when ``msgid`` is not already in ``language``: the catalog must give it a msgstr.

    en: any msgid with Chinese in it (including the English-with-hint ones like "multiplier (倍率)").
    zh-hans: a msgid whose first word is English, or that holds an English phrase; a Chinese msgid that only
    quotes code or column names ("用 wattdesk tariffs import 导入") and bare units ("220 V") need nothing.
    """
    if language == "en":
        return bool(_CJK.search(msgid))
    text = _PLACEHOLDER.sub("", msgid)
    if re.search(r"\b(or|and|the|not|of|to|is|empty)\b", text):
        return True
    for token in re.findall(r"[A-Za-z][A-Za-z0-9_]*|[\u3400-\u9fff]", text):
        if _CJK.match(token):
            return False
        if token not in _NEUTRAL and len(token) > 1:
            return True
    return False


# --- a small .po reader (no third-party dependency; CI may lack gettext tools) --------------------------------
@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str = ""
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    occurrences: list[str] = field(default_factory=list)
    obsolete: bool = False

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())


def read_po(path: Path) -> list[Entry]:
    entries: list[Entry] = []
    entry = Entry()
    target: tuple[str, int] | None = None

    def flush() -> None:
        nonlocal entry, target
        if entry.msgid or entry.msgstr:
            entries.append(entry)
        entry, target = Entry(), None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("#~"):
            entry.obsolete = True
        elif line.startswith("#,"):
            entry.flags |= {f.strip() for f in line[2:].split(",")}
        elif line.startswith("#:"):
            entry.occurrences += [o.rsplit(":", 1)[0] for o in line[2:].split()]
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert target is not None, f"{path}: continuation without a keyword: {raw}"
            _append(entry, target, ast.literal_eval(line))
        else:
            keyword, _, rest = line.partition(" ")
            m = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if keyword in ("msgid", "msgid_plural"):
                target = (keyword, 0)
            elif keyword == "msgstr" or m:
                target = ("msgstr", int(m.group(1)) if m else 0)
                entry.msgstr.setdefault(target[1], "")
            else:
                raise AssertionError(f"{path}: unexpected line {raw!r}")
            _append(entry, target, ast.literal_eval(rest))
    flush()
    return [e for e in entries if e.msgid and not e.obsolete]  # the header has msgid ""


def _append(entry: Entry, target: tuple[str, int], text: str) -> None:
    kind, index = target
    if kind == "msgstr":
        entry.msgstr[index] += text
    else:
        setattr(entry, kind, getattr(entry, kind) + text)


def _po(language: str) -> list[Entry]:
    return read_po(CATALOGS[language] / "django.po")


def _switch_to_english(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/customers/"})
    assert response.status_code == 302
    assert client.cookies["django_language"].value == "en"


def _residential_account(role: str) -> str:
    user = get_user_model().objects.get(username=f"demo_{role}")
    account = (
        accounts_for(user)
        .filter(customer__customer_class=CustomerClass.RESIDENTIAL)
        .order_by("number")
        .first()
    )
    assert account is not None
    return account.number


# --- the pages ---------------------------------------------------------------------------------------------------
class TestPages:
    def test_default_language_shows_choice_labels_in_chinese(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        number = _residential_account(roles.BILLING_CLERK)
        html = client.get("/customers/", {"q": number}).content.decode()
        assert "<h1>客户查询</h1>" in html
        assert "<td>居民生活</td>" in html and "residential" not in html

        detail = client.get(f"/customers/{number}/").content.decode()
        assert "居民生活" in detail and "residential" not in detail

        held = Bill.objects.filter(status=BillStatus.HELD).select_related("account").first()
        assert held is not None, "the sample company has held bills"
        bills = client.get("/bills/", {"period": company.period, "status": "held"}).content.decode()
        assert '<span class="badge held">待审核</span>' in bills
        assert ">held<" not in bills
        assert "待审核" in client.get(f"/customers/{held.account.number}/").content.decode()

    def test_english_after_switching_language(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        _switch_to_english(client)
        number = _residential_account(roles.BILLING_CLERK)
        response = client.get("/customers/", {"q": number})
        assert response["Content-Language"] == "en"
        html = response.content.decode()
        assert "<h1>Customer search</h1>" in html and "客户查询" not in html
        assert "<td>residential</td>" in html and "居民生活" not in html

        bills = client.get("/bills/", {"period": company.period, "status": "held"}).content.decode()
        assert "Bill search" in bills and "账单查询" not in bills
        assert '<span class="badge held">held</span>' in bills and "待审核" not in bills

    def test_language_cookie_alone_selects_english(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        client.cookies["django_language"] = "en"
        html = client.get(f"/customers/{_residential_account(roles.BILLING_CLERK)}/").content.decode()
        assert "residential" in html and "居民生活" not in html
        assert "Customer class" in html  # {% trans "用电类别" %}


# --- the catalogs ------------------------------------------------------------------------------------------------
#: the files behind the pages tested above: every msgid they use must be translated
TESTED_SOURCES = (
    "interfaces/web/templates/web/base_staff.html",
    "interfaces/web/templates/web/_language.html",
    "interfaces/web/templates/web/customers/",
    "interfaces/web/templates/web/bills/list.html",
    "interfaces/web/pages/customers.py",
    "interfaces/web/pages/bills.py",
    "domain/customers/models.py",
    "domain/billing/models.py",
    "domain/metering/models.py",
    "domain/ledger/models.py",
)


class TestCatalogs:
    @pytest.mark.parametrize("language", sorted(CATALOGS))
    def test_no_empty_or_fuzzy_msgstr_for_the_tested_pages(self, language: str) -> None:
        entries = [e for e in _po(language) if any(o.startswith(TESTED_SOURCES) for o in e.occurrences)]
        assert len(entries) > 100
        missing = [e.msgid for e in entries if needs_translation(language, e.msgid) and not e.translated]
        fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
        assert missing == [] and fuzzy == []

    @pytest.mark.parametrize("language", sorted(CATALOGS))
    def test_whole_catalog_is_translated(self, language: str) -> None:
        entries = _po(language)
        missing = [e.msgid for e in entries if needs_translation(language, e.msgid) and not e.translated]
        fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
        assert missing == [] and fuzzy == [], "translate these, then run compilemessages (docs/i18n.md)"

    @pytest.mark.parametrize("language", sorted(CATALOGS))
    def test_committed_mo_matches_the_po(self, language: str) -> None:
        with (CATALOGS[language] / "django.mo").open("rb") as f:
            compiled = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
        expected: dict[Any, str] = {}
        for e in _po(language):
            if not e.translated or "fuzzy" in e.flags:
                continue
            if e.msgid_plural:
                expected |= {(e.msgid, i): s for i, s in e.msgstr.items()}
            else:
                expected[e.msgid] = e.msgstr[0]
        actual = {k: v for k, v in compiled.items() if k != ""}
        assert actual == expected, "django.mo is stale: run `django-admin compilemessages` (docs/i18n.md)"

    def test_model_labels_are_translated_both_ways(self) -> None:
        """Every verbose name and choice label of WattDesk's models shows in each UI language."""
        labels: set[str] = set()
        for model in apps.get_models():
            if not model.__module__.startswith("wattdesk."):
                continue
            meta = model._meta
            found = [meta.verbose_name, meta.verbose_name_plural]
            for f in meta.get_fields():
                found.append(getattr(f, "verbose_name", None))
                found += [label for _, label in getattr(f, "choices", None) or []]
            # Only labels marked for translation (lazy); Django derives plain-str ones from attribute names.
            with translation.override(None):
                labels |= {str(s) for s in found if isinstance(s, Promise)}
        assert len(labels) > 100
        for language in CATALOGS:
            with translation.override(language):
                untranslated = sorted(
                    s for s in labels if needs_translation(language, s) and translation.gettext(s) == s
                )
            assert untranslated == [], language
