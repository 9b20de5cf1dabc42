"""Charts of the statistics: the per-day series and the per-carrier success rates.

Drawn with matplotlib (the `analytics` extra). PNG and SVG are matplotlib's own; HTML is
one self-contained page with the SVG inline: nothing is fetched from anywhere.
"""

import html
import io
from pathlib import Path
from typing import Any

FORMATS = (".png", ".svg", ".html")


class ChartUnavailable(RuntimeError):
    """The chart cannot be drawn: an unknown format, or matplotlib is not installed."""


def check(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise ChartUnavailable(f"the file must end in {', '.join(FORMATS)}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ChartUnavailable(
            "charts need matplotlib: pip install 'intercept[analytics]'"
        ) from None


def figure(figures: dict[str, Any]) -> Any:
    """The matplotlib figure: per-day series above, per-carrier success rates below."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7), layout="constrained")
    days, bars = fig.subplots(2, 1)
    series = figures["series"]
    x = [p["day"] for p in series]
    for name in ("requests", "cancels", "intercepts", "failures"):
        days.plot(x, [p[name] for p in series], marker=".", label=name)
    days.set_title("per day of request")
    days.set_ylabel("intercepts")
    days.legend()
    if len(x) > 12:
        step = max(1, len(x) // 12)
        days.set_xticks(x[::step])
    days.tick_params(axis="x", labelrotation=45)
    carriers = sorted(figures["by_carrier"])
    rates = [(figures["by_carrier"][c]["success_rate"] or 0) * 100 for c in carriers]
    bars.bar(carriers, rates)
    for i, c in enumerate(carriers):
        decided = figures["by_carrier"][c]["decided"]
        bars.annotate(f"n={decided}", (i, rates[i]), ha="center", va="bottom")
    bars.set_title("intercept success rate per carrier (intercepted / decided)")
    bars.set_ylabel("%")
    bars.set_ylim(0, 105)
    return fig


def draw(figures: dict[str, Any], path: Path) -> None:
    check(path)
    fig = figure(figures)
    suffix = path.suffix.lower()
    if suffix == ".html":
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
        w = figures["window"]
        title = html.escape(
            f"intercept statistics {w['since_day'] or ''} to {w['until_day'] or 'now'}"
        )
        path.write_text(
            f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>{title}</h1>\n{buffer.getvalue()}\n</body></html>\n",
            encoding="utf-8",
        )
    else:
        fig.savefig(path, format=suffix.removeprefix("."))
