"""The HTTP baseline: a bare FastAPI app with the engine's routes, bodies and auth header.

It parses the same bodies into the same models (api/bodies.py), reads the same
headers, checks the bearer key against a dict and answers the same result model;
it decides and records nothing. Served by uvicorn with the settings `intercept
serve` uses, so the ratio is the engine's cost over FastAPI's own.

`python -m bench.http_bare PORT KEY`
"""

import sys
import uuid
from typing import Annotated

from fastapi import FastAPI, Header, HTTPException, Response

from api.bodies import CancelBody, InterceptRequestBody
from api.views import InterceptResult
from domain.ids import intercept_id


def create_app(key: str) -> FastAPI:
    app = FastAPI()
    allowed = {f"Bearer {key}": "m1"}

    def merchant(authorization: str | None) -> str:
        found = allowed.get(authorization or "")
        if found is None:
            raise HTTPException(401, "send an API key")
        return found

    @app.post("/v1/intercepts", status_code=201, response_model=InterceptResult)
    async def request_intercept(
        body: InterceptRequestBody,
        response: Response,
        idempotency_key: Annotated[str, Header(alias="Idempotency-Key")],
        authorization: Annotated[str | None, Header()] = None,
    ) -> InterceptResult:
        iid = intercept_id(merchant(authorization), idempotency_key)
        response.headers["Location"] = f"/v1/intercepts/{iid}"
        return InterceptResult(
            intercept_id=iid, status="requested", outcome="recorded", conflicts=[], version=1
        )

    @app.post("/v1/intercepts/{intercept_id}/cancel", response_model=InterceptResult)
    async def cancel(
        intercept_id: uuid.UUID,
        body: CancelBody,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> InterceptResult:
        merchant(authorization)
        return InterceptResult(
            intercept_id=intercept_id,
            status="cancelled",
            outcome="recorded",
            conflicts=[],
            version=2,
        )

    return app


def main() -> None:
    import uvicorn

    port, key = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(create_app(key), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
