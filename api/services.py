"""What the routes use, built once by the composition root and found on the app."""

from dataclasses import dataclass

from fastapi import Request

from api.gateway import Gateway
from engine.carrier_gateway import CallbackDesk
from engine.composition import Clock
from engine.evidence_store import EvidenceStore
from engine.keystore import KeyStore


@dataclass(frozen=True)
class Services:
    gateway: Gateway
    keys: KeyStore
    evidence: EvidenceStore
    clock: Clock
    carrier_desk: CallbackDesk | None = None
    """Carriers' own callbacks (api/routes/carrier_protocols.py); None: none connected."""

    def close(self) -> None:
        self.gateway.close()
        self.keys.close()


def services(request: Request) -> Services:
    return request.app.state.services
