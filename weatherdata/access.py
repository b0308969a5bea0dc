"""Thin helpers for notebook users, over plain xarray and pystac.

Nothing here is needed to read the data: every store opens with
``xarray.open_zarr(url, consolidated=True, zarr_format=3)``. These helpers only find the
store from the root's ``products.json`` (one request) and select a time range and a box.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from .errors import WeatherdataError

__all__ = ["list_products", "open_catalog", "open_product"]


def _join(root: str, relative: str) -> str:
    return root.rstrip("/") + "/" + relative.lstrip("/")


def _read_json(url: str, storage_options: dict | None = None) -> dict:
    import fsspec

    try:
        with fsspec.open(url, "rt", encoding="utf-8", **(storage_options or {})) as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise WeatherdataError(
            f"{url}: not found (is this a weatherdata publication root?)"
        ) from None


def list_products(root: str, *, storage_options: dict | None = None) -> list[dict]:
    """Every published product (id, names, units, href, time range) from ``products.json``."""
    return _read_json(_join(str(root), "products.json"), storage_options)["products"]


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
    storage_options: dict | None = None,
) -> xr.Dataset:
    """Open one published product lazily, optionally cut to a time range and a box.

    Parameters
    ----------
    product_id
        Catalog id, e.g. ``"temperature_2m"``.
    root
        Publication root: a directory, ``http(s)://`` URL or ``s3://bucket/prefix``.
    time
        A time (``"2026-07-27T06:00"``) or a ``slice`` of times.
    bbox
        ``(west, south, east, north)`` in degrees.
    """
    entries = {p["id"]: p for p in list_products(root, storage_options=storage_options)}
    if product_id not in entries:
        import difflib

        close = difflib.get_close_matches(product_id, list(entries), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise WeatherdataError(f"{root}: no published product {product_id!r}{hint}")
    entry = entries[product_id]
    arguments = {k: v for k, v in entry["open_kwargs"].items() if k != "engine"}
    data = xr.open_zarr(
        _join(str(root), entry["href"]), storage_options=storage_options, **arguments
    )
    if time is not None:
        dim = next((d for d in ("time", "day", "init_time") if d in data.dims), None)
        if dim is None:
            raise WeatherdataError(f"{product_id} has no time dimension to select")
        if isinstance(time, slice):
            data = data.sel({dim: slice(_time(time.start), _time(time.stop))})
        else:
            data = data.sel({dim: _time(time)}, method="nearest")
    if bbox is not None:
        west, south, east, north = bbox
        if "latitude" in data.dims and "longitude" in data.dims:
            data = data.sel(latitude=slice(south, north), longitude=slice(west, east))
        else:
            mask = (
                (data.latitude >= south)
                & (data.latitude <= north)
                & (data.longitude >= west)
                & (data.longitude <= east)
            )
            data = data.where(mask.compute(), drop=True)
    return data


def _time(value):
    return None if value is None else np.datetime64(str(value).rstrip("Z"))
