"""Shipped regime profiles: the numbers of DOMAIN.md / CONTRACT §7, sources, JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date
from typing import Any

import pytest

from app.regimes.profiles import (
    SHIPPED_PROFILES,
    SHIPPED_PROFILES_BY_ID,
    RegimeRules,
    RegimeRulesError,
    shipped_profile,
)


def test_the_four_contract_profiles_ship_in_order() -> None:
    assert [p.id for p in SHIPPED_PROFILES] == ["hcoc", "us-ru-1988", "in-pk-2005", "cn-ru-2009"]
    assert set(SHIPPED_PROFILES_BY_ID) == {p.id for p in SHIPPED_PROFILES}
    assert shipped_profile("hcoc") is SHIPPED_PROFILES[0]
    with pytest.raises(KeyError):
        shipped_profile("nope")


def test_hcoc() -> None:
    profile = shipped_profile("hcoc")
    assert profile.multilateral and not profile.confidential
    assert profile.rules == RegimeRules(declaration_deadline="03-31")  # no minimum notice, all classes
    assert profile.rules.declaration_due(2026) == date(2027, 3, 31)
    assert "09STATE27822" in profile.sources["declaration_deadline"]
    assert profile.default_auditors == ("ICC",)


def test_us_ru_1988() -> None:
    profile = shipped_profile("us-ru-1988")
    rules = profile.rules
    assert (rules.min_notice_hours, rules.max_window_days) == (24, None)
    assert rules.covered_classes == ("ICBM", "SLBM")
    assert "Unconfirmed" in profile.sources["max_window_days"]
    assert "unconfirmed" in profile.description
    assert not profile.multilateral


def test_in_pk_2005() -> None:
    profile = shipped_profile("in-pk-2005")
    rules = profile.rules
    assert profile.confidential and not profile.multilateral and profile.default_auditors == ()
    assert rules.min_notice_hours == 72 and rules.max_window_days == 5
    assert (rules.launch_site_min_km, rules.impact_min_km, rules.trajectory_min_km) == (40, 70, 40)
    assert rules.requires_boundary and rules.covered_categories == ("ballistic-missile",)
    assert rules.covered_classes is None
    assert "75 km" in profile.sources["impact_min_km"]


def test_cn_ru_2009() -> None:
    profile = shipped_profile("cn-ru-2009")
    rules = profile.rules
    assert profile.confidential
    assert (rules.min_notice_hours, rules.max_notice_days) == (24, 30)
    assert rules.covers("ballistic-missile", "ICBM") and rules.covers("space-launch-vehicle", "SLV")
    assert rules.covers("ballistic-missile", "other")  # documented judgement
    assert not rules.covers("ballistic-missile", "MRBM") and not rules.covers("ballistic-missile", "SRBM")


@pytest.mark.parametrize("profile", SHIPPED_PROFILES, ids=lambda p: p.id)
def test_every_setting_in_use_has_a_source(profile: Any) -> None:
    assert profile.sources["regime"]
    for name, value in profile.rules.to_dict().items():
        if value not in (None, False) and name not in ("covered_categories",):
            assert name in profile.sources, name


@pytest.mark.parametrize("profile", SHIPPED_PROFILES, ids=lambda p: p.id)
def test_rules_round_trip_through_json(profile: Any) -> None:
    data = json.loads(json.dumps(profile.rules.to_dict()))
    assert RegimeRules.from_dict(data) == profile.rules
    assert set(data) == {f.name for f in dataclasses.fields(RegimeRules)}


def test_from_dict_fills_defaults_and_coerces_ints() -> None:
    rules = RegimeRules.from_dict({"min_notice_hours": 48, "covered_classes": ["ICBM"]})
    assert rules.min_notice_hours == 48.0 and isinstance(rules.min_notice_hours, float)
    assert rules.covered_classes == ("ICBM",) and rules.max_window_days is None


@pytest.mark.parametrize(
    "data",
    [
        {"min_notice": 24},
        {"min_notice_hours": "24"},
        {"min_notice_hours": True},
        {"min_notice_hours": math.nan},
        {"impact_min_km": -1},
        {"covered_classes": "ICBM"},
        {"covered_classes": [1]},
        {"covered_categories": 5},
        {"declaration_deadline": "3-31"},
        {"declaration_deadline": "02-30"},
        {"declaration_deadline": 331},
        {"requires_boundary": "yes"},
        ["min_notice_hours"],
    ],
)
def test_from_dict_refuses_bad_data(data: Any) -> None:
    with pytest.raises(RegimeRulesError):
        RegimeRules.from_dict(data)


def test_leap_day_deadline_falls_back_in_common_years() -> None:
    rules = RegimeRules(declaration_deadline="02-29")
    assert rules.declaration_due(2027) == date(2028, 2, 29)
    assert rules.declaration_due(2025) == date(2026, 2, 28)
    assert RegimeRules().declaration_due(2025) is None


def test_profiles_are_immutable() -> None:
    profile = shipped_profile("in-pk-2005")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.rules.min_notice_hours = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        profile.sources["x"] = "y"  # type: ignore[index]
