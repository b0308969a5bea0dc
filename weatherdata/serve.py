"""A read-only HTTP server for a publication root (Starlette on Uvicorn).

It serves exactly the files of the root — the layout needs no server logic, so nginx or
object storage serving the same directory works the same — and adds what a production
data server needs: GET/HEAD only, byte ranges, ETag/Last-Modified with conditional
requests, cache headers, configurable CORS, gzip for JSON, an access log, optional
bearer-token protection, and refusal of path traversal and of symlinks that leave the
root (the store symlinks ``<id>.zarr -> _versions/...`` stay inside it).
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

__all__ = ["create_app", "run"]

METADATA_SUFFIXES = (".json",)
METADATA_CACHE = "public, max-age=30, must-revalidate"
CHUNK_CACHE = "public, max-age=300"
GZIP_MINIMUM = 256


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
) -> Starlette:
    """The ASGI application serving ``root`` read-only."""
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
    return Starlette(routes=routes, middleware=middleware)


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


def run(
    root: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    cors_origins: list[str] | None = None,
    workers: int = 1,
    access_log: bool = True,
) -> None:
    """Serve ``root`` with Uvicorn until interrupted."""
    import uvicorn

    app = create_app(root, token=token, cors_origins=cors_origins)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
        limit_concurrency=512,
        backlog=1024,
        timeout_keep_alive=15,
        h11_max_incomplete_event_size=16 * 1024,
        server_header=False,
    )
