"""Each protocol's callback signature (good, bad, missing) and its one status table."""

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

import pytest

from carriers import aggregator, direct, generic
from carriers.protocol import BadCallback, Connection, Push
from domain.vocabulary import CarrierReport, FailureReason, RejectionCode

CONN = Connection("http://127.0.0.1:1/X", "acct-1", "s3cret", "http://127.0.0.1:2/cb")
AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
NOW = AT


WIRE = {"direct": direct, "aggregator": aggregator, "generic": generic}


def push(report: str, reason: str | None = None, sent_at: float = NOW.timestamp()) -> Push:
    return Push(report, reason, "YTO", "YT1", "YTOT1", "req-1", AT, sent_at)


def signed(protocol: str, report: str = "confirmed", reason: str | None = None):
    return WIRE[protocol].callback(CONN, push(report, reason))


ADAPTERS = {
    "direct": direct.DirectAdapter(),
    "aggregator": aggregator.AggregatorAdapter(),
    "generic": generic.GenericAdapter(),
}


@pytest.mark.parametrize("protocol", sorted(ADAPTERS))
def test_a_signed_callback_is_read_in_the_domains_words(protocol):
    headers, body = signed(protocol, "failed", "too_late_out_for_delivery")
    [report] = ADAPTERS[protocol].parse_callback(CONN, headers, body, NOW)
    assert report.report == "failed" and report.reason == "too_late_out_for_delivery"
    assert report.occurred_at == AT
    assert report.tracking_no and report.carrier_ref


def _tampered(protocol: str, body: bytes) -> bytes:
    if protocol == "aggregator":
        fields = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        fields["param"] = fields["param"].replace('"status":"1"', '"status":"2"')
        return urlencode(fields).encode()
    return body.replace(b"INTERCEPT_SUCCESS", b"INTERCEPT_CANCEL").replace(
        b'"confirmed"', b'"released"'
    )


@pytest.mark.parametrize("protocol", sorted(ADAPTERS))
def test_a_tampered_body_or_another_secret_is_refused(protocol):
    headers, body = signed(protocol)
    tampered = _tampered(protocol, body)
    assert tampered != body
    with pytest.raises(BadCallback):
        ADAPTERS[protocol].parse_callback(CONN, headers, tampered, NOW)
    other = Connection(CONN.base_url, CONN.key, "another-secret")
    with pytest.raises(BadCallback):
        ADAPTERS[protocol].parse_callback(other, headers, body, NOW)


@pytest.mark.parametrize("protocol", sorted(ADAPTERS))
def test_a_callback_without_its_signature_is_refused(protocol):
    headers, body = signed(protocol)
    if protocol == "aggregator":
        fields = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        del fields["sign"]
        body = urlencode(fields).encode()
    headers = {
        k: v for k, v in headers.items() if "digest" not in k.lower() and "sign" not in k.lower()
    }
    with pytest.raises(BadCallback):
        ADAPTERS[protocol].parse_callback(CONN, headers, body, NOW)


def test_a_generic_callback_outside_the_window_is_refused():
    headers, body = generic.callback(CONN, push("confirmed", sent_at=0))
    with pytest.raises(BadCallback, match="away from the engine's clock"):
        ADAPTERS["generic"].parse_callback(CONN, headers, body, NOW)


@pytest.mark.parametrize("module", [direct, aggregator, generic], ids=lambda m: m.__name__)
def test_each_status_table_speaks_only_the_domains_words(module):
    for report, detail in module.STATUS.values():
        word = CarrierReport(report)
        if word is CarrierReport.FAILED and detail:
            FailureReason(detail)
        if word is CarrierReport.REJECTED and detail:
            RejectionCode(detail)
    reports = {CarrierReport(r) for r, _ in module.STATUS.values()}
    assert reports == set(CarrierReport)  # every report has a carrier code
    codes = {d for r, d in module.STATUS.values() if r == "rejected"}
    if module is not generic:  # the generic protocol sends the code as it is
        assert codes == {c.value for c in RejectionCode}


@pytest.mark.parametrize(
    ("module", "code", "meaning"),
    [
        (direct, "INTERCEPTING", ("accepted", None)),
        (direct, "INTERCEPT_SUCCESS", ("confirmed", None)),
        (direct, "INTERCEPT_FAIL", ("failed", "other")),
        (direct, "INTERCEPT_CANCEL", ("released", None)),
        (direct, "FINISHED", ("returned", None)),
        (aggregator, "3", ("accepted", None)),
        (aggregator, "1", ("confirmed", None)),
        (aggregator, "2", ("failed", "other")),
        (aggregator, "40005", ("rejected", "already_intercepted_other_channel")),
    ],
)
def test_the_published_codes_mean_what_the_notes_say(module, code, meaning):
    assert module.STATUS[code] == meaning
