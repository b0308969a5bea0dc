"""Fire-weather service products: the Chinese forest-fire weather grade, the Canadian Fire
Weather Index system, McArthur FFDI with the Keetch–Byram drought index, the Fosberg fire
weather index, fine-fuel equilibrium moisture content and the Hot–Dry–Windy index.

Daily indices use the observation of one hour of Beijing time inside each day (14:00 for
the Chinese grade, 12:00 noon for the Canadian codes, 15:00 for FFDI) picked with
:func:`._sector.at_beijing_hour`, so they share the day labels of the daily products.
Sequential indices (Canadian codes, KBDI) start from documented start-up values on the
first day of the record, or continue the record already published (the catalog's
``time.carry``: the stored codes of the day before the first day derived).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from weatherdata.compute import (
    continues_record,
    elementwise,
    maximum_over,
    pointwise,
    published_at,
    quantity,
    with_units,
)
from weatherdata.errors import InputError, InsufficientDataError
from weatherdata.units import convert_dataarray

from ._sector import as_series, at_beijing_hour, back_to_days, calendar_dates, latitude, xclim

__all__ = [
    "canadian_fire_weather_indices",
    "equilibrium_moisture_content",
    "fire_weather_code",
    "forest_fire_weather_grade",
    "fosberg_fire_weather_index",
    "hot_dry_windy_index",
    "keetch_byram_drought_index",
    "mcarthur_forest_fire_danger_index",
]


def _values(parameters, units: str) -> np.ndarray:
    return np.array([quantity(p).m_as(units) for p in parameters], dtype=np.float64)


def _numbers(parameters) -> np.ndarray:
    return np.array([float(getattr(p, "m", p)) for p in parameters], dtype=np.float64)


def _table(values: xr.DataArray, bounds, points, *, resolution: float | None = None):
    """``points[k]`` with ``k`` the number of ``bounds`` (class lower bounds) at or below the
    value. With a reporting ``resolution`` the value is first rounded to it, halves up, as a
    station reports it (the rule of :mod:`weatherdata.products.observation.grading`: the
    tables are written for reported values, "≤ 24 %, 25–34 %" leaves no gap at 1 %). NaN
    stays NaN."""
    bounds = np.asarray(bounds, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    if points.size != bounds.size + 1:
        raise ValueError("a points table needs one more entry than its bounds")

    def kernel(x):
        x = np.asarray(x, dtype=np.float64)
        if resolution is None:
            k = np.searchsorted(bounds, x, side="right")
        else:
            steps = np.floor(x / resolution + 0.5 + 1e-4)  # halves up; absorbs float32
            k = np.searchsorted(np.round(bounds / resolution), steps, side="right")
        return np.where(np.isnan(x), np.nan, points[np.minimum(k, points.size - 1)])

    return elementwise(kernel, values, dtype=np.float64)


def _aligned(*arrays):
    try:
        return xr.align(*arrays, join="exact")
    except ValueError as exc:
        raise InputError(
            "daily inputs have different days (use one day definition for all of them)"
        ) from exc


# -- China forest-fire weather grade --------------------------------------------------------


def _dry_day_run(rain_day: np.ndarray) -> np.ndarray:
    """Days since the last rain day along axis 0 (0 on a rain day), counted from the
    start of the record; NaN after a missing day until the next rain day."""
    out = np.empty(rain_day.shape, dtype=np.float64)
    run = np.zeros(rain_day.shape[1:], dtype=np.float64)
    for i in range(rain_day.shape[0]):
        today = rain_day[i]
        run = np.where(np.isnan(today), np.nan, np.where(today > 0.5, 0.0, run + 1.0))
        out[i] = run
    return out


def consecutive_dry_days(precipitation: xr.DataArray, rain_day_threshold) -> xr.DataArray:
    """Number of consecutive days without rain ending on each day (0 on a rain day,
    daily precipitation > ``rain_day_threshold``), counted from the record start."""
    amounts = convert_dataarray(precipitation, "mm")
    rain = xr.where(amounts > rain_day_threshold.m_as("mm"), 1.0, 0.0).where(amounts.notnull())
    rain = rain.chunk({"day": -1}) if hasattr(rain.data, "dask") else rain
    run = xr.apply_ufunc(
        lambda x: np.moveaxis(_dry_day_run(np.moveaxis(x, -1, 0)), 0, -1),
        rain,
        input_core_dims=[["day"]],
        output_core_dims=[["day"]],
        dask="parallelized",
        output_dtypes=[np.float64],
    )
    return run.transpose(*precipitation.dims)


def forest_fire_weather_grade(
    maximum_temperature,
    relative_humidity,
    wind_speed,
    precipitation,
    observation_hour,
    temperature_bounds,
    temperature_points,
    temperature_resolution,
    humidity_bounds,
    humidity_points,
    humidity_resolution,
    dry_day_points,
    dry_day_maximum_points,
    rain_day_threshold,
    wind_bounds,
    wind_points,
    wind_resolution,
    phenology_correction,
    grade_bounds,
):
    """China forest-fire weather grade I–V (全国森林火险天气等级; levels and colours of
    QX/T 77-2007).

    .. math:: I = A(T_{max}) + B(RH_{14}) + C(n) + D(F_{14}) - E

    * A, daily maximum temperature (reported to 0.1 °C): ≤ 5.0 °C 0, 5.1–10.0 4,
      10.1–15.0 8, 15.1–20.0 12, 20.1–25.0 16, ≥ 25.1 °C 20 points;
    * B, relative humidity at 14:00 Beijing time (reported to 1 %): ≥ 65 % 0, 55–64 4,
      45–54 8, 35–44 12, 25–34 16, ≤ 24 % 20 points;
    * C, consecutive days without rain ending on the day: 5 points a day, 50 from 10 days
      (0 on a day with more than ``rain_day_threshold``);
    * D, GB/T 28591 wind force at 14:00 (speed reported to 0.1 m/s): ≤ 1 5, 2 10, … 7 35,
      ≥ 8 40 points;
    * E, the phenology (green-up, snow cover) correction, a constant parameter (no
      phenology input).

    Grade: :math:`I` ≤ 25 I (低), 26–50 II (较低), 51–72 III (较高), 73–90 IV (高),
    ≥ 91 V (极高). Values are rounded to the tables' reporting resolution (halves up)
    before classing. The dry-day count starts at the first day of the record (a lower
    bound until the first rain day).

    References
    ----------
    LY/T 1172-1995 全国森林火险天气等级; component tables as reproduced by Lü Weiwei et
    al., 2020, World Forestry Research (林业世界) 9(3), doi:10.12677/wjf.2020.93016;
    QX/T 77-2007 森林火险气象等级 (levels and colours).
    """
    days = maximum_temperature["day"]
    humidity = at_beijing_hour(relative_humidity, days, observation_hour)
    wind = at_beijing_hour(wind_speed, days, observation_hour)
    tmax, rain = _aligned(convert_dataarray(maximum_temperature, "degC"), precipitation)
    temperature_score = _table(
        tmax,
        _values(temperature_bounds, "degC"),
        _numbers(temperature_points),
        resolution=quantity(temperature_resolution).m_as("delta_degC"),
    )
    humidity_score = _table(
        convert_dataarray(humidity, "percent"),
        _values(humidity_bounds, "percent"),
        _numbers(humidity_points),
        resolution=quantity(humidity_resolution).m_as("percent"),
    )
    wind_score = _table(
        convert_dataarray(wind, "m s-1"),
        _values(wind_bounds, "m s-1"),
        _numbers(wind_points),
        resolution=quantity(wind_resolution).m_as("m s-1"),
    )
    dry_days = consecutive_dry_days(rain, rain_day_threshold)
    dryness_score = np.minimum(
        dry_days * float(getattr(dry_day_points, "m", dry_day_points)),
        float(getattr(dry_day_maximum_points, "m", dry_day_maximum_points)),
    ).where(dry_days.notnull())
    index = (
        temperature_score
        + humidity_score
        + dryness_score
        + wind_score
        - float(getattr(phenology_correction, "m", phenology_correction))
    )
    bounds = _numbers(grade_bounds)
    grade = _table(index, bounds, np.arange(1, bounds.size + 2))
    return with_units(grade.transpose(*maximum_temperature.dims), "1")


# -- Canadian Fire Weather Index system -----------------------------------------------------


def canadian_fire_weather_indices(
    temperature,
    relative_humidity,
    wind_speed,
    precipitation_24h,
    days,
    observation_hour,
    published_fine_fuel_moisture_code=None,
    published_duff_moisture_code=None,
    published_drought_code=None,
):
    """The six codes of the Canadian Forest Fire Weather Index system (Van Wagner 1987)
    from noon observations (xclim ``cffwis_indices``, the CFS R-code algorithm).

    Noon is ``observation_hour`` Beijing time inside each day of ``days``; precipitation
    is the 24 h accumulation ending then. The codes start from the standard start-up
    values (FFMC 85, DMC 6, DC 15) on the first day of the record, no fire-season
    shutdown, no overwintering; latitude enters the day-length factors of DMC and DC.

    Each day's FFMC, DMC and DC follow from the day before's and the day's weather
    alone, so the record continues exactly from the published codes of the day before
    the first day of ``days`` (``published_*``, stored series; :func:`continues_record`
    says when): they are xclim's ``ffmc0``, ``dmc0``, ``dc0``. A code missing that day
    stays missing (as it would have in one pass: every later value depends on it) rather
    than starting up again.

    Returns
    -------
    xarray.Dataset
        ``fine_fuel_moisture_code``, ``duff_moisture_code``, ``drought_code``,
        ``initial_spread_index``, ``buildup_index``, ``fire_weather_index`` on ``day``.

    References
    ----------
    Van Wagner, C. E., 1987: Development and structure of the Canadian Forest Fire Weather
    Index System. Canadian Forestry Service, Forestry Technical Report 35.
    Wang, Y., K. R. Anderson and R. M. Suddaby, 2015: Updated source code for calculating
    fire danger indices in the Canadian Forest Fire Weather Index System. Information
    Report NOR-X-424.
    """
    template = days["day"]
    noon = {
        "tas": (at_beijing_hour(temperature, template, observation_hour), "degC", "degC"),
        "hurs": (at_beijing_hour(relative_humidity, template, observation_hour), "percent", "%"),
        "sfcWind": (at_beijing_hour(wind_speed, template, observation_hour), "km/h", "km/h"),
        "pr": (at_beijing_hour(precipitation_24h, template, observation_hour), "mm", "mm/d"),
    }
    series = {
        name: as_series(data, units, label).chunk({"time": -1})
        for name, (data, units, label) in noon.items()
    }
    published = {
        "fine_fuel_moisture_code": published_fine_fuel_moisture_code,
        "duff_moisture_code": published_duff_moisture_code,
        "drought_code": published_drought_code,
    }
    start = {}
    first = template.values[0]
    if continues_record(first, **published):
        day_before = first - np.timedelta64(1, "D")
        grid = noon["tas"][0].isel(day=0, drop=True)
        start = {
            name: published_at(published[name], day_before, name, like=grid) for name in published
        }
    codes = xclim("xclim.indices.fire").cffwis_indices(
        **series,
        lat=latitude(temperature),
        ffmc0=start.get("fine_fuel_moisture_code"),
        dmc0=start.get("duff_moisture_code"),
        dc0=start.get("drought_code"),
    )
    names = (
        "drought_code",
        "duff_moisture_code",
        "fine_fuel_moisture_code",
        "initial_spread_index",
        "buildup_index",
        "fire_weather_index",
    )
    out = xr.Dataset(
        {name: back_to_days(code, template, "1") for name, code in zip(names, codes, strict=True)}
    )
    if start:
        # xclim starts a cell up again where a previous code is missing.
        known = {name: value.notnull() for name, value in start.items()}
        built_on = {
            "drought_code": ("drought_code",),
            "duff_moisture_code": ("duff_moisture_code",),
            "fine_fuel_moisture_code": ("fine_fuel_moisture_code",),
            "initial_spread_index": ("fine_fuel_moisture_code",),
            "buildup_index": ("duff_moisture_code", "drought_code"),
            "fire_weather_index": tuple(known),
        }
        for name, codes_used in built_on.items():
            mask = known[codes_used[0]]
            for code in codes_used[1:]:
                mask = mask & known[code]
            out[name] = with_units(out[name].where(mask), "1")
    return out


def fire_weather_code(code):
    """One code of :func:`canadian_fire_weather_indices` (dimensionless)."""
    return with_units(code, "1")


# -- McArthur FFDI and KBDI ------------------------------------------------------------------


def _annual_precipitation(normals: xr.DataArray) -> xr.DataArray:
    """Mean annual precipitation from daily normals: mean normal × 365.25 d."""
    if "dayofyear" not in normals.dims:
        raise InputError("the precipitation normals need a `dayofyear` dimension")
    annual = convert_dataarray(normals, "mm").mean("dayofyear") * 365.25
    annual.attrs = {"units": "mm/year"}
    return annual


#: The maximum temperature (°C) at which KBDI's evapotranspiration term is zero:
#: 0.968 exp(0.0875 T + 1.5552) = 8.3.
_KBDI_NEUTRAL_TEMPERATURE = (np.log(8.3 / 0.968) - 1.5552) / 0.0875
#: Rain of a spell that KBDI intercepts (Finkele et al. 2006): the first 5 mm.
_KBDI_INTERCEPTION = 5.0


def _kbdi_interception_left(precipitation: np.ndarray) -> np.ndarray:
    """Of the first 5 mm of a rain spell, what is still to be intercepted after the last
    day (last axis) of ``precipitation`` (mm/day), from a full 5 mm before its first day:
    xclim's ``rr`` (a dry day, ≤ 0 mm, refills it; rain takes from it)."""
    left = np.full(precipitation.shape[:-1], _KBDI_INTERCEPTION)
    for rain in np.moveaxis(precipitation, -1, 0):
        left = np.where(rain <= 0.0, _KBDI_INTERCEPTION, left - np.minimum(rain, left))
    return left


