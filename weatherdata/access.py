"""Thin helpers for notebook users, over plain xarray and pystac.

Nothing here is needed to read the data: every store opens with
``xarray.open_zarr(url, consolidated=True, zarr_format=3)``. These helpers only find the
store from the root's ``products.json`` and select a time range and a box.

Requests, over HTTP: ``list_products`` is one GET (no HEAD, no range request, so a server
that gzips JSON can); ``open_product`` is that GET, then what ``xr.open_zarr`` does: one
GET of the store's consolidated ``zarr.json`` and one per coordinate chunk (xarray reads
the time coordinate's chunk up to three times while decoding it, see
``benchmarks/bench_remote.py``). Selections are lazy: data chunks are read on ``.load()``.
``products.json`` is not cached between calls: a publish replaces it (and, on object
stores, deletes the versions it no longer lists), so a stale copy could point nowhere.
"""

from __future__ import annotations

import json

import xarray as xr

from .errors import WeatherdataError

__all__ = ["list_products", "open_catalog", "open_product"]


def _join(root: str, relative: str) -> str:
    return root.rstrip("/") + "/" + relative.lstrip("/")


def _unreachable(location: str, exc: BaseException) -> WeatherdataError:
    """One line for a root that cannot be read: which, why, and what to try."""
    status = getattr(exc, "status", None) or getattr(exc, "code", None)
    if status in (401, 403) or isinstance(exc, PermissionError):
        hint = (
            "for a server started with --token pass "
            "storage_options={'headers': {'Authorization': 'Bearer TOKEN'}}"
            if location.startswith(("http://", "https://"))
            else "check the credentials (storage_options)"
        )
        return WeatherdataError(
            f"{location}: access denied{f' (HTTP {status})' if status else ''}; {hint}"
        )
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(status, int):
        reason = f"HTTP {status}"
    return WeatherdataError(f"{location}: cannot reach the publication root ({reason})")


def _read_json(url: str, storage_options: dict | None = None) -> dict:
    """A JSON document in one request (``cat_file``: a plain GET over HTTP)."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
        body = fs.cat_file(path)
    except (FileNotFoundError, NotADirectoryError):
        raise WeatherdataError(
            f"{url}: not found (is this a weatherdata publication root?)"
        ) from None
    except Exception as exc:
        if isinstance(exc, OSError | TimeoutError) or _is_client_error(exc):
            raise _unreachable(url, exc) from None
        raise
    try:
        return json.loads(body)
    except ValueError:
        raise WeatherdataError(
            f"{url}: not a JSON document (is this a weatherdata root?)"
        ) from None


def _is_client_error(exc: BaseException) -> bool:
    """An HTTP client error (aiohttp's ClientError family: status, connection, payload)."""
    try:
        from aiohttp import ClientError
    except ImportError:
        return False
    return isinstance(exc, ClientError)


def list_products(root: str, *, storage_options: dict | None = None) -> list[dict]:
    """Every published product (id, names, units, href, time range) from ``products.json``.

    One request. Raises :class:`WeatherdataError` with one line when the root is
    unreachable, refuses access, or is not a publication root.
    """
    url = _join(str(root), "products.json")
    document = _read_json(url, storage_options)
    if not isinstance(document, dict) or not isinstance(document.get("products"), list):
        raise WeatherdataError(f"{url}: no product list (is this a weatherdata root?)")
    return document["products"]


def open_catalog(root: str):
    """The STAC catalog of a publication root (local path or URL), as a ``pystac.Catalog``."""
    import pystac

    url = str(root)
    if not url.endswith(".json"):
        url = _join(url, "catalog.json")
    return pystac.Catalog.from_file(url)


def open_product(
    product_id: str,
    root: str,
    *,
    time=None,
    bbox: tuple[float, float, float, float] | None = None,
    district: str | None = None,
    storage_options: dict | None = None,
) -> xr.Dataset:
    """Open one published product lazily, optionally cut to a time, a box or a district.

    Parameters
    ----------
    product_id
        Catalog id, e.g. ``"temperature_2m"``.
    root
        Publication root: a directory, ``http(s)://`` URL or ``s3://bucket/prefix``.
    time
        One time, which must be published (``"2026-07-27T06:00"``, a ``numpy.datetime64``
        or ``pandas.Timestamp``; UTC unless an offset is given): the time dimension is
        then dropped, as xarray's ``sel`` does. Or a range: ``"T0/T1"``, ``slice(T0, T1)``
        (inclusive; either end may be None).
    bbox
        ``(west, south, east, north)`` in degrees.
    district
        A Guangzhou district or Guangdong city, English or Chinese (``"Tianhe"``,
        ``"深圳"``): the cells whose centres lie inside, the rest masked.

    A cut that holds nothing (a time not published, a box or district off the grid) is
    an error that names what is published, as ``weatherdata export`` reports it
    (:func:`weatherdata.export.select_product`).
    """
    entries = {p["id"]: p for p in list_products(root, storage_options=storage_options)}
    if product_id not in entries:
        import difflib

        close = difflib.get_close_matches(product_id, list(entries), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise WeatherdataError(f"{root}: no published product {product_id!r}{hint}")
    entry = entries[product_id]
    arguments = {k: v for k, v in entry["open_kwargs"].items() if k != "engine"}
    if storage_options:
        arguments["storage_options"] = storage_options
    location = _join(str(root), entry["href"])
    try:
        data = xr.open_zarr(location, **arguments)
    except FileNotFoundError:
        # products.json was read a moment ago: a publish replaced this version since.
        raise WeatherdataError(
            f"{location}: listed in products.json but not found (replaced by a publish "
            "since?); open it again"
        ) from None
    except Exception as exc:
        if isinstance(exc, OSError | TimeoutError) or _is_client_error(exc):
            raise _unreachable(location, exc) from None
        raise
    if time is not None or bbox is not None or district is not None:
        from .export import select_product

        data = select_product(data, product_id, time, bbox, district, keep_time_dimension=False)
    return data
