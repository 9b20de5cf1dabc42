"""Subject keys: sealing round-trips, erasure is final, the master key rotates online."""

import os
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.personal import Sealed, buyer_subject
from engine.privacy import (
    DatabaseSubjectKeys,
    MasterKeyError,
    MasterKeys,
    Seals,
    new_master_key_text,
)
from storage.database import Database
from tests.strategies import texts


def _seals(db: Database, masters: str) -> Seals:
    return Seals(DatabaseSubjectKeys(db, MasterKeys.parse(masters)))


@pytest.fixture(scope="module")
def seals():
    return _seals(Database("sqlite:///:memory:"), new_master_key_text())


@given(text=texts, order=st.sampled_from(["O1", "O2", "O3"]))
def test_a_sealed_value_opens_to_what_was_sealed_and_shows_none_of_it(seals, text, order):
    subject = buyer_subject("m1", order)
    sealed = seals.seal(text, subject, uuid4())
    assert seals.open(sealed) == text
    if len(text) >= 4:
        assert text not in sealed.ciphertext
    assert sealed.subject == subject
    # Sealing twice never gives the same ciphertext (a fresh nonce each time).
    assert seals.seal(text, subject, uuid4()).ciphertext != sealed.ciphertext


def test_a_destroyed_key_opens_nothing_and_other_subjects_are_untouched(tmp_path):
    seals = _seals(Database.sqlite_file(tmp_path / "keys.db"), new_master_key_text())
    gone = seals.seal("Zhang San", buyer_subject("m1", "O1"), uuid4())
    kept = seals.seal("Li Si", buyer_subject("m1", "O2"), uuid4())
    assert seals.keys.destroy(buyer_subject("m1", "O1")) == 1
    assert seals.open(gone) is None and not seals.has(gone.key_id)
    assert seals.open(kept) == "Li Si"
    assert seals.keys.destroy(buyer_subject("m1", "O1")) == 0  # again: nothing more to do
    # Data recorded for the subject afterwards is sealed under a new key.
    again = seals.seal("new note", buyer_subject("m1", "O1"), uuid4())
    assert again.key_id != gone.key_id and seals.open(again) == "new note"


def test_a_forged_or_moved_ciphertext_does_not_open(seals):
    a = seals.seal("one", buyer_subject("m1", "A"), uuid4())
    b = seals.seal("two", buyer_subject("m1", "B"), uuid4())
    assert seals.open(Sealed(subject=a.subject, key_id=a.key_id, ciphertext=b.ciphertext)) is None


def test_the_master_key_rotates_while_both_keys_are_in_the_settings(tmp_path):
    old, new = new_master_key_text(), new_master_key_text()
    path = tmp_path / "keys.db"
    before = _seals(Database.sqlite_file(path), old)
    sealed = before.seal("Wang Wu, 13800138000", buyer_subject("m1", "O1"), uuid4())
    # Step 1: every process gets the new key first, the old one after it: both open.
    during = _seals(Database.sqlite_file(path), f"{new},{old}")
    assert during.open(sealed) == "Wang Wu, 13800138000"
    assert before.open(sealed) == "Wang Wu, 13800138000"  # a process not yet restarted
    # Step 2: rewrap; keys made meanwhile are wrapped by the new key already.
    made_during = during.seal("Zhao Liu", buyer_subject("m1", "O2"), uuid4())
    assert during.keys.rewrap() == 1
    assert during.keys.rewrap() == 0
    # Step 3: the old key is dropped from the settings; everything still opens.
    after = _seals(Database.sqlite_file(path), new)
    assert after.open(sealed) == "Wang Wu, 13800138000"
    assert after.open(made_during) == "Zhao Liu"
    # And the old key alone no longer opens anything.
    with pytest.raises(MasterKeyError):
        _seals(Database.sqlite_file(path), old).open(sealed)


def test_master_keys_are_never_shown():
    text = new_master_key_text()
    masters = MasterKeys.parse(text)
    assert text not in repr(masters.current) and text not in str(masters.current)
    from engine.settings import Settings, masked

    settings = Settings(master_keys=text)
    assert text not in repr(settings) and text not in str(settings)
    assert settings.as_env()["INTERCEPT_MASTER_KEYS"] == text  # handed to a child process only
    assert text not in masked(f"INTERCEPT_MASTER_KEYS={text} intercept serve")


@pytest.mark.parametrize("bad", ["", "not base64!", "c2hvcnQ="])
def test_a_malformed_master_key_is_refused_without_echoing_it(bad):
    with pytest.raises(MasterKeyError) as refused:
        MasterKeys.parse(bad)
    assert bad.strip() == "" or bad not in str(refused.value)


def test_the_development_master_key_is_made_once_and_private(tmp_path):
    from engine.composition import subject_keys
    from engine.settings import Settings

    settings = Settings(home=tmp_path / "var")
    first = subject_keys(settings)
    sealed = Seals(first).seal("x", buyer_subject("m", "o"), uuid4())
    second = subject_keys(settings)
    assert Seals(second).open(sealed) == "x"
    assert os.stat(tmp_path / "var" / "master.key").st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "var" / "subject-keys.db").st_mode & 0o777 == 0o600