def keetch_byram_drought_index(
    precipitation,
    maximum_temperature,
    precipitation_normals,
    initial_value,
    published_drought_index=None,
    published_daily_precipitation=None,
):
    """Keetch–Byram drought index KBDI (mm of soil-moisture deficit, 0–203.2), daily
    (xclim ``keetch_byram_drought_index``, Finkele et al. 2006):

    .. math::

        KBDI_t = KBDI_{t-1} + \\frac{10^{-3}(203.2 - KBDI_{t-1})
        (0.968\\,e^{0.0875\\,T_{max} + 1.5552} - 8.3)}{1 + 10.88\\,e^{-0.00173\\,\\bar P}}
        - P_{eff}

    with the first 5 mm of a rain spell intercepted, :math:`\\bar P` the mean annual
    precipitation (from the daily normals). Starts from ``initial_value`` on the first day
    of the record (0 mm: soil at field capacity).

    Or continues the published record (:func:`continues_record`): the state of the day
    before the first day is the published index (``published_drought_index``) and what is
    left of the 5 mm interception of the rain spell under way, replayed from the published
    daily precipitation since the index's first day. xclim takes the previous index
    (``kbdi0``) but always starts a spell's interception full, so that day is prepended as
    a day that leaves the index unchanged (maximum temperature where the evapotranspiration
    term is zero, 6.78 °C) and whose rain, 5 mm minus what is left, leaves the interception
    as it was; its value is dropped.

    References
    ----------
    Keetch, J. J. and G. M. Byram, 1968: A drought index for forest fire control. USDA
    Forest Service Research Paper SE-38. Finkele, K., G. A. Mills, G. Beard and D. A. Jones,
    2006: National gridded drought factors and comparison of two soil moisture deficit
    formulations used in prediction of Forest Fire Danger Index in Australia. Aust. Met.
    Mag. 55, 183–197.
    """
    rain, tmax = _aligned(precipitation, maximum_temperature)
    days = rain["day"]
    start = None
    # The index is the state; the daily precipitation only replays the spell under way
    # (published for longer than the index, it does not make the index continue).
    if continues_record(days.values[0], keetch_byram_drought_index=published_drought_index):
        if published_daily_precipitation is None:
            raise InsufficientDataError(
                "continuing the published keetch_byram_drought_index needs the published "
                "daily_precipitation (the rain spell under way)"
            )
        day_before = days.values[0] - np.timedelta64(1, "D")
        grid = rain.isel(day=0, drop=True)
        index = published_at(
            published_drought_index, day_before, "keetch_byram_drought_index", like=grid
        )
        history = published_daily_precipitation.sel(
            day=slice(published_drought_index["day"].values[0], day_before)
        )
        published_at(history, day_before, "daily_precipitation", like=grid)  # held, same grid
        left = xr.apply_ufunc(
            _kbdi_interception_left,
            convert_dataarray(history, "mm").chunk({"day": -1}),
            input_core_dims=[["day"]],
            dask="parallelized",
            output_dtypes=[np.float64],
        )
        replayed_rain = (_KBDI_INTERCEPTION - left).expand_dims(day=[day_before])
        replayed_tmax = xr.full_like(replayed_rain, _KBDI_NEUTRAL_TEMPERATURE)
        rain = xr.concat([with_units(replayed_rain, "mm"), convert_dataarray(rain, "mm")], "day")
        tmax = xr.concat(
            [with_units(replayed_tmax, "degC"), convert_dataarray(tmax, "degC")], "day"
        )
        start = index
    pr = as_series(rain, "mm", "mm/d").chunk({"time": -1})
    tx = as_series(tmax, "degC", "degC").chunk({"time": -1})
    if start is None:
        start = xr.full_like(pr.isel(time=0, drop=True), initial_value.m_as("mm"))
    else:
        start = start.astype(pr.dtype)
    start.attrs = {"units": "mm/d"}
    index = xclim("xclim.indices.fire").keetch_byram_drought_index(
        pr, tx, _annual_precipitation(precipitation_normals), kbdi0=start
    )
    return back_to_days(index, days, "mm")


