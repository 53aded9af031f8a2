"""The shipped regime (agreement) profiles as data, with the source of every number.

A profile is what CONTRACT §7 ships; the operator may edit a regime's rules in the database,
so :class:`RegimeRules` round-trips through a JSON dict (:meth:`RegimeRules.to_dict` /
:meth:`RegimeRules.from_dict`), refusing unknown keys and wrong types rather than guessing.
A ``None`` threshold means "the agreement fixes none"; nothing is invented to fill a gap.
Sources are quoted from ``/work/shared/spec/DOMAIN.md`` and repeated in ``docs/regimes.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from types import MappingProxyType
from typing import Any

__all__ = [
    "SHIPPED_PROFILES",
    "SHIPPED_PROFILES_BY_ID",
    "RegimeProfile",
    "RegimeRules",
    "RegimeRulesError",
    "shipped_profile",
]

_NUMBER_FIELDS = (
    "min_notice_hours",
    "max_notice_days",
    "max_window_days",
    "launch_site_min_km",
    "impact_min_km",
    "trajectory_min_km",
)
_TUPLE_FIELDS = ("covered_classes", "covered_categories")
_DEADLINE_RE = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


class RegimeRulesError(ValueError):
    """Rules data that cannot be used (unknown key, wrong type, impossible value)."""


@dataclass(frozen=True, slots=True)
class RegimeRules:
    """The checks a regime applies to a notification on submission (see ``docs/regimes.md``).

    Thresholds are inclusive: a value exactly at a limit complies. ``covered_*`` of ``None``
    means every class / category is covered; a vehicle must match both lists to be covered.
    ``declaration_deadline`` is ``"MM-DD"`` of the year *after* the year declared on.
    """

    min_notice_hours: float | None = None
    max_notice_days: float | None = None
    max_window_days: float | None = None
    covered_classes: tuple[str, ...] | None = None
    covered_categories: tuple[str, ...] | None = None
    declaration_deadline: str | None = None
    launch_site_min_km: float | None = None
    impact_min_km: float | None = None
    trajectory_min_km: float | None = None
    requires_boundary: bool = False

    def __post_init__(self) -> None:
        for name in _NUMBER_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise RegimeRulesError(f"{name} must be a finite number or null")
            if value < 0:
                raise RegimeRulesError(f"{name} must not be negative")
            object.__setattr__(self, name, float(value))
        for name in _TUPLE_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
                raise RegimeRulesError(f"{name} must be a list of strings or null")
            object.__setattr__(self, name, tuple(value))
        deadline = self.declaration_deadline
        if deadline is not None:
            if not isinstance(deadline, str) or not _DEADLINE_RE.match(deadline):
                raise RegimeRulesError("declaration_deadline must be 'MM-DD' or null")
            try:
                date(2024, int(deadline[:2]), int(deadline[3:]))  # a leap year admits 02-29
            except ValueError:
                raise RegimeRulesError("declaration_deadline is not a calendar day") from None
        if not isinstance(self.requires_boundary, bool):
            raise RegimeRulesError("requires_boundary must be true or false")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegimeRules:
        """Rules from their JSON form; missing keys take their defaults, unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise RegimeRulesError("rules must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RegimeRulesError(f"unknown rule setting(s): {', '.join(map(str, unknown))}")
        values = dict(data)
        for name in _TUPLE_FIELDS:
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the database (lists for tuples, every key present)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def declaration_due(self, year: int) -> date | None:
        """The last day to file the declaration on ``year`` (HCoC practice: 31 March of year + 1)."""
        if self.declaration_deadline is None:
            return None
        month, day = int(self.declaration_deadline[:2]), int(self.declaration_deadline[3:])
        if (month, day) == (2, 29) and not _is_leap(year + 1):
            day = 28
        return date(year + 1, month, day)

    def covers(self, category: str, generic_class: str) -> bool:
        """Whether a vehicle falls within the regime's scope."""
        return (self.covered_categories is None or category in self.covered_categories) and (
            self.covered_classes is None or generic_class in self.covered_classes
        )


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@dataclass(frozen=True, slots=True)
class RegimeProfile:
    """A shipped agreement profile; ``sources`` maps a rule setting (or topic) to its citation."""

    id: str
    name: str
    description: str
    multilateral: bool
    confidential: bool
    default_auditors: tuple[str, ...]
    rules: RegimeRules
    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))


_BALLISTIC = ("ballistic-missile",)

HCOC = RegimeProfile(
    id="hcoc",
    name="Hague Code of Conduct against Ballistic Missile Proliferation",
    description=(
        "Multilateral confidence-building regime of all subscribing states: pre-launch "
        "notifications of ballistic-missile and space-launch-vehicle launches and test flights, "
        "and annual declarations of policies and launches, due by 31 March of the following year."
    ),
    multilateral=True,
    confidential=False,
    default_auditors=("ICC",),
    rules=RegimeRules(declaration_deadline="03-31"),
    sources={
        "regime": "Adopted at The Hague, 25-26 Nov 2002, by 93 states; 145 subscribing states by March 2024 "
        "(hcoc.at; nonproliferation.eu/hcoc).",
        "notification_content": "HCoC §4(a)(iii): generic class of the Ballistic Missile or Space Launch Vehicle, "
        "the planned launch notification window, the launch area and the planned direction.",
        "min_notice_hours": "HCoC §4(a)(iii): no minimum notice is fixed by the Code.",
        "covered_classes": "HCoC §4(a)(iii): ballistic-missile and space-launch-vehicle launches and test flights.",
        "declaration_deadline": "Practice, not the Code: declarations to the ICC by 31 March "
        "(US cable 09STATE27822, for 2009); no standing date found in the Code itself.",
        "annual_declaration": "HCoC §4(a)(i)-(ii): policies, land (test-) launch sites, number and generic class "
        "launched in the preceding year.",
        "default_auditors": "Immediate Central Contact (executive secretariat): Austria's Ministry for Europe, "
        "Integration and Foreign Affairs, Vienna (hcoc.at, 'how to join').",
    },
)

