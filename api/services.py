"""What the routes use, built once by the composition root and found on the app."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from api.gateway import Gateway
from engine.carrier_catalog import CarrierCatalog, CarrierRefused, built_in
from engine.carrier_gateway import CarrierDesk
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
    zone: str = "UTC"
    """The package center's zone (INTERCEPT_TIMEZONE): the days a date alone means."""
    carrier_desk: CarrierDesk | None = None
    """Connected carriers: eligibility and their own callbacks (api/routes/carrier_protocols.py)."""
    background: tuple[Callable[[threading.Event], None], ...] = ()
    """Workers the server runs while it serves (embedded mode: the automation loop and the
    carrier gateway), each on an engine of its own, until the event it is given is set."""

    def close(self) -> None:
        self.gateway.close()
        self.keys.close()
        if self.carrier_desk is not None:
            self.carrier_desk.close()


async def services(request: Request) -> Services:
    return request.app.state.services


def refused_carrier(error: CarrierRefused) -> Exception:
    """A body naming a carrier or an action the catalog refuses: a 422 naming the field."""
    from fastapi.exceptions import RequestValidationError

    return RequestValidationError(
        [{"loc": ("body", error.field), "msg": error.message, "type": "value_error"}]
    )
