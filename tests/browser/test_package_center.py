"""A merchant's walk through the package center in a real browser (the seed's steps):
sign in, filter, open an order, cancel it through the dialog, cancel several, attach
evidence, switch language. Each step checks the page and what the engine recorded."""

import hashlib
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import IMAGES, recorded, shown, sign_in
from tests.browser.seed import seed


@pytest.fixture(scope="module")
def seeded(server):
    return seed(server)


ORDERS = "table.intercepts tbody tr td:nth-child(2) a"


def rows(page) -> list[str]:
    return page.locator(ORDERS).all_inner_texts()


def lists(page, orders: list[str]) -> None:
    """The list shows these orders, once the page the filter asked for has loaded."""
    expect(page.locator(ORDERS)).to_have_text(orders)


def test_signing_in_lists_the_merchants_intercepts_newest_first_with_counts(page, server, seeded):
    sign_in(page, seeded.merchant.key)
    expect(page.get_by_role("heading", level=1)).to_have_text("包裹中心：拦截订单")
    assert rows(page) == ["PDD-2001", *(f"PDD-100{n}" for n in range(9, 0, -1))]
    assert "M2-9001" not in page.content()
    tabs = page.get_by_role("navigation", name="状态")
    expect(tabs.get_by_role("link", name="全部 (10)")).to_have_attribute("aria-current", "page")
    expect(tabs.get_by_role("link", name="已申请 (4)")).to_be_visible()
    expect(tabs.get_by_role("link", name="拦截成功 (1)")).to_be_visible()
    expect(tabs.get_by_role("link", name="快递拒绝拦截 (1)")).to_be_visible()
    expect(tabs.get_by_role("link", name="已退回 (1)")).to_be_visible()
    # A flag says what to look at; a rejection says why, each in words.
    expect(page.locator("tr", has_text="PDD-1007")).to_contain_text("可能拦截失败")
    expect(page.locator("tr", has_text="PDD-1008")).to_contain_text("非平台电子面单")
    # Money in yuan, times in the merchant's zone (Asia/Shanghai).
    sf = page.locator("tr", has_text="PDD-2001")
    expect(sf).to_contain_text("¥59.90")
    expect(sf).to_contain_text("顺丰速运 SF1234567890")
    row = shown(server, seeded.merchant, seeded.ids["PDD-2001"])["intercept"]
    assert row["amount_minor"] == 5_990
    requested = datetime.fromisoformat(row["requested_at"].replace("Z", "+00:00"))
    local = requested.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    expect(sf.locator("time")).to_have_text(local)
    expect(page.locator("footer")).to_contain_text("Asia/Shanghai（UTC+08:00）")
    # The conflict is highlighted and says what to do, in words, not only in colour.
    conflict = page.locator("tr.conflict")
    expect(conflict).to_have_count(1)
    expect(conflict).to_contain_text("PDD-1005")
    expect(conflict).to_contain_text("冲突： 取消后仍被拦截")
    expect(conflict).to_contain_text("请联系快递公司继续派送给买家")
    page.screenshot(path=IMAGES / "package-center.png", full_page=True)


def test_filters_are_those_of_the_list(page, server, seeded):
    sign_in(page, seeded.merchant.key)
    page.get_by_role("navigation", name="状态").get_by_role("link", name="拦截成功 (1)").click()
    lists(page, ["PDD-1003"])
    assert "status=intercepted" in page.url
    page.goto("/")
    page.get_by_label("快递公司", exact=True).select_option("SF")
    page.get_by_role("button", name="筛选", exact=True).click()
    lists(page, ["PDD-2001"])
    page.goto("/")
    page.get_by_label("只看有冲突的拦截").check()
    page.get_by_role("button", name="筛选", exact=True).click()
    lists(page, ["PDD-1005"])
    page.goto("/")
    page.get_by_label("订单编号").fill("PDD-1004")
    page.get_by_role("button", name="筛选", exact=True).click()
    lists(page, ["PDD-1004"])
    # Dates are whole days in the merchant's zone: a window that ended yesterday is empty.
    page.goto("/?range=dates&since=2026-01-01&until=2026-01-31")
    expect(page.get_by_text("没有符合筛选条件的拦截。")).to_be_visible()
    # A value that is not offered is refused, naming the field, not ignored.
    answer = page.goto("/?status=lost")
    assert answer is not None and answer.status == 400
    expect(page.get_by_role("alert")).to_contain_text("status")
    with server.client(seeded.merchant) as client:
        listed = client.get("/v1/intercepts", params={"conflicts": "true"}).json()
    assert [r["order_id"] for r in listed["intercepts"]] == ["PDD-1005"]


