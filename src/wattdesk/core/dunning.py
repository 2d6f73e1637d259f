"""Differentiated dunning (差异化催费) and disconnection for non-payment (欠费停电): the decisions, pure.

Given what the company knows of a customer (``Profile``), the account's overdue debt (``Debt``), what was
already done for that debt (``History``), the policy (``DunningPolicy``, from config/dunning-policy.yaml)
and the public holidays, :func:`decide` answers what to do on one day:

* a **reminder** (催费提醒) or a **demand** (催交通知, the formal demand for payment) on the channel of the
  customer's segment for that step (app push / SMS for phone payers, a call then a visit for the elderly,
  the account manager for large industry, ...); high-risk accounts get their first reminder before the due date;
* a **disconnection notice** (停电通知) once the debt is more than ``min_days_overdue`` days overdue *and* a
  demand was served on an earlier day (《电力供应与使用条例》 Art. 39), with the planned disconnection
  ``notice_days`` later (7 days residential, 3 days others: provincial policy data [unverified]) moved to the
  next permitted time (never at night, never on a public holiday);
* on the planned day, the **final notice** (a call ``final_call_minutes`` before the cut, Art. 67) and the
  **disconnect** order at its permitted time;
* or nothing, with the reason.

Protected customers (hospitals, life support, flagged vulnerable) are reminded but never get a disconnection
notice or order: the decision says why. No Django, no database, no clock: ``day`` and the holidays come in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

Channel = Literal["email", "sms", "push", "call_task", "visit_task"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "push", "call_task", "visit_task")
ActionKind = Literal["reminder", "demand", "notice", "final_notice", "disconnect"]
ACTION_KINDS: tuple[ActionKind, ...] = ("reminder", "demand", "notice", "final_notice", "disconnect")


class PolicyError(ValueError):
    """The dunning policy document is malformed."""


# --- inputs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What the company knows of the account holder (Customer + payment_profile + the service point)."""

    customer_class: str  # residential | commercial | industrial | agricultural
    birth_year: int | None = None
    protected: bool = False  # Customer.protected or payment_profile.vulnerable
    channel: str = ""  # payment_profile.channel: mobile | counter | bank | collector
    punctuality: str = ""  # payment_profile.punctuality: punctual | late | chronic
    risk: float = 0.0  # payment_profile.risk, 0..1
    capacity_kva: Decimal = Decimal(0)
    has_email: bool = False

    def age_on(self, day: date) -> int | None:
        """Age in whole years reached in the year of ``day`` (only the birth year is known)."""
        return None if self.birth_year is None else day.year - self.birth_year


@dataclass(frozen=True)
class Debt:
    """An account's overdue debt, keyed by its oldest unpaid bill."""

    bill_id: int
    amount: Decimal  # what the account owes now (> 0)
    due_on: date  # due date of the oldest unpaid bill

    def days_overdue(self, day: date) -> int:
        return (day - self.due_on).days


@dataclass(frozen=True)
class Done:
    """An action already taken for this debt."""

    kind: ActionKind
    step: str
    day: date
    planned_at: datetime | None = None  # notice: the planned disconnection


# --- policy -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    name: str
    channels: tuple[Channel, ...]
    protected: bool | None = None
    customer_classes: tuple[str, ...] = ()
    min_capacity_kva: Decimal | None = None
    min_age: int | None = None
    payment_channels: tuple[str, ...] = ()
    has_email: bool | None = None
    assignee: str = ""

    def matches(self, p: Profile, day: date) -> bool:
        if self.protected is not None and p.protected != self.protected:
            return False
        if self.customer_classes and p.customer_class not in self.customer_classes:
            return False
        if self.min_capacity_kva is not None and p.capacity_kva < self.min_capacity_kva:
            return False
        if self.min_age is not None:
            age = p.age_on(day)
            if age is None or age < self.min_age:
                return False
        if self.payment_channels and p.channel not in self.payment_channels:
            return False
        return self.has_email is None or p.has_email == self.has_email


@dataclass(frozen=True)
class Step:
    name: str
    kind: Literal["reminder", "demand"]
    days: int
    template: str


@dataclass(frozen=True)
class LeadTime:
    notice_days: int
    final_call_minutes: int


@dataclass(frozen=True)
class DunningPolicy:
    segments: tuple[Segment, ...]
    steps: tuple[Step, ...]
    high_risk_min: float = 0.6
    high_risk_first_days: int = -3
    high_risk_punctuality: tuple[str, ...] = ("chronic",)
    min_days_overdue: int = 30
    demand_required: bool = True
    min_amount: Decimal = Decimal("0.01")
    night_start: time = time(20, 0)
    night_end: time = time(8, 0)
    earliest: time = time(9, 0)
    avoid_weekends: bool = False
    lead_times: Mapping[str, LeadTime] = field(default_factory=dict)  # "residential" / "other"

    def lead_time(self, customer_class: str) -> LeadTime:
        return self.lead_times["residential" if customer_class == "residential" else "other"]


