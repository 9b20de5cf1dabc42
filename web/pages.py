"""The package center's pages: sign in, the list, one intercept, cancels, evidence, statistics.

Each handler reads the form or query, calls the shared use cases (engine/usecases.py)
with the signed-in key's merchant, and renders a template. Rules live in the domain and
the use cases; what is here is who is asking, what they sent, and how the answer reads.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any
from uuid import UUID

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.access import acting_on, visible_intercept
from api.refusals import NotFound
from api.services import Services
from domain.commands import CancelIntercept
from domain.errors import DomainError
from domain.types import Code
from domain.vocabulary import CancelReason, EvidenceKind
from engine import evidence_store, usecases
from engine.keystore import ApiKey
from engine.roles import Role
from web import charts, filters, thumbs
from web.filters import BadFilter, View
from web.present import Clock, clocks_differ, duration, money, share
from web.session import COOKIE, LANGUAGES, Session, Sessions

router = APIRouter(include_in_schema=False)

BATCH_LIMIT = 100
"""Intercepts one batch cancel takes, as `POST /v1/intercepts/cancel` does."""

_CODE = TypeAdapter(Code)


@dataclass(frozen=True)
class Web:
    """What the pages use besides the engine's services, built once by the composition root."""

    sessions: Sessions
    templates: Mapping[str, jinja2.Environment]
    clock: Clock


@dataclass
class Visitor:
    session: Session
    key: ApiKey | None = None
    changed: bool = False
    ended: bool = False  # a session whose key was revoked or whose time ran out

    @property
    def acts(self) -> bool:
        """Only a merchant key changes intercepts, as in the API; others read."""
        return self.key is not None and self.key.role is Role.MERCHANT


@dataclass(frozen=True)
class _Acting:
    """The gateway as a use case takes it, each command checked for whose intercept it is."""

    gateway: Any
    check: Any

    def execute(self, command: Any) -> Any:
        return self.gateway.execute(command, self.check)

    def read(self, query: Any) -> Any:
        return self.gateway.read(query)

    def dispatch_states(self, rows: Any) -> Any:
        return self.gateway.dispatch_states(rows)

    @property
    def seals(self) -> Any:
        return self.gateway.seals


@dataclass
class Page:
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200


def _web(request: Request) -> Web:
    return request.app.state.web


def _services(request: Request) -> Services:
    return request.app.state.services


def _visitor(request: Request) -> Visitor:
    web, svc = _web(request), _services(request)
    session = web.sessions.load(request.cookies.get(COOKIE), svc.clock().timestamp())
    if session is None:
        return Visitor(Session.fresh(), changed=True)
    if session.key_id is None:
        # An expired sign-in comes back signed out: its cookie still says who it was.
        return Visitor(session, changed=request.cookies.get(COOKIE) is not None)
    key = svc.keys.live(session.key_id)
    if key is None:  # revoked since: the session ends here
        return Visitor(session.signed_out(), changed=True, ended=True)
    return Visitor(session, key)


