"""CSV export: a product's values at stations, or per district, as one long table.

What the file guarantees
------------------------
* **Encoding.** UTF-8 with a byte-order mark (Excel then shows Chinese names correctly;
  ``pandas.read_csv(path, encoding="utf-8-sig")`` and Python's ``csv`` with
  ``encoding="utf-8-sig"`` read it), comma-separated, RFC 4180 quoting and ``CRLF`` line
  ends, one header row, no comment lines. A missing value is an empty field.
* **Long format**: one row per time x place (x any other dimension of the product, e.g.
  ``signal`` or ``component``), sorted by time, then place, then the other dimensions.
  Columns, in this order:

  ``product``
      the catalog id (so concatenated files stay self-describing);
  ``time_utc``
      ISO 8601 UTC with ``Z``: the valid time; for a ``day`` product the start of the day,
      for a ``period`` product the start of the period (as published);
  ``time_beijing``
      only with ``--beijing-time``: the same instant in Beijing time, ``+08:00``;
  ``init_time_utc``, ``lead_time_hours``
      forecast runs only (then ``time_utc`` is the valid time, init + lead);
  ``station``, ``station_zh``, ``latitude``, ``longitude``
      at stations (``station_zh`` when the list has ``name_zh``; the coordinates are the
      station's, as given);
  ``district``/``city``, ``district_zh``/``city_zh``
      per district (Guangzhou's 11 districts or Guangdong's 21 cities, English and
      Chinese names);
  one column per other dimension, named after it (``signal``, ``component``, …);
  ``value``
      the number, in ``units`` (float32 written with the shortest text that reads back
      to the same float32; warning levels as integers);
  ``units``
      the catalog units (UDUNITS/pint spelling, e.g. ``degC``, ``mm``, ``1``);
  ``level``, ``level_zh``
      categorical products: the category meaning in English and Chinese;
  ``interpolation`` (stations) or ``aggregation`` and ``cells`` (districts)
      how the value was obtained (below).

* **At stations** (``--stations FILE``: CSV with ``name, latitude, longitude`` and an
  optional ``name_zh``; UTF-8 with or without BOM). ``nearest`` takes the value of the
  cell whose centre is nearest along each axis (the cell containing the station on a
  regular grid); ``bilinear`` weights the four surrounding cell centres by distance
  along each axis in the grid's own coordinates (degrees, or metres on a projected
  grid after projecting the station) and is missing when a neighbour with non-zero
  weight is missing. Categorical products are never interpolated: they use
  ``nearest`` whatever is asked, and the column says so. A station outside the grid (for
  ``nearest``: outside the outermost cells; for ``bilinear``: outside the outermost cell
  centres) stops the export with an error naming it.
* **Per district** (no stations; ``--region guangzhou_districts`` or
  ``guangdong_cities``): a district's cells are those of
  :func:`weatherdata.products.forecast_warning.districts.district_masks` (cell centre
  inside the cnmaps boundary; a district smaller than a cell gets its nearest cell). A
  continuous product is the unweighted **mean** over the district's cells that have a
  value (cells of one district differ in area by under 2 % at these latitudes); a
  categorical product the **maximum** level (a signal in force anywhere in the district
  is in force for it). ``cells`` is the number of grid cells assigned to the district; a
  district with none (off the grid) has empty values. With ``--district X`` only that
  district (or city) is listed when it belongs to the region.
* Products already per district (dims ``district``/``city``) are written as their table;
  products with neither a grid nor districts (e.g. ``subtropical_high_indices``) as
  theirs, without place columns.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..catalog import ProductEntry
from ..errors import InputError, WeatherdataError
from . import Exporter, ExportOptions, atomic_output
from .netcdf import text_array

__all__ = ["CSVExporter", "product_table", "read_stations"]

INTERPOLATIONS = ("nearest", "bilinear")
REGIONS = {"guangzhou_districts": "district", "guangdong_cities": "city"}
_PLACE_DIMS = ("district", "city")
_TIME_LABELS = ("time", "day", "period")
_BEIJING = np.timedelta64(8, "h")


class CSVExporter(Exporter):
    """CSV, UTF-8 with BOM, long format (see the module docstring for the columns)."""

    name = "csv"
    suffix = ".csv"
    description = "CSV (UTF-8 with BOM, one row per time and place): at stations or per district"

    def write(
        self, data: xr.Dataset, entry: ProductEntry, destination: Path, options: ExportOptions
    ) -> list[Path]:
        table = product_table(data, entry, options)
        with atomic_output(destination) as temporary:
            table.to_csv(
                temporary, index=False, encoding="utf-8-sig", lineterminator="\r\n", na_rep=""
            )
        return [destination]


def product_table(data: xr.Dataset, entry: ProductEntry, options: ExportOptions) -> pd.DataFrame:
    """The CSV table of one product (see the module docstring), computed."""
    if options.interpolation not in INTERPOLATIONS:
        raise WeatherdataError(
            f"--interpolation {options.interpolation!r}: choose nearest or bilinear"
        )
    if options.region not in REGIONS:
        raise WeatherdataError(
            f"--region {options.region!r}: choose guangzhou_districts or guangdong_cities"
        )
    variable = data[entry.id]
    place_dim = next((d for d in _PLACE_DIMS if d in variable.dims), None)
    horizontal = _horizontal_dims(variable)
    if options.stations is not None and horizontal is None:
        raise WeatherdataError(
            f"{entry.id}: has no grid (dims {', '.join(map(str, variable.dims))}) to read "
            "at stations; export it without --stations"
        )
    if place_dim is not None:
        places = _published_places(variable, place_dim)
        method = {"aggregation": "maximum" if entry.categories else "as published"}
        values = variable
    elif horizontal is None:
        places, method, values = None, {}, variable
    elif options.stations is not None:
        stations = read_stations(options.stations)
        values, method_name = at_stations(data, entry, stations, options.interpolation)
        place_dim = "station"
        places = stations.rename(columns={"name": "station", "name_zh": "station_zh"})
        method = {"interpolation": method_name}
    else:
        values, places, method = per_district(variable, entry, options.region, data.attrs)
        place_dim = REGIONS[options.region]
    return _long_table(values, entry, place_dim, places, method, options.beijing_time)


# -- stations -----------------------------------------------------------------------


def read_stations(path: str | Path) -> pd.DataFrame:
    """The station list: columns ``name, latitude, longitude`` (+ ``name_zh``), checked.

    Raises :class:`~weatherdata.errors.InputError` naming the file and the row for a
    missing column, a non-numeric or out-of-range coordinate, or a repeated name.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--stations {path}: no such file")
    try:
        table = pd.read_csv(path, encoding="utf-8-sig", dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"--stations {path}: not a UTF-8 CSV file ({exc})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("name", "latitude", "longitude") if c not in table.columns]
    if missing:
        raise InputError(
            f"--stations {path}: missing column(s) {', '.join(missing)} "
            "(need name, latitude, longitude; optional name_zh)"
        )
    if table.empty:
        raise InputError(f"--stations {path}: no stations")
    columns = ["name", "name_zh"] if "name_zh" in table.columns else ["name"]
    out = table[columns].apply(lambda column: column.fillna("").str.strip())
    for row, name in enumerate(out["name"], start=2):
        if not name:
            raise InputError(f"--stations {path}: line {row} has no name")
    repeated = out["name"][out["name"].duplicated()].tolist()
    if repeated:
        raise InputError(f"--stations {path}: station {repeated[0]!r} is listed twice")
    for column, limit in (("latitude", 90.0), ("longitude", 360.0)):
        numbers = pd.to_numeric(table[column], errors="coerce")
        bad = ~np.isfinite(numbers) | (numbers.abs() > limit)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"--stations {path}: station {out['name'].iloc[row]!r} has {column} "
                f"{table[column].iloc[row]!r}, not a number in [-{limit:g}, {limit:g}]"
            )
        out[column] = numbers.astype("float64")
    return out.reset_index(drop=True)


