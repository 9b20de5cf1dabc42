"""What the pages hold to: a merchant sees its own intercepts only, a form from elsewhere
changes nothing, a revoked key is signed out at once, and the headers and cookie say so."""

import re

import pytest
from playwright.sync_api import expect

from engine.composition import open_key_store
from engine.settings import Settings
from tests.browser.conftest import recorded, shown, sign_in
from tests.browser.seed import policy, request


@pytest.fixture(scope="module")
def keys(server):
    m1, m2 = server.key("merchant", merchant="m1"), server.key("merchant", merchant="m2")
    policy(server, m1)
    policy(server, m2)
    return {
        "m1": m1,
        "m2": m2,
        "ours": request(server, m1, "OWN-1"),
        "theirs": request(server, m2, "THEIRS-1"),
    }


def test_another_merchants_intercept_is_not_listed_and_its_address_is_404(page, server, keys):
    sign_in(page, keys["m1"].key)
    expect(page.get_by_role("link", name="OWN-1")).to_be_visible()
    expect(page.get_by_text("THEIRS-1")).to_have_count(0)
    page.get_by_label("订单编号").fill("THEIRS-1")
    page.get_by_role("button", name="筛选", exact=True).click()
    expect(page.get_by_text("没有符合筛选条件的拦截。")).to_be_visible()
    for path in (
        f"/intercepts/{keys['theirs']}",
        f"/intercepts/{keys['theirs']}/cancel",
        f"/intercepts/{keys['theirs']}/evidence/{'0' * 64}",
        "/intercepts/not-an-id",
    ):
        answer = page.goto(path)
        assert answer is not None and answer.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_have_text("未找到")
        assert "THEIRS-1" not in page.content()
    # Nor can it be cancelled by a batch naming its id: not found, nothing recorded.
    before = recorded(server)
    page.goto(f"/batch?ids={keys['theirs']}")
    page.get_by_label("误操作").check()
    page.get_by_role("button", name=re.compile("确认取消")).click()
    expect(page.locator("table.results")).to_contain_text("未找到")
    assert recorded(server) == before
    assert shown(server, keys["m2"], keys["theirs"])["intercept"]["status"] == "requested"


def test_a_post_without_the_csrf_token_is_refused_and_records_nothing(page, server, keys):
    sign_in(page, keys["m1"].key)
    before = recorded(server)
    target = f"/intercepts/{keys['ours']}/cancel"
    for form in ({"reason": "misoperation"}, {"reason": "misoperation", "csrf": "forged"}):
        answer = page.request.post(target, form=form, max_redirects=0)
        assert answer.status == 403
        assert "安全令牌缺失或错误" in answer.text()
    batch = page.request.post("/batch", form={"ids": keys["ours"], "reason": "misoperation"})
    assert batch.status == 403
    assert recorded(server) == before
    assert shown(server, keys["m1"], keys["ours"])["intercept"]["status"] == "requested"
    # The same session's own form goes through: the refusal was the token's.
    page.goto(f"/intercepts/{keys['ours']}/cancel")
    expect(page.get_by_role("button", name="确认取消拦截")).to_be_visible()


def test_a_revoked_key_is_signed_out_at_the_next_request(page, server, keys):
    key = server.key("merchant", merchant="m1")
    sign_in(page, key.key)
    expect(page.get_by_role("link", name="OWN-1")).to_be_visible()
    token = page.locator("input[name=csrf]").first.input_value()
    open_key_store(Settings(home=server.home)).revoke(key.key_id)
    page.reload()
    assert page.url.endswith("/signin?ended=1")
    expect(page.get_by_role("alert")).to_contain_text("密钥已被吊销")
    before = recorded(server)
    answer = page.request.post(
        f"/intercepts/{keys['ours']}/cancel",
        form={"reason": "misoperation", "csrf": token},
        max_redirects=0,
    )
    assert answer.status == 303 and answer.headers["location"].startswith("/signin")
    assert recorded(server) == before
    page.get_by_label("API 密钥").fill(key.key)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("密钥无效或已被吊销。")


def test_headers_and_the_session_cookie(page, server, keys):
    answer = page.goto("/signin")
    assert answer is not None
    headers = answer.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    sign_in(page, keys["m1"].key)
    (cookie,) = page.context.cookies()
    assert cookie["name"] == "intercept_session"
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["expires"] > 0  # not a browser-session cookie: it ends on its own
    assert keys["m1"].key not in cookie["value"]
    # Sign out: the cookie's session no longer reaches the package center.
    page.get_by_role("button", name="退出登录").click()
    page.goto("/")
    assert page.url.endswith("/signin")


def test_an_auditor_reads_every_merchant_and_changes_nothing(page, server, keys):
    auditor = server.key("auditor")
    sign_in(page, auditor.key)
    expect(page.get_by_role("link", name="OWN-1")).to_be_visible()
    expect(page.get_by_role("link", name="THEIRS-1")).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile("选择订单"))).to_have_count(0)
    page.get_by_role("link", name="OWN-1").click()
    expect(page.get_by_role("link", name="取消拦截")).to_have_count(0)
    token = page.locator("input[name=csrf]").first.input_value()
    before = recorded(server)
    answer = page.request.post(
        f"/intercepts/{keys['ours']}/cancel", form={"reason": "misoperation", "csrf": token}
    )
    assert answer.status == 403
    assert recorded(server) == before


def test_an_admin_chooses_the_merchant_it_looks_at(page, server, keys):
    admin = server.key("admin")
    page.goto("/signin")
    page.get_by_label("API 密钥").fill(admin.key)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("管理员密钥需选择一个商家")
    sign_in(page, admin.key, merchant="m2")
    expect(page.get_by_role("link", name="THEIRS-1")).to_be_visible()
    expect(page.get_by_text("OWN-1")).to_have_count(0)
    answer = page.goto(f"/intercepts/{keys['ours']}")
    assert answer is not None and answer.status == 404


def test_pages_of_twenty_follow_the_lists_cursor(page, server):
    m3 = server.key("merchant", merchant="m3")
    policy(server, m3)
    orders = [f"P-{n:02d}" for n in range(21)]
    for order in orders:
        request(server, m3, order)
    sign_in(page, m3.key)
    links = page.locator("table.intercepts tbody tr td:nth-child(2) a")
    expect(links).to_have_count(20)
    assert links.all_inner_texts() == orders[::-1][:20]
    expect(page.get_by_role("navigation", name="状态")).to_contain_text("全部 (21)")
    page.get_by_role("link", name="下一页").click()
    expect(links).to_have_count(1)
    assert links.all_inner_texts() == ["P-00"]
    expect(page.get_by_role("link", name="下一页")).to_have_count(0)
    page.get_by_role("link", name="第一页").click()
    expect(links).to_have_count(20)