def _hhmm(text: Any, where: str) -> time:
    try:
        return time.fromisoformat(str(text))
    except ValueError as exc:
        raise PolicyError(f"{where}: not a time HH:MM: {text!r}") from exc


def _channels(values: Any, where: str) -> tuple[Channel, ...]:
    if not isinstance(values, list) or not values:
        raise PolicyError(f"{where}: channels must be a non-empty list")
    out: list[Channel] = []
    for v in values:
        if v not in CHANNELS:
            raise PolicyError(f"{where}: unknown channel {v!r} (one of {', '.join(CHANNELS)})")
        out.append(v)
    return tuple(out)


def parse_policy(doc: Any, *, province: str = "default") -> DunningPolicy:
    """config/dunning-policy.yaml (a parsed mapping) -> :class:`DunningPolicy`; PolicyError when malformed."""
    try:
        segments = []
        for i, s in enumerate(doc["segments"]):
            when = s.get("when") or {}
            cap = when.get("min_capacity_kva")
            segments.append(
                Segment(
                    name=str(s["name"]),
                    channels=_channels(s.get("channels"), f"segments[{i}]"),
                    protected=when.get("protected"),
                    customer_classes=tuple(when.get("customer_class", ())),
                    min_capacity_kva=None if cap is None else Decimal(str(cap)),
                    min_age=when.get("min_age"),
                    payment_channels=tuple(when.get("channel", ())),
                    has_email=when.get("has_email"),
                    assignee=str(s.get("assignee", "")),
                )
            )
        steps = []
        for i, st in enumerate(doc["steps"]):
            if st["kind"] not in ("reminder", "demand"):
                raise PolicyError(f"steps[{i}]: kind must be reminder or demand")
            steps.append(Step(str(st["name"]), st["kind"], int(st["days"]), str(st["template"])))
        steps.sort(key=lambda s: s.days)
        hr = doc.get("high_risk") or {}
        dc = doc["disconnection"]
        prov = dc["provinces"].get(province)
        if prov is None:
            raise PolicyError(f"disconnection.provinces: no policy for province {province!r}")
        leads = {
            k: LeadTime(int(prov[k]["notice_days"]), int(prov[k]["final_call_minutes"]))
            for k in ("residential", "other")
        }
        return DunningPolicy(
            segments=tuple(segments),
            steps=tuple(steps),
            high_risk_min=float(hr.get("min_risk", 0.6)),
            high_risk_first_days=int(hr.get("first_reminder_days", steps[0].days if steps else 1)),
            high_risk_punctuality=tuple(hr.get("punctuality", ())),
            min_days_overdue=int(dc["min_days_overdue"]),
            demand_required=bool(dc.get("demand_required", True)),
            min_amount=Decimal(str(dc.get("min_amount", "0.01"))),
            night_start=_hhmm(dc["night"]["start"], "disconnection.night.start"),
            night_end=_hhmm(dc["night"]["end"], "disconnection.night.end"),
            earliest=_hhmm(dc.get("earliest", "09:00"), "disconnection.earliest"),
            avoid_weekends=bool(dc.get("avoid_weekends", False)),
            lead_times=leads,
        )
    except PolicyError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise PolicyError(f"dunning policy: {type(exc).__name__}: {exc}") from exc


# --- decisions ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    step: str
    channel: Channel
    template: str
    reason: str
    assignee: str = ""
    at: datetime | None = None  # final notice / disconnect: when; notice: the planned disconnection


@dataclass(frozen=True)
class Decision:
    segment: str
    actions: tuple[Action, ...]
    reason: str  # why these actions, or why nothing


def segment_of(profile: Profile, day: date, policy: DunningPolicy) -> Segment:
    for s in policy.segments:
        if s.matches(profile, day):
            return s
    raise PolicyError("dunning policy: no segment matches (add a catch-all segment with an empty 'when')")


def is_high_risk(profile: Profile, policy: DunningPolicy) -> bool:
    return profile.risk >= policy.high_risk_min or profile.punctuality in policy.high_risk_punctuality


def is_permitted(at: datetime, policy: DunningPolicy, holidays: frozenset[date]) -> bool:
    """May supply be cut at ``at``? Not at night, not on a public holiday (nor a weekend if so configured)."""
    t, d = at.timetz().replace(tzinfo=None), at.date()
    night = (
        (t >= policy.night_start or t < policy.night_end)
        if policy.night_start > policy.night_end
        else (policy.night_start <= t < policy.night_end)
    )
    if night or d in holidays:
        return False
    return not (policy.avoid_weekends and d.weekday() >= 5)


