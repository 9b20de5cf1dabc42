"""GET /v1/intercepts (the package center) and GET /v1/intercepts/{id} (one intercept)."""

from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends, Query
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from api.access import allow, sees_merchant
from api.params import InterceptId, QueryBool, QueryInt
from api.problem import problems
from api.refusals import InvalidInput, NotFound
from api.services import Services, services
from api.views import InterceptDetail, InterceptPage
from domain.types import CarrierCode, Code, Moment
from domain.vocabulary import AfterSaleStatus, Status
from engine import usecases
from engine.keystore import ApiKey
from engine.roles import Role
from engine.usecases import DEFAULT_DAYS

router = APIRouter(prefix="/v1/intercepts", tags=["package center"])

_reader = allow(Role.MERCHANT, Role.AUDITOR, doing="read intercepts")


_MOMENT: TypeAdapter[datetime] = TypeAdapter(Moment)


def _cutoff(value: Any) -> datetime | date:
    # The same reading of a typed time as the CLI's --since/--until: a bare date stays a
    # day, started in the package center's zone by `request` (`usecases.start_of`).
    # Anything else is Moment's, whose words say what is expected.
    if isinstance(value, str) and usecases.is_date(value):
        try:
            return usecases.day_or_instant(value)
        except usecases.BadInstant as error:
            raise ValueError(str(error)) from None
    try:
        return _MOMENT.validate_python(value)
    except ValidationError as error:
        raise ValueError(error.errors()[0]["msg"]) from None


Cutoff = Annotated[
    datetime | date,
    PlainValidator(_cutoff),
    WithJsonSchema(
        {"type": "string", "description": "An ISO 8601 time with its zone, or a date alone."}
    ),
]


class FilterQuery(BaseModel):
    """The filters of `intercept list`, as query parameters."""

    model_config = ConfigDict(extra="forbid")

    merchant_id: Code | None = None
    days: QueryInt | None = Field(
        default=None,
        ge=1,
        le=3650,
        description=f"Requested in the last N days (default {DEFAULT_DAYS}). Not with "
        "`since` or `until`.",
    )
    since: Cutoff | None = Field(
        default=None,
        description="Requested at or after (ISO 8601; a date alone is its start in the package "
        "center's zone, INTERCEPT_TIMEZONE). Not with `days`.",
    )
    until: Cutoff | None = Field(
        default=None,
        description="Requested before (ISO 8601; a date alone is its start in the package "
        "center's zone, INTERCEPT_TIMEZONE). Not with `days`.",
    )
    status: Status | None = None
    carrier: CarrierCode | None = None
    after_sale_status: AfterSaleStatus | None = None
    order_id: Code | None = None
    tracking_no: Code | None = None
    conflicts: QueryBool = Field(
        default=False, description="`true`: only intercepts with a conflict."
    )

    @model_validator(mode="after")
    def _one_window(self) -> Self:
        usecases.one_window(self.days, self.since, self.until)
        return self

    def request(self, merchant_id: str | None, zone: str) -> usecases.ListRequest:
        return usecases.ListRequest(
            merchant_id=merchant_id,
            days=self.days,
            since=usecases.start_of(self.since, zone),
            until=usecases.start_of(self.until, zone),
            status=self.status and self.status.value,
            carrier=self.carrier,
            after_sale_status=self.after_sale_status and self.after_sale_status.value,
            order_id=self.order_id,
            tracking_no=self.tracking_no,
            conflicts_only=self.conflicts,
        )


class ListQuery(FilterQuery):
    """The filters of `intercept list` and its page, as query parameters."""

    limit: QueryInt = Field(default=20, ge=1, le=1000)
    cursor: str | None = Field(
        default=None, max_length=512, description="A previous page's `next_cursor`."
    )

    def request(self, merchant_id: str | None, zone: str) -> usecases.ListRequest:
        return replace(super().request(merchant_id, zone), limit=self.limit, cursor=self.cursor)


@router.get("", response_model=InterceptPage, responses=problems(401, 403, 422))
def list_intercepts(
    query: Annotated[ListQuery, Query()],
    key: ApiKey = Depends(_reader),
    svc: Services = Depends(services),
) -> InterceptPage:
    """Intercepts newest first, filtered, with cursor pagination. A merchant sees its own only."""
    merchant_id = query.merchant_id
    if key.role is Role.MERCHANT:
        if merchant_id not in (None, key.merchant_id):
            return InterceptPage(intercepts=[], next_cursor=None)
        merchant_id = key.merchant_id
    try:
        page = usecases.list_intercepts(
            svc.gateway, query.request(merchant_id, svc.zone), svc.clock()
        )
    except usecases.BadCursor as error:
        raise InvalidInput(f"invalid input: query.cursor: {error}") from None
    # The rows are the projection's dicts: the page validates them into its rows.
    return InterceptPage.model_validate({"intercepts": page.rows, "next_cursor": page.next_cursor})


@router.get(
    "/{intercept_id}", response_model=InterceptDetail, responses=problems(401, 403, 404, 422)
)
def show_intercept(
    intercept_id: InterceptId,
    key: ApiKey = Depends(_reader),
    svc: Services = Depends(services),
) -> InterceptDetail:
    """One intercept: its row, whether it can still be cancelled, and its whole timeline."""
    # The row decides who may see it before the timeline is read: a foreign intercept's
    # 404 then costs what a missing one's does, however long its history.
    found = usecases.show_intercept(
        svc.gateway, str(intercept_id), visible=lambda row: sees_merchant(key, row["merchant_id"])
    )
    if found is None:
        raise NotFound(f"no intercept with id {intercept_id}")
    return InterceptDetail.model_validate(found.as_dict())
