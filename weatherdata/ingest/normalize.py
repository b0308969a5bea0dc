"""Turn a raw dataset (as a reader returns it) into the canonical form.

Canonical conventions (see ``variables.yaml``):

* data variables carry canonical names, canonical units, dtype float32 and exactly the
  attributes ``units``, ``standard_name`` (when the variable has one) and ``long_name``;
* horizontal: ``latitude``/``longitude`` dimensions (latitude ascending, longitude in
  [-180, 180) ascending) for regular grids; ``y``/``x`` dimensions in metres with 2-D
  ``latitude``/``longitude`` coordinates and a CF grid-mapping coordinate ``crs`` for
  projected grids (data variables name it in ``encoding["grid_mapping"]``);
* time: ``time`` (valid time, UTC, datetime64[ns]) for analyses/observations;
  ``init_time`` x ``lead_time`` (timedelta64[ns]) with a ``valid_time(init_time,
  lead_time)`` coordinate for forecasts; duplicated times keep the last occurrence,
  unsorted times are sorted (both reported);
* vertical: ``pressure`` in hPa, decreasing (surface upward); ``height`` in m, increasing;
* static fields have horizontal dimensions only; climatologies ``dayofyear`` (1..366) or
  ``history_time``;
* values outside the plausible range of ``variables.yaml`` are masked (NaN), lazily.

The QC report is a JSON string in ``ds.attrs["weatherdata_qc"]`` (see :func:`qc_report`).
Masked-value counts need a computation, so the attribute holds ``null`` for them until
:func:`qc_report` computes them (it keeps the lazy counts in a small in-process registry).

All-NaN inputs are detected by the explicit :func:`check_inputs` step (one lazy
reduction per requested variable and file, computed together), not at open time:
opening stays free of computation.
"""

from __future__ import annotations

import collections
import copy
import functools
import json
import re
import uuid
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dask
import numpy as np
import pandas as pd
import xarray as xr

from ..compute import dewpoint_from_relative_humidity
from ..errors import InputError, UnitsError
from ..units import conversion, parse_units, unit_registry
from ..variables import CanonicalVariable, canonical_variables, find_by_alias

__all__ = [
    "QC_ATTR",
    "check_inputs",
    "combine_reports",
    "missing_inputs",
    "normalize",
    "normalize_dataset",
    "normalize_track",
    "qc_report",
    "read_report",
    "require",
    "source_files",
    "tropical_cyclone_inputs",
]

QC_ATTR = "weatherdata_qc"
REPORT_VERSION = 1
STANDARD_GRAVITY = 9.80665  # m s-2, WMO definition of geopotential height
WATER_DENSITY = 1000.0  # kg m-3, precipitation water equivalent (1 kg m-2 = 1 mm)
EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
NO_CYCLONE_DISTANCE_KM = 20000.0

TIME_DIMS = ("time", "init_time", "lead_time")
CLIMATOLOGY_DIMS = ("dayofyear", "history_time")
VERTICAL_DIMS = ("pressure", "height")
HORIZONTAL_DIMS = ("latitude", "longitude", "y", "x")
CANONICAL_COORDS = {
    *TIME_DIMS,
    "valid_time",
    *CLIMATOLOGY_DIMS,
    *VERTICAL_DIMS,
    *HORIZONTAL_DIMS,
    "crs",
}

_LAT_NAMES = ("latitude", "lat", "nav_lat", "xlat", "lats", "g0_lat_0", "gridlat_0", "y_lat")
_LON_NAMES = ("longitude", "lon", "nav_lon", "xlong", "lons", "g0_lon_1", "gridlon_0", "x_lon")
_PRESSURE_NAMES = (
    "isobaricinhpa",
    "isobaricinpa",
    "pressure",
    "plev",
    "pressure_level",
    "pressure_levels",
    "isobaric",
    "air_pressure",
    "lv_isbl0",
    "level",
    "lev",
    "levels",
)
_HEIGHT_NAMES = ("height", "altitude", "alt", "z", "level_height", "heightabovesea", "cappi_height")
_SCALAR_HEIGHT_NAMES = ("height", "heightaboveground", "height_above_ground", "level_height")
_REF_NAMES = (
    "init_time",
    "forecast_reference_time",
    "reference_time",
    "initial_time",
    "analysis_time",
    "run_time",
)
_LEAD_NAMES = ("lead_time", "step", "forecast_period", "leadtime", "forecast_hour", "fcst_hour")
_VALID_NAMES = ("valid_time", "time", "times", "t", "date", "datetime", "date_time")
_DOY_NAMES = ("dayofyear", "doy", "day_of_year", "julian_day")
_TIMEDELTA_UNITS = {
    "s": "s",
    "sec": "s",
    "second": "s",
    "seconds": "s",
    "min": "m",
    "minute": "m",
    "minutes": "m",
    "h": "h",
    "hr": "h",
    "hour": "h",
    "hours": "h",
    "d": "D",
    "day": "D",
    "days": "D",
}

# (GRIB shortNames, typeOfLevels, level or None for any) -> canonical name.
# Only these GRIB fields are used: cfgrib's standard_name guesses are not specific enough
# (``t`` at the cloud top is also "air_temperature").
_GRIB_TABLE: tuple[tuple[tuple[str, ...], tuple[str, ...], float | None, str], ...] = (
    # ECMWF codes 2t/2d/10u/10v on the "surface" level type: the shortName gives the height
    (("2t",), ("surface", "heightAboveGround"), None, "air_temperature_2m"),
    (("2d",), ("surface", "heightAboveGround"), None, "dewpoint_temperature_2m"),
    (("2r",), ("surface", "heightAboveGround"), None, "relative_humidity_2m"),
    (("10u",), ("surface", "heightAboveGround"), None, "eastward_wind_10m"),
    (("10v",), ("surface", "heightAboveGround"), None, "northward_wind_10m"),
    (("t",), ("heightAboveGround",), 2, "air_temperature_2m"),
    (("d", "dpt"), ("heightAboveGround",), 2, "dewpoint_temperature_2m"),
    (("r",), ("heightAboveGround",), 2, "relative_humidity_2m"),
    (("sp", "pres"), ("surface",), None, "surface_air_pressure"),
    (("prmsl", "msl"), ("meanSea", "surface"), None, "air_pressure_at_mean_sea_level"),
    (("u",), ("heightAboveGround",), 10, "eastward_wind_10m"),
    (("v",), ("heightAboveGround",), 10, "northward_wind_10m"),
    (
        ("i10fg", "10fg", "fg10", "gust"),
        ("surface", "heightAboveGround"),
        None,
        "wind_speed_of_gust_10m",
    ),
    (("tp",), ("surface",), None, "precipitation_amount"),
    (("vis",), ("surface",), None, "visibility_in_air"),
    (
        ("tcc",),
        ("surface", "entireAtmosphere", "atmosphere", "atmosphereSingleLayer"),
        None,
        "cloud_area_fraction",
    ),
    (("cbh",), ("surface",), None, "cloud_base_height"),
    (
        ("ssrd", "sdswrf", "dswrf", "avg_sdswrf"),
        ("surface",),
        None,
        "surface_downwelling_shortwave_flux",
    ),
    (("fdir",), ("surface",), None, "surface_direct_downwelling_shortwave_flux"),
    (
        ("strd", "sdlwrf", "dlwrf", "avg_sdlwrf"),
        ("surface",),
        None,
        "surface_downwelling_longwave_flux",
    ),
    (("uvi",), ("surface",), None, "ultraviolet_index"),
    (("pm2p5",), ("surface",), None, "mass_concentration_of_pm2p5_ambient_aerosol"),
    (("pm10",), ("surface",), None, "mass_concentration_of_pm10_ambient_aerosol"),
    (("orog", "z", "h", "hsurf"), ("surface",), None, "surface_altitude"),
    (("lsm", "land"), ("surface",), None, "land_binary_mask"),
    (("al", "fal", "avg_al"), ("surface",), None, "surface_albedo"),
    (("t",), ("isobaricInhPa", "isobaricInPa"), None, "air_temperature"),
    (("r",), ("isobaricInhPa", "isobaricInPa"), None, "relative_humidity"),
    (("q",), ("isobaricInhPa", "isobaricInPa"), None, "specific_humidity"),
    (("dpt",), ("isobaricInhPa", "isobaricInPa"), None, "dewpoint_temperature"),
    (("gh", "z"), ("isobaricInhPa", "isobaricInPa"), None, "geopotential_height"),
    (("u",), ("isobaricInhPa", "isobaricInPa"), None, "eastward_wind"),
    (("v",), ("isobaricInhPa", "isobaricInPa"), None, "northward_wind"),
    (("w",), ("isobaricInhPa", "isobaricInPa"), None, "lagrangian_tendency_of_air_pressure"),
    (("refd", "refc", "dbz"), ("heightAboveSea", "heightAboveGround"), None, "radar_reflectivity"),
)


# CF standard names that identify a canonical variable after a unit conversion
# (geopotential / g0 = geopotential height, see _convert_units)
_EXTRA_STANDARD_NAMES = {
    "geopotential": ("geopotential_height",),
    "surface_geopotential": ("surface_altitude",),
}


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------
def _var(name: str) -> CanonicalVariable:
    return canonical_variables()[name]


def _required_height(name: str) -> float | None:
    match = re.search(r"_(\d+)m$", name)
    return float(match.group(1)) if match else None


def _units_of(coord) -> str | None:
    units = coord.attrs.get("units") if coord is not None else None
    return units if isinstance(units, str) and units.strip() else None


def _dimensionality_is(units: str | None, dimension: str) -> bool:
    if units is None:
        return False
    try:
        return (
            parse_units(units).dimensionality == unit_registry.parse_units(dimension).dimensionality
        )
    except Exception:
        return False