def next_permitted(at: datetime, policy: DunningPolicy, holidays: frozenset[date]) -> datetime:
    """The first permitted moment at or after ``at`` (a night moves to the next morning's ``night_end``,
    a holiday to the next permitted day at ``earliest``)."""
    for _ in range(400):
        if is_permitted(at, policy, holidays):
            return at
        t = at.timetz().replace(tzinfo=None)
        if at.date() in holidays or (policy.avoid_weekends and at.date().weekday() >= 5):
            at = datetime.combine(at.date() + timedelta(days=1), policy.earliest, tzinfo=at.tzinfo)
        elif t >= policy.night_start:
            at = datetime.combine(at.date() + timedelta(days=1), policy.night_end, tzinfo=at.tzinfo)
        else:
            at = datetime.combine(at.date(), policy.night_end, tzinfo=at.tzinfo)
    raise PolicyError("no permitted disconnection time within 400 days (holiday data?)")


def _step_channel(segment: Segment, n: int) -> Channel:
    return segment.channels[min(n, len(segment.channels) - 1)]


def decide(
    *,
    profile: Profile,
    debt: Debt,
    history: Sequence[Done],
    day: date,
    policy: DunningPolicy,
    holidays: frozenset[date] = frozenset(),
    tzinfo: Any = None,
) -> Decision:
    """What to do about ``debt`` on ``day`` (see the module docstring). ``history``: actions already taken
    for this debt (any day, including ``day``); an action kind already taken today is never repeated."""
    segment = segment_of(profile, day, policy)
    overdue = debt.days_overdue(day)
    if debt.amount <= 0:
        return Decision(segment.name, (), "nothing owed")
    done_steps = {h.step for h in history}
    today = {h.kind for h in history if h.day == day}
    high_risk = is_high_risk(profile, policy)
    actions: list[Action] = []

    # 1. the disconnection track, once a notice has been served: the final notice and the cut on the day
    notice = next((h for h in history if h.kind == "notice"), None)
    if notice is not None and notice.planned_at is not None:
        if profile.protected:  # flagged after the notice: stop the track
            return Decision(segment.name, (), "protected customer: never disconnected automatically")
        planned = notice.planned_at
        if planned.date() == day and "disconnect" not in {h.kind for h in history}:
            lead = policy.lead_time(profile.customer_class)
            call_at = planned - timedelta(minutes=lead.final_call_minutes)
            why = f"disconnection planned {planned.isoformat()}; final notice {lead.final_call_minutes} min before"
            actions.append(
                Action("final_notice", "final_notice", "call_task", "final_notice", why, at=call_at)
            )
            actions.append(Action("disconnect", "disconnect", "call_task", "disconnect", why, at=planned))
            return Decision(segment.name, tuple(actions), why)
        if planned.date() > day:
            return Decision(segment.name, (), f"notice served; disconnection planned {planned.isoformat()}")
        return Decision(segment.name, (), "disconnection order already issued")

    # 2. a disconnection notice: > min_days_overdue AND a demand served on an earlier day, never protected
    demanded = any(h.kind == "demand" and h.day < day for h in history)
    if overdue > policy.min_days_overdue and (demanded or not policy.demand_required):
        if profile.protected:
            return Decision(
                segment.name,
                (),
                f"{overdue} days overdue after a demand, but a protected customer is never disconnected "
                "automatically: refer to a supervisor",
            )
        if debt.amount < policy.min_amount:
            return Decision(segment.name, (), f"debt {debt.amount} below the disconnection minimum")
        if "notice" in today:
            return Decision(segment.name, (), "notice already served today")
        lead = policy.lead_time(profile.customer_class)
        start = datetime.combine(day + timedelta(days=lead.notice_days), policy.earliest, tzinfo=tzinfo)
        planned = next_permitted(start, policy, holidays)
        why = (
            f"{overdue} days overdue (> {policy.min_days_overdue}) after a demand; "
            f"{lead.notice_days} days' notice; disconnection planned {planned.isoformat()}"
        )
        channel = _step_channel(segment, len(segment.channels) - 1)
        return Decision(
            segment.name,
            (Action("notice", "notice", channel, "notice", why, segment.assignee, planned),),
            why,
        )

    # 3. reminders and the demand by days overdue; high-risk accounts start earlier
    due: list[tuple[int, Step]] = []
    for i, st in enumerate(policy.steps):
        days = st.days
        if i == 0 and high_risk:
            days = min(days, policy.high_risk_first_days)
        if overdue >= days:
            due.append((i, st))
    if not due:
        return Decision(segment.name, (), f"{overdue} days overdue: no step due yet")
    i, step = due[-1]  # the latest step due; earlier ones missed are not sent late
    if step.name in done_steps:
        return Decision(segment.name, (), f"step {step.name} already done")
    if step.kind in today:
        return Decision(segment.name, (), f"a {step.kind} was already sent today")
    channel = _step_channel(segment, i)
    why = f"{overdue} days overdue: step {step.name} ({segment.name}{', high risk' if high_risk else ''})"
    return Decision(
        segment.name, (Action(step.kind, step.name, channel, step.template, why, segment.assignee),), why
    )
