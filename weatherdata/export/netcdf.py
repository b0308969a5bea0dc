"""CF-NetCDF export: one self-describing NetCDF-4 file per product.

What the file guarantees
------------------------
* **CF-1.10**, checked with the IOOS compliance checker (``cf:1.10`` suite: no
  high-priority failure) for every product shape the catalog has: hourly grids, daily
  (``day``) and period (``period``) grids, forecast runs (``init_time`` x ``lead_time``
  with a 2-D ``valid_time``), categorical warning levels and per-district tables.
* **Times** are UTC, written as 64-bit integers ``seconds since 1970-01-01 00:00:00``
  (exact for any step, proleptic Gregorian calendar). ``time``/``valid_time`` have
  ``standard_name: time``, ``init_time`` ``forecast_reference_time``, ``lead_time``
  ``forecast_period`` (whole hours when the steps are whole hours). A ``day`` label is the
  start of the day and gets ``day_bounds`` [start, start + 1 day]; a ``period`` label is
  the start of the period.
* **Categorical products** (warning levels, grades) are ``byte`` variables (``short`` if a
  level does not fit) with ``flag_values`` of the same type, ``flag_meanings`` and
  ``_FillValue = -1`` (the type's minimum where -1 is a level); continuous products stay
  ``float`` with ``_FillValue = NaN`` and their ``valid_min``/``valid_max`` in that type.
* **Text labels** (districts, signals, vector components) are NetCDF-4 ``string``
  variables, UTF-8, so Chinese names survive. NetCDF coordinate variables must be numeric
  (NUG, CF §1.3), so a labelled dimension ``d`` keeps no coordinate variable: its labels
  are the auxiliary coordinate ``d_label(d)`` (CF §6.1); with xarray,
  ``ds.set_index(district="district_label")`` gives the published index back.
* **Projected grids** keep ``x``/``y`` in metres, 2-D ``latitude``/``longitude`` and the
  grid-mapping variable ``crs`` (named by the data variable's ``grid_mapping``).
* **Provenance**: every global attribute of the published store is kept (inputs with
  their SHA-256, catalog entry hash, parameters and references on the variable); the
  ``history`` attribute gets one more line (CF §2.6.2: appended) with the export time,
  the weatherdata version, the source store (or inputs) and the selection.
* **Compression**: zlib level 4 with byte shuffle; chunks of at most 2**20 values, whole
  horizontal planes first (a map per read), then as many time steps as fit.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import numpy as np
import xarray as xr

from .._version import __version__
from ..catalog import ProductEntry
from . import Exporter, ExportOptions, atomic_output

__all__ = ["NetCDFExporter", "cf_dataset", "text_array"]

#: Time-like coordinates: (standard_name, long_name).
_TIME_COORDINATES = {
    "time": ("time", "time (UTC)"),
    "valid_time": ("time", "valid time (UTC)"),
    "day": ("time", "start of the day (UTC)"),
    "period": ("time", "start of the period (UTC)"),
    "init_time": ("forecast_reference_time", "forecast initialisation time (UTC)"),
}
_TIME_UNITS = "seconds since 1970-01-01 00:00:00"
_CALENDAR = "proleptic_gregorian"
_HORIZONTAL = {
    "latitude": ("latitude", "latitude", "degrees_north", "Y"),
    "longitude": ("longitude", "longitude", "degrees_east", "X"),
    "y": ("projection_y_coordinate", "y coordinate of projection", "m", "Y"),
    "x": ("projection_x_coordinate", "x coordinate of projection", "m", "X"),
}
#: At most this many values per NetCDF chunk (4 MiB of float32).
_CHUNK_VALUES = 2**20


class NetCDFExporter(Exporter):
    """CF-1.10 NetCDF-4 (zlib), provenance in ``history`` (see the module docstring)."""

    name = "netcdf"
    suffix = ".nc"
    description = "CF-1.10 NetCDF-4, zlib-compressed, provenance in the history attribute"

    def write(
        self, data: xr.Dataset, entry: ProductEntry, destination: Path, options: ExportOptions
    ) -> list[Path]:
        dataset = cf_dataset(data, entry)
        encoding = _encoding(dataset, entry)
        with atomic_output(destination) as temporary:
            dataset.to_netcdf(temporary, format="NETCDF4", engine="netcdf4", encoding=encoding)
        return [destination]


def cf_dataset(data: xr.Dataset, entry: ProductEntry) -> xr.Dataset:
    """``data`` (one product as :func:`~weatherdata.export.load_product` returns it) with
    CF metadata for NetCDF: coordinate attributes, text labels as auxiliary coordinates,
    flag types, grid mapping and the export line in ``history``. Values stay lazy.

    Encodings come from :func:`_encoding`; the store's Zarr encodings are dropped.
    """
    dataset = data.copy()
    for variable in dataset.variables.values():
        variable.encoding = {}
    # A NetCDF coordinate variable must be numeric: text labels become `<dim>_label`.
    for dim in list(dataset.dims):
        if dim in dataset.coords and is_text(dataset[dim].dtype):
            labels = text_array(dataset[dim].values)
            dataset = dataset.drop_vars(dim).assign_coords(
                {f"{dim}_label": (dim, labels, {"long_name": f"{dim} label"})}
            )
    for name in list(dataset.coords):
        coordinate = dataset[name]
        attrs = dict(coordinate.attrs)
        if name in _TIME_COORDINATES:
            standard_name, long_name = _TIME_COORDINATES[name]
            attrs.update(standard_name=standard_name, long_name=long_name)
            if name in coordinate.dims and name != "init_time":
                attrs["axis"] = "T"
            if name == "day":
                attrs["bounds"] = "day_bounds"
        elif name == "lead_time":
            attrs.update(standard_name="forecast_period", long_name="forecast lead time")
        elif name in _HORIZONTAL:
            standard_name, long_name, units, axis = _HORIZONTAL[name]
            attrs.update(standard_name=standard_name, long_name=long_name, units=units)
            if coordinate.ndim == 1 and name in coordinate.dims:
                attrs["axis"] = axis
        elif is_text(coordinate.dtype):
            dataset = dataset.assign_coords(
                {name: (coordinate.dims, text_array(coordinate.values), coordinate.attrs)}
            )
            attrs.setdefault("long_name", _label_long_name(name))
        dataset[name].attrs = _netcdf_attributes(attrs)
    if "day" in dataset.dims:
        start = dataset["day"].values
        bounds = np.stack([start, start + np.timedelta64(1, "D")], axis=-1)
        dataset["day_bounds"] = (("day", "bounds"), bounds)

    variable = dataset[entry.id]
    attrs = dict(variable.attrs)
    if entry.categories is not None:
        storage, _ = flag_storage([c.value for c in entry.categories])
        attrs["flag_values"] = np.array([c.value for c in entry.categories], dtype=storage)
        attrs["flag_meanings"] = " ".join(c.meaning for c in entry.categories)
        for key in ("valid_min", "valid_max", "valid_range"):
            attrs.pop(key, None)
    else:
        storage = np.dtype(variable.dtype)
        for key in ("valid_min", "valid_max", "valid_range"):
            if key in attrs:
                attrs[key] = np.asarray(attrs[key], dtype=storage)
    if "crs" in dataset.variables and "grid_mapping_name" in dataset["crs"].attrs:
        attrs["grid_mapping"] = "crs"
        dataset["crs"].attrs = _netcdf_attributes(
            {"long_name": "coordinate reference system", **dataset["crs"].attrs}
        )
        # A grid-mapping variable, not a coordinate: keep it out of `coordinates`.
        dataset = dataset.reset_coords("crs")
    # `time:` in cell_methods names the time axis; on a `day`/`period` axis the checker
    # (and CF §7.3 readers that match names) need that dimension's name.
    label_axis = next((d for d in ("day", "period") if d in variable.dims), None)
    if label_axis and "time" not in variable.dims and "cell_methods" in attrs:
        attrs["cell_methods"] = re.sub(r"\btime:", f"{label_axis}:", attrs["cell_methods"])
    dataset[entry.id].attrs = _netcdf_attributes(attrs)

    attrs = dict(dataset.attrs)
    attrs.setdefault("Conventions", "CF-1.10")
    now = dt.datetime.now(dt.UTC)
    line = (
        f"{now:%Y-%m-%dT%H:%M:%SZ} weatherdata {__version__} export --format netcdf "
        f"{entry.id}; source: {attrs.get('weatherdata_export_source', 'an in-memory dataset')}; "
        f"selection: {attrs.get('weatherdata_export_selection', 'everything given')}"
    )
    attrs["history"] = f"{attrs['history']}\n{line}" if attrs.get("history") else line
    dataset.attrs = _netcdf_attributes(attrs)
    return dataset


def _label_long_name(name: str) -> str:
    for suffix, language in (("_name_en", "English"), ("_name_zh", "Chinese")):
        if name.endswith(suffix):
            return f"{name[: -len(suffix)]} name ({language})"
    return name.replace("_", " ")


def flag_storage(values: list[int]) -> tuple[np.dtype, int]:
    """``(dtype, fill)``: the smallest signed integer type holding the levels and a fill
    value that is no level (-1, or the type's minimum where -1 is a level)."""
    for candidate in (np.int8, np.int16, np.int32):
        limits = np.iinfo(candidate)
        fill = -1 if -1 not in values else int(limits.min)
        if limits.min <= min(values, default=0) and max(values, default=0) <= limits.max:
            if fill not in values:
                return np.dtype(candidate), fill
    raise ValueError(f"category values {values} do not fit a 32-bit integer")


def text_array(values) -> np.ndarray:
    """Labels as NumPy ``<U`` text (NumPy 2 ``StringDType`` does not cast to ``str``)."""
    return np.asarray(values, dtype=object).astype(str)


def is_text(dtype: np.dtype) -> bool:
    """Text labels: NumPy ``<U``/bytes, Python objects, or NumPy 2 ``StringDType``."""
    return np.dtype(dtype).kind in "OUST"


def _netcdf_attributes(attrs: dict) -> dict:
    """Attributes NetCDF can store: no ``None``; booleans as 0/1; mappings as JSON text."""
    out = {}
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, bool | np.bool_):
            value = np.int8(value)
        elif isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False)
        elif isinstance(value, list | tuple):
            if all(isinstance(item, str) for item in value):
                value = ", ".join(value)
            else:
                value = np.asarray(value)
        out[key] = value
    return out