def mcarthur_forest_fire_danger_index(
    maximum_temperature,
    relative_humidity,
    wind_speed,
    extended_precipitation,
    drought_index,
    observation_hour,
):
    """McArthur forest fire danger index FFDI (Mark 5, Noble et al. 1980):

    .. math:: FFDI = DF^{0.987}\\,\\exp(0.0338\\,T_{max} - 0.0345\\,RH + 0.0234\\,V + 0.243147)

    with :math:`T_{max}` °C, the relative humidity RH (%) and 10 m wind V (km/h) at
    ``observation_hour`` (15:00) Beijing time, and the Griffiths (1999) drought factor DF
    from the KBDI and the rainfall of the last 20 days (Finkele et al. 2006 limiting
    function) — xclim ``griffiths_drought_factor`` and
    ``mcarthur_forest_fire_danger_index``. The 20 days of rainfall reach before a short
    record through the extended daily series (history, then normals).

    References
    ----------
    Noble, I. R., G. A. V. Bary and A. M. Gill, 1980: McArthur's fire-danger meters
    expressed as equations. Aust. J. Ecol. 5, 201–203. Griffiths, D., 1999: Improved
    formula for the drought factor in McArthur's Forest Fire Danger Meter. Aust. For. 62,
    202–206.
    """
    fire = xclim("xclim.indices.fire")
    days = maximum_temperature["day"]
    tmax, kbdi = _aligned(maximum_temperature, drought_index)
    dates = pd.DatetimeIndex(calendar_dates(days).values)
    span = pd.date_range(dates[0] - pd.Timedelta(days=19), dates[-1], freq="D")
    rain_20 = extended_precipitation.reindex(time=span).chunk({"time": -1})
    rain_20.attrs = {"units": "mm/d"}
    deficit = as_series(kbdi, "mm", "mm/d").reindex(time=span).chunk({"time": -1})
    factor = fire.griffiths_drought_factor(rain_20, deficit)
    series = {
        "drought_factor": factor.sel(time=dates),
        "tasmax": as_series(tmax, "degC"),
        "hurs": as_series(
            at_beijing_hour(relative_humidity, days, observation_hour), "percent", "%"
        ),
        "sfcWind": as_series(at_beijing_hour(wind_speed, days, observation_hour), "km/h", "km/h"),
    }
    index = fire.mcarthur_forest_fire_danger_index(**series)
    return back_to_days(index, days, "1")


