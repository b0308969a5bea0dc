"""Synoptic diagnostics and classifications on analysis grids.

Kinematic diagnostics (vorticity, divergence, advection, frontogenesis) are MetPy's,
run plane by plane with :func:`horizontal`, which hands MetPy the grid spacing and
the map-scale factors of the grid once: nominal spacing plus the scale factors of a
latitude/longitude grid (so the spherical metric terms, e.g. :math:`u\\tan\\varphi/a`
in the vorticity, are included), or the ``x``/``y`` spacing of a projected grid (with
the projection's scale factors when the grid carries a CF grid mapping). The
classifications (precipitation type, cold-wave and tropical-cyclone grades, the
subtropical-high indices) are rule tables written here because no library has them.
"""

from __future__ import annotations

import functools

import metpy.calc as mpcalc
import numba
import numpy as np
import xarray as xr
from metpy.constants import dry_air_gas_constant, earth_gravity

from weatherdata.compute import elementwise, magnitude, pointwise, with_units
from weatherdata.errors import InputError
from weatherdata.units import apply_linear, linear_conversion, parse_units, unit_registry

__all__ = [
    "cold_wave_grade",
    "divergence",
    "frontogenesis",
    "grid_geometry",
    "horizontal",
    "low_level_jet",
    "moisture_flux_divergence",
    "precipitation_type",
    "relative_vorticity",
    "subtropical_high_indices",
    "surface_convergence",
    "temperature_advection",
    "tropical_cyclone_intensity_grade",
]

_LATITUDE_NAMES = ("latitude", "lat")
_LONGITUDE_NAMES = ("longitude", "lon")


# -- grid geometry ------------------------------------------------------------------


def _is_degrees(coordinate: xr.DataArray, names: tuple[str, ...], suffix: str) -> bool:
    units = str(coordinate.attrs.get("units", ""))
    return (
        coordinate.name in names
        or coordinate.attrs.get("standard_name") == names[0]
        or units.endswith(suffix)
    )


def _projection(data: xr.DataArray):
    """The pyproj CRS of a projected grid from a CF grid-mapping coordinate, or None."""
    names = [data.attrs.get("grid_mapping"), "crs", "spatial_ref", "grid_mapping"]
    for name in names:
        if name and name in data.coords and data.coords[name].attrs.get("grid_mapping_name"):
            attrs = data.coords[name].attrs
            return _crs_from_cf(tuple(sorted((k, _hashable(v)) for k, v in attrs.items())))
    return None


def _hashable(value):
    return (
        tuple(np.ravel(value).tolist()) if isinstance(value, list | tuple | np.ndarray) else value
    )


@functools.lru_cache(maxsize=16)
def _crs_from_cf(attrs: tuple):
    """``pyproj.CRS.from_cf``, cached: building the datum takes about a second."""
    from pyproj import CRS

    return CRS.from_cf({k: list(v) if isinstance(v, tuple) else v for k, v in attrs})


