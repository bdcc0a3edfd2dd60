import pytest

from accounts.packs import Part, StartNotice, packs_for, rules_for


def test_cn_applies_to_everyone_and_foreign_packs_follow_the_region():
    assert [p.code for p in packs_for("US-CA", ["CN", "US-CA", "US-NY"])] == ["CN", "US-CA"]
    assert [p.code for p in packs_for("CN", ["CN", "US-CA"])] == ["CN"]
    assert [p.code for p in packs_for("US-NY", ["US-CA"])] == []


def test_cn_rules():
    rules = rules_for(region="CN", is_minor=False, enabled=["CN"], regime="union")
    assert rules.periodic.kind == "continuous_use" and rules.periodic.every_minutes == 120
    assert rules.start_notice == StartNotice.EVERY_LOGIN
    assert rules_for(region="CN", is_minor=False, enabled=["CN"], regime="final").start_notice == StartNotice.NONE


@pytest.mark.parametrize("is_minor, expected", [(True, ("break", 180)), (False, None)])
def test_sb243_break_reminder_is_for_known_minors(is_minor, expected):
    rules = rules_for(region="US-CA", is_minor=is_minor, enabled=["US-CA"], regime="union")
    assert (rules.periodic and (rules.periodic.kind, rules.periodic.every_minutes)) == expected


@pytest.mark.parametrize("is_minor, expected", [(True, ("break", 30)), (False, ("continuous_use", 120))])
def test_cn_minor_mode_adds_a_reality_reminder_every_30_minutes(is_minor, expected):
    """CN-MIN-01: minor mode's periodic reality reminder; adults keep CN-USE-01's two hours."""
    rules = rules_for(region="CN", is_minor=is_minor, enabled=["CN"], regime="union")
    assert (rules.periodic.kind, rules.periodic.every_minutes) == expected


def test_strictest_wins_and_messages_are_merged():
    rules = rules_for(region="US-NY", is_minor=False, enabled=["CN", "US-NY"], regime="union")
    assert rules.periodic.every_minutes == 120 and rules.periodic.kind == "continuous_use"
    assert set(rules.periodic.parts) == {Part.USAGE_TIME, Part.TAKE_BREAK, Part.AI_NATURE}
    assert rules.start_notice == StartNotice.EVERY_LOGIN
    ny = rules_for(region="US-NY", is_minor=False, enabled=["US-NY"], regime="union")
    assert (ny.periodic.kind, ny.periodic.every_minutes, ny.start_notice) == ("disclosure", 180, StartNotice.DAILY)


def test_the_interval_cap_only_shortens():
    assert rules_for(region="CN", is_minor=False, enabled=["CN"], regime="union",
                     interval_cap_minutes=1).periodic.every_minutes == 1
    assert rules_for(region="CN", is_minor=False, enabled=["CN"], regime="union",
                     interval_cap_minutes=500).periodic.every_minutes == 120


def test_eu_has_no_periodic_reminder():
    rules = rules_for(region="EU", is_minor=False, enabled=["EU"], regime="union")
    assert rules.periodic is None and rules.start_notice == StartNotice.NONE
