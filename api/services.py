"""What the routes use, built once by the composition root and found on the app."""

from dataclasses import dataclass

from fastapi import Request

from api.gateway import Gateway
from engine.composition import Clock
from engine.evidence_store import EvidenceStore
from engine.keystore import KeyStore


@dataclass(frozen=True)
class Services:
    gateway: Gateway
    keys: KeyStore
    evidence: EvidenceStore
    clock: Clock

    def close(self) -> None:
        self.gateway.close()
        self.keys.close()


async def services(request: Request) -> Services:
    return request.app.state.services
