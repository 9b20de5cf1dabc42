"""`intercept keys create|list|revoke`: API keys for the HTTP API."""

import typer

from engine.carrier_catalog import CarrierRefused
from engine.cli import context, parse
from engine.cli.output import console, emit_json, fail, table
from engine.composition import open_key_store
from engine.grant import KeyGrant
from engine.roles import Role

app = typer.Typer(
    help="Create, list and revoke API keys for `intercept serve`.", no_args_is_help=True
)


def _store():
    return open_key_store(context.settings())


@app.command()
def create(
    role: Role = typer.Option(..., help="merchant, carrier, auditor or admin."),
    merchant: str = typer.Option(None, help="The merchant a merchant key acts for."),
    carrier: str = typer.Option(None, help="The carrier a carrier key reports for, e.g. ZTO."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a key and print it once; it is stored only as a hash."""
    grant = KeyGrant(
        role=role, merchant_id=merchant, carrier=parse.carrier(carrier) if carrier else None
    )
    if grant.carrier is not None:
        # A key for a carrier the catalog lacks could never report: refuse it up front.
        try:
            context.catalog().entry(grant.carrier)
        except CarrierRefused as refused:
            raise context.refused_carrier(refused) from None
    issued = _store().create(grant)
    record = issued.record
    if json:
        return emit_json(
            {
                "key": issued.key,
                "key_id": record.key_id,
                "role": record.role.value,
                "merchant_id": record.merchant_id,
                "carrier": record.carrier,
                "signing_secret": record.signing_secret,
            }
        )
    scope = record.merchant_id or record.carrier or "all merchants"
    console.print(f"created {record.role.value} key {record.key_id} ({scope}).", markup=False)
    console.print("Keep it now; it is not shown again:", markup=False)
    console.print(issued.key, markup=False, soft_wrap=True)
    if record.signing_secret:
        console.print("Callback signing secret (HMAC-SHA256):", markup=False)
        console.print(record.signing_secret, markup=False, soft_wrap=True)


@app.command("list")
def list_(json: bool = typer.Option(False, "--json")) -> None:
    """List keys: ids, roles and scopes, never the keys themselves."""
    keys = _store().all()
    rows = [
        {
            "key_id": k.key_id,
            "role": k.role.value,
            "merchant_id": k.merchant_id,
            "carrier": k.carrier,
            "created_at": k.created_at,
            "revoked_at": k.revoked_at,
        }
        for k in keys
    ]
    if json:
        return emit_json({"keys": rows})
    console.print(
        table("API keys", list(rows[0]) if rows else ["key_id"], [list(r.values()) for r in rows])
    )


@app.command()
def revoke(
    key_id: str = typer.Argument(..., help="The key's id, from `intercept keys list`."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Revoke a key: from the next request on, it opens nothing."""
    revoked = _store().revoke(key_id)
    if revoked is None:
        fail(f"no key with id {key_id}", json)
    if json:
        return emit_json({"key_id": revoked.key_id, "revoked_at": revoked.revoked_at})
    console.print(f"revoked {revoked.key_id} at {revoked.revoked_at}", markup=False)
