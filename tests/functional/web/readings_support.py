"""Helpers for the reading-upload page tests: the pinned upload day and a meter to write a reading for."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Max

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import meters_for
from wattdesk.domain.metering.models import RegisterReading

UPLOAD_DAY = date(2026, 11, 27)


def latest_active(user: Any) -> tuple[str, date, Any]:
    """A meter of the user's scope with an active_total register: serial, latest read date and value."""
    row = (
        RegisterReading.objects.filter(register__kind="active_total", register__meter__in=meters_for(user))
        .values("register__meter__serial")
        .annotate(d=Max("read_on"), v=Max("value"))
        .order_by("register__meter__serial")
        .first()
    )
    assert row is not None
    return row["register__meter__serial"], row["d"], row["v"]


def reader_latest_active(company: Any) -> tuple[str, date, Any]:
    """``latest_active`` for the sample company's meter reader."""
    return latest_active(get_user_model().objects.get(username=company.logins[roles.METER_READER].username))
