"""What the routes use, built once by the composition root and found on the app."""

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from api.gateway import Gateway
from engine.carrier_catalog import CarrierCatalog, CarrierRefused, built_in
from engine.composition import Clock
from engine.evidence_store import EvidenceStore
from engine.keystore import KeyStore


@dataclass(frozen=True)
class Services:
    gateway: Gateway
    keys: KeyStore
    evidence: EvidenceStore
    clock: Clock
    carriers: CarrierCatalog = field(default_factory=built_in)
    webhooks: Any = None  # engine.webhooks.store.WebhookStore
    webhooks_allow_private: bool = False
    background: Any = None  # the automation loop (embedded mode), started with the app

    def start_background(self) -> None:
        if self.background is not None:
            self.background.start()

    def close(self) -> None:
        if self.background is not None:
            self.background.stop()
        self.gateway.close()
        self.keys.close()


async def services(request: Request) -> Services:
    return request.app.state.services


def refused_carrier(error: CarrierRefused) -> Exception:
    """A body naming a carrier or an action the catalog refuses: a 422 naming the field."""
    from fastapi.exceptions import RequestValidationError

    return RequestValidationError(
        [{"loc": ("body", error.field), "msg": error.message, "type": "value_error"}]
    )
