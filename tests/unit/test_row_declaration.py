"""The `intercepts` row is declared once (projections/row.py); everything else agrees with it.

The DDL and the projector's column lists are derived from the declaration; the API's row
model and the analysts' table in docs/projections.md are written by hand for their
readers, and held to the declaration here.
"""

import re
import types
from pathlib import Path
from typing import Union, get_args, get_origin

import pytest

from api.views import InterceptRow
from projections import row as declared
from projections.row import COLUMNS, FIXED_AT_REQUEST, MUTABLE, ROW, Column
from projections.schema import migrate
from projections.store import _UPSERT_ROW
from storage.database import Database

DOCS = Path(__file__).parents[2] / "docs" / "projections.md"


def _nullable(annotation) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def test_the_api_row_model_has_the_declared_columns_in_order():
    """Then the dispatch state, which is the carrier gateway's, not the projection's."""
    assert tuple(InterceptRow.model_fields) == (*COLUMNS, "dispatch")


@pytest.mark.parametrize("column", ROW, ids=lambda c: c.name)
def test_the_api_row_model_allows_null_exactly_where_the_table_does(column):
    assert _nullable(InterceptRow.model_fields[column.name].annotation) == column.nullable


def _documented_columns() -> list[str]:
    text = DOCS.read_text()
    section = text.split("## `intercepts`", 1)[1].split("\n## ", 1)[0]
    cells = re.findall(r"^\| ([a-z_, ]+) \|", section, flags=re.MULTILINE)
    return [name.strip() for cell in cells if cell != "column" for name in cell.split(",")]


def test_the_docs_table_lists_the_declared_columns_in_order():
    assert _documented_columns() == list(COLUMNS)


def test_the_docs_table_is_the_one_generated_from_the_declaration():
    """`python -m projections.row` writes it; a column added by hand to one side fails here."""
    text = DOCS.read_text()
    assert declared.with_docs_table(text) == text


def test_the_migrated_table_is_the_declared_row():
    db = Database("sqlite:///:memory:")
    migrate(db)
    info = db.read("SELECT name, type, \"notnull\" AS nn, pk FROM pragma_table_info('intercepts')")
    assert [(r["name"], r["type"]) for r in info] == [(c.name, c.sql) for c in ROW]
    for r, column in zip(info, ROW, strict=True):
        # SQLite lets a TEXT primary key be null unless told; the key is never null in practice.
        assert bool(r["nn"]) == (not column.nullable and not r["pk"])
    assert [r["name"] for r in info if r["pk"]] == [declared.PRIMARY_KEY]


def test_the_projectors_update_names_only_what_later_events_change():
    updated = re.findall(r"(\w+) = excluded\.\1", _UPSERT_ROW)
    assert updated == list(MUTABLE)
    assert not set(updated) & FIXED_AT_REQUEST
    assert set(MUTABLE) | FIXED_AT_REQUEST == set(COLUMNS)


def test_a_column_added_later_is_added_by_its_version_only(monkeypatch):
    later = max(c.since for c in ROW) + 1
    region = Column(
        "region", "TEXT", nullable=True, fixed_at_request=True, description="", since=later
    )
    monkeypatch.setattr(declared, "ROW", (*ROW, region))
    assert "region" not in declared.create_table(later - 1)
    assert "region TEXT" in declared.create_table(later)
    assert declared.added_in(later) == ["ALTER TABLE intercepts ADD COLUMN region TEXT"]


def test_a_column_added_later_must_allow_null(monkeypatch):
    strict = Column(
        "region", "TEXT", nullable=False, fixed_at_request=True, description="", since=2
    )
    monkeypatch.setattr(declared, "ROW", (*ROW, strict))
    with pytest.raises(ValueError, match="region added in version 2 must be nullable"):
        declared.added_in(2)


def test_columns_are_declared_in_the_order_the_migrations_add_them():
    """ALTER TABLE adds at the end: a column declared mid-row would read in another order."""
    since = [c.since for c in ROW]
    assert since == sorted(since) and since[0] == 1


def test_a_new_row_has_every_column():
    from uuid import UUID

    from domain import intercept as rules
    from domain import policy as policies
    from projections.intercepts import row_after
    from tests import builders as b
    from tests.conftest import T0

    policy = policies.set_policy(None, b.policy(), policy_id=UUID(int=1), now=T0).state
    request = rules.request(
        b.request(),
        intercept_id=UUID(int=2),
        existing=None,
        policy=policy,
        parcel_history=(),
        now=T0,
    ).events[0]
    assert set(row_after(None, request)) == set(COLUMNS)
