"""GET /v1/stats (the statistics) and GET /v1/intercepts.csv (the package center as CSV)."""

from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.access import allow, require_merchant
from api.params import QueryBool, QueryInt
from api.problem import problems
from api.routes.queries import Cutoff, FilterQuery
from api.services import Services, services
from domain.types import CarrierCode, Code
from domain.vocabulary import AfterSaleStatus
from engine import exports, usecases
from engine.keystore import ApiKey
from engine.roles import Role
from engine.usecases import DEFAULT_DAYS

router = APIRouter(tags=["analytics"])

_reader = allow(Role.MERCHANT, Role.AUDITOR, doing="read statistics or exports")


class StatsQuery(BaseModel):
    """The package center's filters for statistics, over whole UTC days of request."""

    model_config = ConfigDict(extra="forbid")

    merchant_id: Code | None = None
    days: QueryInt | None = Field(
        default=None,
        ge=1,
        le=3650,
        description=f"Requested in the last N days (default {DEFAULT_DAYS}). Not with "
        "`since` or `until`.",
    )
    since: Cutoff | None = Field(default=None, description="Requested on or after this day.")
    until: Cutoff | None = Field(
        default=None, description="Requested before; the day it falls in counts whole."
    )
    carrier: CarrierCode | None = None
    after_sale_status: AfterSaleStatus | None = None
    by: Literal["carrier", "day", "merchant"] | None = Field(
        default=None, description="Also the figures per carrier, day or merchant."
    )

    @model_validator(mode="after")
    def _one_window(self) -> Self:
        usecases.one_window(self.days, self.since, self.until)
        return self


class Statistics(BaseModel):
    """The figures of `intercept stats --json` (docs/analytics.md describes each)."""

    model_config = ConfigDict(extra="allow")

    window: dict[str, Any]
    intercepts: int
    by_status: dict[str, int]
    cancel_rate: float | None
    success_rate: float | None
    by_carrier: dict[str, Any]
    series: list[dict[str, Any]]


class ExportQuery(FilterQuery):
    """The list's filters, and how the CSV starts."""

    bom: QueryBool = Field(
        default=False, description="`true`: start with a UTF-8 byte order mark (for Excel)."
    )


def _merchant_scope(key: ApiKey, asked: str | None, what: str) -> str | None:
    """The merchant a key's answer is about: a merchant's key, its own only (another
    merchant's figures answer the 404 an unknown merchant gets)."""
    if asked is not None:
        require_merchant(key, asked, what)
    return key.merchant_id if key.role is Role.MERCHANT else asked


@router.get("/v1/stats", response_model=Statistics, responses=problems(401, 403, 404, 422))
def statistics(
    query: Annotated[StatsQuery, Query()],
    key: ApiKey = Depends(_reader),
    svc: Services = Depends(services),
) -> Any:
    """Counts, rates, reasons, fees and latency percentiles. A merchant sees its own only."""
    request = usecases.StatsRequest(
        merchant_id=_merchant_scope(key, query.merchant_id, "statistics"),
        days=query.days,
        since=usecases.start_of(query.since, svc.zone),
        until=usecases.start_of(query.until, svc.zone),
        carrier=query.carrier,
        after_sale_status=query.after_sale_status and query.after_sale_status.value,
        by=query.by,
    )
    return usecases.statistics(svc.gateway, request, svc.clock())


@router.get(
    "/v1/intercepts.csv",
    responses={
        200: {"content": {"text/csv": {}}, "description": "The rows, as CSV (UTF-8)."},
        **problems(401, 403, 404, 422),
    },
    response_class=StreamingResponse,
)
def intercepts_csv(
    query: Annotated[ExportQuery, Query()],
    key: ApiKey = Depends(_reader),
    svc: Services = Depends(services),
) -> StreamingResponse:
    """The package center's rows with the list's filters, newest first, streamed as CSV."""
    request = query.request(_merchant_scope(key, query.merchant_id, "intercepts"), svc.zone)
    rows = exports.rows(svc.gateway, request, svc.clock())
    return StreamingResponse(
        (chunk.encode("utf-8") for chunk in exports.csv_chunks(rows, bom=query.bom)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="intercepts.csv"'},
    )
