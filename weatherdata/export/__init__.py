"""Export published (or freshly derived) products as files for service teams.

The engine does the plumbing here; each file format is a plugin (an :class:`Exporter`
registered under the ``weatherdata.exporters`` entry-point group), exactly like the
readers. A plugin receives one product's dataset, already cut to the requested time range
and area, and writes files through :func:`atomic_output`, so a failed or killed export
never leaves a half-written file under the final name.

Python::

    from weatherdata.export import export
    export(["heat_warning_signal"], "out/", format="geojson", root="weatherdata-demo/products")

Command line::

    weatherdata export heat_warning_signal --format geojson --root weatherdata-demo/products --out out/
"""

from __future__ import annotations

import contextlib
import datetime
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xarray as xr

from ..catalog import Catalog, ProductEntry, shipped_catalog
from ..errors import InputError, WeatherdataError

__all__ = [
    "ExportOptions",
    "Exporter",
    "atomic_output",
    "available_formats",
    "district_geometry",
    "export",
    "get_exporter",
    "load_product",
    "parse_time_range",
    "select_product",
    "time_bounds",
]

TIME_DIMENSIONS = ("time", "day", "init_time")


@dataclass
class ExportOptions:
    """Options shared by all exporters; each format reads the ones it needs.

    Attributes
    ----------
    stations
        CSV exports: a CSV file of stations (columns ``name, latitude, longitude``; an
        optional ``name_zh``). ``None`` means per-district aggregates.
    interpolation
        CSV at stations: ``"nearest"`` (the cell containing the station) or ``"bilinear"``.
    region
        CSV/CAP district aggregation: ``"guangzhou_districts"`` (11) or
        ``"guangdong_cities"`` (21).
    beijing_time
        CSV: add a Beijing-time (UTC+8) column next to the UTC one.
    animate
        PNG: also write an animation over the time range, ``"gif"`` or ``"mp4"``.
    language
        PNG titles and legends: ``"auto"`` (Chinese when a CJK font is installed),
        ``"en"`` or ``"zh"``.
    sender
        CAP: the ``<sender>`` of the alerts.
    status
        CAP: ``Actual``, ``Exercise``, ``System``, ``Test`` or ``Draft``.
    """

    stations: str | Path | None = None
    interpolation: str = "nearest"
    region: str = "guangzhou_districts"
    beijing_time: bool = False
    animate: str | None = None
    language: str = "auto"
    sender: str = "weatherdata@localhost"
    status: str = "Actual"
    extra: dict[str, Any] = field(default_factory=dict)


class Exporter:
    """One output format. Subclass, set the class attributes, implement :meth:`write`.

    Register the subclass in the ``weatherdata.exporters`` entry-point group
    (``pyproject.toml``) under its :attr:`name`.
    """

    #: Format name used by ``--format``.
    name: ClassVar[str] = ""
    #: File suffix, with the dot (``".nc"``).
    suffix: ClassVar[str] = ""
    #: One line for ``weatherdata export --help`` and the docs.
    description: ClassVar[str] = ""
    #: Categorical products only (e.g. GeoJSON warning areas, CAP alerts).
    categorical_only: ClassVar[bool] = False
    #: Products on a horizontal grid only (e.g. GeoTIFF): ``--all`` skips the others
    #: (per-district tables, index series) instead of stopping at the first one.
    gridded_only: ClassVar[bool] = False
    #: ``True`` when the format writes several files (e.g. one PNG per time step): the
    #: destination is then always a directory.
    many_files: ClassVar[bool] = False

    def write(
        self, data: xr.Dataset, entry: ProductEntry, destination: Path, options: ExportOptions
    ) -> list[Path]:
        """Write ``data`` (one product, variable named ``entry.id``) and return the files.

        ``destination`` is the output file (or, when :attr:`many_files`, the output
        directory, which exists). Every file is written through :func:`atomic_output`.
        """
        raise NotImplementedError


def available_formats() -> dict[str, type[Exporter]]:
    """The installed exporters by format name (entry points ``weatherdata.exporters``)."""
    found: dict[str, type[Exporter]] = {}
    for point in entry_points(group="weatherdata.exporters"):
        found[point.name] = point.load()
    return dict(sorted(found.items()))