def grid_geometry(data: xr.DataArray) -> dict:
    """Grid spacing and map-scale factors of the last two dims, as MetPy keywords.

    Returns ``{"dx", "dy", "parallel_scale", "meridional_scale"}`` (pint quantities /
    arrays; the scale factors are None on a projected grid without a grid mapping,
    where the grid is treated as Cartesian).

    * latitude/longitude grid: MetPy's nominal spacing
      (``metpy.calc.tools.nominal_lat_lon_grid_deltas``, :math:`a\\,\\Delta\\lambda` and
      the geodesic :math:`\\Delta y`) with the scale factors of ``+proj=latlon``
      (parallel scale :math:`1/\\cos\\varphi`), exactly what MetPy's xarray accessor
      uses, so derivatives carry the spherical metric terms.
    * projected grid (``y``, ``x`` in length units): spacing from the coordinates, and
      the projection's scale factors at the 2-D ``latitude``/``longitude`` when a CF
      grid mapping is attached.
    """
    from metpy.calc.tools import nominal_lat_lon_grid_deltas
    from pyproj import CRS, Proj

    ydim, xdim = data.dims[-2:]
    if ydim not in data.coords or xdim not in data.coords:
        raise InputError(f"{data.name or 'input'}: horizontal dims {ydim}, {xdim} need coordinates")
    y, x = data[ydim], data[xdim]
    degree = unit_registry.degree
    if _is_degrees(y, _LATITUDE_NAMES, "north") and _is_degrees(x, _LONGITUDE_NAMES, "east"):
        latitude = np.asarray(y.values, dtype=np.float64)
        longitude = np.asarray(x.values, dtype=np.float64)
        dx, dy = nominal_lat_lon_grid_deltas(longitude * degree, latitude * degree)
        lon2d, lat2d = np.meshgrid(longitude, latitude)
        factors = Proj(CRS("+proj=latlon")).get_factors(lon2d, lat2d)
        return {
            "dx": dx,
            "dy": dy,
            "parallel_scale": np.asarray(factors.parallel_scale),
            "meridional_scale": np.asarray(factors.meridional_scale),
        }
    units = [c.attrs.get("units") for c in (y, x)]
    if not all(units):
        raise InputError(
            f"{data.name or 'input'}: projected coordinates {ydim}, {xdim} need length units"
        )
    dy = unit_registry.Quantity(
        np.diff(np.asarray(y.values, dtype=np.float64)), parse_units(units[0])
    ).to("m")
    dx = unit_registry.Quantity(
        np.diff(np.asarray(x.values, dtype=np.float64)), parse_units(units[1])
    ).to("m")
    out = {"dx": dx, "dy": dy, "parallel_scale": None, "meridional_scale": None}
    crs = _projection(data)
    latitude = next((data.coords[n] for n in _LATITUDE_NAMES if n in data.coords), None)
    longitude = next((data.coords[n] for n in _LONGITUDE_NAMES if n in data.coords), None)
    if crs is not None and latitude is not None and longitude is not None:
        factors = Proj(crs).get_factors(
            np.asarray(longitude.transpose(ydim, xdim).values, dtype=np.float64),
            np.asarray(latitude.transpose(ydim, xdim).values, dtype=np.float64),
        )
        out["parallel_scale"] = np.asarray(factors.parallel_scale)
        out["meridional_scale"] = np.asarray(factors.meridional_scale)
    return out


def horizontal(function, *arrays: xr.DataArray, units: str, **keywords) -> xr.DataArray:
    """Apply a MetPy grid calculation (``vorticity``, ``advection``, …) plane by plane.

    The inputs share their last two (horizontal) dims, which are put in one chunk;
    every other dim (time, pressure, lead time) stays chunked and lazy. Each block
    reaches ``function`` as pint quantities with the grid geometry of
    :func:`grid_geometry` as keywords; the result is converted to ``units``.
    """
    template = arrays[0]
    ydim, xdim = template.dims[-2:]
    geometry = grid_geometry(template)
    arrays = tuple(a.transpose(..., ydim, xdim) for a in arrays)
    input_units = [parse_units(a.attrs["units"]) for a in arrays]
    target = parse_units(units)

    def block(*blocks):
        quantities = [
            unit_registry.Quantity(np.asarray(b, dtype=np.float64), u)
            for b, u in zip(blocks, input_units, strict=True)
        ]
        result = function(*quantities, **geometry, **keywords)
        return np.asarray(result.m_as(target), dtype=np.float32)

    arrays = tuple(a.chunk({ydim: -1, xdim: -1}) if hasattr(a.data, "dask") else a for a in arrays)
    out = xr.apply_ufunc(
        block,
        *arrays,
        input_core_dims=[[ydim, xdim]] * len(arrays),
        output_core_dims=[[ydim, xdim]],
        dask="parallelized",
        output_dtypes=[np.float32],
        keep_attrs=False,
    )
    return with_units(out, units)


def _level(data: xr.DataArray, level) -> xr.DataArray:
    """The field on one pressure level (``level`` a pint pressure)."""
    hpa = magnitude(level, "hPa")
    if "pressure" not in data.dims:
        raise InputError(f"{data.name or 'input'}: no pressure dimension")
    values = np.asarray(data["pressure"].values, dtype=np.float64)
    matches = np.flatnonzero(np.isclose(values, hpa))
    if matches.size == 0:
        raise InputError(f"{data.name or 'input'}: no {hpa:g} hPa level (levels {values.tolist()})")
    return with_units(data.isel(pressure=int(matches[0]), drop=True), data.attrs["units"])


# -- kinematic diagnostics --------------------------------------------------------


def relative_vorticity(eastward_wind, northward_wind, level):
    """Relative vorticity on a pressure level, :math:`\\zeta = \\partial v/\\partial x - \\partial u/\\partial y`.

    ``metpy.calc.vorticity`` with the grid's spacing and map-scale factors (on a
    latitude/longitude grid this includes :math:`u\\tan\\varphi/a`). Positive is
    cyclonic in the northern hemisphere.

    References
    ----------
    Holton, J. R. and G. J. Hakim, 2013: An Introduction to Dynamic Meteorology, 5th ed.,
    §4.2. MetPy ``vorticity`` (May et al., 2022).
    """
    return horizontal(
        mpcalc.vorticity, _level(eastward_wind, level), _level(northward_wind, level), units="s-1"
    )


