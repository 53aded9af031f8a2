"""Reminders as feed events (``org.lnx.reminder.v1``), each sent once.

- ``declaration-due``: to every member state of a regime with a declaration deadline that has
  not declared on the year due, when the deadline is 30, 7 and 1 days away. Only the nearest
  milestone is sent: after an outage of two weeks a state gets the 7-day reminder, not a late
  30-day one as well.
- ``post-launch-overdue``: to the issuer of a notification whose window closed with neither a
  post-launch report nor a cancellation (its chain is ``expired``), once per closed window (an
  update that reopens the window and lets it lapse again is reminded again). Windows that
  closed more than :data:`OVERDUE_LOOKBACK` ago are not reminded: a first start on an old
  database should not flood the feed with stale reminders.

"Once" holds across restarts and worker processes: a reminder is claimed by inserting its row
in ``report_reminders`` (:func:`repository.claim_reminder`) in the same transaction as its feed
event, so a concurrent claim of the same row inserts nothing and sends nothing. Time is a
parameter (``now``) so that tests drive it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import true
from sqlalchemy.orm import Session

from app.documents.views import iso
from app.feed import outbox
from app.regimes import repository as regimes_repository
from app.regimes import service as regimes_service
from app.reports import repository
from app.reports.declarations import deadline_end

__all__ = [
    "DECLARATION_DUE",
    "POST_LAUNCH_OVERDUE",
    "MILESTONE_DAYS",
    "OVERDUE_LOOKBACK",
    "Reminder",
    "pending_reminders",
    "send_reminders",
    "check",
]

DECLARATION_DUE = "declaration-due"
POST_LAUNCH_OVERDUE = "post-launch-overdue"
KINDS = (DECLARATION_DUE, POST_LAUNCH_OVERDUE)
MILESTONE_DAYS = (30, 7, 1)
OVERDUE_LOOKBACK = timedelta(days=30)


@dataclass(frozen=True, order=True, slots=True)
class Reminder:
    kind: str
    participant: str
    regime: str
    key: str
    subject: str = field(compare=False)
    data: dict[str, Any] = field(compare=False, hash=False)

    @property
    def ledger_key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.participant, self.regime, self.key)


def _milestone(remaining: timedelta) -> int | None:
    """The nearest milestone (in days) the deadline is within, or None (too far, or past)."""
    if remaining <= timedelta(0):
        return None
    for days in sorted(MILESTONE_DAYS):
        if remaining <= timedelta(days=days):
            return days
    return None


def _declaration_reminders(session: Session, now: datetime) -> list[Reminder]:
    out = []
    for regime in regimes_repository.list_regimes(session):
        rules = regimes_service.rules_of(regime)
        if rules.declaration_deadline is None:
            continue
        # The deadline of year Y falls in Y + 1; within 30 days of ``now`` it can only be the
        # deadline on last year or, for a deadline early in January, on this year.
        for year in (now.year - 1, now.year):
            due = rules.declaration_due(year)
            assert due is not None
            milestone = _milestone(deadline_end(due) - now)
            if milestone is None:
                continue
            declared = repository.declared_issuers(session, regime.id, year)
            for state in repository.member_states(session, regime.id):
                if state in declared:
                    continue
                out.append(
                    Reminder(
                        kind=DECLARATION_DUE,
                        participant=state,
                        regime=regime.id,
                        key=f"{year}:{milestone}d",
                        subject=f"declaration/{regime.id}/{year}",
                        data={
                            "kind": DECLARATION_DUE,
                            "regime": regime.id,
                            "year": year,
                            "due": due.isoformat(),
                            "deadline": iso(deadline_end(due)),
                            "days_left": milestone,
                            "message": f"The annual declaration on {year} under {regime.id} is due "
                            f"by the end of {due.isoformat()} (UTC); none has been filed.",
                        },
                    )
                )
    return out


def _overdue_reminders(session: Session, now: datetime) -> list[Reminder]:
    out = []
    for chain, _current in repository.expired_chains(
        session, true(), now, closed_since=now - OVERDUE_LOOKBACK
    ):
        out.append(
            Reminder(
                kind=POST_LAUNCH_OVERDUE,
                participant=chain.issuer,
                regime=chain.regime,
                key=chain.current_id,
                subject=chain.id,
                data={
                    "kind": POST_LAUNCH_OVERDUE,
                    "regime": chain.regime,
                    "chain": chain.id,
                    "document": chain.current_id,
                    "window_end": iso(chain.window_end),
                    "message": f"The launch window of {chain.id} closed at {iso(chain.window_end)}: "
                    "file a post-launch report, or a cancellation if there was no launch.",
                },
            )
        )
    return out


def pending_reminders(session: Session, now: datetime) -> list[Reminder]:
    """Reminders due at ``now`` that the ledger does not hold yet, in a stable order.

    The order matters on PostgreSQL: two workers claim rows in the same order, so one waits for
    the other instead of the two deadlocking.
    """
    sent = repository.sent_reminders(session, KINDS)
    candidates = _declaration_reminders(session, now) + _overdue_reminders(session, now)
    return sorted(r for r in candidates if r.ledger_key not in sent)


def send_reminders(session: Session, reminders: list[Reminder], now: datetime) -> list[Reminder]:
    """Claim each reminder and append a feed event for those this transaction claimed. No commit."""
    claimed = [r for r in reminders if repository.claim_reminder(session, *r.ledger_key, now)]
    outbox.append_events(
        session,
        [
            {
                "type": outbox.REMINDER_EVENT_TYPE,
                "subject": r.subject,
                "time": now,
                "addressee": r.participant,
                "regime": r.regime,
                "data": r.data,
            }
            for r in claimed
        ],
    )
    return claimed


def check(session: Session, now: datetime) -> list[Reminder]:
    """Send every reminder due at ``now`` that was not sent before; returns those sent."""
    return send_reminders(session, pending_reminders(session, now), now)