# -- Fosberg, EMC, HDW -------------------------------------------------------------------------


def _equilibrium_moisture_content(temperature_f, humidity_percent):
    """Simard (1968) EMC (%) as in SHARPlib ``equilibrium_moisture_content``."""
    h, t = humidity_percent, temperature_f
    dry = 0.03229 + 0.281073 * h - 0.000578 * h * t
    middle = 2.22749 + 0.160107 * h - 0.01478 * t
    moist = 21.0606 + 0.005565 * h**2 - 0.00035 * h * t - 0.483199 * h
    return np.where(h < 10.0, dry, np.where(h <= 50.0, middle, moist))


def equilibrium_moisture_content(temperature, relative_humidity):
    """Fine-fuel equilibrium moisture content EMC (%), Simard (1968), as in SHARPlib:

    .. math::

        EMC = \\begin{cases}
        0.03229 + 0.281073\\,H - 0.000578\\,HT & H < 10\\,\\% \\\\
        2.22749 + 0.160107\\,H - 0.01478\\,T & 10 \\le H \\le 50\\,\\% \\\\
        21.0606 + 0.005565\\,H^2 - 0.00035\\,HT - 0.483199\\,H & H > 50\\,\\%
        \\end{cases}

    (T in °F, H relative humidity in %).

    References
    ----------
    Simard, A. J., 1968: The moisture content of forest fuels I. Forest Fire Research
    Institute Information Report FF-X-14, Ottawa. Halbert, K. T., SHARPlib
    ``src/SHARPlib/params/fire.cpp`` (NWS Storm Prediction Center).
    """

    def kernel(t, h):
        return _equilibrium_moisture_content(t.m_as("degF"), h.m_as("percent"))

    return pointwise(kernel, temperature, relative_humidity, units="percent")


