"""The package center's query string: read strictly, dates as the merchant's days."""

from datetime import UTC, datetime

import pytest

from web import filters
from web.filters import BadFilter
from web.present import Clock, clocks_differ, money

SHANGHAI = Clock("Asia/Shanghai")


def test_the_default_is_the_last_three_months():
    view = filters.parse({})
    wanted = filters.request(view, "m1", SHANGHAI)
    assert (wanted.days, wanted.since, wanted.until, wanted.merchant_id) == (90, None, None, "m1")


def test_dates_are_whole_days_in_the_merchants_zone_the_last_one_included():
    view = filters.parse({"range": "dates", "since": "2026-11-01", "until": "2026-11-30"})
    wanted = filters.request(view, "m1", SHANGHAI)
    assert wanted.since == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert wanted.until == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert wanted.days is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"carrier": "zto"}, "carrier"),
        ({"range": "365"}, "range"),
        ({"range": "dates"}, "since"),
        ({"range": "dates", "since": "2026-11-31"}, "since"),
        ({"range": "dates", "since": "2026-11-02", "until": "2026-11-01"}, "until"),
        ({"order_id": "a b"}, "order_id"),
        ({"conflicts": "yes"}, "conflicts"),
        ({"days": "5"}, "days"),
    ],
)
def test_a_value_not_offered_is_refused_naming_its_field(params, field):
    with pytest.raises(BadFilter) as refused:
        filters.parse(params)
    assert refused.value.field == field


def test_links_keep_the_view_and_leave_defaults_out():
    view = filters.parse({"carrier": "SF", "conflicts": "1"})
    assert view.query(status="failed") == "status=failed&carrier=SF&conflicts=1"
    assert filters.View().query() == ""


def test_money_reads_in_yuan_and_clocks_a_second_apart_show_as_two():
    assert money(19_900, "CNY") == "¥199.00"
    assert money(123_456_789, "CNY") == "¥1,234,567.89"
    assert money(5, "USD") == "0.05 USD"
    assert not clocks_differ("2026-11-26T02:00:00.000000Z", "2026-11-26T02:00:00.400000Z")
    assert clocks_differ("2026-11-26T02:00:00.000000Z", "2026-11-26T02:00:03.000000Z")
    assert SHANGHAI.local("2026-11-26T02:00:00.000000Z") == "2026-11-26 10:00:00"
