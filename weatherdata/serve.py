"""A read-only HTTP server for a publication root (Starlette on Uvicorn).

It serves exactly the files of the root — the layout needs no server logic, so nginx or
object storage serving the same directory works the same — and adds what a production
data server needs: GET/HEAD only, byte ranges, ETag/Last-Modified with conditional
requests, cache headers, configurable CORS, gzip for JSON, an access log, optional
bearer-token protection, and refusal of path traversal and of symlinks that leave the
root (the store symlinks ``<id>.zarr -> _versions/...`` stay inside it).

Bounds against slow or hostile clients: a request head (request line and headers) must
arrive within :data:`HEADER_TIMEOUT` seconds of its first byte (or of the connection), else
the connection is closed (slowloris); a head over :data:`MAX_HEADER_BYTES` gets 431 (and
one sent in pieces is refused by h11 at 16 KiB with 400), a target over
:data:`MAX_TARGET_BYTES` 414; idle keep-alive connections close after 15 s and at most
512 connections are served at once (503 beyond).
"""

from __future__ import annotations

import gzip
import hmac
import os
import stat
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["create_app", "run", "server_config"]

METADATA_SUFFIXES = (".json",)
METADATA_CACHE = "public, max-age=30, must-revalidate"
CHUNK_CACHE = "public, max-age=300"
GZIP_MINIMUM = 256
HEADER_TIMEOUT = 10.0
MAX_HEADER_BYTES = 16 * 1024
MAX_TARGET_BYTES = 8 * 1024


def _resolve(root: Path, relative: str) -> Path | None:
    """The file for a URL path, or None when it is outside the root or not a regular file."""
    if "\x00" in relative or "\\" in relative:
        return None
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or any(
        p.startswith(".") and p != ".well-known" for p in parts
    ):
        return None
    candidate = root.joinpath(*parts) if parts else root
    try:
        real = Path(os.path.realpath(candidate))
    except (OSError, ValueError):
        return None
    if real != root and root not in real.parents:
        return None
    try:
        mode = os.stat(real).st_mode
    except OSError:
        return None
    if not stat.S_ISREG(mode):
        return None
    return real


def create_app(
    root: str | Path, *, token: str | None = None, cors_origins: list[str] | None = None
):
    """The ASGI application serving ``root`` read-only (a Starlette app behind the
    request-head limits)."""
    root = Path(os.path.realpath(root))
    if not root.is_dir():
        from .errors import WeatherdataError

        raise WeatherdataError(f"{root}: not a directory")
    expected = f"Bearer {token}".encode() if token else None

    async def serve_file(request: Request) -> Response:
        if expected is not None:
            supplied = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(supplied, expected):
                return PlainTextResponse(
                    "unauthorized\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="weatherdata"'},
                )
        relative = request.path_params.get("path", "")
        if relative in ("", "/"):
            relative = "catalog.json"
        path = _resolve(root, relative)
        if path is None:
            return PlainTextResponse("not found\n", status_code=404)
        is_metadata = path.name.endswith(METADATA_SUFFIXES)
        headers = {
            "Cache-Control": METADATA_CACHE if is_metadata else CHUNK_CACHE,
            "Accept-Ranges": "bytes",
        }
        media_type = "application/json" if is_metadata else "application/octet-stream"
        wants_gzip = (
            "gzip" in request.headers.get("accept-encoding", "") and "range" not in request.headers
        )
        if is_metadata and wants_gzip and path.stat().st_size >= GZIP_MINIMUM:
            response = FileResponse(
                path, media_type=media_type, headers=headers, stat_result=os.stat(path)
            )
            if _not_modified(request, response):
                return Response(
                    status_code=304,
                    headers={
                        k: v
                        for k, v in response.headers.items()
                        if k in ("etag", "last-modified", "cache-control")
                    },
                )
            body = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
            headers.update(
                {
                    "Content-Encoding": "gzip",
                    "Vary": "Accept-Encoding",
                    # A weak validator: the same resource, another encoding.
                    "ETag": "W/" + response.headers["etag"],
                    "Last-Modified": response.headers["last-modified"],
                }
            )
            return Response(
                body if request.method == "GET" else b"", media_type=media_type, headers=headers
            )
        response = FileResponse(
            path, media_type=media_type, headers=headers, stat_result=os.stat(path)
        )
        if _not_modified(request, response):
            return Response(
                status_code=304,
                headers={
                    k: v
                    for k, v in response.headers.items()
                    if k in ("etag", "last-modified", "cache-control")
                },
            )
        return response

    async def refuse(request: Request) -> Response:
        return PlainTextResponse(
            "method not allowed\n", status_code=405, headers={"Allow": "GET, HEAD"}
        )

    routes = [
        Route("/{path:path}", serve_file, methods=["GET", "HEAD"]),
        Route(
            "/{path:path}",
            refuse,
            methods=["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"],
        ),
    ]
    middleware = []
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=cors_origins,
                allow_methods=["GET", "HEAD"],
                allow_headers=["Range", "Authorization", "If-None-Match", "If-Modified-Since"],
                expose_headers=["Content-Range", "Content-Length", "ETag", "Last-Modified"],
                max_age=3600,
            )
        )
    return _LimitRequestHead(Starlette(routes=routes, middleware=middleware))


