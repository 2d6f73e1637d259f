"""The audit page names a batch action in the reader's language: every action name written through
``audit.record_batch`` has a label in the ``batch_action`` code family (批量操作 电费发行 / batch: bills issued)."""

from __future__ import annotations

import re
from pathlib import Path

from django.utils import translation

from wattdesk.domain.billing.adjustments import CorrectionAction
from wattdesk.interfaces.web.templatetags.fmt import CODES, choice_label

SRC = Path(__file__).resolve().parents[3] / "src" / "wattdesk"
_ACTION = re.compile(r'action=(f?)"([a-z_]+\.[a-z_.{}]+)"|_record\(user, "(inspection\.[a-z_]+)"')


def _action_names() -> set[str]:
    """Every audit action name in the sources (``readings.{action}`` expanded over its choices)."""
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for f, name, inspection in _ACTION.findall(text):
            if inspection:
                names.add(inspection)
            elif f and "{action}" in name:
                names |= {name.replace("{action}", a.value) for a in CorrectionAction}
            elif "{" not in name:
                names.add(name)
        names |= set(
            re.findall(r'action="[^"]+" if [^\n]* else "([a-z_]+\.[a-z_]+)"', text)
        )  # action="x" if add else "y"
    return names


def test_every_batch_action_in_the_sources_has_a_label() -> None:
    names = _action_names()
    assert {"bills.issue", "billing.run", "readings.field_check", "inspection.reverse"} <= names
    assert sorted(names - set(CODES["batch_action"])) == []


def test_the_batch_label_reads_in_each_language() -> None:
    with translation.override("zh-hans"):
        assert choice_label("batch bills.issue", "audit_action") == "批量操作 电费发行"
        assert choice_label("batch some.new_action", "audit_action") == "批量操作 some.new_action"
    with translation.override("en"):
        assert choice_label("batch bills.issue", "audit_action") == "Batch: bills issued"
        assert choice_label("batch readings.import", "audit_action") == "Batch: readings imported"