def at_stations(
    data: xr.Dataset, entry: ProductEntry, stations: pd.DataFrame, interpolation: str
) -> tuple[xr.DataArray, str]:
    """The product at each station (new last dim ``station``) and the method used.

    Lazy: indexing and weights are resolved now, values when the table is written.
    """
    variable = data[entry.id]
    y_dim, x_dim = _horizontal_dims(variable)
    y_axis, x_axis, y_points, x_points = _station_axes(data, variable, stations, entry)
    method = interpolation if entry.categories is None else "nearest"
    corners = []
    for axis, points, dim in ((y_axis, y_points, y_dim), (x_axis, x_points, x_dim)):
        if method == "nearest":
            indices = _nearest(axis, points, dim, stations, entry)
            corners.append([(indices, np.ones(len(points)))])
        else:
            lower, upper, weight = _linear(axis, points, dim, stations, entry)
            corners.append([(lower, 1.0 - weight), (upper, weight)])
    total = None
    for y_index, y_weight in corners[0]:
        for x_index, x_weight in corners[1]:
            weight = xr.DataArray(y_weight * x_weight, dims="station")
            corner = variable.isel(
                {
                    y_dim: xr.DataArray(y_index, dims="station"),
                    x_dim: xr.DataArray(x_index, dims="station"),
                }
            ).astype("float64")
            # A neighbour with zero weight must not turn the result missing.
            term = xr.where(weight > 0, corner * weight, 0.0)
            total = term if total is None else total + term
    total = total.drop_vars([c for c in total.coords if "station" in total[c].dims])
    if entry.categories is not None and interpolation == "bilinear":
        method = "nearest (categorical: levels are not interpolated)"
    return total, method


