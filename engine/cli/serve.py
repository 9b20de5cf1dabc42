"""`intercept serve`: the HTTP API (FastAPI) under uvicorn."""

import errno
import os
import socket

import typer

from engine.cli import context
from engine.cli.output import errors
from engine.logs import LogFormat, uvicorn_config
from storage.collector import rarer_full_collections

# The app is named, not imported: the command line does not depend on the web package,
# and uvicorn builds the app in the serving process from the settings handed on below.
APP = "api.composition:from_environment"


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
    from uvicorn.config import LOGGING_CONFIG

    settings = context.settings()  # bad settings fail here, before anything listens
    listening = _bind(host, port)
    rarer_full_collections()
    os.environ.update(settings.as_env())
    config = uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=listening.getsockname()[1],
        workers=1,  # the engine in this process is the only writer it coordinates with
        log_level=log_level,
        log_config=uvicorn_config() if log_format is LogFormat.JSON else LOGGING_CONFIG,
    )
    _server_class()(config).run(sockets=[listening])


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            # uvicorn names the address only for sockets it bound itself; this one is ours.
            if self.started and sockets:
                self._log_started_message(sockets)

    return Server


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a port in use is said plainly (exit 1)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off only on sockets
    # whose protocol says TCP, and with it on, an answer written in two parts (h11 writes
    # the head, then the body) waits out the client's delayed ACK: ~40 ms a request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        reason = (
            f"port {port} on {host} is already in use; stop what listens there or pass --port"
            if error.errno == errno.EADDRINUSE
            else f"cannot listen on {host}:{port}: {error.strerror}"
        )
        errors.print(f"error: {reason}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