def fosberg_fire_weather_index(temperature, relative_humidity, wind_speed, maximum):
    """Fosberg fire weather index FFWI (0–100), as in SHARPlib ``fosberg_fire_index``:

    .. math::

        \\eta = 1 - 2m' + 1.5m'^2 - 0.5m'^3, \\quad m' = EMC/30, \\qquad
        FFWI = \\min\\left(\\frac{\\eta\\sqrt{1 + U^2}}{0.3002},\\ 100\\right)

    with the Simard EMC (%) and the 10 m wind U in mph.

    References
    ----------
    Fosberg, M. A., 1978: Weather in wildland fire management: the fire weather index.
    Proc. Conf. on Sierra Nevada Meteorology, AMS, 1–4. Goodrick, S. L., 2002: Modification
    of the Fosberg fire weather index to include drought. Int. J. Wildland Fire 11, 205–211.
    Halbert, K. T., SHARPlib ``src/SHARPlib/params/fire.cpp``.
    """
    cap = float(getattr(maximum, "m", maximum))

    def kernel(t, h, u):
        moisture = _equilibrium_moisture_content(t.m_as("degF"), h.m_as("percent")) / 30.0
        eta = 1.0 - 2.0 * moisture + 1.5 * moisture**2 - 0.5 * moisture**3
        mph = u.m_as("mph")
        return np.minimum(eta * np.sqrt(1.0 + mph**2) / 0.3002, cap)

    return pointwise(kernel, temperature, relative_humidity, wind_speed, units="1")