def _to_json(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, set | tuple):
        return sorted(obj) if isinstance(obj, set) else list(obj)
    return str(obj)


def _fmt_time(value) -> str:
    return str(np.datetime_as_string(np.datetime64(value, "s"), unit="s")) + "Z"


@dataclass
class _Match:
    raw: str
    name: str
    how: str
    select: dict[str, Any] = field(default_factory=dict)
    grib: dict[str, Any] | None = None


# --------------------------------------------------------------------------------------
# identification
# --------------------------------------------------------------------------------------
def _base_name(name: str) -> str:
    """``isobaricInhPa_2`` -> ``isobaricinhpa`` (the GRIB reader numbers level sets)."""
    return re.sub(r"_\d+$", "", name).lower()


def _is_pressure_coord(ds: xr.Dataset | xr.DataArray, name: str) -> bool:
    coord = ds.coords.get(name) if name in ds.coords else None
    low = _base_name(name)
    if low in ("isobaricinhpa", "isobaricinpa"):
        return True
    units = _units_of(coord)
    std = coord.attrs.get("standard_name") if coord is not None else None
    if std == "air_pressure":
        return True
    if _dimensionality_is(units, "Pa"):
        return (
            low in _PRESSURE_NAMES
            or coord.attrs.get("positive") == "down"
            or (coord.attrs.get("axis") == "Z")
        )
    # a pressure-level name without units: pressure if the name says so (units checked later)
    return units is None and low in ("pressure", "plev", "pressure_level", "pressure_levels")


def _is_height_coord(ds, name: str) -> bool:
    coord = ds.coords.get(name) if name in ds.coords else None
    if coord is None or coord.ndim > 1:
        return False
    units = _units_of(coord)
    std = coord.attrs.get("standard_name")
    if std in ("height", "altitude", "height_above_mean_sea_level"):
        return True
    return _base_name(name) in _HEIGHT_NAMES and _dimensionality_is(units, "m")


def _vertical_of(ds: xr.Dataset | xr.DataArray, da: xr.DataArray) -> tuple[str | None, str | None]:
    """('pressure'|'height'|None, coordinate name) of a raw variable."""
    for dim in da.dims:
        if _is_pressure_coord(ds, dim):
            return "pressure", dim
    for dim in da.dims:
        if _is_height_coord(ds, dim) and da.sizes[dim] > 1:
            return "height", dim
    for name, coord in da.coords.items():
        if coord.ndim == 0 and name.lower() != "time" and _is_pressure_coord(da, name):
            return "pressure", name
    return None, None


def _scalar_height(ds: xr.Dataset, da: xr.DataArray) -> float | None:
    """Height above ground (m) of a single-level field, if the file says so."""
    if "GRIB_level" in da.attrs and da.attrs.get("GRIB_typeOfLevel") == "heightAboveGround":
        return float(da.attrs["GRIB_level"])
    for name, coord in da.coords.items():
        if coord.size != 1 or (name in da.dims and da.sizes[name] != 1):
            continue
        std = coord.attrs.get("standard_name")
        if name.lower() in _SCALAR_HEIGHT_NAMES or std == "height":
            units = _units_of(coord) or ("m" if name == "heightAboveGround" else None)
            if units is None or not _dimensionality_is(units, "m"):
                continue
            value = float(np.asarray(coord.values).ravel()[0])
            convert = conversion(units, "m")
            return float(convert(value)) if convert else value
    return None


def _grib_match(ds: xr.Dataset, raw: str, da: xr.DataArray) -> _Match | str:
    short = da.attrs.get("GRIB_shortName")
    level_type = da.attrs.get("GRIB_typeOfLevel")
    level = da.attrs.get("GRIB_level")
    grib = {
        "shortName": short,
        "typeOfLevel": level_type,
        "level": level,
        "paramId": da.attrs.get("GRIB_paramId"),
        "stepType": da.attrs.get("GRIB_stepType"),
    }
    grib = {k: v for k, v in grib.items() if v is not None}
    for shorts, level_types, wanted, name in _GRIB_TABLE:
        if short not in shorts or level_type not in level_types:
            continue
        select = {}
        dim = next((d for d in da.dims if _base_name(d) == str(level_type).lower()), None)
        if wanted is not None:
            if dim is not None:
                values = np.asarray(da[dim].values, dtype=float)
                if not np.any(np.isclose(values, wanted)):
                    continue
                select = {dim: float(values[np.isclose(values, wanted)][0])}
            elif level is None or not np.isclose(float(level), wanted):
                continue
        return _Match(raw, name, "grib", select, grib)
    return f"GRIB shortName={short!r} typeOfLevel={level_type!r} level={level!r} has no canonical meaning"


def _candidate_ok(
    cv: CanonicalVariable, vertical: str | None, height: float | None, twins
) -> str | None:
    """None if a raw field with this vertical/height info may be `cv`, else the reason."""
    if cv.vertical != vertical:
        if cv.vertical is None and vertical == "pressure":
            return f"has a pressure coordinate but {cv.name} is a single-level field"
        if cv.vertical is not None:
            return f"has no {cv.vertical} coordinate but {cv.name} is on {cv.vertical} levels"
        return f"has a {vertical} coordinate but {cv.name} is a single-level field"
    wanted = _required_height(cv.name)
    if wanted is not None and height is not None and not np.isclose(height, wanted):
        return f"is at {height:g} m, not at {wanted:g} m"
    if wanted is not None and height is None and twins:
        return "has no height coordinate to tell a 2 m/10 m field from a level field"
    return None


def identify(ds: xr.Dataset) -> tuple[list[_Match], dict[str, str]]:
    """Match raw variables to canonical names; return (matches, {dropped raw name: reason})."""
    canon = canonical_variables()
    by_std: dict[str, list[CanonicalVariable]] = collections.defaultdict(list)
    for cv in canon.values():
        if cv.standard_name:
            by_std[cv.standard_name].append(cv)
    for std, names in _EXTRA_STANDARD_NAMES.items():
        by_std[std].extend(canon[n] for n in names if n in canon)
    matches: list[_Match] = []
    dropped: dict[str, str] = {}
    taken: dict[str, str] = {}
    for raw, da in ds.data_vars.items():
        if raw in ("crs", "spatial_ref") or "grid_mapping_name" in da.attrs:
            continue
        found: _Match | None = None
        reason = "no canonical variable with this name, standard_name or alias"
        if "GRIB_shortName" in da.attrs:
            result = _grib_match(ds, raw, da)
            if isinstance(result, str):
                reason = result
            else:
                found = result
        else:
            vertical, _ = _vertical_of(ds, da)
            height = _scalar_height(ds, da)
            std = da.attrs.get("standard_name")
            if std in by_std:
                cands = by_std[std]
                twins = any(c.vertical for c in cands)
                ok = [c for c in cands if _candidate_ok(c, vertical, height, twins) is None]
                if len(ok) == 1:
                    found = _Match(raw, ok[0].name, "standard_name")
                else:
                    reason = f"standard_name {std!r} " + (
                        _candidate_ok(cands[0], vertical, height, twins) or "is ambiguous"
                    )
            if found is None:
                alias = find_by_alias(raw)
                if alias is not None:
                    why = _candidate_ok(canon[alias], vertical, height, False)
                    if why is None:
                        found = _Match(raw, alias, "alias")
                    else:
                        reason = f"alias of {alias} but {why}"
        if found is None:
            dropped[raw] = reason
        elif found.name in taken:
            dropped[raw] = f"{found.name} already read from {taken[found.name]!r}"
        else:
            taken[found.name] = raw
            matches.append(found)
    return matches, dropped


# --------------------------------------------------------------------------------------
# horizontal coordinates
# --------------------------------------------------------------------------------------
def _find_coord(ds: xr.Dataset, names, std: str, units: tuple[str, ...]) -> str | None:
    for name in ds.coords:
        if name.lower() in names:
            return name
    for name, coord in {**ds.coords, **ds.data_vars}.items():
        if coord.attrs.get("standard_name") == std:
            return name
    for name, coord in {**ds.coords, **ds.data_vars}.items():
        if coord.attrs.get("units") in units and coord.ndim in (1, 2):
            return name
    for name in ds.data_vars:
        if name.lower() in names:
            return name
    return None


def _grib_crs(attrs: Mapping[str, Any]):
    """pyproj CRS of a projected GRIB grid from cfgrib's GRIB_* attributes, or None."""
    from pyproj import CRS

    grid = attrs.get("GRIB_gridType")
    radius = attrs.get("GRIB_radius")
    shape = attrs.get("GRIB_shapeOfTheEarth")
    if shape in (2, 4, 5) or (radius in (None, "MISSING") and attrs.get("GRIB_earthMajorAxis")):
        major = attrs.get("GRIB_earthMajorAxis")
        minor = attrs.get("GRIB_earthMinorAxis")
        earth = f"+a={major} +b={minor}" if major and minor else "+ellps=WGS84"
        if shape == 2:
            earth = "+ellps=GRS80"
        elif shape in (4, 5):
            earth = "+ellps=WGS84"
    elif radius not in (None, "MISSING"):
        earth = f"+R={float(radius)}"
    else:
        return None
    lad = attrs.get("GRIB_LaDInDegrees")
    lov = attrs.get("GRIB_LoVInDegrees")
    if grid == "lambert":
        lat1 = attrs.get("GRIB_Latin1InDegrees", lad)
        lat2 = attrs.get("GRIB_Latin2InDegrees", lat1)
        proj = f"+proj=lcc +lat_0={lad} +lon_0={lov} +lat_1={lat1} +lat_2={lat2}"
    elif grid == "polar_stereographic":
        south = int(attrs.get("GRIB_projectionCentreFlag", 0) or 0) & 128
        lat0 = -90 if south else 90
        lov = attrs.get("GRIB_orientationOfTheGridInDegrees", lov)
        proj = f"+proj=stere +lat_0={lat0} +lat_ts={lad if lad is not None else lat0} +lon_0={lov}"
    elif grid == "mercator":
        proj = f"+proj=merc +lat_ts={lad} +lon_0=0"
    else:
        return None
    if lad is None and grid != "polar_stereographic":
        return None
    return CRS.from_proj4(f"{proj} {earth} +x_0=0 +y_0=0 +units=m +no_defs")


