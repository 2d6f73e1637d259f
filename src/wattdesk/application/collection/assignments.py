"""Use cases: a supervisor assigns collectors (催费员) and meter readers (抄表员) to reading routes (抄表段).

* ``assign_collector``: from ``from_date`` the route's collector is the given user. Effective-dated
  (``CollectorAssignment``): the assignment in force on that day ends the day before; one that starts on that
  very day is corrected to the new collector. A route has one collector at a time, so an assignment planned
  to start later must be ended first (``end_collector``). The collector's access scope (``StaffScope``) gains
  the route, so the accounts they collect on are also the ones they can look up.
* ``end_collector``: the route's assignment in force on ``last_day`` ends that day; assignments planned to
  start after it are withdrawn. The route leaves the collector's scope once the assignment is over (its last
  day before ``today``) and they hold no other assignment of it.
* ``add_reader`` / ``remove_reader``: the route in or out of a meter reader's scope (a ``StaffScope`` is not
  dated: it is the reader's territory from now on).

Each needs ``collection.assign`` (``roles.COLLECTION_ASSIGN``), runs in one transaction and writes one audit
entry naming the acting user (the row changes are audited as well, by django-auditlog).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from wattdesk.application.errors import InputError
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.access.models import StaffScope
from wattdesk.domain.access.queries import has_capability, role_names
from wattdesk.domain.collection.models import CollectorAssignment
from wattdesk.domain.collection.queries import in_force
from wattdesk.domain.customers.models import ReadingRoute


class AssignmentRefused(InputError):
    """The assignment cannot be made (capability, unknown user or route, a planned assignment in the way).

    ``code`` and ``params`` name the reason for an interface that words it in its own language (the message
    itself is English, for the CLI and the API): ``capability``, ``no_route`` (route), ``not_staff`` (user,
    role), ``planned`` (route, user, day), ``no_collector`` (route, day), ``not_reader`` (user, route)."""

    def __init__(self, message: str, *, code: str = "", **params: str) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class AssignmentResult:
    route: str
    user: str
    from_date: date | None
    to_date: date | None
    ended: tuple[str, ...]  # collectors whose assignment of the route was ended or withdrawn


def _check_actor(actor: Any) -> None:
    if actor is None or not has_capability(actor, roles.COLLECTION_ASSIGN):
        raise AssignmentRefused("assigning routes needs the collection.assign capability", code="capability")


def _route(code: str) -> ReadingRoute:
    route = ReadingRoute.objects.filter(code=(code or "").strip()).first()
    if route is None:
        raise AssignmentRefused(f"no reading route {code!r}", code="no_route", route=str(code))
    return route


def _staff(username: str, role: str) -> Any:
    user = get_user_model().objects.filter(username=(username or "").strip(), is_active=True).first()
    if user is None or role not in role_names(user):
        raise AssignmentRefused(
            f"{username!r} is not an active {role.replace('_', ' ')}",
            code="not_staff",
            user=str(username),
            role=role,
        )
    return user


def _scope(user: Any) -> StaffScope:
    scope, _created = StaffScope.objects.get_or_create(user=user)
    return scope


def assign_collector(
    *,
    actor: Any,
    route_code: str,
    collector_username: str,
    from_date: date,
    base_lat: float | None = None,
    base_lon: float | None = None,
) -> AssignmentResult:
    """Make ``collector_username`` the route's collector from ``from_date`` (see the module docstring)."""
    _check_actor(actor)
    route = _route(route_code)
    collector = _staff(collector_username, roles.COLLECTOR)
    with transaction.atomic():
        # one supervisor at a time per route: the route row is the lock
        ReadingRoute.objects.select_for_update().filter(pk=route.pk).values_list("pk", flat=True).first()
        later = (
            CollectorAssignment.objects.filter(route=route, from_date__gt=from_date)
            .select_related("user")
            .order_by("from_date")
            .first()
        )
        if later is not None:
            raise AssignmentRefused(
                f"route {route.code} is assigned to {later.user.get_username()} from {later.from_date}: "
                "end that assignment first",
                code="planned",
                route=route.code,
                user=later.user.get_username(),
                day=later.from_date.isoformat(),
            )
        ended: list[str] = []
        current = list(
            CollectorAssignment.objects.filter(in_force(from_date), route=route).select_related("user")
        )
        same_day = None
        for a in current:
            if a.from_date == from_date:
                same_day = a
                continue
            if a.user_id == collector.pk and a.to_date is None:
                # already theirs, open-ended: nothing to change
                return AssignmentResult(route.code, collector.get_username(), a.from_date, None, ())
            a.to_date = from_date - timedelta(days=1)
            a.save(update_fields=["to_date"])
            ended.append(a.user.get_username())
        if same_day is not None:
            if same_day.user_id != collector.pk:
                ended.append(same_day.user.get_username())
            same_day.user = collector
            same_day.to_date = None
            same_day.base_lat, same_day.base_lon = base_lat, base_lon
            same_day.save()
        else:
            CollectorAssignment.objects.create(
                user=collector,
                route=route,
                from_date=from_date,
                base_lat=base_lat,
                base_lon=base_lon,
            )
        _scope(collector).routes.add(route)
        audit.record_batch(
            actor=actor,
            action="collection.assign_collector",
            object_repr=f"route {route.code} collector {collector.get_username()} from {from_date}",
            object_pk=route.pk,
            changes={
                "route": route.code,
                "collector": (", ".join(ended) or None, collector.get_username()),
                "from_date": from_date.isoformat(),
            },
        )
    return AssignmentResult(route.code, collector.get_username(), from_date, None, tuple(ended))