def hot_dry_windy_index(
    temperature,
    relative_humidity,
    eastward_wind,
    northward_wind,
    surface_temperature,
    surface_relative_humidity,
    surface_eastward_wind,
    surface_northward_wind,
    surface_pressure,
    layer_depth,
):
    """Hot–Dry–Windy index HDW (Srock et al. 2018):

    .. math:: HDW = \\max_{layer} U \\times \\max_{layer} VPD

    over the lowest ``layer_depth`` (50 hPa) above the ground: the 2 m / 10 m surface values
    and every pressure level with :math:`p_{sfc} - 50 \\le p \\le p_{sfc}`. The vapour-
    pressure deficit is :math:`VPD = e_s(T)(1 - RH)` with MetPy's
    ``saturation_vapor_pressure`` (hPa); U is the wind speed (m/s). Maxima of U and VPD
    may come from different levels.

    References
    ----------
    Srock, A. F., J. J. Charney, B. E. Potter and S. L. Goodrick, 2018: The Hot-Dry-Windy
    Index: a new fire weather index. Atmosphere 9, 279.
    """
    import metpy.calc as mpcalc

    def deficit(t, rh):
        return (mpcalc.saturation_vapor_pressure(t) * (1 - rh.m_as("1"))).m_as("hPa")

    surface_vpd = pointwise(deficit, surface_temperature, surface_relative_humidity, units="hPa")
    level_vpd = pointwise(deficit, temperature, relative_humidity, units="hPa")
    surface_wind = np.hypot(
        convert_dataarray(surface_eastward_wind, "m s-1"),
        convert_dataarray(surface_northward_wind, "m s-1"),
    )
    level_wind = np.hypot(
        convert_dataarray(eastward_wind, "m s-1"), convert_dataarray(northward_wind, "m s-1")
    )
    pressure = level_vpd["pressure"]
    ground = convert_dataarray(surface_pressure, "hPa")
    depth = quantity(layer_depth).m_as("hPa")
    inside = (pressure <= ground) & (pressure >= ground - depth)
    lowest_vpd = maximum_over(level_vpd.where(inside), "pressure").fillna(-np.inf)
    lowest_wind = maximum_over(level_wind.where(inside), "pressure").fillna(-np.inf)
    known = (
        surface_vpd.notnull()
        & surface_wind.notnull()
        & ~(inside & (level_vpd.isnull() | level_wind.isnull())).any("pressure")
    )
    index = (np.maximum(surface_vpd, lowest_vpd) * np.maximum(surface_wind, lowest_wind)).where(
        known
    )
    return with_units(index.transpose(*surface_temperature.dims), "hPa m s-1")