def get_exporter(name: str) -> Exporter:
    # Load only the named plugin: a broken or missing other plugin must not stop this one.
    formats = {point.name: point for point in entry_points(group="weatherdata.exporters")}
    if name not in formats:
        raise WeatherdataError(
            f"--format {name!r}: unknown export format; choose from {', '.join(sorted(formats)) or 'none installed'}"
        )
    return formats[name].load()()


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only on success.

    The temporary name starts with a dot and ends in ``.partial`` in the same directory
    (so the rename is atomic on the same filesystem). On any exception it is removed and
    ``path`` — including an earlier export under that name — is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".partial", dir=path.parent
    )
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        if not temporary.exists() or (temporary.is_file() and temporary.stat().st_size == 0):
            raise WeatherdataError(f"{path}: the exporter wrote nothing")
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        if temporary.is_file():
            # mkstemp creates 0600; an exported file gets the usual permissions (umask).
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


# -- selection ----------------------------------------------------------------------


def parse_time_range(text: str | None) -> tuple[np.datetime64 | None, np.datetime64 | None]:
    """``"T0"`` or ``"T0/T1"`` (ISO; UTC unless an offset is given, e.g. ``+08:00``;
    either side of ``/`` may be empty) → bounds in UTC."""
    if text is None or text == "":
        return None, None
    start, sep, stop = text.partition("/")
    if not sep:
        point = _utc_time(start, text)
        return point, point
    start, stop = _utc_time(start, text), _utc_time(stop, text)
    if start is not None and stop is not None and stop < start:
        raise WeatherdataError(f"time {text!r}: the end is before the start")
    return start, stop


