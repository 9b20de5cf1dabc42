"""The statistics page's chart geometry."""

from web import charts


def test_the_day_chart_spans_the_plot_and_tops_out_at_the_largest_value():
    series = [
        {"day": "2026-11-01", "requests": 4, "cancels": 1, "intercepts": 2, "failures": 0},
        {"day": "2026-11-02", "requests": 8, "cancels": 0, "intercepts": 5, "failures": 1},
    ]
    chart = charts.days(series)
    assert chart is not None and chart.top == 8
    requests = next(line for line in chart.lines if line.name == "requests")
    (x0, y0), (x1, y1) = (tuple(map(float, p.split(","))) for p in requests.points.split())
    assert (x0, x1) == (charts.LEFT, charts.WIDTH - 8)
    assert y1 == charts.TOP  # the largest value touches the top
    assert y0 > y1
    assert [t[1] for t in chart.ticks] == ["11-01", "11-02"]
    assert charts.days([]) is None


def test_carrier_bars_are_their_success_rate_and_none_decided_is_no_bar():
    bars = charts.rates(
        {
            "ZTO": {"success_rate": 0.5, "decided": 4},
            "SF": {"success_rate": None, "decided": 0},
        },
        full=200,
    )
    assert [(b.label, b.width, b.n) for b in bars] == [("SF", 0, 0), ("ZTO", 100.0, 4)]