def _projected_xy(
    crs, attrs, lat2d: np.ndarray, lon2d: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """x/y (m) of a GRIB projected grid from the first point and the increments.

    Returns (x, y, max error in degrees of the back-projected lat/lon against the file's).
    """
    from pyproj import Transformer

    to_xy = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    lat0 = float(attrs.get("GRIB_latitudeOfFirstGridPointInDegrees", lat2d[0, 0]))
    lon0 = float(attrs.get("GRIB_longitudeOfFirstGridPointInDegrees", lon2d[0, 0]))
    x0, y0 = to_xy.transform(lon0, lat0)
    ny, nx = lat2d.shape
    dx = float(attrs["GRIB_DxInMetres"])
    dy = float(attrs.get("GRIB_DyInMetres", dx))
    sx = -1.0 if int(attrs.get("GRIB_iScansNegatively", 0) or 0) else 1.0
    sy = 1.0 if int(attrs.get("GRIB_jScansPositively", 0) or 0) else -1.0
    x = x0 + sx * dx * np.arange(nx)
    y = y0 + sy * dy * np.arange(ny)
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    xx, yy = np.meshgrid(x, y)
    lon_b, lat_b = to_ll.transform(xx, yy)
    dlon = (lon_b - lon2d + 180.0) % 360.0 - 180.0
    error = float(np.nanmax(np.maximum(np.abs(lat_b - lat2d), np.abs(dlon))))
    return x, y, error


def _wrap_lon(values: np.ndarray) -> np.ndarray:
    return (np.asarray(values, dtype="float64") + 180.0) % 360.0 - 180.0


def _monotonic(values: np.ndarray) -> int:
    """+1 strictly increasing, -1 strictly decreasing, 0 otherwise."""
    if values.size < 2:
        return 1
    diff = np.diff(values)
    if np.all(diff > 0):
        return 1
    if np.all(diff < 0):
        return -1
    return 0


def _latlon_from_grid_mapping(ds: xr.Dataset, where: str) -> xr.Dataset:
    """2-D latitude/longitude of a projected grid given by 1-D x/y and a CF grid mapping."""
    from pyproj import CRS, Transformer

    grid_var = next((n for n in ds.variables if "grid_mapping_name" in ds[n].attrs), None)
    xname = _find_coord(ds, ("x", "projection_x_coordinate"), "projection_x_coordinate", ())
    yname = _find_coord(ds, ("y", "projection_y_coordinate"), "projection_y_coordinate", ())
    if grid_var is None or xname is None or yname is None:
        raise InputError(
            f"{where}: no latitude/longitude coordinates (nor projected x/y with a grid mapping)"
        )
    try:
        crs = CRS.from_cf(dict(ds[grid_var].attrs))
    except Exception as exc:
        raise InputError(f"{where}: grid mapping {grid_var!r} is not understood ({exc})") from exc
    factors = []
    for name in (xname, yname):
        units = _units_of(ds[name]) or "m"
        if not _dimensionality_is(units, "m"):
            raise UnitsError(f"{where}: coordinate {name!r} has units {units!r}, not a length")
        factors.append(float(conversion(units, "m")(1.0)) if units != "m" else 1.0)
    x = np.asarray(ds[xname].values, dtype="float64") * factors[0]
    y = np.asarray(ds[yname].values, dtype="float64") * factors[1]
    xx, yy = np.meshgrid(x, y)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xx, yy)
    dims = (ds[yname].dims[0], ds[xname].dims[0])
    return ds.assign_coords(
        latitude=(dims, lat, {"units": "degrees_north"}),
        longitude=(dims, lon, {"units": "degrees_east"}),
    )


def _horizontal(ds: xr.Dataset, source: str, names: list[str], notes: dict) -> xr.Dataset:
    """Rename and orient the horizontal coordinates of the (identified) dataset."""
    label = ", ".join(repr(n) for n in names[:3]) + (" …" if len(names) > 3 else "")
    where = f"{source}: variable {label}"
    lat = _find_coord(ds, _LAT_NAMES, "latitude", ("degrees_north", "degree_north", "degree_N"))
    lon = _find_coord(ds, _LON_NAMES, "longitude", ("degrees_east", "degree_east", "degree_E"))
    if lat is None or lon is None:
        ds = _latlon_from_grid_mapping(ds, where)
        lat, lon = "latitude", "longitude"
    ds = ds.set_coords([c for c in (lat, lon) if c in ds.data_vars])
    if ds[lat].ndim != ds[lon].ndim or ds[lat].ndim not in (1, 2):
        raise InputError(f"{where}: latitude/longitude coordinates are neither 1-D nor 2-D")
    if ds[lat].ndim == 1:
        (ydim,), (xdim,) = ds[lat].dims, ds[lon].dims
        if ydim == xdim:
            raise InputError(
                f"{where}: latitude and longitude share one dimension (unstructured, station or reduced grids are not supported)"
            )
        rename = {}
        for name, dim, target in ((lat, ydim, "latitude"), (lon, xdim, "longitude")):
            if dim != name:
                ds = ds.drop_vars([dim], errors="ignore").swap_dims({dim: name})
            if name != target:
                rename[name] = target
        ds = ds.rename(rename) if rename else ds
        lat_v = np.asarray(ds["latitude"].values, dtype="float64")
        lon_v = np.asarray(ds["longitude"].values, dtype="float64")
        if not np.all(np.isfinite(lat_v)) or not np.all(np.isfinite(lon_v)):
            raise InputError(f"{where}: latitude/longitude coordinates contain missing values")
        direction = _monotonic(lat_v)
        if direction == 0:
            raise InputError(f"{where}: coordinate 'latitude' is not monotonic")
        if np.any(np.abs(lat_v) > 90.0 + 1e-6):
            raise InputError(f"{where}: latitude values outside [-90, 90]")
        if direction < 0:
            ds = ds.isel(latitude=slice(None, None, -1))
            notes["latitude_flipped"] = True
        if _monotonic(lon_v) == 0:
            raise InputError(f"{where}: coordinate 'longitude' is not monotonic")
        wrapped = _wrap_lon(lon_v)
        if not np.allclose(wrapped, lon_v):
            notes["longitude_wrapped"] = "0..360 -> -180..180"
        order = np.argsort(wrapped, kind="stable")
        keep = np.concatenate([[True], np.diff(wrapped[order]) > 1e-9])
        if not keep.all():
            notes["longitude_duplicates_dropped"] = int((~keep).sum())
        order = order[keep]
        ds = ds.assign_coords(longitude=("longitude", wrapped, ds["longitude"].attrs))
        if not np.array_equal(order, np.arange(wrapped.size)):
            shift = int(order[0])
            if np.array_equal(order, np.roll(np.arange(wrapped.size), -shift)):
                ds = ds.roll(longitude=-shift, roll_coords=True)
            else:
                ds = ds.isel(longitude=order)
        ds["latitude"].attrs = {
            "units": "degrees_north",
            "standard_name": "latitude",
            "long_name": "latitude",
        }
        ds["longitude"].attrs = {
            "units": "degrees_east",
            "standard_name": "longitude",
            "long_name": "longitude",
        }
        notes["grid"] = "regular"
        return ds

    # projected (or curvilinear) grid: 2-D latitude/longitude on (y, x)
    ydim, xdim = ds[lat].dims
    if ds[lon].dims != (ydim, xdim):
        raise InputError(f"{where}: latitude and longitude are on different dimensions")
    lat2d = np.asarray(ds[lat].values, dtype="float64")
    lon2d = _wrap_lon(ds[lon].values)
    rename = {k: v for k, v in ((ydim, "y"), (xdim, "x")) if k != v}
    ds = ds.drop_vars([lat, lon])
    for dim in rename:
        if dim in ds.coords:
            ds = ds.drop_vars(dim) if dim not in ("x", "y") else ds
    # keep 1-D x/y coordinates the file has, renamed, in metres
    ds = ds.rename(rename) if rename else ds
    ds = ds.assign_coords(
        latitude=(("y", "x"), lat2d, {"units": "degrees_north", "standard_name": "latitude"}),
        longitude=(("y", "x"), lon2d, {"units": "degrees_east", "standard_name": "longitude"}),
    )
    notes["grid"] = "projected"
    crs_attrs = None
    grid_var = None
    for name in list(ds.data_vars) + list(ds.coords):
        if "grid_mapping_name" in ds[name].attrs:
            grid_var = name
            break
    first = next((ds[n] for n in names if n in ds), None)
    attrs = first.attrs if first is not None else {}
    if grid_var is not None:
        crs_attrs = dict(ds[grid_var].attrs)
        ds = ds.drop_vars(grid_var)
    elif attrs.get("GRIB_gridType") not in (None, "regular_ll", "regular_gg", "reduced_gg"):
        crs = _grib_crs(attrs)
        if crs is not None and "GRIB_DxInMetres" in attrs:
            x, y, error = _projected_xy(crs, attrs, lat2d, lon2d)
            notes["projection_check_max_error_deg"] = round(error, 6)
            if error > 0.05:
                raise InputError(
                    f"{where}: the {attrs['GRIB_gridType']} grid parameters do not reproduce the "
                    f"file's latitude/longitude (max error {error:.3f} degrees)"
                )
            crs_attrs = crs.to_cf()
            ds = ds.assign_coords(
                x=("x", x, {"units": "m", "standard_name": "projection_x_coordinate", "axis": "X"}),
                y=("y", y, {"units": "m", "standard_name": "projection_y_coordinate", "axis": "Y"}),
            )
        else:
            notes["crs"] = f"GRIB gridType {attrs.get('GRIB_gridType')!r}: no CRS built"
    for dim in ("x", "y"):
        if dim in ds.coords and ds[dim].ndim == 1:
            values = np.asarray(ds[dim].values, dtype="float64")
            units = _units_of(ds[dim]) or "m"
            if units != "m" and _dimensionality_is(units, "m"):
                values = conversion(units, "m")(values)
            if _monotonic(values) == 0:
                raise InputError(f"{where}: coordinate {dim!r} is not monotonic")
            ds = ds.assign_coords({dim: (dim, values, {**ds[dim].attrs, "units": "m"})})
    if crs_attrs is not None:
        crs_attrs = {k: v for k, v in crs_attrs.items() if v is not None}
        ds = ds.assign_coords(crs=xr.DataArray(np.int32(0), attrs=crs_attrs))
    return ds