def _utc_time(value, asked) -> np.datetime64 | None:
    """One time (ISO text, NumPy or pandas time, datetime) as naive UTC ``datetime64[s]``."""
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    elif value is None:
        return None
    try:
        stamp = pd.Timestamp(value[()] if isinstance(value, np.ndarray) else value)  # 0-d
    except (ValueError, TypeError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise WeatherdataError(
            f"time {asked!r}: {value!r} is not an ISO time such as 2026-07-27T06:00"
        )
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_datetime64().astype("datetime64[s]")


def time_bounds(time) -> tuple[np.datetime64 | None, np.datetime64 | None]:
    """``(start, stop)`` in UTC of what a user asks for: ``"T0"`` or ``"T0/T1"`` text
    (:func:`parse_time_range`), a ``slice`` or a ``(start, stop)`` pair of times, or one
    time (text, ``numpy.datetime64``, ``pandas.Timestamp``, ``datetime``)."""
    if time is None or isinstance(time, str):
        return parse_time_range(time)
    if isinstance(time, slice | tuple):
        start, stop = (time.start, time.stop) if isinstance(time, slice) else time
        start, stop = _utc_time(start, time), _utc_time(stop, time)
        if start is not None and stop is not None and stop < start:
            raise WeatherdataError(f"time {time!r}: the end is before the start")
        return start, stop
    if isinstance(time, list) or (isinstance(time, np.ndarray) and time.ndim):
        raise WeatherdataError(
            f"time: one time, 'T0/T1' or slice(T0, T1), not {np.size(time)} values"
        )
    point = _utc_time(time, time)
    return point, point


_REGION_NAMES = ("guangzhou_districts", "guangdong_cities")


def district_geometry(name: str):
    """``(region, english_name, chinese_name, shapely geometry)`` of a district or city.

    ``name`` is English or Chinese, with or without the 区/市 suffix, case-insensitive:
    ``"Tianhe"``, ``"天河区"``, ``"Shenzhen"``, ``"深圳"``. Boundaries are cnmaps' (offline).
    """
    from weatherdata.products.forecast_warning.districts import _boundaries

    wanted = name.strip().lower()
    known = []
    for region in _REGION_NAMES:
        for zh, en, geometry in _boundaries(region):
            known.append(en)
            if wanted in (en.lower(), zh, zh[:-1]):
                return region, en, zh, geometry
    import difflib

    close = difflib.get_close_matches(name, known, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise WeatherdataError(f"district {name!r}: not a Guangzhou district or Guangdong city{hint}")


def _time_dimension(data: xr.Dataset | xr.DataArray) -> str | None:
    return next((d for d in TIME_DIMENSIONS if d in data.dims), None)


def select_product(
    data: xr.Dataset,
    product_id: str,
    time=None,
    bbox: Sequence[float] | None = None,
    district: str | None = None,
    *,
    keep_time_dimension: bool = True,
) -> xr.Dataset:
    """``data`` (one product) cut to ``time`` (anything :func:`time_bounds` takes; one time
    must be published exactly, a range must hold one), ``bbox`` (west, south, east, north)
    and ``district`` (:func:`district_geometry`). Used by the exporters and
    :func:`weatherdata.open_product`: an empty cut is an error naming what is published,
    never an empty dataset or the nearest time. One time keeps a time dimension of
    length one (files have a time axis), or, without ``keep_time_dimension``, becomes a
    scalar coordinate as xarray's ``sel`` makes it (a map plots as a map)."""
    time = time_bounds(time)
    if any(bound is not None for bound in time):
        dim = _time_dimension(data)
        if dim is None:
            raise WeatherdataError(f"{product_id}: has no time dimension to select a time in")
        start, stop = time
        values = data[dim].values
        if start is not None and start == stop:
            index = np.flatnonzero(values == start)
            if not index.size:
                raise WeatherdataError(
                    f"{product_id}: no data at {_time_text(start)} (published {_range(values)})"
                )
            data = data.isel({dim: index if keep_time_dimension else index[0]})
        else:
            data = data.sel({dim: slice(start, stop)})
            if data.sizes[dim] == 0:
                raise WeatherdataError(
                    f"{product_id}: no data between {_time_text(start)} and {_time_text(stop)} "
                    f"(published {_range(values)})"
                )
    if bbox is not None:
        west, south, east, north = bbox
        if "latitude" in data.dims and "longitude" in data.dims:
            latitude = data.latitude.values
            lat_slice = slice(south, north) if latitude[0] <= latitude[-1] else slice(north, south)
            data = data.sel(latitude=lat_slice, longitude=slice(west, east))
            if not data.sizes["latitude"] or not data.sizes["longitude"]:
                raise WeatherdataError(f"{product_id}: bbox {tuple(bbox)} holds no grid cell")
        elif "latitude" in data.coords:
            inside = (
                (data.latitude >= south)
                & (data.latitude <= north)
                & (data.longitude >= west)
                & (data.longitude <= east)
            ).compute()
            if not bool(inside.any()):
                raise WeatherdataError(f"{product_id}: bbox {tuple(bbox)} holds no grid cell")
            data = data.where(inside, drop=True)
    if district is not None:
        data = _mask_district(data, product_id, district)
    return data


def _mask_district(data: xr.Dataset, product_id: str, district: str) -> xr.Dataset:
    import shapely

    region, english, chinese, geometry = district_geometry(district)
    table_dim = {"guangzhou_districts": "district", "guangdong_cities": "city"}[region]
    if table_dim in data.dims:  # a per-district table: pick the row
        return data.sel({table_dim: [english]})
    if "latitude" not in data.coords or "longitude" not in data.coords:
        raise WeatherdataError(f"{product_id}: no latitude/longitude to cut a district by")
    if data.latitude.ndim == 1 and data.longitude.ndim == 1:
        lat2d, lon2d = np.meshgrid(data.latitude.values, data.longitude.values, indexing="ij")
        dims = ("latitude", "longitude")
    else:
        lat2d, lon2d = data.latitude.values, data.longitude.values
        dims = data.latitude.dims
    inside = shapely.contains_xy(geometry, lon2d, lat2d)
    if not inside.any():
        raise WeatherdataError(
            f"{product_id}: district {district!r} ({english}) contains no cell centre of this grid"
        )
    rows = np.flatnonzero(inside.any(axis=1))
    columns = np.flatnonzero(inside.any(axis=0))
    mask = xr.DataArray(inside, dims=dims)
    data = (
        data.where(mask)
        .isel({dims[0]: slice(rows[0], rows[-1] + 1)})
        .isel({dims[1]: slice(columns[0], columns[-1] + 1)})
    )
    data.attrs["weatherdata_district"] = f"{english} ({chinese})"
    return data


def _time_text(value) -> str:
    """A time as a message shows it: ISO to the minute (seconds where there are), UTC."""
    if value is None:
        return "…"
    if isinstance(value, np.datetime64 | pd.Timestamp | datetime.datetime):
        stamp = pd.Timestamp(value)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ" if stamp.second else "%Y-%m-%dT%H:%MZ")
    return str(value)


def _range(values: np.ndarray) -> str:
    if not len(values):
        return "no times"
    return f"{_time_text(values.min())} to {_time_text(values.max())}"


def load_product(
    product_id: str,
    *,
    root: str | None = None,
    inputs: Sequence[str] | None = None,
    time: tuple | str | None = None,
    bbox: Sequence[float] | None = None,
    district: str | None = None,
    catalog: Catalog | None = None,
    storage_options: dict | None = None,
) -> xr.Dataset:
    """One product as a dataset (variable ``product_id``), cut to ``time``/``bbox``/``district``.

    Reads the published store under ``root`` (a directory, ``http(s)://`` or ``s3://``
    URL) or, when ``inputs`` are given instead, derives the product on the fly from them.
    """
    catalog = catalog or shipped_catalog()
    entry = catalog[product_id]
    if entry.family == "intermediate":
        raise WeatherdataError(f"{product_id!r} is an internal intermediate, not a product")
    time = time_bounds(time)
    if (root is None) == (inputs is None):
        raise WeatherdataError("give either a publication root (--root) or inputs (--input)")
    if root is not None:
        from ..access import open_product

        data = open_product(product_id, str(root), storage_options=storage_options)
        source = data.encoding.get("source") or f"{root} (published {product_id})"
    else:
        from .. import ingest
        from ..engine import derive_arrays
        from ..publication import _product_dataset

        observations, forecast = ingest.open_inputs(list(inputs))
        derived = derive_arrays(observations, [product_id], forecast=forecast, catalog=catalog)
        data = _product_dataset(derived, entry, {"weatherdata_inputs": ", ".join(inputs)})
        source = "derived on the fly from " + ", ".join(str(i) for i in inputs)
    if product_id not in data.data_vars:
        raise InputError(f"{product_id}: the store holds no variable {product_id!r}")
    data = select_product(data, product_id, time, bbox, district)
    # Provenance for the exporters (NetCDF history, GeoTIFF tags): what was read, how cut.
    data.attrs["weatherdata_export_source"] = source
    data.attrs["weatherdata_export_selection"] = _describe_selection(time, bbox, district)
    return data


def _describe_selection(time: tuple | None, bbox: Sequence[float] | None, district: str | None):
    """One line: the ``--time``/``--bbox``/``--district`` cut, or ``everything published``."""
    parts = []
    if time is not None and any(bound is not None for bound in time):
        start, stop = (f"{bound}Z" if bound is not None else "" for bound in time)
        parts.append(f"time {start}" if start == stop else f"time {start}/{stop}")
    if bbox is not None:
        parts.append("bbox " + ",".join(f"{value:g}" for value in bbox) + " (W,S,E,N)")
    if district is not None:
        parts.append(f"district {district}")
    return "; ".join(parts) or "everything published"


# -- driver -------------------------------------------------------------------------


def _destination(out: Path, entry: ProductEntry, exporter: Exporter, single: bool) -> Path:
    if exporter.many_files:
        target = out / entry.id if not single else out
        target.mkdir(parents=True, exist_ok=True)
        return target
    if single and out.suffix == exporter.suffix:
        return out
    return out / f"{entry.id}{exporter.suffix}"


def export(
    product_ids: Iterable[str],
    out: str | Path,
    *,
    format: str,
    root: str | None = None,
    inputs: Sequence[str] | None = None,
    time: tuple | str | None = None,
    bbox: Sequence[float] | None = None,
    district: str | None = None,
    options: ExportOptions | None = None,
    catalog: Catalog | None = None,
    storage_options: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Path]:
    """Export each product to ``out`` in ``format``; return the files written.

    ``out`` is a directory (one file per product, ``<id><suffix>``) or, for a single
    product in a one-file format, a file name with the format's suffix.
    """
    catalog = catalog or shipped_catalog()
    exporter = get_exporter(format)
    options = options or ExportOptions()
    ids = list(product_ids)
    if not ids:
        raise WeatherdataError("no products to export (name some, or use --all)")
    entries = [catalog[pid] for pid in ids]
    if exporter.categorical_only:
        plain = [e.id for e in entries if not e.categories]
        if plain:
            raise WeatherdataError(
                f"--format {format}: only for categorical products (warning levels); "
                f"{', '.join(plain[:5])}{' …' if len(plain) > 5 else ''} "
                f"{'has' if len(plain) == 1 else 'have'} no categories"
            )
    time = time_bounds(time)
    out = Path(out)
    single = len(entries) == 1
    directory = not (single and out.suffix == exporter.suffix and not exporter.many_files)
    written: list[Path] = []
    for done, entry in enumerate(entries):
        data = load_product(
            entry.id,
            root=root,
            inputs=inputs,
            time=time,
            bbox=bbox,
            district=district,
            catalog=catalog,
            storage_options=storage_options,
        )
        if directory:  # made once there is something to write: a refused export leaves none
            out.mkdir(parents=True, exist_ok=True)
        written += exporter.write(data, entry, _destination(out, entry, exporter, single), options)
        if progress:
            progress(entry.id, done + 1, len(entries))
    return written