def test_the_detail_shows_progress_fees_and_both_clocks(page, server, seeded):
    sign_in(page, seeded.merchant.key)
    page.get_by_role("link", name="PDD-1005").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("订单 PDD-1005")
    timeline = page.locator("ol.timeline > li")
    events = shown(server, seeded.merchant, seeded.ids["PDD-1005"])["timeline"]
    expect(timeline).to_have_count(len(events))
    expect(timeline.nth(0)).to_contain_text("申请拦截")
    expect(timeline.nth(1)).to_contain_text("拦截已取消")
    # The carrier's clock said three minutes earlier than the engine recorded: both shown.
    expect(timeline.nth(2)).to_contain_text("系统记录于")
    expect(timeline.nth(2)).to_contain_text(f"操作者 {seeded.carrier.key_id}")
    expect(page.get_by_text("此拦截已无法取消")).to_be_visible()
    expect(page.get_by_role("link", name="取消拦截")).to_have_count(0)
    page.goto(f"/intercepts/{seeded.ids['PDD-1003']}")
    fees = page.get_by_role("region", name="费用").locator("tbody tr")
    expect(fees).to_have_count(1)
    expect(fees).to_contain_text("拦截费")
    expect(fees).to_contain_text("¥3.00")
    expect(fees).to_contain_text("商家")
    # The way back, the fee the carrier pays, and a carrier's rejection with its code.
    page.goto(f"/intercepts/{seeded.ids['PDD-1009']}")
    journey = page.get_by_role("region", name="包裹退回进度").locator("li")
    expect(journey).to_have_count(3)
    expect(journey.nth(2)).to_contain_text("已退回")
    row = shown(server, seeded.merchant, seeded.ids["PDD-1009"])["intercept"]
    assert row["status"] == "returned" and row["returned_at"] is not None
    expect(page.get_by_role("region", name="费用")).to_contain_text("快递公司承担：¥8.00")
    page.goto(f"/intercepts/{seeded.ids['PDD-1008']}")
    expect(page.locator("dl.facts")).to_contain_text("非平台电子面单 (not_a_platform_waybill)")
    assert (
        shown(server, seeded.merchant, seeded.ids["PDD-1008"])["intercept"]["rejection_code"]
        == "not_a_platform_waybill"
    )
    page.goto(f"/intercepts/{seeded.ids['PDD-1007']}")
    expect(page.locator(".conflict-box.flag")).to_contain_text("可能拦截失败")


def test_cancel_through_the_dialog_dismissed_once_then_confirmed(page, server, seeded):
    iid = seeded.ids["PDD-1001"]
    sign_in(page, seeded.merchant.key)
    page.goto(f"/intercepts/{iid}")
    before = recorded(server)
    opener = page.get_by_role("link", name="取消拦截")
    opener.focus()
    page.keyboard.press("Enter")  # keyboard only
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    row = shown(server, seeded.merchant, iid)["intercept"]
    expect(dialog).to_contain_text(
        f"订单 PDD-1001，中通快递 运单 {row['tracking_no']}，当前状态：已申请。"
    )
    expect(dialog).to_contain_text("取消拦截后无法恢复。")
    dialog.get_by_label("误操作").check()
    dialog.get_by_role("button", name="保留拦截").click()
    expect(dialog).to_be_hidden()
    page.keyboard.press("Enter")  # the focus is back on the opener
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert recorded(server) == before
    assert shown(server, seeded.merchant, iid)["intercept"]["status"] == "requested"
    # "Other" needs a note: refused with the rule, nothing recorded, the dialog open again.
    opener.click()
    dialog.get_by_label("其他（请在备注中说明）").check()
    dialog.get_by_role("button", name="确认取消拦截").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("dialog").get_by_role("alert")).to_contain_text("note")
    assert recorded(server) == before
    page.get_by_role("dialog").get_by_label("买家要求退货（改变主意）").check()
    page.get_by_role("dialog").get_by_role("button", name="确认取消拦截").click()
    expect(page.get_by_role("status")).to_have_text("拦截已取消。")
    expect(page.locator("#status")).to_contain_text("已取消")
    after = shown(server, seeded.merchant, iid)
    assert after["intercept"]["status"] == "cancelled"
    assert after["intercept"]["cancel_reason"] == "buyer_changed_mind"
    assert after["timeline"][-1]["event_type"] == "Cancelled"
    assert after["timeline"][-1]["actor"] == seeded.merchant.key_id
    assert recorded(server) == before + 1


