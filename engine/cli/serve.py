"""`intercept serve`: the HTTP API (FastAPI) under uvicorn."""

import typer

from engine.cli import context
from engine.logs import LogFormat, uvicorn_config


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port; 0 picks a free one."),
    log_level: str = typer.Option("info", help="uvicorn's log level."),
    log_format: LogFormat = typer.Option(
        LogFormat.TEXT, "--log-format", help="text, or json: one object a line."
    ),
) -> None:
    """Serve the HTTP API: merchant commands, package-center queries, carrier callbacks."""
    # Imported here so the other commands do not pay for loading the web stack.
    import uvicorn

    from api.composition import build_api

    # One worker: the engine in this process is the only writer it coordinates with.
    extra = {"log_config": uvicorn_config()} if log_format is LogFormat.JSON else {}
    uvicorn.run(
        build_api(context.settings()),
        host=host,
        port=port,
        workers=1,
        log_level=log_level,
        **extra,
    )