def _station_axes(data, variable, stations, entry):
    """1-D grid axes (ascending or not) and the stations in the same coordinates."""
    y_dim, x_dim = _horizontal_dims(variable)
    latitude = stations["latitude"].to_numpy()
    longitude = stations["longitude"].to_numpy()
    if (y_dim, x_dim) == ("latitude", "longitude"):
        y_axis = np.asarray(data["latitude"].values, dtype="float64")
        x_axis = np.asarray(data["longitude"].values, dtype="float64")
        # Stations may say 0..360 or -180..180: use the grid's convention.
        if x_axis.max() > 180.0:
            longitude = np.mod(longitude, 360.0)
        else:
            longitude = np.mod(longitude + 180.0, 360.0) - 180.0
        return y_axis, x_axis, latitude, longitude
    if "crs" not in data.variables or y_dim not in data.coords or x_dim not in data.coords:
        raise WeatherdataError(
            f"{entry.id}: a projected grid without 1-D y/x and a `crs` grid mapping; "
            "stations cannot be placed on it"
        )
    from pyproj import CRS, Transformer

    attrs = dict(data["crs"].attrs)
    crs = CRS.from_wkt(attrs["crs_wkt"]) if attrs.get("crs_wkt") else CRS.from_cf(attrs)
    x_points, y_points = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(
        longitude, latitude
    )
    return (
        np.asarray(data[y_dim].values, dtype="float64"),
        np.asarray(data[x_dim].values, dtype="float64"),
        np.asarray(y_points),
        np.asarray(x_points),
    )


def _outside(points, low, high, dim, stations, entry, what):
    outside = ~((points >= low) & (points <= high))
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        station = stations.iloc[row]
        raise WeatherdataError(
            f"{entry.id}: station {station['name']!r} ({station['latitude']:g}, "
            f"{station['longitude']:g}) is outside the grid ({dim} {low:g} to {high:g}, {what})"
        )