def test_batch_cancel_reports_each_intercept_and_what_still_needs_attention(page, server, seeded):
    picked = ["PDD-1006", "PDD-1002", "PDD-1003", "PDD-1005"]
    sign_in(page, seeded.merchant.key)
    for order in picked:
        page.get_by_label(f"选择订单 {order}").check()
    page.get_by_role("button", name="取消所选拦截…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("批量取消拦截")
    confirm = page.locator("table tbody tr")
    expect(confirm).to_have_count(4)
    expect(page.locator("tr", has_text="PDD-1003")).to_contain_text("不能：将被拒绝")
    before = recorded(server)
    page.get_by_label("物流信息错误（单号或地址有误）").check()
    page.get_by_role("button", name="确认取消这 4 个拦截").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("批量取消结果")
    expect(page.get_by_role("status")).to_have_text(
        "共 4 个拦截，3 个已取消或此前已取消，1 个未取消。"
    )

    def result(order: str):
        return page.locator("table.results tr", has_text=order)

    expect(result("PDD-1006")).to_contain_text("已取消")
    expect(result("PDD-1002")).to_contain_text("已取消")
    expect(result("PDD-1003")).to_contain_text("已拒绝")
    expect(result("PDD-1003")).to_contain_text("cancel_only_while_open")
    expect(result("PDD-1005")).to_contain_text("此前已取消")
    attention = page.get_by_role("region", name="仍需处理").locator("li")
    expect(attention).to_have_count(2)
    expect(attention.filter(has_text="PDD-1003")).to_contain_text("只有已申请或快递已受理")
    expect(attention.filter(has_text="PDD-1005")).to_contain_text("取消后仍被拦截")
    statuses = {o: shown(server, seeded.merchant, seeded.ids[o])["intercept"] for o in picked}
    assert {o: r["status"] for o, r in statuses.items()} == {
        "PDD-1006": "cancelled",
        "PDD-1002": "cancelled",
        "PDD-1003": "intercepted",
        "PDD-1005": "cancelled",
    }
    assert statuses["PDD-1006"]["cancel_reason"] == "wrong_tracking_or_address"
    assert statuses["PDD-1005"]["cancel_reason"] == "misoperation"  # the first cancel holds
    assert recorded(server) == before + 2


def test_evidence_is_kept_with_its_sha256_and_shown_as_a_thumbnail(page, server, seeded, tmp_path):
    iid = seeded.ids["PDD-1003"]
    picture = io.BytesIO()
    Image.new("RGB", (640, 400), (30, 120, 200)).save(picture, format="PNG")
    file = tmp_path / "chat-screenshot.png"
    file.write_bytes(picture.getvalue())
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    sign_in(page, seeded.merchant.key)
    page.goto(f"/intercepts/{iid}")
    page.get_by_label("文件（截图、聊天记录或通话记录；最大 20 MiB）").set_input_files(file)
    page.get_by_label("凭证类型").select_option("screenshot")
    page.get_by_label("备注").fill("买家聊天截图")
    page.get_by_role("button", name="上传").click()
    expect(page.get_by_role("status")).to_have_text("凭证已上传。")
    evidence = page.get_by_role("region", name="凭证")
    expect(evidence).to_contain_text(digest)
    thumbnail = evidence.get_by_role("img", name="截图预览")
    expect(thumbnail).to_be_visible()
    assert thumbnail.evaluate("image => image.naturalWidth") == 240
    after = shown(server, seeded.merchant, iid)
    attached = [e for e in after["timeline"] if e["event_type"] == "EvidenceAttached"]
    assert [e["data"]["sha256"] for e in attached] == [digest]
    assert after["intercept"]["evidence_count"] == 1
    kept = server.home / "evidence" / digest[:2] / digest
    assert kept.read_bytes() == file.read_bytes()
    page.screenshot(path=IMAGES / "intercept-detail.png", full_page=True)


def test_the_language_switches_to_english_and_back(page, server, seeded):
    sign_in(page, seeded.merchant.key)
    before = recorded(server)
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Package center: intercepts")
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.get_by_role("navigation", name="Status")).to_contain_text("Intercepted")
    page.goto("/stats")  # the choice stays with the session
    expect(page.get_by_role("heading", level=1)).to_have_text("Statistics")
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("数据统计")
    assert recorded(server) == before  # a preference of the session, not an event


def test_the_statistics_page_counts_the_current_filter(page, server, seeded):
    sign_in(page, seeded.merchant.key)
    page.goto("/stats")
    with server.client(seeded.merchant) as client:
        listed = client.get("/v1/intercepts", params={"limit": 100}).json()["intercepts"]
    expect(page.get_by_text(f"拦截总数：{len(listed)}")).to_be_visible()
    cancelled = sum(r["status"] == "cancelled" for r in listed)
    table = page.locator("table tbody tr", has_text="已取消")
    expect(table).to_contain_text(str(cancelled))
    expect(page.get_by_role("img", name="各状态拦截数")).to_be_visible()
    with server.client(seeded.merchant) as client:
        figures = client.get("/v1/stats").json()
    key = page.get_by_role("region", name="关键指标")
    expect(key).to_contain_text(f"申请拦截{figures['intercepts']}")
    expect(page.get_by_role("img", name="按申请日")).to_be_visible()
    expect(page.get_by_role("img", name="各快递公司拦截成功率")).to_be_visible()
    page.screenshot(path=IMAGES / "statistics.png", full_page=True)
    page.get_by_label("快递公司", exact=True).select_option("SF")
    page.get_by_role("button", name="筛选", exact=True).click()
    expect(page.get_by_text("拦截总数：1")).to_be_visible()


def test_at_phone_width_every_row_says_what_its_cells_are(browser, server, seeded):
    context = browser.new_context(
        base_url=server.url, locale="zh-CN", viewport={"width": 375, "height": 800}
    )
    try:
        page = context.new_page()
        sign_in(page, seeded.merchant.key)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page is {width}px wide at a 375px viewport"
        cell = page.locator("tr", has_text="PDD-2001").locator("td[data-label='金额']")
        label = cell.evaluate("td => getComputedStyle(td, '::before').content")
        assert "金额" in label
    finally:
        context.close()