# --------------------------------------------------------------------------------------
# vertical coordinates
# --------------------------------------------------------------------------------------
def _vertical(da: xr.DataArray, cv: CanonicalVariable, where: str, notes: dict) -> xr.DataArray:
    kind, name = _vertical_of(da, da)
    if cv.vertical is None:
        # a single level on a length-1 vertical dimension: drop it
        if kind is not None and name in da.dims and da.sizes[name] == 1:
            da = da.squeeze(name, drop=True)
        return da
    if kind != cv.vertical:
        raise InputError(f"{where}: no {cv.vertical} coordinate")
    coord = da[name]
    units = _units_of(coord)
    if units is None:
        if _base_name(name) == "isobaricinhpa":
            units = "hPa"
        elif _base_name(name) == "isobaricinpa":
            units = "Pa"
        else:
            raise UnitsError(f"{where}: vertical coordinate {name!r} has no units")
    target = "hPa" if kind == "pressure" else "m"
    convert = conversion(units, target, where=f"{where}: coordinate {name!r}")
    values = np.asarray(coord.values, dtype="float64")
    values = convert(values) if convert else values
    if coord.ndim == 0:
        da = da.drop_vars(name).expand_dims({kind: [float(values)]})
    else:
        if name != kind:
            da = da.drop_vars(kind, errors="ignore").rename({name: kind})
        da = da.assign_coords({kind: (kind, values)})
    vals = np.asarray(da[kind].values)
    if np.unique(vals).size != vals.size:
        raise InputError(f"{where}: coordinate {kind!r} has duplicated levels")
    if kind == "pressure":
        if _monotonic(vals) != -1:
            da = da.sortby(kind, ascending=False)
            notes.setdefault("pressure_sorted_decreasing", True)
        da[kind].attrs = {
            "units": "hPa",
            "standard_name": "air_pressure",
            "long_name": "pressure",
            "positive": "down",
        }
    else:
        if _monotonic(vals) != 1:
            da = da.sortby(kind)
            notes.setdefault("height_sorted_increasing", True)
        da[kind].attrs = {
            "units": "m",
            "standard_name": "altitude",
            "long_name": "height",
            "positive": "up",
        }
    return da


# --------------------------------------------------------------------------------------
# time coordinates
# --------------------------------------------------------------------------------------
def _as_datetime(coord: xr.DataArray, where: str, *, allow_missing: bool = False) -> np.ndarray:
    values = coord.values
    if np.issubdtype(values.dtype, np.datetime64):
        out = values.astype("datetime64[ns]")
    else:
        try:
            flat = values.ravel()
            if flat.size and hasattr(flat[0], "calendar"):
                index = xr.CFTimeIndex(flat).to_datetimeindex(time_unit="ns")
            else:
                index = pd.DatetimeIndex(pd.to_datetime(flat, utc=True)).tz_convert(None)
            out = np.asarray(index.values, dtype="datetime64[ns]").reshape(values.shape)
        except Exception as exc:
            raise InputError(
                f"{where}: time coordinate {coord.name!r} cannot be read as UTC times ({exc})"
            ) from exc
    if np.isnat(out).any() and not allow_missing:
        raise InputError(f"{where}: time coordinate {coord.name!r} has missing values")
    return out


def _as_timedelta(coord: xr.DataArray, where: str) -> np.ndarray:
    values = coord.values
    if np.issubdtype(values.dtype, np.timedelta64):
        return values.astype("timedelta64[ns]")
    units = (_units_of(coord) or "").strip().lower()
    unit = _TIMEDELTA_UNITS.get(units)
    if unit is None and coord.name in ("forecast_hour", "fcst_hour"):
        unit = "h"
    if unit is None:
        raise UnitsError(
            f"{where}: lead-time coordinate {coord.name!r} has units {units or None!r}"
        )
    out = pd.to_timedelta(np.asarray(values, dtype="float64").ravel(), unit=unit)
    return np.asarray(out.values, dtype="timedelta64[ns]").reshape(values.shape)


def _pick(coords, names, std=None) -> str | None:
    for name in coords:
        if name.lower() in names:
            return name
    if std:
        for name, coord in coords.items():
            if coord.attrs.get("standard_name") == std:
                return name
    return None


def _place(da: xr.DataArray, values: np.ndarray, source_dims: tuple, target: str, where: str):
    """Put 0-D or 1-D `values` (laid along `source_dims`) as dimension `target`."""
    values = np.asarray(values)
    if values.ndim == 0:
        return da.expand_dims({target: np.atleast_1d(values)})
    (dim,) = source_dims
    if dim != target:
        if target in da.dims:
            raise InputError(f"{where}: cannot arrange dimension {dim!r} as {target!r}")
        da = da.rename({dim: target})
    return da.assign_coords({target: (target, values)})


def _dedupe_sort(da: xr.DataArray | xr.Dataset, dim: str, notes: dict):
    index = pd.Index(da[dim].values)
    duplicated = index.duplicated(keep="last")
    if duplicated.any():
        values = index[duplicated]
        entry = notes.setdefault("duplicated", {}).setdefault(
            dim, {"count": 0, "values": [], "kept": "last"}
        )
        entry["count"] = int(duplicated.sum())
        entry["values"] = sorted({_fmt_value(v) for v in values})[:20]
        da = da.isel({dim: np.flatnonzero(~duplicated)})
        index = index[~duplicated]
    if not index.is_monotonic_increasing:
        notes.setdefault("unsorted", {})[dim] = "sorted ascending"
        da = da.sortby(dim)
    return da


def _fmt_value(value) -> str:
    if isinstance(value, pd.Timestamp | np.datetime64):
        return _fmt_time(value)
    if isinstance(value, pd.Timedelta | np.timedelta64):
        return str(pd.Timedelta(value))
    return str(value)


def _is_datetime(coord: xr.DataArray) -> bool:
    if np.issubdtype(coord.dtype, np.datetime64):
        return True
    return coord.dtype == object and coord.size > 0 and hasattr(coord.values.ravel()[0], "calendar")


def _time_axes(da: xr.DataArray | xr.Dataset, where: str, notes: dict) -> tuple[Any, str]:
    """Arrange the time axes: returns (array, 'analysis'|'forecast'|'none').

    Recognised layouts: ``time`` (valid) alone; cfgrib's ``time`` (reference) + ``step``
    (+ ``valid_time``); CF ``time`` (valid) + ``forecast_reference_time`` (+
    ``forecast_period``); ``init_time``/``forecast_reference_time`` x ``lead_time``/``step``.
    All-zero lead times make an analysis.
    """
    coords = {n: c for n, c in da.coords.items() if c.ndim <= 1}
    ref = _pick(coords, _REF_NAMES, "forecast_reference_time")
    lead = _pick(coords, _LEAD_NAMES, "forecast_period")
    valid = None
    for name, coord in coords.items():
        if name in (ref, lead) or not _is_datetime(coord):
            continue
        if name.lower() in _VALID_NAMES or coord.attrs.get("standard_name") == "time":
            if valid is None or name == "valid_time":
                valid = name
    if ref is None and lead is not None and "time" in coords and _is_datetime(coords["time"]):
        lead_dims, time_dims = coords[lead].dims, coords["time"].dims
        if not (time_dims and lead_dims == time_dims and lead not in lead_dims):
            # cfgrib: time = reference time, step = lead, valid_time = time + step
            ref = "time"
            if valid == "time":
                valid = "valid_time" if "valid_time" in coords else None
    if ref is None and lead is None and valid is None:
        return da, "none"

    ref_v = _as_datetime(da[ref], where) if ref else None
    lead_v = _as_timedelta(da[lead], where) if lead else None
    valid_v = _as_datetime(da[valid], where, allow_missing=True) if valid else None
    if valid_v is not None and np.isnat(valid_v).any():
        if ref_v is None or lead_v is None:
            raise InputError(f"{where}: time coordinate {valid!r} has missing values")
        valid_v, valid = None, None  # cfgrib cannot always compute it (monthly steps)
    ref_d = da[ref].dims if ref else ()
    lead_d = da[lead].dims if lead else ()
    valid_d = da[valid].dims if valid else ()
    if lead_v is None and ref_v is not None and valid_v is not None and ref_v.ndim == 0:
        lead_v, lead_d = valid_v - ref_v, valid_d
    if ref_v is None and lead_v is not None and valid_v is not None:
        refs = (
            np.unique(valid_v - lead_v) if lead_d == valid_d or lead_v.ndim == 0 else np.array([])
        )
        if refs.size != 1:
            raise InputError(f"{where}: cannot tell the reference time of the forecast")
        ref_v, ref_d = refs[0], ()

    time_names = {
        n for n in (ref, lead, valid, "time", "step", "valid_time") if n and n in da.coords
    }
    da = da.drop_vars(sorted(time_names))
    forecast = lead_v is not None and bool(np.any(lead_v != np.timedelta64(0, "ns")))
    if not forecast:
        if valid_v is None:
            valid_v, valid_d = (
                (ref_v, ref_d) if lead_v is None else (ref_v + lead_v, ref_d or lead_d)
            )
        targets = {"time": (valid_v, valid_d)}
    else:
        if ref_v.ndim == 1 and lead_v.ndim == 1 and ref_d == lead_d:
            if np.unique(ref_v).size == 1:
                ref_v, ref_d = ref_v[0], ()
            elif np.unique(lead_v).size == 1:
                lead_v, lead_d = lead_v[0], ()
            else:
                raise InputError(
                    f"{where}: cannot arrange the forecast times as init_time x lead_time"
                )
        targets = {"init_time": (ref_v, ref_d), "lead_time": (lead_v, lead_d)}
    used = {d for _, dims in targets.values() for d in dims}
    for dim in list(da.dims):
        if dim in time_names and dim not in used:
            if da.sizes[dim] != 1:
                raise InputError(
                    f"{where}: unexpected time dimension {dim!r} of size {da.sizes[dim]}"
                )
            da = da.squeeze(dim, drop=True)
    for target, (values, dims) in targets.items():
        da = _place(da, values, dims, target, where)
    for target in targets:
        da = _dedupe_sort(da, target, notes)
    if forecast:
        da = da.assign_coords(valid_time=da["init_time"] + da["lead_time"])
        return da, "forecast"
    return da, "analysis"