def divergence(eastward_wind, northward_wind, level):
    """Horizontal divergence on a pressure level, :math:`\\delta = \\partial u/\\partial x + \\partial v/\\partial y`.

    ``metpy.calc.divergence`` with the grid's spacing and map-scale factors.
    Upper-level (200 hPa) divergence marks the outflow above deep convection.
    """
    return horizontal(
        mpcalc.divergence, _level(eastward_wind, level), _level(northward_wind, level), units="s-1"
    )


def surface_convergence(eastward_wind, northward_wind):
    """10 m wind convergence, :math:`-\\nabla\\cdot\\mathbf{V}_{10}` (``metpy.calc.divergence``, sign flipped).

    Positive where the near-surface flow converges (convergence lines, sea-breeze
    fronts, outflow boundaries).
    """

    def convergence(u, v, **geometry):
        return -mpcalc.divergence(u, v, **geometry)

    return horizontal(convergence, eastward_wind, northward_wind, units="s-1")


def moisture_flux_divergence(specific_humidity, eastward_wind, northward_wind, level):
    """Moisture-flux divergence on a pressure level, :math:`\\nabla\\cdot(q\\mathbf{V}/g)`.

    The flux per unit pressure depth is :math:`q\\mathbf{V}/g`; its divergence
    (``metpy.calc.divergence`` of :math:`qu/g, qv/g`) is negative where moisture
    converges. Chinese practice reports it in g cm⁻² hPa⁻¹ s⁻¹ (values of order 10⁻⁷).

    References
    ----------
    Zhu Qiangen et al., 2007: Principles and Methods of Synoptic Meteorology
    (天气学原理和方法), 4th ed., China Meteorological Press, ch. 5.
    """
    q = _level(specific_humidity, level)
    u = _level(eastward_wind, level)
    v = _level(northward_wind, level)

    def flux_divergence(q, u, v, **geometry):
        return mpcalc.divergence(q * u / earth_gravity, q * v / earth_gravity, **geometry)

    return horizontal(flux_divergence, q, u, v, units="g cm-2 hPa-1 s-1")


def temperature_advection(air_temperature, eastward_wind, northward_wind, level):
    """Horizontal temperature advection on a pressure level, :math:`-\\mathbf{V}\\cdot\\nabla T`.

    ``metpy.calc.advection``; positive is warm advection.
    """
    return horizontal(
        mpcalc.advection,
        _level(air_temperature, level),
        _level(eastward_wind, level),
        _level(northward_wind, level),
        units="K h-1",
    )


def frontogenesis(air_temperature, eastward_wind, northward_wind, level):
    """Petterssen 2-D frontogenesis function of potential temperature on a pressure level.

    .. math:: F = \\tfrac12 |\\nabla\\theta| (D\\cos 2\\beta - \\delta)

    with :math:`D` the total deformation, :math:`\\beta` the angle between the axis of
    dilatation and the isentropes and :math:`\\delta` the divergence
    (``metpy.calc.frontogenesis``; :math:`\\theta` from ``metpy.calc.potential_temperature``).
    Positive where the θ gradient strengthens.

    References
    ----------
    Petterssen, S., 1936: Contribution to the theory of frontogenesis. Geofys. Publ. 11(6).
    Bluestein, H. B., 1993: Synoptic-Dynamic Meteorology in Midlatitudes, vol. II, §2.3.
    """
    pressure = unit_registry.Quantity(magnitude(level, "hPa"), "hPa")

    def petterssen(temperature, u, v, **geometry):
        theta = mpcalc.potential_temperature(pressure, temperature)
        return mpcalc.frontogenesis(theta, u, v, **geometry)

    return horizontal(
        petterssen,
        _level(air_temperature, level),
        _level(eastward_wind, level),
        _level(northward_wind, level),
        units="K m-1 s-1",
    )


def low_level_jet(eastward_wind, northward_wind, levels, threshold):
    """Low-level jet flag: wind speed ≥ ``threshold`` (12 m/s) on any of the ``levels`` (850 hPa).

    Categories: 0 no jet, 1 low-level jet. Missing where the wind is missing on any
    of the levels. Speed is ``metpy.calc.wind_speed``.
    """
    speeds = []
    for level in levels:
        speeds.append(
            pointwise(
                mpcalc.wind_speed,
                _level(eastward_wind, level),
                _level(northward_wind, level),
                units="m s-1",
            )
        )
    fastest = xr.concat(speeds, dim="level").max("level", skipna=False)
    flag = xr.where(fastest >= magnitude(threshold, "m s-1"), 1.0, 0.0).where(fastest.notnull())
    return with_units(flag, "1")


