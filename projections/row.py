"""The `intercepts` row, declared once.

The table's DDL and its migrations (projections/schema.py), the projector's column
lists, the API's row model (checked by a test) and the table in docs/projections.md
(checked by a test) all come from `ROW`. Columns are only ever added, never changed or
removed: a new one goes at the end, saying the schema version that added it (`since`),
and that version's migration is derived from it.
"""

from dataclasses import dataclass
from typing import Literal

from domain.vocabulary import FeeKind, Payer, Subject

SqlType = Literal["TEXT", "BIGINT", "INTEGER"]


@dataclass(frozen=True)
class Column:
    name: str
    sql: SqlType
    nullable: bool
    fixed_at_request: bool
    """Only the request sets it: later events never change it (a property test holds this),
    so an update leaves it, and the indexes built on it, alone."""
    description: str
    since: int = 1
    """The projection schema version that added the column."""
    personal: str | None = None
    """The data subject (domain.personal.Subject) whose personal data the column holds, in
    the clear: an `Erased` of that subject sets it to `[erased]` (docs/privacy.md)."""

    def ddl(self) -> str:
        return f"{self.name} {self.sql}" + ("" if self.nullable else " NOT NULL")


def _fixed(name: str, sql: SqlType, description: str) -> Column:
    return Column(name, sql, nullable=False, fixed_at_request=True, description=description)


def _set(name: str, sql: SqlType, description: str, *, nullable: bool = False) -> Column:
    return Column(name, sql, nullable=nullable, fixed_at_request=False, description=description)


def _when(name: str, since: int = 1) -> Column:
    return Column(
        f"{name}_at",
        "TEXT",
        nullable=True,
        fixed_at_request=False,
        description=f"when it was {name.replace('_', ' ')} (`occurred_at`)",
        since=since,
    )


def _added(
    name: str, sql: SqlType, description: str, *, fixed: bool = False, personal: str | None = None
) -> Column:
    """A column of schema version 2 (the carrier's answers, the fees in detail, the recipient)."""
    return Column(
        name,
        sql,
        nullable=True,
        fixed_at_request=fixed,
        description=description,
        since=2,
        personal=personal,
    )


def fee_by_kind(kind: FeeKind) -> str:
    return f"fees_{kind.value}_minor"


def fee_by_payer(payer: Payer) -> str:
    return f"fees_paid_by_{payer.value}_minor"


RECIPIENT_PARTS = ("name", "phone", "province", "city", "district", "address")
"""The redirect recipient's parts, each a `recipient_<part>` column (personal data)."""


ROW: tuple[Column, ...] = (
    _fixed("intercept_id", "TEXT", "the intercept's id (uuid)"),
    _fixed("merchant_id", "TEXT", "the merchant"),
    _fixed("order_id", "TEXT", "the merchant's order"),
    _fixed("tracking_no", "TEXT", "the parcel's tracking number"),
    _fixed("carrier", "TEXT", "the carrier"),
    _fixed("amount_minor", "BIGINT", "the order amount, minor units"),
    _fixed("currency", "TEXT", "the order's currency"),
    _fixed("action", "TEXT", "return_to_sender, return_to_station or redirect"),
    _fixed("request_reason", "TEXT", "the merchant's reason code"),
    _set("after_sale_status", "TEXT", "none, refund_requested, return_requested, refunded, closed"),
    _set("status", "TEXT", "requested, accepted, intercepted, failed, cancelled"),
    _set("conflict", "TEXT", "comma-separated conflicts; NULL when none", nullable=True),
    _set("cancel_reason", "TEXT", "why it was cancelled", nullable=True),
    _set("failure_reason", "TEXT", "the carrier's failure reason", nullable=True),
    _set("fees_minor", "BIGINT", "sum of fees recorded"),
    _set("evidence_count", "INTEGER", "pieces of evidence attached"),
    _fixed("requested_at", "TEXT", "when it was requested (`occurred_at`)"),
    _when("accepted"),
    _when("confirmed"),
    _when("failed"),
    _when("cancelled"),
    _when("released"),
    _set("updated_at", "TEXT", "when the engine recorded the latest event (`recorded_at`)"),
    _set("version", "INTEGER", "the intercept's version: the number of events applied"),
    _when("rejected", since=2),
    _added("rejection_code", "TEXT", "why the carrier refused the request, when it did"),
    _when("returning", since=2),
    _when("returned", since=2),
    _when("delivered_to_new_address", since=2),
    _added(
        "quoted_fee_minor", "BIGINT", "the fee the carrier quoted before the request", fixed=True
    ),
    *(
        _added(fee_by_kind(k), "BIGINT", f"sum of `{k.value}` fees recorded, minor units")
        for k in FeeKind
    ),
    *(
        _added(fee_by_payer(p), "BIGINT", f"sum of fees the {p.value} pays, minor units")
        for p in Payer
    ),
    _added("flags", "TEXT", "comma-separated flags to look at, sorted; empty when none"),
    *(
        # Set by the request, and by an Erased of the recipient (`[erased]`): not fixed.
        _added(
            f"recipient_{part}",
            "TEXT",
            f"a redirect's recipient: {part}; `[erased]` once erased (docs/privacy.md)",
            personal=Subject.RECIPIENT.value,
        )
        for part in RECIPIENT_PARTS
    ),
    Column(
        "parcel_stage",
        "TEXT",
        nullable=True,
        fixed_at_request=True,
        description="where the parcel was at the request, as the merchant said (the risk "
        "estimates' buckets); NULL for rows projected before schema version 3, until rebuilt",
        since=3,
    ),
    Column(
        "picked_up_at",
        "TEXT",
        nullable=True,
        fixed_at_request=True,
        description="when the carrier picked the parcel up, as the request said (the risk "
        "estimates' time since pickup); NULL when not known",
        since=5,
    ),
)
PRIMARY_KEY = "intercept_id"