def _time_axes_together(ds: xr.Dataset, matches, source: str) -> dict[str, tuple]:
    """:func:`_time_axes` of the variables of one file that share their dimensions and
    coordinates, arranged together: ``{raw name: (array, kind, notes)}``.

    Arranging each variable on its own rebuilt the same time coordinates for every
    variable of a file (313 times for the 25 files of the demo: a third of the samples of
    opening them, paid by every run). The arrangement reads nothing but the coordinates,
    so variables
    with the same ones are arranged alike; the vertical arrangement that precedes it for
    each variable touches other coordinates (and the dimensions' order is set after
    both). Variables read with a selection, climatologies, variables alone in their
    group, and groups whose arrangement fails (each variable then fails on its own,
    named) are left to :func:`_time_axes`.
    """
    groups: dict[tuple, list[str]] = {}
    for match in matches:
        if match.select or _var(match.name).climatology:
            continue
        variable = ds[match.raw]
        key = (variable.dims, tuple(sorted((n, c.dims) for n, c in variable.coords.items())))
        names = groups.setdefault(key, [])
        if match.raw not in names:
            names.append(match.raw)
    arranged = {}
    for names in groups.values():
        if len(names) < 2:
            continue
        notes: dict[str, Any] = {}
        try:
            together, kind = _time_axes(ds[names], f"{source}: variables {names}", notes)
        except (InputError, UnitsError):
            continue
        for name in names:
            arranged[name] = (together[name], kind, notes)
    return arranged


def _climatology_axes(da: xr.DataArray, cv: CanonicalVariable, where: str, notes: dict):
    target = next(d for d in cv.dims if d in CLIMATOLOGY_DIMS)
    if target == "dayofyear":
        dim = next((d for d in da.dims if d.lower() in _DOY_NAMES), None)
        if dim is None:
            tdim = next((d for d in da.dims if np.issubdtype(da[d].dtype, np.datetime64)), None)
            if tdim is None:
                raise InputError(f"{where}: no day-of-year dimension")
            doy = pd.DatetimeIndex(_as_datetime(da[tdim], where)).dayofyear.to_numpy()
            da = da.assign_coords({tdim: doy})
            dim = tdim
        if dim != "dayofyear":
            da = da.rename({dim: "dayofyear"})
        values = np.asarray(da["dayofyear"].values).astype("int64")
        if values.min() < 1 or values.max() > 366:
            raise InputError(f"{where}: day-of-year values outside 1..366")
        da = da.assign_coords(dayofyear=("dayofyear", values, {"long_name": "day of year"}))
    else:
        dim = "history_time" if "history_time" in da.dims else None
        if dim is None:
            dim = next(
                (
                    d
                    for d in da.dims
                    if d in da.coords and np.issubdtype(da[d].dtype, np.datetime64)
                ),
                None,
            )
        if dim is None:
            raise InputError(f"{where}: no time dimension for the history")
        values = _as_datetime(da[dim], where)
        if dim != "history_time":
            da = da.rename({dim: "history_time"})
        da = da.assign_coords(history_time=("history_time", values))
    da = da.reset_coords(
        [c for c in da.coords if c not in CANONICAL_COORDS and c not in da.dims], drop=True
    )
    return _dedupe_sort(da, target, notes)


# --------------------------------------------------------------------------------------
# units
# --------------------------------------------------------------------------------------
def _convert_units(
    da: xr.DataArray, cv: CanonicalVariable, where: str, notes: dict
) -> xr.DataArray:
    if da.dtype.kind not in "biuf":  # text, dates, objects: nothing to convert or mask
        raise InputError(f"{where}: values are not numbers (dtype {da.dtype})")
    source = da.attrs.get("units")
    if not isinstance(source, str) or not source.strip():
        raise UnitsError(f"{where}: units are missing")
    if not np.issubdtype(da.dtype, np.floating):
        da = da.astype("float32")
    try:
        convert = conversion(source, cv.units, where=where)
    except UnitsError:
        src = parse_units(source, where=where)
        dst = parse_units(cv.units, where=where)
        one = unit_registry.Quantity(1.0, src)
        if (
            "precipitation" in cv.name
            and one.check("[mass] / [length] ** 2")
            and dst.dimensionality == unit_registry.m.dimensionality
        ):
            scale = float(
                (one / unit_registry.Quantity(WATER_DENSITY, "kg m^-3")).to(dst).magnitude
            )
            notes.setdefault("conversions", {})[cv.name] = (
                f"{source} of water -> {cv.units} (1 kg m-2 = 1 mm)"
            )
        elif (
            one.check("[length] ** 2 / [time] ** 2")
            and dst.dimensionality == unit_registry.m.dimensionality
        ):
            scale = float(
                (one / unit_registry.Quantity(STANDARD_GRAVITY, "m s^-2")).to(dst).magnitude
            )
            notes.setdefault("conversions", {})[cv.name] = (
                f"geopotential {source} / {STANDARD_GRAVITY} m s-2 -> {cv.units}"
            )
        else:
            raise
        convert = lambda values: values * scale  # noqa: E731
    out = da if convert is None else convert(da)
    return out.astype("float32")


# --------------------------------------------------------------------------------------
# lazy QC registry
# --------------------------------------------------------------------------------------
_LAZY: collections.OrderedDict[str, dict[str, _RangeChecks]] = collections.OrderedDict()
_LAZY_MAX = 1024


def _register(items: dict[str, _RangeChecks]) -> str:
    token = uuid.uuid4().hex
    _LAZY[token] = items
    while len(_LAZY) > _LAZY_MAX:
        _LAZY.popitem(last=False)
    return token


def forget_qc(ds: xr.Dataset) -> None:
    """Drop the lazy QC counts of the files behind ``ds`` from this process's registry.

    Each entry holds the Dask graph of its file's masked data (to count masked values
    and check finiteness later, without reading the file twice): up to
    :data:`_LAZY_MAX` opened files stayed reachable through it, ~3–4 MB of graph a day
    of hourly input in a long windowed publication. A caller done with a file (the
    input index, a window's files no later window reads) forgets it; its QC report then
    keeps the counts computed so far, and :func:`check_inputs` reads the data instead.
    """
    for rep in read_report(ds).get("files", []):
        _LAZY.pop(rep.get("token") or "", None)