# -- western Pacific subtropical high ---------------------------------------------


def _subtropical_high_kernel(
    height, wind, latitude, longitude, contour, ridge_range, west_range, minimum_latitude
):
    """Ridge-line latitude and westernmost longitude of the ``contour`` area, per plane.

    ``height``/``wind``: (..., ny, nx); ``latitude``/``longitude``: (ny, nx) degrees.
    """
    inside = height >= contour
    northern = latitude >= minimum_latitude
    # Ridge line: u changes sign from easterly (south) to westerly (north) inside the
    # contour; the crossing latitude is interpolated linearly between rows.
    u0, u1 = wind[..., :-1, :], wind[..., 1:, :]
    lat0, lat1 = latitude[:-1, :], latitude[1:, :]
    ascending = lat1 > lat0
    south = np.where(ascending, u0, u1)
    north = np.where(ascending, u1, u0)
    lat_south = np.where(ascending, lat0, lat1)
    lat_north = np.where(ascending, lat1, lat0)
    crossing = (south <= 0) & (north > 0)
    fraction = np.where(crossing, -south / np.where(north - south == 0, 1, north - south), np.nan)
    ridge_latitude = lat_south + fraction * (lat_north - lat_south)
    in_area = inside[..., :-1, :] & inside[..., 1:, :] & northern[:-1, :] & northern[1:, :]
    lon_mid = 0.5 * (longitude[:-1, :] + longitude[1:, :])
    in_range = (lon_mid >= ridge_range[0]) & (lon_mid <= ridge_range[1])
    ridge_latitude = np.where(crossing & in_area & in_range, ridge_latitude, np.nan)
    # Mean over the columns (meridians) that have a ridge point: first average the
    # crossings of each column, then the columns, so no meridian weighs more.
    with np.errstate(invalid="ignore"), _quiet():
        per_column = np.nanmean(ridge_latitude, axis=-2)
        ridge = np.nanmean(per_column, axis=-1)
    west_area = inside & northern & (longitude >= west_range[0]) & (longitude <= west_range[1])
    west = np.where(west_area, longitude, np.inf).min(axis=(-2, -1))
    west = np.where(np.isfinite(west), west, np.nan)
    missing = np.isnan(height).any(axis=(-2, -1)) | np.isnan(wind).any(axis=(-2, -1))
    return np.stack(
        [np.where(missing, np.nan, ridge), np.where(missing, np.nan, west)], axis=-1
    ).astype(np.float32)