def _finish(request: Request, visitor: Visitor, response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    if visitor.changed:
        response.set_cookie(
            COOKIE,
            _web(request).sessions.dump(visitor.session),
            max_age=_web(request).sessions.max_age,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response


def _render(request: Request, visitor: Visitor, page: Page) -> Response:
    web = _web(request)
    template = web.templates[visitor.session.lang].get_template(page.template)
    context = {
        "visitor": visitor,
        "session": visitor.session,
        "key": visitor.key,
        "clock": web.clock,
        "now": _services(request).clock(),
        "money": money,
        "share": share,
        "duration": duration,
        "request_page": page.template.removesuffix(".html"),
        "path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **page.context,
    }
    html = template.render(context)
    return _finish(request, visitor, HTMLResponse(html, status_code=page.status))


def _redirect(request: Request, visitor: Visitor, to: str) -> Response:
    return _finish(request, visitor, RedirectResponse(to, status_code=303))


def _to_sign_in(request: Request, visitor: Visitor) -> Response:
    return _redirect(request, visitor, "/signin?ended=1" if visitor.ended else "/signin")


def _refused(request: Request, visitor: Visitor, status: int, reason: str) -> Response:
    return _render(request, visitor, Page("refused.html", {"reason": reason}, status))


async def _form(request: Request, visitor: Visitor) -> Any:
    """The posted form, or None when its CSRF token is missing or not this session's."""
    form = await request.form()
    token = form.get("csrf")
    if not isinstance(token, str) or not visitor.session.csrf_matches(token):
        return None
    return form


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


# ---- signing in and out, the language ------------------------------------------------


@router.get("/signin", response_class=HTMLResponse)
def sign_in_page(request: Request) -> Response:
    visitor = _visitor(request)
    if visitor.key is not None:
        return _redirect(request, visitor, "/")
    ended = request.query_params.get("ended") == "1"
    return _render(request, visitor, Page("signin.html", {"ended": ended}))


@router.post("/signin", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    visitor = _visitor(request)
    form = await _form(request, visitor)
    if form is None:
        return _refused(request, visitor, 403, "csrf")
    presented, chosen = _text(form, "key"), _text(form, "merchant_id")
    svc = _services(request)
    key = await run_in_threadpool(svc.keys.authenticate, presented) if presented else None
    problem = None
    if key is None:
        problem = "unknown_key"
    elif key.role is Role.CARRIER:
        problem = "carrier_key"
    elif chosen and not _valid_code(chosen):
        problem = "bad_merchant"
    elif key.role is Role.ADMIN and not chosen:
        problem = "choose_merchant"
    if problem is not None or key is None:
        context = {"problem": problem, "merchant_id": chosen}
        return _render(request, visitor, Page("signin.html", context, 401))
    merchant = key.merchant_id if key.role is Role.MERCHANT else (chosen or None)
    visitor.session = visitor.session.signed_in(key.key_id, merchant, svc.clock().timestamp())
    visitor.changed = True
    return _redirect(request, visitor, "/")


def _valid_code(text: str) -> bool:
    try:
        _CODE.validate_python(text)
    except ValidationError:
        return False
    return True


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    visitor = _visitor(request)
    form = await _form(request, visitor)
    if form is None:
        return _refused(request, visitor, 403, "csrf")
    visitor.session, visitor.changed = visitor.session.signed_out(), True
    return _redirect(request, visitor, "/signin")


@router.post("/lang")
async def choose_language(request: Request) -> Response:
    visitor = _visitor(request)
    form = await _form(request, visitor)
    if form is None:
        return _refused(request, visitor, 403, "csrf")
    lang = _text(form, "lang")
    if lang in LANGUAGES:
        visitor.session, visitor.changed = visitor.session.with_lang(lang), True
    back = _text(form, "next")
    # Only a path of this site: never an address elsewhere (`//host` is one).
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        back = "/"
    return _redirect(request, visitor, back)


# ---- the package center ----------------------------------------------------------------


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **row,
            "cancellable": usecases.cancellable(row["status"]),
            "conflicts": row["conflict"].split(",") if row.get("conflict") else [],
            "flags": _flags(row),
        }
        for row in rows
    ]


def _flags(row: dict[str, Any]) -> list[str]:
    """The row's raised flags: what the merchant must look at that is not a conflict."""
    return [f for f in (row.get("flags") or "").split(",") if f]


def _carrier_codes(svc: Services) -> list[str]:
    """The carriers the filters offer: the configured catalog's (engine/carrier_catalog.py)."""
    return list(svc.carriers.codes)


def _choices(svc: Services) -> dict[str, Any]:
    return {
        "ranges": [str(d) for d in filters.QUICK_RANGES],
        "statuses": filters.statuses(),
        "after_sale_statuses": filters.after_sale_statuses(),
        "carriers": _carrier_codes(svc),
        "reasons": [r.value for r in CancelReason],
        "evidence_kinds": [k.value for k in EvidenceKind],
    }


@router.get("/", response_class=HTMLResponse)
def package_center(request: Request) -> Response:
    visitor = _visitor(request)
    if visitor.key is None:
        return _to_sign_in(request, visitor)
    svc, web = _services(request), _web(request)
    context: dict[str, Any] = {
        **_choices(_services(request)),
        "view": View(),
        "rows": [],
        "counts": {},
    }
    try:
        view = filters.parse(request.query_params, _carrier_codes(svc))
        context["view"] = view
        wanted = filters.request(view, visitor.session.merchant_id, web.clock)
        found = usecases.list_intercepts(svc.gateway, wanted, svc.clock())
    except BadFilter as error:
        context["error"] = error
        return _render(request, visitor, Page("center.html", context, 400))
    except usecases.BadCursor:
        context["error"] = BadFilter("cursor", "is not a page this server gave out")
        return _render(request, visitor, Page("center.html", context, 400))
    counts = usecases.status_counts(svc.gateway, wanted, svc.clock())
    context.update(
        rows=_rows(found.rows),
        next_cursor=found.next_cursor,
        counts=counts,
        total=sum(counts.values()),
    )
    return _render(request, visitor, Page("center.html", context))


@router.get("/stats", response_class=HTMLResponse)
def statistics(request: Request) -> Response:
    visitor = _visitor(request)
    if visitor.key is None:
        return _to_sign_in(request, visitor)
    svc, web = _services(request), _web(request)
    context: dict[str, Any] = {**_choices(_services(request)), "view": View(), "counts": {}}
    try:
        view = filters.parse(request.query_params, _carrier_codes(svc))
    except BadFilter as error:
        context["error"] = error
        return _render(request, visitor, Page("stats.html", context, 400))
    wanted = filters.request(view, visitor.session.merchant_id, web.clock)
    counts = usecases.status_counts(svc.gateway, wanted, svc.clock())
    with_conflicts = usecases.status_counts(
        svc.gateway, replace(wanted, conflicts_only=True), svc.clock()
    )
    figures = usecases.statistics(
        svc.gateway,
        usecases.StatsRequest(
            merchant_id=wanted.merchant_id,
            days=wanted.days,
            since=wanted.since,
            until=wanted.until,
            carrier=wanted.carrier,
            after_sale_status=wanted.after_sale_status,
        ),
        svc.clock(),
    )
    context.update(
        view=view,
        counts=counts,
        total=sum(counts.values()),
        conflicts=sum(with_conflicts.values()),
        figures=figures,
        day_chart=charts.days(figures["series"]),
        carrier_bars=charts.rates(figures["by_carrier"]),
    )
    return _render(request, visitor, Page("stats.html", context))


# ---- one intercept -------------------------------------------------------------------


def _sees(visitor: Visitor, merchant_id: str) -> bool:
    return visitor.session.merchant_id in (None, merchant_id) and (
        visitor.key is not None
        and (visitor.key.role is not Role.MERCHANT or visitor.key.merchant_id == merchant_id)
    )


def _detail(request: Request, visitor: Visitor, intercept_id: str) -> usecases.Detail | None:
    if _uuid(intercept_id) is None:
        return None
    return usecases.show_intercept(
        _services(request).gateway,
        intercept_id,
        visible=lambda row: _sees(visitor, row["merchant_id"]),
    )


_NOT_DETAILS = {"merchant_id", "actor", "occurred_at", "idempotency_key", "uri", "currency"}
"""Fields an entry does not repeat: who and when it shows already, or the page does."""
_ON_THE_PAGE = {
    "order_id",
    "tracking_no",
    "carrier",
    "amount_minor",
    "action",
    "request_reason",
    "recipient",
    "quoted_fee_minor",
}
"""The request's fields the facts above the timeline show."""


def _timeline(detail: usecases.Detail) -> list[dict[str, Any]]:
    entries = []
    for entry in detail.timeline:
        skip = _NOT_DETAILS | (_ON_THE_PAGE if entry["event_type"] == "Requested" else set())
        details = {k: v for k, v in entry["data"].items() if k not in skip and v is not None}
        entries.append(
            {
                **entry,
                "both_clocks": clocks_differ(entry["occurred_at"], entry["recorded_at"]),
                "details": details,
            }
        )
    return entries


def _evidence(request: Request, detail: usecases.Detail) -> list[dict[str, Any]]:
    store = _services(request).evidence
    seen: dict[str, dict[str, Any]] = {}
    for entry in detail.timeline:
        if entry["event_type"] != "EvidenceAttached":
            continue
        sha = entry["data"]["sha256"]
        path = store.path_of(sha)
        seen.setdefault(
            sha,
            {
                **entry["data"],
                "at": entry["occurred_at"],
                "image": path.exists() and thumbs.is_image(path),
            },
        )
    return list(seen.values())


def _fees(detail: usecases.Detail) -> list[dict[str, Any]]:
    return [
        {**entry["data"], "at": entry["occurred_at"]}
        for entry in detail.timeline
        if entry["event_type"] == "FeeCharged"
    ]


def _detail_page(request: Request, visitor: Visitor, detail: usecases.Detail, **extra: Any) -> Page:
    row = detail.intercept
    context = {
        **_choices(_services(request)),
        "row": row,
        "conflicts": row["conflict"].split(",") if row.get("conflict") else [],
        "flags": _flags(row),
        "cancellable": detail.cancellable,
        "timeline": _timeline(detail),
        "fees": _fees(detail),
        "evidence": _evidence(request, detail),
        "notice": request.query_params.get("notice", ""),
        **extra,
    }
    return Page("detail.html", context)


def _not_found(request: Request, visitor: Visitor) -> Response:
    return _render(request, visitor, Page("not_found.html", {}, 404))


@router.get("/intercepts/{intercept_id}", response_class=HTMLResponse)
def intercept_page(request: Request, intercept_id: str) -> Response:
    visitor = _visitor(request)
    if visitor.key is None:
        return _to_sign_in(request, visitor)
    detail = _detail(request, visitor, intercept_id)
    if detail is None:
        return _not_found(request, visitor)
    return _render(request, visitor, _detail_page(request, visitor, detail))


@router.get("/intercepts/{intercept_id}/cancel", response_class=HTMLResponse)
def cancel_page(request: Request, intercept_id: str) -> Response:
    """The confirmation as a page of its own: what the dialog shows, for a browser without
    scripts."""
    visitor = _visitor(request)
    if visitor.key is None:
        return _to_sign_in(request, visitor)
    detail = _detail(request, visitor, intercept_id)
    if detail is None:
        return _not_found(request, visitor)
    context = {
        **_choices(_services(request)),
        "row": detail.intercept,
        "cancellable": detail.cancellable,
    }
    return _render(request, visitor, Page("cancel.html", context))


def _acting(request: Request, visitor: Visitor, intercept_id: str) -> Response | UUID:
    """The intercept this merchant may act on, or the answer that says why not."""
    iid = _uuid(intercept_id)
    if not visitor.acts or visitor.key is None:
        return _refused(request, visitor, 403, "read_only")
    try:
        if iid is None:
            raise NotFound("no such intercept")
        owner = visible_intercept(_services(request), visitor.key, iid)
    except NotFound:
        return _not_found(request, visitor)
    if not _sees(visitor, owner.merchant_id):
        return _not_found(request, visitor)
    return iid


@router.post("/intercepts/{intercept_id}/cancel", response_class=HTMLResponse)
async def cancel(request: Request, intercept_id: str) -> Response:
    visitor = _visitor(request)
    if visitor.key is None:
        return _to_sign_in(request, visitor)
    form = await _form(request, visitor)
    if form is None:
        return _refused(request, visitor, 403, "csrf")
    acting = await run_in_threadpool(_acting, request, visitor, intercept_id)
    if not isinstance(acting, UUID):
        return acting
    svc = _services(request)
    reason, note = _reason(form), _text(form, "note") or None
    if reason is None:
        return await _cancel_refused(request, visitor, intercept_id, [_NO_REASON], 422)
    try:
        command = CancelIntercept(
            intercept_id=acting,
            reason=reason,
            note=note,
            actor=visitor.key.actor,
            occurred_at=svc.clock(),
        )
    except ValidationError as error:
        return await _cancel_refused(request, visitor, intercept_id, _messages(error), 422)
    try:
        decision = await svc.gateway.execute_one(command, acting_on(visitor.key, acting))
    except DomainError as error:
        return await _cancel_refused(request, visitor, intercept_id, [error.message], 409)
    notice = decision.outcome.value
    return _redirect(request, visitor, f"/intercepts/{acting}?notice={notice}")


_NO_REASON = "reason: choose why the intercept is cancelled"


def _reason(form: Any) -> CancelReason | None:
    text = _text(form, "reason")
    return CancelReason(text) if text in {r.value for r in CancelReason} else None


def _messages(error: ValidationError) -> list[str]:
    return [
        ".".join(str(p) for p in e["loc"]) + ": " + e["msg"].removeprefix("Value error, ")
        for e in error.errors()
    ]


async def _form_refused(
    form: str,
    request: Request,
    visitor: Visitor,
    intercept_id: str,
    problems: list[str],
    status: int,
) -> Response:
    """The intercept's page again, with what was wrong shown beside the form that sent it
    (`cancel` or `evidence`)."""
    detail = await run_in_threadpool(_detail, request, visitor, intercept_id)
    if detail is None:
        return _not_found(request, visitor)
    page = _detail_page(request, visitor, detail, **{f"{form}_problems": problems})
    page.status = status
    return _render(request, visitor, page)


_cancel_refused = partial(_form_refused, "cancel")
_evidence_refused = partial(_form_refused, "evidence")


@router.post("/intercepts/{intercept_id}/evidence", response_class=HTMLResponse)
async def attach_evidence(request: Request, intercept_id: str) -> Response:
    visitor = _visitor(request)
    if visitor.key is None:  # before the body is read: an upload needs a live session
        return _to_sign_in(request, visitor)
    if not visitor.acts:
        return _refused(request, visitor, 403, "read_only")
    form = await _form(request, visitor)
    if form is None:
        return _refused(request, visitor, 403, "csrf")
    acting = await run_in_threadpool(_acting, request, visitor, intercept_id)
    if not isinstance(acting, UUID):
        return acting
    upload, kind_text = form.get("file"), _text(form, "kind")
    problems: list[str] = []
    if not isinstance(upload, UploadFile) or not upload.filename:
        problems.append("file: choose a file")
    if kind_text not in {k.value for k in EvidenceKind}:
        problems.append("kind: choose what the file is")
    if problems or not isinstance(upload, UploadFile):
        return await _evidence_refused(request, visitor, intercept_id, problems, 422)
    svc = _services(request)
    try:
        await run_in_threadpool(
            usecases.attach_evidence,
            _Acting(svc.gateway, acting_on(visitor.key, acting)),
            svc.evidence,
            upload.file,
            acting,
            EvidenceKind(kind_text),
            _text(form, "note") or None,
            None,
            visitor.key.actor,
            svc.clock(),
        )
    except evidence_store.TooLarge as error:
        return await _evidence_refused(request, visitor, intercept_id, [f"file: {error}"], 413)
    except usecases.EmptyEvidence as error:
        return await _evidence_refused(request, visitor, intercept_id, [f"file: {error}"], 422)
    except ValidationError as error:
        return await _evidence_refused(request, visitor, intercept_id, _messages(error), 422)
    except evidence_store.NotKept:
        message = "the file could not be stored; nothing was recorded"
        return await _evidence_refused(request, visitor, intercept_id, [message], 503)
    except DomainError as error:
        return await _evidence_refused(request, visitor, intercept_id, [error.message], 409)
    return _redirect(request, visitor, f"/intercepts/{acting}?notice=evidence")


def _evidence_file(request: Request, visitor: Visitor, intercept_id: str, sha256: str):
    detail = _detail(request, visitor, intercept_id)
    if detail is None:
        return None
    attached = {
        e["data"]["sha256"] for e in detail.timeline if e["event_type"] == "EvidenceAttached"
    }
    if sha256 not in attached:
        return None
    path = _services(request).evidence.path_of(sha256)
    return path if path.exists() else None


@router.get("/intercepts/{intercept_id}/evidence/{sha256}")
def evidence_file(request: Request, intercept_id: str, sha256: str) -> Response:
    visitor = _visitor(request)
    if visitor.key is None:
        return _to_sign_in(request, visitor)
    path = _evidence_file(request, visitor, intercept_id, sha256)
    if path is None:
        return _not_found(request, visitor)
    # Served as a download whatever it holds: an uploaded page never runs as this site's.
    response = FileResponse(
        path, media_type="application/octet-stream", filename=f"evidence-{sha256[:12]}"
    )
    return _finish(request, visitor, response)


@router.get("/intercepts/{intercept_id}/evidence/{sha256}/thumbnail")
def evidence_thumbnail(request: Request, intercept_id: str, sha256: str) -> Response:
    visitor = _visitor(request)
    if visitor.key is None:
        return _to_sign_in(request, visitor)
    path = _evidence_file(request, visitor, intercept_id, sha256)
    preview = thumbs.thumbnail(path) if path is not None else None
    if preview is None:
        return _not_found(request, visitor)
    return _finish(request, visitor, Response(preview, media_type="image/png"))


# ---- batch cancel ----------------------------------------------------------------------


def _batch_rows(request: Request, visitor: Visitor, ids: list[str]) -> list[dict[str, Any]]:
    rows = []
    for iid in ids:
        detail = _detail(request, visitor, iid)
        rows.append(
            {"intercept_id": iid, "found": False}
            if detail is None
            else {**detail.intercept, "found": True, "cancellable": detail.cancellable}
        )
    return rows


@router.get("/batch", response_class=HTMLResponse)
def batch_page(request: Request) -> Response:
    """The one confirmation for a batch: the chosen rows, or every row the filter matches."""
    visitor = _visitor(request)
    if visitor.key is None:
        return _to_sign_in(request, visitor)
    if not visitor.acts:
        return _refused(request, visitor, 403, "read_only")
    svc, web = _services(request), _web(request)
    params = request.query_params
    context: dict[str, Any] = {**_choices(_services(request))}
    over = False
    if params.get("all") == "1":
        try:
            view = filters.parse(
                {k: v for k, v in params.items() if k not in ("all", "ids")},
                _carrier_codes(svc),
            ).without_page()
        except BadFilter as error:
            return _render(request, visitor, Page("batch.html", {**context, "error": error}, 400))
        wanted = filters.request(
            view, visitor.session.merchant_id, web.clock, limit=BATCH_LIMIT + 1
        )
        found = usecases.list_intercepts(svc.gateway, wanted, svc.clock()).rows
        over = len(found) > BATCH_LIMIT
        ids = [row["intercept_id"] for row in found[:BATCH_LIMIT]]
        context["view"] = view
    else:
        ids = list(dict.fromkeys(params.getlist("ids")))[:BATCH_LIMIT]
    chosen = [i for i in ids if _uuid(i) is not None]
    context.update(rows=_batch_rows(request, visitor, chosen), over=over)
    return _render(request, visitor, Page("batch.html", context, 200 if chosen else 400))


@router.post("/batch", response_class=HTMLResponse)
async def batch_cancel(request: Request) -> Response:
    visitor = _visitor(request)
    if visitor.key is None:
        return _to_sign_in(request, visitor)
    form = await _form(request, visitor)
    if form is None:
        return _refused(request, visitor, 403, "csrf")
    if not visitor.acts:
        return _refused(request, visitor, 403, "read_only")
    ids = [
        iid
        for text in dict.fromkeys(v for v in form.getlist("ids") if isinstance(v, str))
        if (iid := _uuid(text)) is not None
    ][:BATCH_LIMIT]
    reason, note = _reason(form), _text(form, "note") or None
    svc, key = _services(request), visitor.key
    assert key is not None  # visitor.acts
    try:
        if not ids:
            raise ValueError("choose at least one intercept")
        if reason is None:
            raise ValueError(_NO_REASON)
        commands = usecases.cancel_commands(ids, reason, note, None, key.actor, svc.clock())
        # Whose each intercept is, decided in the batch from what the command reads anyway,
        # as the API's batch cancel does: a foreign one is answered as not found.
        checks = [acting_on(key, c.intercept_id) for c in commands]
        done = usecases.cancel_results(commands, await svc.gateway.submit(commands, checks))
    except (ValidationError, ValueError) as error:
        problems = _messages(error) if isinstance(error, ValidationError) else [str(error)]
        rows = await run_in_threadpool(_batch_rows, request, visitor, [str(i) for i in ids])
        context = {**_choices(_services(request)), "rows": rows, "problems": problems}
        return _render(request, visitor, Page("batch.html", context, 422))
    rows = await run_in_threadpool(
        _batch_rows, request, visitor, [r.intercept_id for r in done.results]
    )
    lines = [{**row, "result": result} for row, result in zip(rows, done.results, strict=True)]
    attention = [
        line
        for line in lines
        if line["result"].outcome in ("refused", "not_found") or line.get("conflict")
    ]
    context = {"lines": lines, "summary": done.summary, "attention": attention}
    return _render(request, visitor, Page("batch_result.html", context))
