"""Statistics, exports and charts on the demo's data, through the real command and server.

The figures `intercept stats` prints are checked against a recomputation from the
`intercepts` rows of the demo's own projections file; exports are read back and
compared with those rows.
"""

import csv
import io
import sqlite3

import pytest

from tests.e2e.api_server import start
from tests.e2e.cli import intercept
from tests.integration.test_statistics import recomputed, shown


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("analytics")
    ran = intercept(home, "demo", "--orders", "150", "--home", str(home / "demo"), "--json")
    assert ran.code == 0, ran.err
    return home / "demo"


def _rows(home, where: str = "", params=()) -> list[dict]:
    conn = sqlite3.connect(home / "projections.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM intercepts {where}", params)]
    finally:
        conn.close()


def test_the_demos_statistics_are_those_of_its_rows(demo):
    ran = intercept(demo, "stats", "--json", "--days", "3650")
    assert ran.code == 0, ran.err
    figures = ran.json()
    rows = _rows(demo)
    assert rows and figures["intercepts"] == len(rows)
    assert shown(figures) == recomputed(rows)
    for carrier, per in figures["by_carrier"].items():
        assert shown(per) == recomputed([r for r in rows if r["carrier"] == carrier])
    merchant = rows[0]["merchant_id"]
    mine = intercept(
        demo, "stats", "--json", "--days", "3650", "--merchant", merchant, "--by", "day"
    )
    assert shown(mine.json()) == recomputed([r for r in rows if r["merchant_id"] == merchant])
    assert sum(p["requests"] for p in mine.json()["series"]) == len(
        [r for r in rows if r["merchant_id"] == merchant]
    )


def test_stats_prints_tables_and_refuses_an_unknown_grouping(demo):
    ran = intercept(demo, "stats", "--by", "carrier")
    assert ran.code == 0, ran.err
    assert "success rate" in ran.out and "by carrier" in ran.out
    bad = intercept(demo, "stats", "--by", "colour")
    assert bad.code == 2 and "carrier, day, merchant" in bad.err


def _as_text(row: dict) -> dict:
    return {k: "" if v is None else str(v) for k, v in row.items()}


def test_a_csv_export_reads_back_equal_with_or_without_the_excel_mark(demo, tmp_path):
    rows = sorted((_as_text(r) for r in _rows(demo)), key=lambda r: r["intercept_id"])
    for extra, encoding in (((), "utf-8"), (("--bom",), "utf-8-sig")):
        out = tmp_path / "rows.csv"
        ran = intercept(demo, "export", "--days", "3650", "--output", str(out), *extra)
        assert ran.code == 0, ran.err
        raw = out.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") == bool(extra)
        back = list(csv.DictReader(io.StringIO(raw.decode(encoding), newline="")))
        assert sorted(back, key=lambda r: r["intercept_id"]) == rows