class _quiet:
    """Silence numpy's 'Mean of empty slice' (an all-NaN slice is a valid 'no ridge')."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


def _horizontal_coordinates(data: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """2-D latitude and longitude (degrees) of the last two dims."""
    ydim, xdim = data.dims[-2:]
    latitude = next((data.coords[n] for n in _LATITUDE_NAMES if n in data.coords), None)
    longitude = next((data.coords[n] for n in _LONGITUDE_NAMES if n in data.coords), None)
    if latitude is None or longitude is None:
        raise InputError(f"{data.name or 'input'}: latitude/longitude coordinates are needed")
    latitude, longitude = xr.broadcast(latitude, longitude)
    return (
        np.asarray(latitude.transpose(ydim, xdim).values, dtype=np.float64),
        np.asarray(longitude.transpose(ydim, xdim).values, dtype=np.float64),
    )


def subtropical_high_indices(
    geopotential_height,
    eastward_wind,
    level,
    contour,
    ridge_longitudes,
    west_longitudes,
    minimum_latitude,
):
    """Western Pacific subtropical high (WPSH) indices from the 500 hPa height and wind.

    * ``ridge_line_latitude`` — inside the area enclosed by the ``contour`` (588 dagpm)
      north of ``minimum_latitude`` and within ``ridge_longitudes`` (110–150°E), the
      mean latitude of the line where the zonal wind turns from easterly (south) to
      westerly (north), :math:`u = 0,\\ \\partial u/\\partial y > 0`: crossings are
      interpolated linearly between grid rows, averaged per meridian, then over the
      meridians that have one.
    * ``west_extension_longitude`` — the westernmost longitude of the contour area
      within ``west_longitudes`` (90–180°E).

    Missing when the field is incomplete or the 588 dagpm area does not reach into
    the windows (no subtropical high in the domain). On a regional domain the
    longitude windows are clipped to the domain: the indices describe the part of
    the high that the domain sees, not the NCC index (which needs 110–150°E).

    Returns
    -------
    xarray.DataArray
        Dims ``(…, subtropical_high_index)`` with index labels
        ``ridge_line_latitude``, ``west_extension_longitude`` (degrees).

    References
    ----------
    National Climate Center (NCC), 74 atmospheric circulation indices (2010 revision):
    WPSH ridge-line and western-extension indices.
    """
    height = _level(geopotential_height, level)
    wind = _level(eastward_wind, level)
    ydim, xdim = height.dims[-2:]
    latitude, longitude = _horizontal_coordinates(height)
    ridge_range = (
        magnitude(ridge_longitudes[0], "degree"),
        magnitude(ridge_longitudes[1], "degree"),
    )
    west_range = (magnitude(west_longitudes[0], "degree"), magnitude(west_longitudes[1], "degree"))
    height = height.chunk({ydim: -1, xdim: -1}) if hasattr(height.data, "dask") else height
    wind = wind.chunk({ydim: -1, xdim: -1}) if hasattr(wind.data, "dask") else wind
    out = xr.apply_ufunc(
        _subtropical_high_kernel,
        height,
        wind,
        input_core_dims=[[ydim, xdim], [ydim, xdim]],
        output_core_dims=[["subtropical_high_index"]],
        dask="parallelized",
        output_dtypes=[np.float32],
        dask_gufunc_kwargs={"output_sizes": {"subtropical_high_index": 2}},
        kwargs={
            "latitude": latitude,
            "longitude": longitude,
            "contour": magnitude(contour, height.attrs["units"]),
            "ridge_range": ridge_range,
            "west_range": west_range,
            "minimum_latitude": magnitude(minimum_latitude, "degree"),
        },
    )
    out = out.assign_coords(
        subtropical_high_index=["ridge_line_latitude", "west_extension_longitude"]
    )
    return with_units(out, "degree")


# -- precipitation type (Bourgouin 2000) ---------------------------------------------

_DRY_AIR_GAS_CONSTANT = float(dry_air_gas_constant.m_as("J kg-1 K-1"))
(
    NO_PRECIPITATION,
    RAIN,
    SNOW,
    RAIN_AND_SNOW,
    ICE_PELLETS,
    FREEZING_RAIN,
    FREEZING_RAIN_AND_ICE_PELLETS,
) = range(7)


@numba.njit(cache=True, nogil=True)
def _bourgouin(pressure, temperature, surface_pressure, surface_temperature, thresholds, out):
    """Classify one column; ``pressure`` hPa decreasing, ``temperature`` °C.

    ``thresholds`` = (snow_melt, rain, aloft_melt, pellet_intercept, freezing_intercept, slope).
    """
    snow_melt, rain_area, aloft_melt, pellet_a, freezing_a, slope = (
        thresholds[0],
        thresholds[1],
        thresholds[2],
        thresholds[3],
        thresholds[4],
        thresholds[5],
    )
    if np.isnan(surface_pressure) or np.isnan(surface_temperature):
        out[0] = np.nan
        return
    r_d = _DRY_AIR_GAS_CONSTANT
    # Layer areas R_d ∫ T d(ln p) (J/kg) between the profile and the 0 °C isotherm,
    # from the surface up, T piecewise linear in ln p, split at 0 °C crossings.
    areas = np.zeros(pressure.size + 2)
    signs = np.zeros(pressure.size + 2)
    n_layers = 0
    p_low = surface_pressure
    t_low = surface_temperature
    current_sign = 1.0 if t_low > 0 else -1.0
    current_area = 0.0
    for i in range(pressure.size):
        p_high = pressure[i]
        if p_high >= p_low:
            continue  # below ground or the surface level itself
        t_high = temperature[i]
        if np.isnan(t_high):
            out[0] = np.nan
            return
        x_low = np.log(p_low)
        x_high = np.log(p_high)
        if (t_low > 0) == (t_high > 0):
            current_area += r_d * 0.5 * (t_low + t_high) * (x_low - x_high)
        else:
            x_zero = x_low - t_low / (t_low - t_high) * (x_low - x_high)
            current_area += r_d * 0.5 * t_low * (x_low - x_zero)
            areas[n_layers] = abs(current_area)
            signs[n_layers] = current_sign
            n_layers += 1
            current_sign = -current_sign
            current_area = r_d * 0.5 * t_high * (x_zero - x_high)
        p_low = p_high
        t_low = t_high
    areas[n_layers] = abs(current_area)
    signs[n_layers] = current_sign
    n_layers += 1
    warm_aloft = 0.0
    for j in range(1, n_layers):
        if signs[j] > 0:
            warm_aloft += areas[j]
    if signs[0] < 0:
        # Cold surface layer: snow unless a warm layer aloft melts it; then the
        # refreezing energy of the surface cold layer decides pellets vs freezing rain.
        cold = areas[0]
        if warm_aloft < aloft_melt:
            out[0] = SNOW
        elif cold > pellet_a + slope * warm_aloft:
            out[0] = ICE_PELLETS
        elif cold < freezing_a + slope * warm_aloft:
            out[0] = FREEZING_RAIN
        else:
            out[0] = FREEZING_RAIN_AND_ICE_PELLETS
        return
    warm = areas[0]
    melted_aloft = False
    if n_layers >= 3:
        warm_above = 0.0
        for j in range(2, n_layers):
            if signs[j] > 0:
                warm_above += areas[j]
        if warm_above >= aloft_melt:
            melted_aloft = (
                areas[1] <= pellet_a + slope * warm_above
            )  # not refrozen in the cold layer
            if melted_aloft:
                out[0] = RAIN
                return
            # refrozen to ice pellets, which the surface warm layer may melt
            if warm > rain_area:
                out[0] = RAIN
            elif warm >= snow_melt:
                out[0] = RAIN_AND_SNOW
            else:
                out[0] = ICE_PELLETS
            return
    if warm > rain_area:
        out[0] = RAIN
    elif warm >= snow_melt:
        out[0] = RAIN_AND_SNOW
    else:
        out[0] = SNOW


@numba.njit(cache=True, nogil=True)
def _bourgouin_over_columns(
    pressure, temperature, surface_pressure, surface_temperature, thresholds, out
):
    for column in range(temperature.shape[0]):
        _bourgouin(
            pressure,
            temperature[column],
            surface_pressure[column],
            surface_temperature[column],
            thresholds,
            out[column : column + 1],
        )


def _bourgouin_columns(pressure, temperature, surface_pressure, surface_temperature, thresholds):
    """:func:`_bourgouin` over every column of a block (``temperature`` ``(..., level)``,
    the surface values ``(...)``, broadcast as a gufunc would). Compiled ``njit`` loops,
    cached on disk, rather than a ``guvectorize`` gufunc: numba's on-disk cache of gufuncs
    is not safe when several processes compile at once (numba issue #10128: the next load
    segfaulted in a parallel test run; see ``products/observation/_column_kernels.py``).
    A module function, so Dask workers import it by name."""
    shape = np.broadcast_shapes(
        temperature.shape[:-1], np.shape(surface_pressure), np.shape(surface_temperature)
    )
    levels = temperature.shape[-1]
    columns = int(np.prod(shape))
    temperature = np.ascontiguousarray(
        np.broadcast_to(temperature, (*shape, levels)), dtype=np.float64
    ).reshape(columns, levels)
    surface_pressure = np.broadcast_to(surface_pressure, shape).astype(np.float64).reshape(columns)
    surface_temperature = (
        np.broadcast_to(surface_temperature, shape).astype(np.float64).reshape(columns)
    )
    out = np.empty(columns)
    _bourgouin_over_columns(
        np.ascontiguousarray(pressure, dtype=np.float64),
        temperature,
        surface_pressure,
        surface_temperature,
        np.ascontiguousarray(thresholds, dtype=np.float64),
        out,
    )
    return out.reshape(shape)


def precipitation_type(
    air_temperature,
    surface_air_pressure,
    air_temperature_2m,
    precipitation_amount,
    minimum_precipitation,
    snow_melting_area,
    rain_area,
    aloft_melting_area,
    ice_pellet_intercept,
    freezing_rain_intercept,
    refreezing_slope,
):
    """Precipitation type from the temperature profile (Bourgouin 2000 energy method).

    The positive (melting) and negative (refreezing) areas between the temperature
    profile and the 0 °C isotherm on a thermodynamic diagram,
    :math:`A = R_d \\int (T - T_0)\\, d\\ln p` (J kg⁻¹), are integrated from the
    surface (2 m temperature at surface pressure) up through the pressure levels above
    ground, splitting layers at 0 °C crossings. Then:

    * cold surface layer (area :math:`NA`) under a warm layer aloft (:math:`PA`):
      snow if :math:`PA <` ``aloft_melting_area`` (2 J/kg); ice pellets if
      :math:`NA > 66 + 0.66\\,PA`; freezing rain if :math:`NA < 46 + 0.66\\,PA`;
      else a freezing-rain/ice-pellet mix;
    * warm surface layer (area :math:`PA_s`): snow if :math:`PA_s < 5.6`, rain and snow
      (雨夹雪) if :math:`5.6 \\le PA_s \\le 13.2`, rain above; when a warm layer aloft
      melted the snow and a cold layer between refroze it (as above), the same
      surface-layer thresholds decide between ice pellets, mixed and rain.

    0 where the step's precipitation is below ``minimum_precipitation``.

    References
    ----------
    Bourgouin, P., 2000: A method to determine precipitation types.
    Wea. Forecasting, 15, 583–592.
    """
    celsius = pointwise(lambda t: t.to("degC"), air_temperature, units="degC")
    surface_c = pointwise(lambda t: t.to("degC"), air_temperature_2m, units="degC")
    # The canonical pressure coordinate is in hPa, surface first.
    pressure = xr.DataArray(
        np.asarray(air_temperature["pressure"].values, dtype=np.float64), dims=["pressure"]
    )
    if np.any(np.diff(pressure.values) > 0):
        raise InputError("air_temperature: pressure levels must decrease upward (surface first)")
    celsius = celsius.chunk({"pressure": -1}) if hasattr(celsius.data, "dask") else celsius
    thresholds = np.array(
        [
            magnitude(snow_melting_area, "J kg-1"),
            magnitude(rain_area, "J kg-1"),
            magnitude(aloft_melting_area, "J kg-1"),
            magnitude(ice_pellet_intercept, "J kg-1"),
            magnitude(freezing_rain_intercept, "J kg-1"),
            float(unit_registry.Quantity(refreezing_slope).m_as("dimensionless")),
        ]
    )
    kind = xr.apply_ufunc(
        _bourgouin_columns,
        pressure,
        celsius.astype(np.float64),
        surface_air_pressure.astype(np.float64),
        surface_c.astype(np.float64),
        xr.DataArray(thresholds, dims=["threshold"]),
        input_core_dims=[["pressure"], ["pressure"], [], [], ["threshold"]],
        dask="parallelized",
        output_dtypes=[np.float64],
    )
    amount = precipitation_amount
    wet = amount >= magnitude(minimum_precipitation, amount.attrs["units"])
    kind = xr.where(wet, kind, float(NO_PRECIPITATION)).where(amount.notnull() & kind.notnull())
    return with_units(kind.transpose(*surface_air_pressure.dims), "1")


# -- grades --------------------------------------------------------------------------


def _known(condition: xr.DataArray, *inputs: xr.DataArray) -> xr.DataArray:
    """A condition as 1/0, or NaN where any of ``inputs`` is missing."""
    valid = inputs[0].notnull()
    for data in inputs[1:]:
        valid = valid & data.notnull()
    return xr.where(condition, 1.0, 0.0).where(valid)


def cold_wave_grade(
    minimum_temperature_drop_24h,
    minimum_temperature_drop_48h,
    minimum_temperature_drop_72h,
    minimum_temperature,
    drop_24h,
    drop_48h,
    drop_72h,
    minimum_temperature_threshold,
):
    """Cold-wave grade (GB/T 21987-2017): 0 none, 1 寒潮, 2 强寒潮, 3 超强寒潮.

    Grade :math:`k` holds when the daily minimum temperature fell by at least
    ``drop_24h[k]`` in 24 h, or ``drop_48h[k]`` in 48 h, or ``drop_72h[k]`` in 72 h,
    *and* the minimum temperature is at most ``minimum_temperature_threshold[k]``
    (defaults 8/10/12 K & ≤ 4 °C; 10/12/14 K & ≤ 2 °C; 12/14/16 K & ≤ 0 °C).
    The highest grade that holds is reported. Three-valued logic: a drop that is
    missing cannot make a grade hold, but the grade is missing (not 0) when the
    missing drop could have changed it.

    References
    ----------
    GB/T 21987-2017 寒潮等级 (Grades of cold wave), Standardization Administration of China.
    """
    # Compared at 0.01 K: the thresholds are whole kelvin, and float32 storage of e.g.
    # 4 °C as 277.15 K must not fall on the wrong side of them. One pass over each block
    # (:func:`_cold_wave_block`) rather than ~60 xarray operations, each aligning its
    # operands while the graph was built (derived with its inputs on the 0.2° demo:
    # 0.25 s before, 0.04 s now).
    inputs = {
        "minimum_temperature_drop_24h": (minimum_temperature_drop_24h, "K"),
        "minimum_temperature_drop_48h": (minimum_temperature_drop_48h, "K"),
        "minimum_temperature_drop_72h": (minimum_temperature_drop_72h, "K"),
        "minimum_temperature": (minimum_temperature, "degC"),
    }
    conversions = []
    for name, (data, target) in inputs.items():
        if "units" not in data.attrs:
            raise InputError(f"{data.name or name}: units are missing")
        conversions.append(linear_conversion(data.attrs["units"], target, where=name))
    grades = [
        (
            (magnitude(d24, "K"), magnitude(d48, "K"), magnitude(d72, "K")),
            magnitude(cold, "degC"),
        )
        for d24, d48, d72, cold in zip(
            drop_24h, drop_48h, drop_72h, minimum_temperature_threshold, strict=True
        )
    ]
    result = elementwise(
        _cold_wave_block,
        minimum_temperature,  # first: the grade has its dimensions' order
        minimum_temperature_drop_24h,
        minimum_temperature_drop_48h,
        minimum_temperature_drop_72h,
        join="inner",
        keep_attrs=False,
        keywords={"conversions": tuple(conversions), "grades": tuple(grades)},
    )
    return with_units(result, "1")


def _rounded(block: np.ndarray, conversion) -> np.ndarray:
    """A block converted as :func:`~weatherdata.compute.pointwise` converts it (in its own
    floating type, published as float32), then rounded to 0.01 in float64."""
    if conversion is not None:
        block = apply_linear(block, *conversion)
    return np.round(block.astype(np.float32).astype(np.float64), 2)


def _cold_wave_block(tmin, drop_24h, drop_48h, drop_72h, *, conversions, grades):
    """:func:`cold_wave_grade` on blocks. From the highest grade down, the first grade
    that surely holds wins; if a higher grade is undetermined (a missing drop could make
    it hold, i.e. it neither holds nor surely fails), the result is missing."""
    drops = [
        _rounded(block, conversion)
        for block, conversion in zip((drop_24h, drop_48h, drop_72h), conversions[:3], strict=True)
    ]
    tmin = _rounded(tmin, conversions[3])
    shape = np.broadcast_shapes(tmin.shape, *(drop.shape for drop in drops))
    result = np.zeros(shape, np.float32)
    decided = np.zeros(shape, bool)
    undetermined = np.zeros(shape, bool)
    for k in range(len(grades), 0, -1):
        limits, cold = grades[k - 1]
        cold_enough = tmin <= cold
        any_drop = np.zeros(shape, bool)
        all_known_false = np.ones(shape, bool)
        for drop, limit in zip(drops, limits, strict=True):
            any_drop |= drop >= limit
            all_known_false &= ~np.isnan(drop) & (drop < limit)
        holds = cold_enough & any_drop
        fails = ~np.isnan(tmin) & (~cold_enough | all_known_false)
        open_ = ~decided & ~undetermined
        result[open_ & holds] = k
        undetermined |= open_ & ~holds & ~fails
        decided |= open_ & holds
    result[undetermined] = np.nan
    return result


def tropical_cyclone_intensity_grade(
    tropical_cyclone_maximum_wind_speed, tropical_cyclone_distance, radius, lower_bounds
):
    """Tropical-cyclone intensity grade (GB/T 19201-2006) within ``radius`` of the centre.

    The TC's maximum sustained 10 m wind near the centre is binned by the standard's
    lower bounds (10.8, 17.2, 24.5, 32.7, 41.5, 51.0 m/s → 1 TD … 6 Super TY) and the
    grade is mapped onto the grid cells within ``radius`` of the TC centre; 0 farther
    away or below tropical-depression strength. Missing where either input is missing.
    Speeds are compared at 0.01 m/s resolution (the standard's bounds are given to
    0.1 m/s; this absorbs float32 storage of e.g. 17.2).

    References
    ----------
    GB/T 19201-2006 热带气旋等级 (Grade of tropical cyclones), Standardization
    Administration of China.
    """
    speed = pointwise(lambda v: v.to("m s-1"), tropical_cyclone_maximum_wind_speed, units="m s-1")
    distance = pointwise(lambda d: d.to("km"), tropical_cyclone_distance, units="km")
    bounds = np.array([magnitude(b, "m s-1") for b in lower_bounds])
    rounded = np.round(speed.astype(np.float64), 2)
    grade = xr.zeros_like(rounded)
    for k, bound in enumerate(bounds, start=1):
        grade = xr.where(rounded >= bound - 1e-9, float(k), grade)
    grade = grade.where(speed.notnull())
    near = distance <= magnitude(radius, "km")
    out = xr.where(near, grade, 0.0).where(distance.notnull() & grade.notnull())
    return with_units(out.transpose(*distance.dims), "1")