COLUMNS: tuple[str, ...] = tuple(c.name for c in ROW)
FIXED_AT_REQUEST: frozenset[str] = frozenset(c.name for c in ROW if c.fixed_at_request)
MUTABLE: tuple[str, ...] = tuple(c.name for c in ROW if not c.fixed_at_request)
UNSET: dict[str, None] = {c.name: None for c in ROW if c.nullable}
PERSONAL: dict[str, tuple[str, ...]] = {
    subject: tuple(c.name for c in ROW if c.personal == subject)
    for subject in {c.personal for c in ROW if c.personal}
}
"""The columns holding each data subject's personal data."""
"""A new row's columns that nothing has set yet."""


def create_table(version: int = 1) -> str:
    """The `intercepts` table as schema `version` created it."""
    # The key as version 1 wrote it (SQLite's table_info then says nullable): a table
    # created today must read the same as one created then.
    columns = [
        f"{c.name} {c.sql} PRIMARY KEY" if c.name == PRIMARY_KEY else c.ddl()
        for c in ROW
        if c.since <= version
    ]
    body = ",\n        ".join(columns)
    return f"CREATE TABLE IF NOT EXISTS intercepts (\n        {body}\n    )"


def added_in(version: int) -> list[str]:
    """The statements that add the columns schema `version` introduced (after the first)."""
    added = [c for c in ROW if c.since == version]
    for column in added:
        if not column.nullable:
            # Rows already there would have no value for it; a backfill is a migration's job.
            raise ValueError(f"column {column.name} added in version {version} must be nullable")
    return [f"ALTER TABLE intercepts ADD COLUMN {c.ddl()}" for c in added]


DOCS_BEGIN = "<!-- the intercepts row, from projections/row.py: python -m projections.row -->"
DOCS_END = "<!-- end of the intercepts row -->"


def docs_table() -> str:
    """The analysts' table of docs/projections.md, one line per declared column."""
    lines = ["| column | type | null | meaning |", "|---|---|---|---|"]
    for c in ROW:
        lines.append(f"| {c.name} | {c.sql} | {'yes' if c.nullable else 'no'} | {c.description} |")
    return "\n".join([DOCS_BEGIN, *lines, DOCS_END])


def with_docs_table(text: str) -> str:
    """`text` (docs/projections.md) with its generated table replaced by the current one."""
    before, rest = text.split(DOCS_BEGIN, 1)
    _, after = rest.split(DOCS_END, 1)
    return before + docs_table() + after


if __name__ == "__main__":
    from pathlib import Path

    docs = Path(__file__).parents[1] / "docs" / "projections.md"
    docs.write_text(with_docs_table(docs.read_text()))
    print(f"wrote the intercepts table into {docs}")