def _nearest(axis, points, dim, stations, entry) -> np.ndarray:
    order = np.argsort(axis)
    ordered = axis[order]
    half_first = (ordered[1] - ordered[0]) / 2 if ordered.size > 1 else 0.0
    half_last = (ordered[-1] - ordered[-2]) / 2 if ordered.size > 1 else 0.0
    _outside(
        points,
        ordered[0] - half_first,
        ordered[-1] + half_last,
        dim,
        stations,
        entry,
        "cell edges",
    )
    return order[np.abs(ordered[np.newaxis, :] - points[:, np.newaxis]).argmin(axis=1)]


def _linear(axis, points, dim, stations, entry):
    order = np.argsort(axis)
    ordered = axis[order]
    if ordered.size < 2:
        raise WeatherdataError(
            f"{entry.id}: one cell along {dim}; bilinear interpolation needs two (use nearest)"
        )
    _outside(points, ordered[0], ordered[-1], dim, stations, entry, "outermost cell centres")
    lower = np.clip(np.searchsorted(ordered, points, side="right") - 1, 0, ordered.size - 2)
    weight = (points - ordered[lower]) / (ordered[lower + 1] - ordered[lower])
    return order[lower], order[lower + 1], weight


# -- districts ----------------------------------------------------------------------


def per_district(
    variable: xr.DataArray, entry: ProductEntry, region: str, attrs: dict
) -> tuple[xr.DataArray, pd.DataFrame, dict]:
    """Mean (continuous) or maximum (categorical) over each district's cells, lazily.

    Returns the values on a new last dim (``district`` or ``city``), the place names and
    the ``aggregation``/``cells`` columns.
    """
    from weatherdata.products.forecast_warning.districts import (
        _boundaries,
        district_masks,
    )

    y_dim, x_dim = _horizontal_dims(variable)
    if "latitude" not in variable.coords or "longitude" not in variable.coords:
        raise WeatherdataError(f"{entry.id}: no latitude/longitude to locate districts")
    masks = np.asarray(
        district_masks(variable["latitude"].values, variable["longitude"].values, region)
    )
    if not masks.any():
        raise WeatherdataError(
            f"{entry.id}: no place of --region {region} lies on this grid "
            f"(latitude {np.nanmin(variable['latitude'].values):g} to "
            f"{np.nanmax(variable['latitude'].values):g}); give --stations instead"
        )
    dim = REGIONS[region]
    names = pd.DataFrame(
        [(en, zh) for zh, en, _ in _boundaries(region)], columns=[dim, f"{dim}_zh"]
    )
    categorical = entry.categories is not None
    if variable.chunks is not None:
        variable = variable.chunk({y_dim: -1, x_dim: -1})
    values = xr.apply_ufunc(
        _district_kernel,
        variable,
        kwargs={"masks": masks, "categorical": categorical},
        input_core_dims=[[y_dim, x_dim]],
        output_core_dims=[[dim]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {dim: masks.shape[0]}},
    )
    values = values.drop_vars([c for c in values.coords if c in ("latitude", "longitude")])
    method = {
        "aggregation": "maximum" if categorical else "mean",
        "cells": masks.reshape(masks.shape[0], -1).sum(axis=1),
    }
    chosen = str(attrs.get("weatherdata_district", "")).split(" (")[0]
    if chosen and chosen in set(names[dim]):
        keep = np.flatnonzero(names[dim].to_numpy() == chosen)
        values = values.isel({dim: keep})
        names = names.iloc[keep].reset_index(drop=True)
        method["cells"] = method["cells"][keep]
    return values, names, method


