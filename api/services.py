"""What the routes use, built once by the composition root and found on the app."""

from dataclasses import dataclass

from fastapi import Request

from api.evidence_store import EvidenceStore
from api.gateway import Gateway
from api.keystore import KeyStore
from engine.application import Clock


@dataclass(frozen=True)
class Services:
    gateway: Gateway
    keys: KeyStore
    evidence: EvidenceStore
    clock: Clock

    def close(self) -> None:
        self.gateway.close()
        self.keys.close()


def services(request: Request) -> Services:
    return request.app.state.services