def _encoding(dataset: xr.Dataset, entry: ProductEntry) -> dict[str, dict]:
    encoding: dict[str, dict] = {}
    for name, variable in dataset.variables.items():
        kind = variable.dtype.kind
        if kind == "M":
            encoding[name] = {"units": _TIME_UNITS, "calendar": _CALENDAR, "dtype": "int64"}
        elif kind == "m":
            encoding[name] = _lead_time_encoding(variable)
        elif is_text(variable.dtype):
            encoding[name] = {"dtype": str}
        elif name in dataset.coords or name == "crs":
            encoding[name] = {"_FillValue": None}
    variable = dataset[entry.id]
    if entry.categories is not None:
        storage, fill = flag_storage([c.value for c in entry.categories])
    else:
        storage = np.dtype(variable.dtype)
        fill = np.nan if storage.kind == "f" else None
    encoding[entry.id] = {
        "dtype": storage,
        "_FillValue": fill,
        "zlib": True,
        "complevel": 4,
        "shuffle": True,
    }
    if all(variable.shape):
        encoding[entry.id]["chunksizes"] = _chunk_sizes(variable.shape)
    return encoding


def _lead_time_encoding(variable: xr.Variable) -> dict:
    steps = variable.values.astype("timedelta64[s]").astype(np.int64)
    for units, seconds in (("hours", 3600), ("minutes", 60)):
        if np.all(steps % seconds == 0):
            return {"units": units, "dtype": "int32"}
    return {"units": "seconds", "dtype": "int64"}


def _chunk_sizes(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Chunks of at most ``_CHUNK_VALUES`` values, cut from the leading (time) dims first."""
    chunks = list(shape)
    for index in range(len(chunks)):
        if math.prod(chunks) <= _CHUNK_VALUES:
            break
        rest = math.prod(chunks[index + 1 :])
        chunks[index] = max(1, _CHUNK_VALUES // rest) if rest <= _CHUNK_VALUES else 1
    return tuple(chunks)