def end_collector(*, actor: Any, route_code: str, last_day: date, today: date) -> AssignmentResult:
    """End the route's collector assignment on ``last_day`` (see the module docstring). ``today`` is the
    interface's date: a collector whose assignment is over leaves the route's scope."""
    _check_actor(actor)
    route = _route(route_code)
    with transaction.atomic():
        ReadingRoute.objects.select_for_update().filter(pk=route.pk).values_list("pk", flat=True).first()
        ended: list[str] = []
        touched: set[int] = set()
        for a in CollectorAssignment.objects.filter(in_force(last_day), route=route).select_related("user"):
            a.to_date = last_day
            a.save(update_fields=["to_date"])
            ended.append(a.user.get_username())
            touched.add(a.user_id)
        for a in CollectorAssignment.objects.filter(route=route, from_date__gt=last_day).select_related(
            "user"
        ):
            ended.append(a.user.get_username())
            touched.add(a.user_id)
            a.delete()  # planned, never in force: withdrawn (the deletion is audited)
        if not ended:
            raise AssignmentRefused(
                f"route {route.code} has no collector on or after {last_day}",
                code="no_collector",
                route=route.code,
                day=last_day.isoformat(),
            )
        if last_day < today:
            for scope in StaffScope.objects.filter(user_id__in=touched):
                still = CollectorAssignment.objects.filter(user_id=scope.user_id, route=route).exclude(
                    to_date__lt=today
                )
                if not still.exists():
                    scope.routes.remove(route)
        audit.record_batch(
            actor=actor,
            action="collection.end_collector",
            object_repr=f"route {route.code} collector ended {last_day}",
            object_pk=route.pk,
            changes={
                "route": route.code,
                "collector": (", ".join(ended), None),
                "last_day": last_day.isoformat(),
            },
        )
    return AssignmentResult(route.code, "", None, last_day, tuple(ended))


def _reader_change(*, actor: Any, route_code: str, reader_username: str, add: bool) -> AssignmentResult:
    _check_actor(actor)
    route = _route(route_code)
    reader = _staff(reader_username, roles.METER_READER)
    with transaction.atomic():
        scope = _scope(reader)
        had = scope.routes.filter(pk=route.pk).exists()
        if add and not had:
            scope.routes.add(route)
        elif not add and had:
            scope.routes.remove(route)
        elif not add:
            raise AssignmentRefused(
                f"{reader.get_username()} does not read route {route.code}",
                code="not_reader",
                user=reader.get_username(),
                route=route.code,
            )
        if had != add:
            audit.record_batch(
                actor=actor,
                action="collection.assign_reader" if add else "collection.remove_reader",
                object_repr=f"route {route.code} meter reader {reader.get_username()}",
                object_pk=route.pk,
                changes={
                    "route": route.code,
                    "reader": (None, reader.get_username()) if add else (reader.get_username(), None),
                },
            )
    return AssignmentResult(route.code, reader.get_username(), None, None, ())


def add_reader(*, actor: Any, route_code: str, reader_username: str) -> AssignmentResult:
    """Put the route in the meter reader's territory (their ``StaffScope``)."""
    return _reader_change(actor=actor, route_code=route_code, reader_username=reader_username, add=True)


def remove_reader(*, actor: Any, route_code: str, reader_username: str) -> AssignmentResult:
    """Take the route out of the meter reader's territory."""
    return _reader_change(actor=actor, route_code=route_code, reader_username=reader_username, add=False)