def _district_kernel(values: np.ndarray, masks: np.ndarray, categorical: bool) -> np.ndarray:
    flat = values.reshape(*values.shape[:-2], -1).astype("float64")
    out = np.full((*values.shape[:-2], masks.shape[0]), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing district: NaN
        for index, mask in enumerate(masks.reshape(masks.shape[0], -1)):
            if mask.any():
                cells = flat[..., mask]
                out[..., index] = (
                    np.nanmax(cells, axis=-1) if categorical else np.nanmean(cells, axis=-1)
                )
    return out


def _published_places(variable: xr.DataArray, dim: str) -> pd.DataFrame:
    english = text_array(variable[dim].values)
    chinese_name = f"{dim}_name_zh"
    chinese = (
        text_array(variable[chinese_name].values)
        if chinese_name in variable.coords
        else np.full(english.shape, "")
    )
    return pd.DataFrame({dim: english, f"{dim}_zh": chinese})


# -- table --------------------------------------------------------------------------


def _horizontal_dims(variable: xr.DataArray) -> tuple[str, str] | None:
    for pair in (("latitude", "longitude"), ("y", "x")):
        if pair[0] in variable.dims and pair[1] in variable.dims:
            return pair
    return None


def _iso(times: np.ndarray, offset=np.timedelta64(0, "h"), suffix="Z") -> np.ndarray:
    text = np.datetime_as_string((times + offset).astype("datetime64[s]"), unit="s")
    return np.char.add(text.astype(str), suffix)


def _long_table(
    values: xr.DataArray,
    entry: ProductEntry,
    place_dim: str | None,
    places: pd.DataFrame | None,
    method: dict,
    beijing_time: bool,
) -> pd.DataFrame:
    time_dims = [d for d in ("init_time", "lead_time", *_TIME_LABELS) if d in values.dims]
    other_dims = [d for d in values.dims if d not in time_dims and d != place_dim]
    order = [*time_dims, *([place_dim] if place_dim else []), *other_dims]
    values = values.transpose(*order)
    for name, coordinate in values.coords.items():
        if coordinate.chunks is not None:
            values = values.assign_coords({name: coordinate.compute()})
    numbers = np.asarray(values.values)
    shape = numbers.shape
    index = (
        dict(zip(order, np.unravel_index(np.arange(numbers.size), shape), strict=True))
        if numbers.ndim
        else {}
    )
    columns: dict[str, object] = {"product": np.full(numbers.size, entry.id)}

    def label(dim):
        return values[dim].values[index[dim]] if dim in values.coords else index[dim]

    if "init_time" in time_dims:
        init = values["init_time"].values[index["init_time"]]
        lead = values["lead_time"].values[index["lead_time"]]
        valid = init + lead
        columns["time_utc"] = _iso(valid)
        if beijing_time:
            columns["time_beijing"] = _iso(valid, _BEIJING, "+08:00")
        columns["init_time_utc"] = _iso(init)
        hours = lead / np.timedelta64(1, "h")
        whole = np.all(hours == np.round(hours))
        columns["lead_time_hours"] = hours.astype("int64") if whole else hours
    elif time_dims:
        times = label(time_dims[0])
        columns["time_utc"] = _iso(times)
        if beijing_time:
            columns["time_beijing"] = _iso(times, _BEIJING, "+08:00")
    if place_dim is not None:
        rows = places.iloc[index[place_dim]].reset_index(drop=True)
        for name in rows.columns:
            columns[name] = rows[name].to_numpy()
    for dim in other_dims:
        columns[dim] = text_array(label(dim))
    flat = numbers.reshape(-1)
    if entry.categories is not None:
        codes = pd.Series(flat.astype("float64")).round().astype("Int64")  # NaN -> <NA>
        columns["value"] = codes.array
        columns["units"] = np.full(flat.size, entry.units or "")
        columns["level"] = codes.map({c.value: c.meaning for c in entry.categories}).array
        columns["level_zh"] = codes.map({c.value: c.zh for c in entry.categories}).array
    else:
        columns["value"] = flat.astype("float32")
        columns["units"] = np.full(flat.size, entry.units or "")
    for name, value in method.items():
        if np.ndim(value) == 0:
            columns[name] = np.full(flat.size, value)
        else:
            columns[name] = np.asarray(value)[index[place_dim]]
    return pd.DataFrame(columns)
