"""The session cookie: signed, expiring, and carrying no key."""

from web.session import MAX_AGE, Session, Sessions

NOW = 1_800_000_000.0


def test_a_session_round_trips_and_a_tampered_or_foreign_cookie_is_refused():
    sessions = Sessions(b"k" * 32)
    signed = Session.fresh().signed_in("key_1", "m1", NOW)
    cookie = sessions.dump(signed)
    assert sessions.load(cookie, NOW) == signed
    assert (
        sessions.load(cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1], NOW) is None
    )
    assert Sessions(b"o" * 32).load(cookie, NOW) is None
    assert sessions.load("", NOW) is None


def test_a_sign_in_ends_after_its_time_and_keeps_the_language():
    sessions = Sessions(b"k" * 32)
    signed = Session.fresh("en").signed_in("key_1", "m1", NOW)
    later = sessions.load(sessions.dump(signed), NOW + MAX_AGE)
    assert later is not None
    assert (later.key_id, later.lang) == (None, "en")


def test_signing_in_and_out_change_the_csrf_token():
    fresh = Session.fresh()
    signed = fresh.signed_in("key_1", "m1", NOW)
    assert signed.csrf != fresh.csrf
    assert signed.signed_out().csrf != signed.csrf
    assert signed.csrf_matches(signed.csrf)
    assert not signed.csrf_matches(None)
    assert not signed.csrf_matches(fresh.csrf)
