"""Puts the pages on the API's app: the routes, the static files and the security headers."""

from pathlib import Path

import jinja2
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import i18n, pages
from web.present import Clock
from web.session import LANGUAGES, Sessions

STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # Intercept ids and filters in this site's addresses stay on this site.
    (b"referrer-policy", b"same-origin"),
]
_THEIR_OWN = ("/docs", "/redoc", "/static-offline-docs")
"""Swagger UI and ReDoc bring their own inline scripts; the API's JSON needs no page rules."""


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_THEIR_OWN):
            return await self.app(scope, receive, send)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(h for h in _HEADERS if h[0] not in names),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def environments() -> dict[str, jinja2.Environment]:
    """One template environment per language, each with its catalog installed."""
    envs = {}
    for lang in LANGUAGES:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(i18n.TEMPLATES),
            autoescape=True,
            extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
        env.globals["lang"] = lang
        envs[lang] = env
    return envs


def install(app: FastAPI, secret: bytes, zone: str) -> None:
    app.state.web = pages.Web(
        sessions=Sessions(secret), templates=environments(), clock=Clock(zone)
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)
    app.add_middleware(SecurityHeaders)
