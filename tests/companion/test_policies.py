import datetime as dt

import pytest

from companion.policies import is_exit_request, may_open_character, within_rate

KEYWORDS = ["退出", "结束对话", "exit", "quit", "/exit"]


@pytest.mark.parametrize("text", [
    "退出", "结束对话", "exit", "EXIT", "Quit!", "/exit", "ｅｘｉｔ", " 退出。", "我要退出", "结束对话吧", "exit now", "i quit",
])
def test_exit_requests(text):
    assert is_exit_request(text, KEYWORDS)


@pytest.mark.parametrize("text", [
    "how do I quit smoking when everyone around me smokes",
    "the exit of the highway was closed today, so I was late",
    "我不想退出学校的合唱团，但是最近真的好累，每天都练习到很晚",
    "", "   ", "hello",
])
def test_not_exit_requests(text):
    assert not is_exit_request(text, KEYWORDS)


def test_adult_only_characters_are_never_open_to_minors():
    assert not may_open_character(user_is_minor=True, character_is_adult_only=True, character_is_active=True)
    assert may_open_character(user_is_minor=True, character_is_adult_only=False, character_is_active=True)
    assert may_open_character(user_is_minor=False, character_is_adult_only=True, character_is_active=True)
    assert not may_open_character(user_is_minor=False, character_is_adult_only=False, character_is_active=False)


def test_within_rate():
    assert within_rate([], 100.0, limit=2)
    assert within_rate([1.0], 100.0, limit=2)
    assert not within_rate([50.0, 60.0], 100.0, limit=2)
    assert within_rate([30.0, 60.0], 100.0, limit=2)  # the oldest left the window


def test_usage_streaks():
    import datetime as dt

    from companion.policies import UsageStreak, due_occurrence, extend_streak

    t0 = dt.datetime(2026, 1, 1, 8, 0)
    gap = dt.timedelta(minutes=20)
    streak = extend_streak(None, t0, gap=gap)
    streak = extend_streak(streak, t0 + dt.timedelta(minutes=19), gap=gap)
    assert streak == UsageStreak(started_at=t0, last_active_at=t0 + dt.timedelta(minutes=19))
    assert extend_streak(streak, t0 + dt.timedelta(minutes=39), gap=gap).started_at == t0 + dt.timedelta(minutes=39)
    assert due_occurrence(streak, t0 + dt.timedelta(minutes=119), every_minutes=120, already_sent=0) is None
    assert due_occurrence(streak, t0 + dt.timedelta(minutes=120), every_minutes=120, already_sent=0) == 1
    assert due_occurrence(streak, t0 + dt.timedelta(minutes=200), every_minutes=120, already_sent=1) is None
    assert due_occurrence(streak, t0 + dt.timedelta(minutes=241), every_minutes=120, already_sent=1) == 2


def test_minor_daily_limits_by_age():
    from guardians.policies import MinorDailyMinutes, minor_daily_limit_minutes
    limits = MinorDailyMinutes()
    assert [minor_daily_limit_minutes(age, limits) for age in (5, 7, 8, 15, 16, 17, 18, 40, None)] == [
        40, 40, 60, 60, 120, 120, None, None, None]


def test_rest_hours_wrap_midnight():
    from guardians.policies import in_rest_hours, parse_rest_hours
    rest = parse_rest_hours("22:00-06:00")
    assert [in_rest_hours(dt.time(*hm), rest) for hm in ((21, 59), (22, 0), (0, 30), (5, 59), (6, 0))] == [
        False, True, True, True, False]
    assert parse_rest_hours("") is None and not in_rest_hours(dt.time(23), None)


def test_usage_credit_counts_the_gap_once_and_only_today():
    from companion.policies import credited_seconds, usage_lock
    at = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)
    gap, start = dt.timedelta(minutes=20), dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.timezone.utc)
    assert credited_seconds(None, at, gap=gap, day_start=start) == 0
    assert credited_seconds(at - dt.timedelta(minutes=10), at, gap=gap, day_start=start) == 600
    assert credited_seconds(at, at, gap=gap, day_start=start) == 0  # a second tab, same moment
    assert credited_seconds(at - dt.timedelta(minutes=25), at, gap=gap, day_start=start) == 0
    assert credited_seconds(start - dt.timedelta(minutes=5), start + dt.timedelta(minutes=5), gap=gap,
                            day_start=start) == 300
    assert usage_lock(limit_minutes=60, used_seconds=3600, local_time=dt.time(9), rest=None) == "time_limit"
    assert usage_lock(limit_minutes=60, used_seconds=0, local_time=dt.time(23),
                      rest=(dt.time(22), dt.time(6))) == "curfew"
    assert usage_lock(limit_minutes=None, used_seconds=9e9, local_time=dt.time(9), rest=None) is None
