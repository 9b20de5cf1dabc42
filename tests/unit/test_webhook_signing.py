"""Webhook signatures follow the Standard Webhooks specification, and URLs are checked."""

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from engine.webhooks import dispatcher as hooks
from engine.webhooks.sender import Refused, check_url, resolve

# The test vector of the Standard Webhooks specification (its reference implementations'
# tests): this secret, id, timestamp and body sign to exactly this signature.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_headers_carry_the_specifications_signature():
    at = datetime.fromtimestamp(SPEC_TIMESTAMP, UTC)
    headers = hooks.signed_headers(SPEC_SECRET, SPEC_ID, at, SPEC_BODY)
    assert headers["webhook-id"] == SPEC_ID
    assert headers["webhook-timestamp"] == str(SPEC_TIMESTAMP)
    assert headers["webhook-signature"] == SPEC_SIGNATURE


def test_a_receiver_verifies_what_the_dispatcher_signs():
    secret = hooks.new_secret()
    assert secret.startswith("whsec_")
    body = '{"event_type":"Requested"}'
    headers = hooks.signed_headers(secret, "msg_1", datetime.now(UTC), body)
    assert Webhook(secret).verify(body, headers) == {"event_type": "Requested"}
    with pytest.raises(Exception, match="signature"):
        Webhook(hooks.new_secret()).verify(body, headers)


def test_the_webhook_id_is_a_function_of_endpoint_and_event():
    one = hooks.webhook_id("ep_1", "e1")
    assert one == hooks.webhook_id("ep_1", "e1")
    assert one != hooks.webhook_id("ep_2", "e1") and one != hooks.webhook_id("ep_1", "e2")


def test_retries_back_off_exponentially_up_to_six_hours():
    waits = [hooks.delay(n, 5).total_seconds() for n in range(1, 20)]
    assert waits[:4] == [5, 10, 20, 40]
    assert waits == sorted(waits) and max(waits) == 6 * 3600


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http://",
        "https://u:p@example.com/",
        "javascript:alert(1)",
        "http://example.com:99999/",
    ],
)
def test_only_plain_http_and_https_urls_are_taken(url):
    with pytest.raises(Refused):
        check_url(url)


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "192.168.0.9"])
def test_private_loopback_and_link_local_addresses_are_refused(host):
    with pytest.raises(Refused, match="refused"):
        resolve(host, 80, allow_private=False)
    assert resolve(host, 80, allow_private=True)


def test_an_endpoint_on_a_private_address_is_refused_when_added(tmp_path):
    from engine.webhooks.store import WebhookStore
    from storage.database import Database

    store = WebhookStore(Database.sqlite_file(tmp_path / "w.db"))
    with pytest.raises(hooks.BadWebhook, match="url"):
        hooks.add_endpoint(store, 0, "m1", "http://10.0.0.1/h", [], datetime.now(UTC), False)
    with pytest.raises(hooks.BadWebhook, match="events"):
        hooks.add_endpoint(
            store, 0, "m1", "https://example.com/h", ["Nope"], datetime.now(UTC), False
        )
    added = hooks.add_endpoint(
        store, 0, "m1", "https://example.com/h", ["Requested"], datetime.now(UTC), False
    )
    assert added["secret"].startswith("whsec_")
    assert "secret" not in hooks.list_endpoints(store, "m1")[0]
