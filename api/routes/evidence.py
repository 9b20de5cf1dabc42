"""POST /v1/intercepts/{id}/evidence: upload a file; the engine keeps it and its sha256."""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile

from api.access import acting_on, allow
from api.bodies import InputText
from api.faults import fault_of
from api.params import IdempotencyKeyHeader, InterceptId
from api.problem import problems
from api.refusals import EvidenceNotStored, InvalidInput, TooLarge
from api.services import Services, services
from api.views import EvidenceResult, InterceptResult
from domain.commands import AttachEvidence
from domain.vocabulary import EvidenceKind
from engine import evidence_store
from engine.keystore import ApiKey
from engine.roles import Role

router = APIRouter(prefix="/v1/intercepts", tags=["intercepts"])


@router.post(
    "/{intercept_id}/evidence",
    response_model=EvidenceResult,
    responses=problems(401, 403, 404, 409, 413, 422),
)
def attach_evidence(
    intercept_id: InterceptId,
    file: Annotated[UploadFile, File(description="The evidence: a screenshot, chat log, ...")],
    kind: Annotated[EvidenceKind, Form()],
    note: Annotated[InputText | None, Form()] = None,
    idempotency_key: IdempotencyKeyHeader = None,
    key: ApiKey = Depends(allow(Role.MERCHANT, doing="attach evidence")),
    svc: Services = Depends(services),
) -> EvidenceResult:
    """Attach evidence. Append-only: the same content is recorded once."""
    try:
        staged = svc.evidence.stage(file.file)
    except evidence_store.TooLarge as error:
        raise TooLarge(str(error)) from None
    try:
        if staged.size == 0:
            raise InvalidInput("invalid input: file: the evidence file is empty")
        command = AttachEvidence(
            intercept_id=intercept_id,
            kind=kind,
            sha256=staged.sha256,
            uri=svc.evidence.uri(staged.sha256),
            note=note,
            key=idempotency_key,
            actor=key.actor,
            occurred_at=svc.clock(),
        )
    except BaseException:
        svc.evidence.discard(staged)
        raise
    try:
        with svc.evidence.kept(staged):
            decision = svc.gateway.execute(command, acting_on(key, intercept_id))
    except evidence_store.NotKept as failure:
        fault = fault_of(failure.error)
        raise EvidenceNotStored(
            fault.detail
            if fault
            else f"the evidence file could not be stored ({failure.error.strerror or failure}); "
            "nothing was recorded; a retry with the same Idempotency-Key is safe"
        ) from None
    return EvidenceResult(
        **InterceptResult.of(decision).model_dump(), sha256=staged.sha256, size=staged.size
    )