class _LimitRequestHead:
    """ASGI middleware: 431 for a request head over :data:`MAX_HEADER_BYTES`, 414 for a
    target over :data:`MAX_TARGET_BYTES` (h11 lets a large head through when it arrives in
    one read), before any routing or file access."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            target = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b""))
            head = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            refusal = None
            if target > MAX_TARGET_BYTES:
                refusal = PlainTextResponse("request target too long\n", status_code=414)
            elif head > MAX_HEADER_BYTES:
                refusal = PlainTextResponse("request header fields too large\n", status_code=431)
            if refusal is not None:
                refusal.headers["Connection"] = "close"
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def __getattr__(self, name):  # routes, middleware, state: those of the wrapped app
        return getattr(self.app, name)


def _head_timeout_protocol(seconds: float):
    """Uvicorn's h11 protocol, closing a connection whose request head (request line and
    headers) is not complete ``seconds`` after the connection or the head's first byte.

    Uvicorn times out idle keep-alive connections only after a response: a client that
    connects and sends nothing, or sends a head byte by byte (slowloris), would otherwise
    hold its connection (and one of the ``limit_concurrency`` slots) for ever.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadTimeoutProtocol(H11Protocol):
        head_timer = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self.head_timer = self.loop.call_later(seconds, self.head_timed_out)

        def data_received(self, data: bytes) -> None:
            if self.head_timer is None and self.conn.their_state is h11.IDLE:
                self.head_timer = self.loop.call_later(seconds, self.head_timed_out)
            super().data_received(data)
            if self.head_timer is not None and self.conn.their_state is not h11.IDLE:
                self.head_timer.cancel()
                self.head_timer = None

        def connection_lost(self, exc):
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None
            super().connection_lost(exc)

        def head_timed_out(self) -> None:
            self.head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.logger.info(
                    "%s:%d - request head not complete after %g s: connection closed",
                    *(self.client or ("?", 0)),
                    seconds,
                )
                self.transport.close()

    return HeadTimeoutProtocol


def _not_modified(request: Request, response: Response) -> bool:
    etag = response.headers.get("etag")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and etag:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return etag in tags or "*" in tags
    if_modified_since = request.headers.get("if-modified-since")
    last_modified = response.headers.get("last-modified")
    if if_modified_since and last_modified and not if_none_match:
        from email.utils import parsedate_to_datetime

        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


def server_config(
    root: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    cors_origins: list[str] | None = None,
    access_log: bool = True,
    header_timeout: float = HEADER_TIMEOUT,
    log_level: str = "info",
):
    """The Uvicorn configuration :func:`run` serves with (tests run it in a thread)."""
    import uvicorn

    return uvicorn.Config(
        create_app(root, token=token, cors_origins=cors_origins),
        host=host,
        port=port,
        http=_head_timeout_protocol(header_timeout),
        access_log=access_log,
        log_level=log_level,
        limit_concurrency=512,
        backlog=1024,
        timeout_keep_alive=15,
        h11_max_incomplete_event_size=16 * 1024,
        server_header=False,
    )


def run(
    root: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    cors_origins: list[str] | None = None,
    workers: int = 1,
    access_log: bool = True,
    header_timeout: float = HEADER_TIMEOUT,
) -> None:
    """Serve ``root`` with Uvicorn until interrupted."""
    import uvicorn

    config = server_config(
        root,
        host=host,
        port=port,
        token=token,
        cors_origins=cors_origins,
        access_log=access_log,
        header_timeout=header_timeout,
    )
    uvicorn.Server(config).run()
