"""Evidence files are kept by content, and only once their command is recorded."""

import hashlib
import io

import pytest

from engine.evidence_store import EvidenceStore, TooLarge


def test_a_kept_file_is_named_by_its_sha256(tmp_path):
    store = EvidenceStore(tmp_path)
    staged = store.stage(io.BytesIO(b"chat log"))
    assert staged.sha256 == hashlib.sha256(b"chat log").hexdigest() and staged.size == 8
    assert not store.path_of(staged.sha256).exists()  # staged, not kept
    store.keep(staged)
    assert store.path_of(staged.sha256).read_bytes() == b"chat log"
    assert store.uri(staged.sha256) == f"evidence/{staged.sha256[:2]}/{staged.sha256}"


def test_a_discarded_or_oversized_upload_leaves_nothing(tmp_path):
    store = EvidenceStore(tmp_path, max_bytes=1024)
    store.discard(store.stage(io.BytesIO(b"x")))
    with pytest.raises(TooLarge):
        store.stage(io.BytesIO(b"y" * 1025))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_staged_file_left_by_a_killed_upload_is_swept(tmp_path):
    import os
    import time

    store = EvidenceStore(tmp_path)
    left = store.stage(io.BytesIO(b"killed mid-upload")).path
    fresh_enough = store.stage(io.BytesIO(b"still uploading")).path
    old = time.time() - 2 * 3600
    os.utime(left, (old, old))
    store.discard(store.stage(io.BytesIO(b"next")))
    assert not left.exists() and fresh_enough.exists()


def test_a_kept_file_is_removed_again_when_its_command_fails(tmp_path):
    store = EvidenceStore(tmp_path)
    staged = store.stage(io.BytesIO(b"refused"))
    with pytest.raises(RuntimeError), store.kept(staged) as path:
        assert path.read_bytes() == b"refused"
        raise RuntimeError("refused")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