def _outside(block: np.ndarray, low: float, high: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (block < low) | (block > high)


def _masked_block(block: np.ndarray, low: float, high: float) -> np.ndarray:
    """``block`` in float32, NaN where it lies outside ``[low, high]`` (NaN stays NaN)."""
    return np.where(_outside(block, low, high), np.float32(np.nan), block).astype(np.float32)


def _outside_count_block(block: np.ndarray, low: float, high: float) -> np.ndarray:
    """How many values of ``block`` lie outside ``[low, high]``, as one cell per block."""
    return np.full((1,) * block.ndim, np.count_nonzero(_outside(block, low, high)), np.int64)


def _any_finite_block(block: np.ndarray) -> np.ndarray:
    """Whether ``block`` has a finite value, as one cell per block."""
    return np.full((1,) * block.ndim, np.isfinite(block).any())


@dataclass(frozen=True)
class _RangeChecks:
    """What the range mask of one variable of one file did, as Dask graphs built when asked
    for: the values as read (``data``), as masked (``masked``) to ``[low, high]``.

    Each check is one cell per block, reduced in NumPy once computed (:meth:`masked_count`,
    :meth:`any_finite`): the reports and checks that read them ask for some variables of
    some files, while a Dask reduction (a sum, an ``any``) built for every variable of
    every file made opening the 0.2° demo inputs (335 variables of 25 files) take
    3.9–4.2 s instead of 2.75 s, paid by every run that opens them.
    """

    data: Any
    masked: Any
    low: float
    high: float

    def _one_per_block(self) -> tuple[tuple[int, ...], ...]:
        return tuple((1,) * blocks for blocks in self.data.numblocks)

    def outside_per_block(self):
        """How many values of each block lie outside the range (lazy, one cell a block)."""
        return self.data.map_blocks(
            _outside_count_block,
            self.low,
            self.high,
            chunks=self._one_per_block(),
            meta=np.empty((0,) * self.data.ndim, np.int64),
        )

    def finite_per_block(self):
        """Whether each block has a finite value left after the mask (lazy, one cell a block)."""
        return self.masked.map_blocks(
            _any_finite_block,
            chunks=self._one_per_block(),
            meta=np.empty((0,) * self.data.ndim, bool),
        )

    @staticmethod
    def masked_count(outside_per_block) -> int:
        """The count of masked values, from :meth:`outside_per_block` computed."""
        return int(np.sum(outside_per_block))

    @staticmethod
    def any_finite(finite_per_block) -> bool:
        """Whether a finite value is left, from :meth:`finite_per_block` computed."""
        return bool(np.any(finite_per_block))


def _mask(da: xr.DataArray, cv: CanonicalVariable) -> tuple[xr.DataArray, _RangeChecks]:
    """Mask values outside the plausible range (lazily); the checks of what it masked.

    The mask is one function over each block (``map_blocks``) rather than a chain of Dask
    operations (two comparisons, an OR, ``where``, a cast): it was a third of opening the
    demo inputs with the checks' reductions (1.3–1.5 s of ~4 s, 335 variables of 25
    files), paid by every run that opens them.
    """
    import dask.array as dsa

    lo, hi = (float(v) for v in cv.range)
    data = da.data if isinstance(da.data, dsa.Array) else dsa.from_array(np.asarray(da.data))
    masked = data.map_blocks(_masked_block, lo, hi, meta=np.empty((0,) * data.ndim, np.float32))
    return da.copy(data=masked), _RangeChecks(data, masked, lo, hi)


def _finish(da: xr.DataArray, cv: CanonicalVariable) -> xr.DataArray:
    attrs = {"units": cv.units}
    if cv.standard_name:
        attrs["standard_name"] = cv.standard_name
    attrs["long_name"] = cv.long_name
    da = da.astype("float32")
    da.attrs = attrs
    da.encoding = {}
    return da.rename(cv.name)


# --------------------------------------------------------------------------------------
# derived humidity
# --------------------------------------------------------------------------------------
def _metpy_block(function, arg_units: tuple[str, ...], out_units: str, *arrays):
    """On NumPy blocks: attach units, call ``function(mpcalc, *quantities)``, strip units."""
    import metpy.calc as mpcalc

    quantities = [
        unit_registry.Quantity(np.asarray(a, dtype="float64"), u)
        for a, u in zip(arrays, arg_units, strict=True)
    ]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = function(mpcalc, *quantities)
        return np.asarray(result.to(out_units).magnitude, dtype="float32")


def _metpy(function, arg_units: tuple[str, ...], out_units: str):
    # a partial of module-level functions: picklable by reference (distributed workers)
    return functools.partial(_metpy_block, function, arg_units, out_units)


def _td_from_q(mp, p, q):
    return mp.dewpoint_from_specific_humidity(p, q)


def _td_from_rh(mp, t, rh):
    return dewpoint_from_relative_humidity(t, rh)


def _rh_from_q(mp, p, t, q):
    return mp.relative_humidity_from_specific_humidity(p, t, q)


def _rh_from_td(mp, t, td):
    return mp.relative_humidity_from_dewpoint(t, td)


def _q_from_td(mp, p, td):
    return mp.specific_humidity_from_dewpoint(p, td)


def _q_from_rh(mp, p, t, rh):
    return mp.specific_humidity_from_dewpoint(p, dewpoint_from_relative_humidity(t, rh))


_T, _P, _RH, _Q, _TD = (
    "air_temperature",
    "pressure",
    "relative_humidity",
    "specific_humidity",
    "dewpoint_temperature",
)
_UNITS = {_P: "hPa", _T: "K", _RH: "percent", _Q: "kg/kg", _TD: "K"}
# target -> [(inputs, function)], tried in order; the report quotes the MetPy call
_DERIVATIONS: dict[str, list[tuple[tuple[str, ...], Any]]] = {
    _TD: [((_P, _Q), _td_from_q), ((_T, _RH), _td_from_rh)],
    _RH: [((_P, _T, _Q), _rh_from_q), ((_T, _TD), _rh_from_td)],
    _Q: [((_P, _TD), _q_from_td), ((_P, _T, _RH), _q_from_rh)],
    f"{_TD}_2m": [((f"{_T}_2m", f"{_RH}_2m"), _td_from_rh)],
    f"{_RH}_2m": [((f"{_T}_2m", f"{_TD}_2m"), _rh_from_td)],
}
_METPY_CALLS = {
    _td_from_q: "metpy.calc.dewpoint_from_specific_humidity({})",
    _td_from_rh: "metpy.calc.dewpoint_from_relative_humidity({})",
    _rh_from_q: "metpy.calc.relative_humidity_from_specific_humidity({})",
    _rh_from_td: "metpy.calc.relative_humidity_from_dewpoint({})",
    _q_from_td: "metpy.calc.specific_humidity_from_dewpoint({})",
    _q_from_rh: "metpy.calc.specific_humidity_from_dewpoint(pressure, dewpoint_from_relative_humidity({}))",
}


_HUMIDITY_GROUPS = (
    ("relative_humidity", "specific_humidity", "dewpoint_temperature"),
    ("relative_humidity_2m", "dewpoint_temperature_2m"),
)


def _derive_humidity(arrays: dict[str, xr.DataArray]) -> dict[str, tuple[xr.DataArray, str]]:
    """The missing humidity forms, when exactly one form of a group is present (lazy)."""
    out: dict[str, tuple[xr.DataArray, str]] = {}
    for group in _HUMIDITY_GROUPS:
        # Derive each missing form from the first form present (in the group's order:
        # relative humidity, then specific humidity, then dewpoint).
        present = [v for v in group if v in arrays]
        if not present:
            continue
        for target in group:
            if target in arrays:
                continue
            for needs, function in _DERIVATIONS[target]:
                if not set(needs) - {_P, _T, f"{_T}_2m"} <= {present[0]}:
                    continue
                available = dict(arrays)
                if _P in needs and present[0] in arrays and _P in arrays[present[0]].coords:
                    available[_P] = arrays[present[0]][_P].reset_coords(drop=True)
                if not all(n in available for n in needs):
                    continue
                args = [available[n] for n in needs]
                units = tuple(_UNITS[n.removesuffix("_2m")] for n in needs)
                template = arrays[present[0]]
                with xr.set_options(keep_attrs=False):
                    result = xr.apply_ufunc(
                        _metpy(function, units, _var(target).units),
                        *args,
                        dask="parallelized",
                        output_dtypes=[np.float32],
                        join="inner",  # e.g. GFS: RH on 25 levels, T on 26
                    )
                result = result.transpose(*template.dims)
                shown = needs[1:] if function is _q_from_rh else needs
                out[target] = (result, _METPY_CALLS[function].format(", ".join(shown)))
                break
    return out


# --------------------------------------------------------------------------------------
# normalize
# --------------------------------------------------------------------------------------
_ORDER = (
    "init_time",
    "lead_time",
    "time",
    "dayofyear",
    "history_time",
    "pressure",
    "height",
    "y",
    "latitude",
    "x",
    "longitude",
)


def _allowed_dims(cv: CanonicalVariable) -> set[str]:
    dims = {"latitude", "longitude", "y", "x"}
    if cv.climatology:
        dims |= set(cv.dims) & set(CLIMATOLOGY_DIMS)
    elif not cv.static:
        dims |= set(TIME_DIMS)
    if cv.vertical:
        dims.add(cv.vertical)
    return dims


def _empty_report(source: str, reader: str | None) -> dict[str, Any]:
    return {
        "file": source,
        "reader": reader,
        "kind": None,
        "variables": {},
        "derived": {},
        "dropped": {},
        "time": {},
        "coordinates": {},
        "token": None,
    }


def normalize_dataset(
    raw: xr.Dataset, *, source: str | None = None, reader: str | None = None
) -> xr.Dataset:
    """Canonical form of one raw dataset (lazy). See the module docstring.

    Raises InputError/UnitsError (one line, naming the file and the variable) for input
    that cannot be made canonical.
    """
    source = source or raw.attrs.get("weatherdata_source") or "<dataset>"
    reader = reader or raw.attrs.get("weatherdata_reader")
    if raw.attrs.get("weatherdata_content") == "tropical_cyclone_track":
        return normalize_track(raw, source=source, reader=reader)
    report = _empty_report(source, reader)
    if "weatherdata_reader_dropped" in raw.attrs:
        report["dropped"]["(reader)"] = str(raw.attrs["weatherdata_reader_dropped"])
    matches, dropped = identify(raw)
    report["dropped"].update(dropped)
    if not matches:
        raise InputError(
            f"{source}: no variable with a known meaning (found: {', '.join(list(raw.data_vars)[:8]) or 'none'})"
        )
    keep = [m.raw for m in matches]
    grid_vars = [n for n in raw.variables if "grid_mapping_name" in raw[n].attrs]
    ds = raw[keep + [g for g in grid_vars if g in raw.data_vars]]
    # small coordinates are needed as values
    ds = ds.assign_coords(
        {n: ds[n].variable.load() for n in ds.coords if ds[n].ndim >= 1 and ds[n].size < 50_000_000}
    )
    coords_notes: dict[str, Any] = {}
    ds = _horizontal(ds, source, keep, coords_notes)
    report["coordinates"] = coords_notes

    arrays: dict[str, xr.DataArray] = {}
    kinds: set[str] = set()
    time_notes: dict[str, Any] = {}
    lazy: dict[str, _RangeChecks] = {}
    arranged = _time_axes_together(ds, matches, source)
    for match in matches:
        cv = _var(match.name)
        where = f"{source}: variable {match.raw!r} ({cv.name})"
        da = ds[match.raw]
        if match.select:
            da = da.sel(match.select).drop_vars(list(match.select), errors="ignore")
        attrs = dict(da.attrs)
        if cv.climatology:
            da = _climatology_axes(da, cv, where, time_notes)
            kind = "climatology"
        else:
            if match.raw in arranged:
                da, kind, notes = arranged[match.raw]
                da = _vertical(da, cv, where, coords_notes)
                for key, by_dimension in notes.items():  # as _dedupe_sort notes them
                    time_notes.setdefault(key, {}).update(copy.deepcopy(by_dimension))
            else:
                da = _vertical(da, cv, where, coords_notes)
                da, kind = _time_axes(da, where, time_notes)
            if cv.static:
                for dim in TIME_DIMS:
                    if dim in da.dims:
                        if da.sizes[dim] > 1:
                            coords_notes.setdefault("static_fields_from_first_time", []).append(
                                cv.name
                            )
                        da = da.isel({dim: 0}, drop=True)
                da = da.drop_vars(
                    [c for c in ("time", "valid_time", "init_time", "lead_time") if c in da.coords]
                )
                kind = "static"
        if cv.vertical is None:
            for name, coord in list(da.coords.items()):
                if name in da.dims and name not in CANONICAL_COORDS and coord.size == 1:
                    da = da.squeeze(name, drop=True)
        extra = [d for d in da.dims if d not in _allowed_dims(cv)]
        squeezable = [d for d in extra if da.sizes[d] == 1]
        if squeezable:
            da = da.squeeze(squeezable, drop=True)
        extra = [d for d in extra if d not in squeezable]
        if extra:
            report["dropped"][match.raw] = (
                f"unexpected dimension(s) {', '.join(extra)} for {cv.name}"
            )
            continue
        if kind == "none" and not cv.static:
            raise InputError(f"{where}: no time coordinate")
        da = da.reset_coords([c for c in da.coords if c not in CANONICAL_COORDS], drop=True)
        da.attrs = attrs
        da = _convert_units(da, cv, where, report["coordinates"])
        da = da.transpose(*[d for d in _ORDER if d in da.dims])
        arrays[cv.name] = da
        kinds.add(kind)
        entry: dict[str, Any] = {
            "from": match.raw,
            "matched_by": match.how,
            "units": attrs.get("units"),
            "range": list(cv.range),
            "masked": None,
        }
        if match.grib:
            entry["grib"] = match.grib
        report["variables"][cv.name] = entry
    if not arrays:
        raise InputError(
            f"{source}: no usable variable ({'; '.join(f'{k}: {v}' for k, v in list(report['dropped'].items())[:3])})"
        )

    for name, (da, description) in _derive_humidity(arrays).items():
        arrays[name] = da
        report["derived"][name] = description
        report["variables"][name] = {
            "from": "derived",
            "matched_by": "derived",
            "units": _var(name).units,
            "range": list(_var(name).range),
            "masked": None,
        }

    final = []
    for name, da in arrays.items():
        cv = _var(name)
        da, lazy[name] = _mask(da, cv)
        final.append(_finish(da, cv))
    report["time"] = time_notes
    timed = sorted(kinds & {"analysis", "forecast"})
    report["kind"] = (
        "+".join(timed) if timed else "climatology" if "climatology" in kinds else "static"
    )
    report["token"] = _register(lazy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        out = xr.merge(final, join="outer", compat="override", combine_attrs="override")
    if "crs" in ds.coords:
        out = out.assign_coords(crs=ds["crs"].variable)
        for name in out.data_vars:
            if "y" in out[name].dims:
                out[name].encoding["grid_mapping"] = "crs"
    out.attrs = {QC_ATTR: json.dumps(_wrap_file_report(report), default=_to_json)}
    return out


#: short alias inside this module (the package exports ``normalize_dataset`` so that
#: ``weatherdata.ingest.normalize`` stays the module)
normalize = normalize_dataset


def _wrap_file_report(report: dict[str, Any]) -> dict[str, Any]:
    return combine_reports([report])


# --------------------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------------------
def read_report(ds: xr.Dataset) -> dict[str, Any]:
    """The QC report of a canonical dataset (as stored; counts not computed)."""
    text = ds.attrs.get(QC_ATTR)
    if not text:
        return combine_reports([])
    return json.loads(text) if isinstance(text, str) else dict(text)


def combine_reports(
    file_reports: list[dict[str, Any]], *, skipped=None, extra=None
) -> dict[str, Any]:
    """Aggregate per-file reports into the dataset report (format in :func:`qc_report`)."""
    variables: dict[str, Any] = {}
    derived: dict[str, str] = {}
    dropped: list[dict[str, str]] = []
    duplicated, unsorted = [], []
    for rep in file_reports:
        for name, entry in rep.get("variables", {}).items():
            slot = variables.setdefault(name, {"files": [], "derived": False, "masked": None})
            slot["files"].append(rep["file"])
            if entry.get("from") == "derived":
                slot["derived"] = True
                derived[name] = rep["derived"].get(name, "")
            if entry.get("masked") is not None:
                slot["masked"] = (slot["masked"] or 0) + int(entry["masked"])
        for raw, reason in rep.get("dropped", {}).items():
            dropped.append({"file": rep["file"], "variable": raw, "reason": reason})
        for dim, info in rep.get("time", {}).get("duplicated", {}).items():
            duplicated.append({"file": rep["file"], "dim": dim, **info})
        for dim, info in rep.get("time", {}).get("unsorted", {}).items():
            unsorted.append({"file": rep["file"], "dim": dim, "action": info})
    out = {
        "version": REPORT_VERSION,
        "files": file_reports,
        "variables": variables,
        "derived": derived,
        "dropped": dropped,
        "duplicated_times": duplicated,
        "unsorted_times": unsorted,
        "skipped_files": list(skipped or []),
        "masked": {name: slot["masked"] for name, slot in variables.items()},
    }
    if extra:
        out.update(extra)
    return out


def qc_report(ds: xr.Dataset, *, compute: bool = True) -> dict[str, Any]:
    """The QC report of a canonical dataset, with masked-value counts computed on demand.

    Format (also the JSON in ``ds.attrs["weatherdata_qc"]``)::

        {"version": 1,
         "files": [{"file", "reader", "kind" (analysis|forecast|static|climatology|track),
                    "variables": {name: {"from", "matched_by" (grib|standard_name|alias|
                                  derived), "units" (as in the file), "range", "masked",
                                  "grib": {"shortName", "typeOfLevel", "level", …}}},
                    "derived": {name: "metpy.calc.…(…)"},
                    "dropped": {raw name: reason},
                    "time": {"duplicated": {dim: {"count", "values", "kept": "last"}},
                             "unsorted": {dim: "sorted ascending"}},
                    "coordinates": {"grid", "latitude_flipped", "longitude_wrapped", …},
                    "token"}],
         "variables": {name: {"files", "derived", "masked"}},
         "derived": {name: description}, "dropped": [{"file", "variable", "reason"}],
         "duplicated_times": [...], "unsorted_times": [...],
         "skipped_files": [{"file", "reason"}],
         "masked": {name: count or null}}

    ``masked`` counts values outside the plausible range (set to NaN); ``null`` means
    not computed yet. With ``compute=True`` the counts of every file still known to this
    process are computed in one pass and written back into ``ds.attrs``.
    """
    report = read_report(ds)
    if not compute:
        return report
    tasks, slots = [], []
    for rep in report.get("files", []):
        lazy = _LAZY.get(rep.get("token") or "")
        if not lazy:
            continue
        for name, entry in rep.get("variables", {}).items():
            if entry.get("masked") is None and name in lazy:
                tasks.append(lazy[name].outside_per_block())
                slots.append(entry)
    if tasks:
        for entry, value in zip(slots, dask.compute(*tasks), strict=True):
            entry["masked"] = _RangeChecks.masked_count(value)
    report = combine_reports(
        report.get("files", []),
        skipped=report.get("skipped_files"),
        extra={k: v for k, v in report.items() if k not in _REPORT_KEYS},
    )
    ds.attrs[QC_ATTR] = json.dumps(report, default=_to_json)
    return report


_REPORT_KEYS = {
    "version",
    "files",
    "variables",
    "derived",
    "dropped",
    "duplicated_times",
    "unsorted_times",
    "skipped_files",
    "masked",
}


def source_files(ds: xr.Dataset, variable: str | None = None) -> list[str]:
    report = read_report(ds)
    if variable is not None and variable in report.get("variables", {}):
        return list(dict.fromkeys(report["variables"][variable]["files"]))
    return list(dict.fromkeys(rep["file"] for rep in report.get("files", [])))


def _files_label(files: list[str]) -> str:
    if not files:
        return "<inputs>"
    if len(files) <= 3:
        return ", ".join(files)
    return f"{', '.join(files[:3])} (and {len(files) - 3} more)"


def missing_inputs(
    ds: xr.Dataset | None, products: Mapping[str, Iterable[str]]
) -> dict[str, list[str]]:
    """``{product: [missing canonical inputs]}`` for the products that cannot be computed."""
    present = set(ds.data_vars) if ds is not None else set()
    out = {}
    for product, inputs in products.items():
        lacking = sorted(set(inputs) - present)
        if lacking:
            out[product] = lacking
    return out


def require(
    ds: xr.Dataset | None,
    variables: Iterable[str] | None = None,
    *,
    products: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Raise InputError unless every variable (and every input of ``products``) is present.

    ``products`` maps product id -> canonical inputs; the message names the input files,
    the missing variables and the products that cannot be computed.
    """
    products = dict(products or {})
    needed = set(variables or ())
    for inputs in products.values():
        needed |= set(inputs)
    present = set(ds.data_vars) if ds is not None else set()
    missing = sorted(needed - present)
    if not missing:
        return
    files = _files_label(source_files(ds)) if ds is not None else "<no input>"
    blocked = sorted(p for p, inputs in products.items() if set(inputs) & set(missing))
    message = (
        f"{files}: missing input variable{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    )
    if blocked:
        message += f"; cannot compute product{'s' if len(blocked) > 1 else ''} {', '.join(blocked)}"
    raise InputError(message)


def check_inputs(ds: xr.Dataset, variables: Iterable[str]) -> None:
    """Check that the variables exist and are not all-NaN in any input file.

    This is the one ingest step that computes (one reduction per variable and file, all
    in a single Dask pass); the engine calls it for the variables it needs.
    """
    variables = list(dict.fromkeys(variables))
    require(ds, variables)
    report = read_report(ds)
    tasks, labels = [], []
    covered = set()
    for rep in report.get("files", []):
        lazy = _LAZY.get(rep.get("token") or "")
        if not lazy:
            continue
        for name in variables:
            if name in lazy and name in rep.get("variables", {}):
                tasks.append(lazy[name].finite_per_block())
                labels.append((rep["file"], name))
                covered.add(name)
    for name in variables:
        if name not in covered:
            tasks.append(np.isfinite(ds[name]).any().data)
            labels.append((_files_label(source_files(ds, name)), name))
    for (where, name), ok in zip(labels, dask.compute(*tasks), strict=True):
        if not _RangeChecks.any_finite(ok):
            raise InputError(
                f"{where}: variable {name!r} has no valid value (all NaN or outside the plausible range)"
            )


# --------------------------------------------------------------------------------------
# tropical-cyclone track
# --------------------------------------------------------------------------------------
def normalize_track(
    raw: xr.Dataset, *, source: str | None = None, reader: str | None = None
) -> xr.Dataset:
    """Canonical track: ``tc_latitude``, ``tc_longitude`` (degrees), ``tc_maximum_wind_speed``
    (m s-1), ``tc_minimum_pressure`` (hPa) on a sorted, duplicate-free ``track_time``."""
    source = source or raw.attrs.get("weatherdata_source") or "<track>"
    report = _empty_report(source, reader or raw.attrs.get("weatherdata_reader"))
    report["kind"] = "track"
    track = raw.load()
    if "track_time" not in track.dims:
        raise InputError(f"{source}: variable 'time': the track has no time column")
    if track.sizes["track_time"] == 0:
        # A header-only track file is valid: no tropical cyclone in the period.
        empty = np.zeros(0, dtype=np.float32)
        out = xr.Dataset(
            {
                "tc_latitude": ("track_time", empty, {"units": "degrees_north"}),
                "tc_longitude": ("track_time", empty, {"units": "degrees_east"}),
                "tc_maximum_wind_speed": ("track_time", empty, {"units": "m s-1"}),
                "tc_minimum_pressure": ("track_time", empty, {"units": "hPa"}),
            },
            coords={"track_time": np.zeros(0, dtype="datetime64[ns]")},
        )
        report["time"] = {"note": "the track file has no rows: no tropical cyclone in the period"}
        out.attrs = {QC_ATTR: json.dumps(combine_reports([report]), default=_to_json)}
        return out
    names = {
        "latitude": ("tc_latitude", "degrees_north"),
        "longitude": ("tc_longitude", "degrees_east"),
        "maximum_wind_speed_m_s": ("tc_maximum_wind_speed", "m s-1"),
        "minimum_pressure_hpa": ("tc_minimum_pressure", "hPa"),
    }
    data = {}
    for column, (name, units) in names.items():
        if column not in track:
            raise InputError(f"{source}: variable {column!r}: column missing from the track file")
        da = track[column]
        if column in ("latitude", "longitude"):
            values = np.asarray(da.values, dtype="float64")
        else:
            convert = conversion(
                da.attrs.get("units"), units, where=f"{source}: variable {column!r}"
            )
            values = np.asarray(da.values, dtype="float64")
            values = convert(values) if convert else values
        data[name] = ("track_time", values, {"units": units})
    out = xr.Dataset(
        data, coords={"track_time": track["track_time"].values.astype("datetime64[ns]")}
    )
    lat = out["tc_latitude"].values
    if np.any(~np.isfinite(lat)) or np.any(np.abs(lat) > 90):
        raise InputError(f"{source}: variable 'latitude': missing or outside [-90, 90]")
    if np.any(~np.isfinite(out["tc_longitude"].values)):
        raise InputError(f"{source}: variable 'longitude': missing values")
    out["tc_longitude"].values[:] = _wrap_lon(out["tc_longitude"].values)
    time_notes: dict[str, Any] = {}
    out = _dedupe_sort(out.to_array("column"), "track_time", time_notes).to_dataset("column")
    for name, (_, units) in zip(
        ("tc_latitude", "tc_longitude", "tc_maximum_wind_speed", "tc_minimum_pressure"),
        names.values(),
        strict=True,
    ):
        out[name].attrs = {"units": units}
    report["time"] = time_notes
    report["variables"] = {
        name: {
            "from": "track",
            "matched_by": "reader",
            "units": None,
            "range": list(_var(name).range),
            "masked": None,
        }
        for name in ("tropical_cyclone_distance", "tropical_cyclone_maximum_wind_speed")
    }
    out.attrs = {QC_ATTR: json.dumps(combine_reports([report]), default=_to_json)}
    return out


def _haversine_km(lat1, lon1, lat2, lon2):
    p1, p2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dphi = p2 - p1
    dlmb = np.deg2rad(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _track_at(
    track: xr.Dataset, times: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre latitude/longitude and vmax at `times` (linear in time); active mask."""
    t = track["track_time"].values.astype("datetime64[ns]").astype("int64").astype("float64")
    q = times.astype("datetime64[ns]").astype("int64").astype("float64")
    lat = np.interp(q, t, track["tc_latitude"].values)
    lon_unwrapped = np.rad2deg(np.unwrap(np.deg2rad(track["tc_longitude"].values)))
    lon = _wrap_lon(np.interp(q, t, lon_unwrapped))
    vmax = np.interp(q, t, track["tc_maximum_wind_speed"].values)
    active = (q >= t[0]) & (q <= t[-1])
    return lat, lon, vmax, active


def tropical_cyclone_inputs(tracks: list[xr.Dataset], like: xr.Dataset) -> xr.Dataset:
    """The gridded tropical-cyclone inputs on the grid and times of ``like``.

    ``tropical_cyclone_distance``: great-circle distance (km) from each grid cell to the
    nearest active cyclone centre, 20000 km when none is active;
    ``tropical_cyclone_maximum_wind_speed``: the strongest active cyclone's maximum wind
    (m s-1), 0 when none. Times are ``time`` (observations) or ``valid_time(init_time,
    lead_time)`` (forecasts). Each track is interpolated linearly in time and is active
    only between its first and last fix.
    """
    import dask.array as dsa

    if "time" in like.dims:
        times = like["time"]
    elif "valid_time" in like.coords:
        times = like["valid_time"]
    else:
        raise InputError(
            "tropical-cyclone track: the gridded inputs have no time axis to place it on"
        )
    tvals = np.asarray(times.values).astype("datetime64[ns]")
    shape, dims = tvals.shape, tuple(times.dims)
    flat = tvals.ravel()
    time_chunks = {d: 24 for d in dims}
    lat, lon = like["latitude"], like["longitude"]
    hdims = tuple(dict.fromkeys(lat.dims + lon.dims))
    glat = xr.DataArray(dsa.from_array(np.asarray(lat.values, dtype="float64")), dims=lat.dims)
    glon = xr.DataArray(dsa.from_array(np.asarray(lon.values, dtype="float64")), dims=lon.dims)
    distance = None
    vmax = np.zeros(flat.shape)
    for track in tracks:
        if track.sizes.get("track_time", 0) == 0:
            continue
        clat, clon, cvmax, active = _track_at(track, flat)
        clat = xr.DataArray(np.where(active, clat, np.nan).reshape(shape), dims=dims).chunk(
            time_chunks
        )
        clon = xr.DataArray(np.where(active, clon, np.nan).reshape(shape), dims=dims).chunk(
            time_chunks
        )
        d = _haversine_km(glat, glon, clat, clon).fillna(np.inf)
        distance = d if distance is None else np.minimum(distance, d)
        vmax = np.maximum(vmax, np.where(active, np.nan_to_num(cvmax), 0.0))
    if distance is None:
        distance = xr.full_like(glat * glon, np.inf) + xr.DataArray(
            dsa.zeros(shape, chunks=tuple(min(24, n) for n in shape)), dims=dims
        )
    distance = distance.where(np.isfinite(distance), NO_CYCLONE_DISTANCE_KM).clip(
        0.0, NO_CYCLONE_DISTANCE_KM
    )
    coords = {d: like[d] for d in dims + hdims if d in like.coords and like[d].dims == (d,)}
    distance = distance.transpose(*dims, *hdims).assign_coords(coords)
    for name in ("latitude", "longitude", "crs"):
        if name in like.coords and name not in distance.coords:
            distance = distance.assign_coords({name: like[name]})
    vmax_da = xr.DataArray(
        vmax.reshape(shape), dims=dims, coords={d: like[d] for d in dims if d in like.coords}
    )
    cv_d = _var("tropical_cyclone_distance")
    cv_v = _var("tropical_cyclone_maximum_wind_speed")
    out = xr.Dataset(
        {
            cv_d.name: _finish(distance, cv_d),
            cv_v.name: _finish(vmax_da.chunk(time_chunks), cv_v),
        }
    )
    if "valid_time" in like.coords and "valid_time" not in out.coords:
        out = out.assign_coords(valid_time=like["valid_time"])
    return out