def test_a_parquet_export_reads_back_equal(demo, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "rows.parquet"
    ran = intercept(demo, "export", "--days", "3650", "--format", "parquet", "-o", str(out))
    assert ran.code == 0, ran.err
    back = pq.read_table(out).to_pylist()
    key = lambda r: r["intercept_id"]  # noqa: E731
    assert sorted(back, key=key) == sorted(_rows(demo), key=key)


def test_an_export_with_filters_writes_only_those_rows(demo, tmp_path):
    out = tmp_path / "cancelled.csv"
    ran = intercept(demo, "export", "--days", "3650", "--status", "cancelled", "-o", str(out))
    assert ran.code == 0, ran.err
    back = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert {r["intercept_id"] for r in back} == {
        r["intercept_id"] for r in _rows(demo, "WHERE status = ?", ("cancelled",))
    }


@pytest.mark.parametrize("suffix", [".png", ".svg", ".html"])
def test_charts_are_drawn_locally(demo, tmp_path, suffix):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"chart{suffix}"
    ran = intercept(demo, "stats", "--days", "3650", "--chart", str(out))
    assert ran.code == 0, ran.err
    data = out.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    else:
        text = data.decode()
        assert "<svg" in text
        assert "src=" not in text and "<script" not in text and "<link" not in text


def test_the_api_answers_the_same_statistics_and_csv_a_merchant_its_own(demo):
    server = start(demo)
    try:
        rows = _rows(demo)
        merchant = rows[0]["merchant_id"]
        own = server.key("merchant", merchant=merchant)
        auditor = server.key("auditor")
        with server.client(own) as client:
            answer = client.get("/v1/stats", params={"days": 3650})
            assert answer.status_code == 200, answer.text
            cli = intercept(demo, "stats", "--json", "--days", "3650", "--merchant", merchant)
            assert answer.json() == cli.json()
            exported = client.get("/v1/intercepts.csv", params={"days": 3650, "bom": "true"})
            assert exported.status_code == 200
            assert exported.headers["content-type"].startswith("text/csv")
            back = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
            assert sorted(back, key=lambda r: r["intercept_id"]) == sorted(
                (_as_text(r) for r in rows if r["merchant_id"] == merchant),
                key=lambda r: r["intercept_id"],
            )
        with server.client(auditor) as client:
            everything = client.get("/v1/stats", params={"days": 3650, "by": "merchant"}).json()
            assert everything["intercepts"] == len(rows)
            assert set(everything["by_merchant"]) == {r["merchant_id"] for r in rows}
    finally:
        server.stop()


def _near_midnight_home(tmp_path):
    """Two requests either side of midnight in Shanghai (16:00 UTC), recorded by the engine."""
    from datetime import UTC, datetime

    from engine.composition import build_engine
    from engine.settings import Settings
    from tests import builders as b

    home = tmp_path / "zone"
    engine = build_engine(Settings(home=home, timezone="Asia/Shanghai"))
    try:
        engine.execute(b.policy())
        for n, at in enumerate(("2026-11-25T15:59:00", "2026-11-25T16:30:00")):
            moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
            engine.execute(
                b.request(key=f"k{n}", order_id=f"o{n}", tracking_no=f"ZT{n}", occurred_at=moment)
            )
    finally:
        engine.close()
    return home


def test_a_request_near_midnight_counts_on_the_day_the_list_shows_it(tmp_path):
    home = _near_midnight_home(tmp_path)
    zone = {"INTERCEPT_TIMEZONE": "Asia/Shanghai"}
    for day, after, order in (
        ("2026-11-25", "2026-11-26", "o0"),
        ("2026-11-26", "2026-11-27", "o1"),
    ):
        window = ("--since", day, "--until", after)
        listed = intercept(home, "list", *window, "--json", env=zone)
        assert listed.code == 0, listed.err
        assert [r["order_id"] for r in listed.json()["intercepts"]] == [order]
        stats = intercept(home, "stats", *window, "--by", "day", "--json", env=zone)
        assert stats.code == 0, stats.err
        figures = stats.json()
        assert figures["window"]["zone"] == "Asia/Shanghai"
        assert [p["day"] for p in figures["series"]] == [day] == list(figures["by_day"])
        assert figures["intercepts"] == 1
    # The same rows counted in UTC's days: both requests fall on 2026-11-25 there.
    utc = intercept(
        home,
        "stats",
        "--since",
        "2026-11-25",
        "--until",
        "2026-11-27",
        "--by",
        "day",
        "--json",
        env={"INTERCEPT_TIMEZONE": "UTC"},
    )
    assert utc.code == 0, utc.err
    assert [(p["day"], p["requests"]) for p in utc.json()["series"]] == [("2026-11-25", 2)]


def test_a_pickup_time_is_recorded_bucketed_and_refused_after_the_request(tmp_path):
    home = tmp_path / "pickup"
    ran = intercept(home, "policy", "set", "m1", "--max-amount", "5000.00", "--carriers", "ZTO")
    assert ran.code == 0, ran.err
    request = (
        "request",
        "--merchant",
        "m1",
        "--carrier",
        "ZTO",
        "--amount",
        "99.00",
        "--reason",
        "buyer_refund",
        "--json",
    )
    later = intercept(
        home,
        *request,
        "--order",
        "o1",
        "--tracking",
        "ZT1",
        "--picked-up-at",
        "2999-01-01T00:00:00+08:00",
    )
    assert later.code == 2 and "picked_up_at" in later.out + later.err
    naive = intercept(
        home,
        *request,
        "--order",
        "o1",
        "--tracking",
        "ZT1",
        "--picked-up-at",
        "2026-11-25T09:00:00",
    )
    assert naive.code == 2 and "--picked-up-at" in naive.out + naive.err
    assert _rows(home) == []
    done = intercept(
        home,
        *request,
        "--order",
        "o1",
        "--tracking",
        "ZT1",
        "--picked-up-at",
        "2020-01-01T00:00:00Z",
    )
    assert done.code == 0, done.err
    risk = done.json()["risk"]
    assert risk["since_pickup"] == "over_3_days" and risk["enough_history"] is False
    assert risk["based_on"] == ["carrier", "action", "parcel_stage"]
    [row] = _rows(home)
    assert row["picked_up_at"] == "2020-01-01T00:00:00.000000Z"
    table = intercept(home, "risk", "--merchant", "m1", "--json").json()["buckets"]
    assert [b["since_pickup"] for b in table] == ["over_3_days"]