US_RU_1988 = RegimeProfile(
    id="us-ru-1988",
    name="US-USSR Ballistic Missile Launch Notification Agreement (1988)",
    description=(
        "Bilateral: notice no less than 24 hours before the planned date of any ICBM or SLBM "
        "launch, with launch area and area of impact. A maximum window of four days is "
        "unconfirmed and therefore not enforced (max_window_days is null)."
    ),
    multilateral=False,
    confidential=False,
    default_auditors=(),
    rules=RegimeRules(min_notice_hours=24, covered_categories=_BALLISTIC, covered_classes=("ICBM", "SLBM")),
    sources={
        "regime": "Agreement of 31 May 1988 (fas.org/nuke/control/launch; Reagan Library statement of "
        "31 May 1988); channel: the Nuclear Risk Reduction Centers.",
        "min_notice_hours": "No less than 24 hours in advance of the planned date of launch (Agreement; fas.org).",
        "covered_classes": "Any ICBM or SLBM launch (Agreement; fas.org).",
        "max_window_days": "Unconfirmed: a maximum window of four days; left null until a primary source is found.",
        "areas": "SLBM launch area: an ocean quadrant or named body of water; impact area: boundary points or "
        "a circle's centre and radius (nuke.fas.org/control/launch/text/balist1.htm).",
        "confidential": "The agreement text found makes no confidentiality provision; not flagged confidential.",
    },
)

IN_PK_2005 = RegimeProfile(
    id="in-pk-2005",
    name="India-Pakistan Agreement on Pre-Notification of Flight Testing of Ballistic Missiles (2005)",
    description=(
        "Bilateral and confidential: notice no less than three days before a launch window of at "
        "most five days; launch site at least 40 km and impact area at least 70 km from the "
        "International Boundary / Line of Control, trajectory not crossing it and at least 40 km "
        "from it. The boundary geometry is operator data."
    ),
    multilateral=False,
    confidential=True,
    default_auditors=(),
    rules=RegimeRules(
        min_notice_hours=72,
        max_window_days=5,
        covered_categories=_BALLISTIC,
        launch_site_min_km=40,
        impact_min_km=70,
        trajectory_min_km=40,
        requires_boundary=True,
    ),
    sources={
        "regime": "Agreement signed 3 Oct 2005; Art 4: via Foreign Offices and High Commissions (annex not found).",
        "covered_categories": "Art 1: land- or sea-launched surface-to-surface ballistic missiles "
        "(cruise and surface-to-air missiles excluded).",
        "min_notice_hours": "Art 2: no less than three days in advance of the commencement of the launch window.",
        "max_window_days": "Art 2: a launch window of five days.",
        "launch_site_min_km": "Art 5: launch site at least 40 km from the International Boundary / Line of Control.",
        "impact_min_km": "Art 5: planned impact area at least 70 km from the IB / LoC "
        "(one secondary source says 75 km; configurable).",
        "trajectory_min_km": "Art 6: trajectory shall not cross the border and stays at least 40 km from it "
        "horizontally.",
        "requires_boundary": "Arts 5-6 measure from the International Boundary / Line of Control; its geometry "
        "is operator data, not shipped.",
        "confidential": "Art 7: notifications are confidential between the parties.",
    },
)

CN_RU_2009 = RegimeProfile(
    id="cn-ru-2009",
    name="China-Russia Agreement on Notification of Ballistic Missile and Space Launch Vehicle Launches (2009)",
    description=(
        "Bilateral and confidential: notice no earlier than 30 days and no later than 24 hours "
        "before the launch, for ballistic missiles with a range above 2,000 km and all SLVs."
    ),
    multilateral=False,
    confidential=True,
    default_auditors=(),
    rules=RegimeRules(
        min_notice_hours=24,
        max_notice_days=30,
        # Range > 2,000 km: IRBM, ICBM, SLBM. 'other' is kept in scope because its range is
        # unknown to the exchange: no "not covered" warning for what may well be covered.
        covered_classes=("IRBM", "ICBM", "SLBM", "SLV", "other"),
        covered_categories=("ballistic-missile", "space-launch-vehicle"),
    ),
    sources={
        "regime": "Signed 13 Oct 2009; in force 16 Dec 2010; extended to 16 Dec 2030.",
        "min_notice_hours": "No later than 24 hours before the launch.",
        "max_notice_days": "No earlier than 30 days before the launch.",
        "covered_classes": "Ballistic missiles with a range above 2,000 km (IRBM, ICBM, SLBM; 'other' kept "
        "in scope as a judgement) and all SLVs; launches in the direction of the other party.",
        "confidential": "Notifications are confidential.",
    },
)

#: The shipped profiles, in the order of CONTRACT §7.
SHIPPED_PROFILES: tuple[RegimeProfile, ...] = (HCOC, US_RU_1988, IN_PK_2005, CN_RU_2009)
SHIPPED_PROFILES_BY_ID: Mapping[str, RegimeProfile] = MappingProxyType({p.id: p for p in SHIPPED_PROFILES})


def shipped_profile(regime_id: str) -> RegimeProfile:
    """The shipped profile ``regime_id``; raises ``KeyError`` for any other id."""
    return SHIPPED_PROFILES_BY_ID[regime_id]
