"""Chinese climate-comfort indices: GB/T 27963 THI and wind-effect index, the operational
human comfort index (BCMI, 人体舒适度指数) and Missenard's effective temperature.

No library has these; they are written here from the formulas quoted in each docstring.
Formulas are evaluated on plain arrays block by block (``pointwise``); daily indices use
an explicit day definition (:data:`weatherdata.compute.DAY_DEFINITIONS`).
"""

from __future__ import annotations

import numpy as np

from weatherdata.compute import daily, pointwise
from weatherdata.units import unit_registry

from .public_helpers import magnitudes, sunshine_duration

DEGC = unit_registry.degC


def _thi(t_celsius, rh_percent):
    return t_celsius - 0.55 * (1 - rh_percent / 100) * (t_celsius - 14.4)


def _wind_effect(t_celsius, v_ms, sunshine_hours):
    return -(10 * np.sqrt(v_ms) + 10.45 - v_ms) * (33 - t_celsius) + 8.55 * sunshine_hours


def temperature_humidity_index(temperature, relative_humidity):
    """Temperature–humidity index of GB/T 27963-2011 (温湿指数), °C.

    .. math:: I = T - 0.55\\,(1 - f)\\,(T - 14.4)

    with :math:`T` in °C and :math:`f` the relative humidity as a fraction: Thom's
    discomfort index, :math:`DI = T_F - (0.55 - 0.55f)(T_F - 58)` in °F, written in °C.

    References
    ----------
    GB/T 27963-2011 人居环境气候舒适度评价. Thom, E. C., 1959: The discomfort index.
    Weatherwise, 12, 57–61.
    """
    return pointwise(
        lambda t, rh: unit_registry.Quantity(_thi(t.m_as("degC"), rh.m_as("percent")), DEGC),
        temperature,
        relative_humidity,
        units="degC",
    )


def _daily_wind_effect(
    temperature, wind_speed, direct_shortwave_down, day_definition, sunshine_threshold
):
    mean_temperature = daily(temperature, "mean", day=day_definition)
    mean_wind = daily(wind_speed, "mean", day=day_definition)
    sunshine = daily(
        sunshine_duration(direct_shortwave_down, sunshine_threshold), "sum", day=day_definition
    )
    return pointwise(
        lambda t, v, s: (
            _wind_effect(t.m_as("degC"), v.m_as("m/s"), s.m_as("hour"))
            * unit_registry.dimensionless
        ),
        mean_temperature,
        mean_wind,
        sunshine,
        units="1",
    )


def wind_effect_index(
    temperature, wind_speed, direct_shortwave_down, day_definition, sunshine_threshold
):
    """Daily wind-effect index of GB/T 27963-2011 (风效指数).

    .. math:: K = -(10\\sqrt{V} + 10.45 - V)(33 - T) + 8.55\\,S

    with the day's mean temperature :math:`T` (°C), mean 10 m wind :math:`V` (m s-1) and
    sunshine duration :math:`S` (h): Siple and Passel's cooling power of the wind (nominally
    kcal m-2 h-1, negative = heat lost) plus a solar gain. No sunshine recorder exists on
    the grid: :math:`S` counts the steps whose direct normal irradiance reaches the WMO
    sunshine threshold (120 W m-2), see :func:`.public_helpers.sunshine_duration`.

    References
    ----------
    GB/T 27963-2011 人居环境气候舒适度评价. Siple, P. A. and C. F. Passel, 1945:
    Measurements of dry atmospheric cooling in subfreezing temperatures. Proc. Amer.
    Philos. Soc., 89, 177–199.
    """
    return _daily_wind_effect(
        temperature, wind_speed, direct_shortwave_down, day_definition, sunshine_threshold
    )


def _grade(values, bounds, upper_closed_from: int):
    """Grades 1–5 from four increasing bounds; bounds with index ≥ ``upper_closed_from``
    belong to the grade below (``x ≤ b``), the others to the grade above (``x ≥ b``)."""
    grade = np.ones(np.shape(values), dtype=np.float64)
    for index, bound in enumerate(bounds):
        above = values > bound if index >= upper_closed_from else values >= bound
        grade = grade + above
    return np.where(np.isnan(values), np.nan, grade)


def grade_temperature_humidity_index(thi, bounds):
    """GB/T 27963 THI grade 1–5: ``[b1, b2)``, ``[b2, b3)`` … with the top bound (27.5)
    still in grade 4 (the table's 25.5–27.5 热, > 27.5 闷热)."""
    return _grade(np.asarray(thi, dtype=np.float64), bounds, upper_closed_from=3)


def grade_wind_effect_index(k, bounds):
    """GB/T 27963 K grade 1–5: < −400 1, [−400, −300) 2, [−300, −100] 3, (−100, −10] 4,
    > −10 5 (the upper two bounds belong to the grade below)."""
    return _grade(np.asarray(k, dtype=np.float64), bounds, upper_closed_from=2)


def _combined_grade(thi_grade, k_grade):
    """The grade further from comfortable (3); the THI grade when they point opposite ways."""
    thi_offset, k_offset = thi_grade - 3, k_grade - 3
    stronger = np.where(np.abs(k_offset) > np.abs(thi_offset), k_grade, thi_grade)
    return np.where(thi_offset * k_offset < 0, thi_grade, stronger)


def climate_comfort_grade(
    temperature,
    relative_humidity,
    wind_speed,
    direct_shortwave_down,
    day_definition,
    sunshine_threshold,
    temperature_humidity_index_bounds,
    wind_effect_index_bounds,
):
    """Daily climate-comfort grade of GB/T 27963-2011 (人居环境气候舒适度等级), 1–5.

    The temperature–humidity index :math:`I` of the day's mean temperature and humidity
    and the wind-effect index :math:`K` of the day are graded separately,

    ====== ========= =========================== ===========================
    grade  name      I (°C)                      K
    ====== ========= =========================== ===========================
    1      寒冷 cold  I < 14.0                    K < −400
    2      冷 cool    14.0 ≤ I < 17.0             −400 ≤ K < −300
    3      舒适       17.0 ≤ I < 25.5             −300 ≤ K ≤ −100
    4      热 warm    25.5 ≤ I ≤ 27.5             −100 < K ≤ −10
    5      闷热       I > 27.5                    K > −10
    ====== ========= =========================== ===========================

    and combined as the grade further from "comfortable" (3); when one index says cold
    and the other hot, the THI grade is kept (humidity-driven heat is what the THI
    measures and the K index cannot). The combination is a local choice: the standard's
    rule text was not available.
    """
    mean_temperature = daily(temperature, "mean", day=day_definition)
    mean_humidity = daily(relative_humidity, "mean", day=day_definition)
    wind_effect = _daily_wind_effect(
        temperature, wind_speed, direct_shortwave_down, day_definition, sunshine_threshold
    )
    thi_bounds = magnitudes(temperature_humidity_index_bounds, "degC")
    k_bounds = magnitudes(wind_effect_index_bounds, "dimensionless")

    def kernel(t, rh, k):
        thi = _thi(t.m_as("degC"), rh.m_as("percent"))
        grade = _combined_grade(
            grade_temperature_humidity_index(thi, thi_bounds),
            grade_wind_effect_index(k.m_as("dimensionless"), k_bounds),
        )
        return grade * unit_registry.dimensionless

    return pointwise(kernel, mean_temperature, mean_humidity, wind_effect, units="1")


def _comfort_ssd(t_celsius, rh_percent, v_ms):
    with np.errstate(divide="ignore", invalid="ignore"):
        ssd = (1.818 * t_celsius + 18.18) * (0.88 + 0.002 * rh_percent) + (t_celsius - 32) / (
            45 - t_celsius
        )
    return np.where(t_celsius < 45, ssd - 3.2 * v_ms + 18.2, np.nan)


def comfort_level_from_index(ssd, lower_bounds):
    """BCMI level −4 … +4 of index values: rounded half up to a whole number, then the
    number of ``lower_bounds`` (of levels −3 … +4) at or below it, minus 4."""
    ssd = np.asarray(ssd, dtype=np.float64)
    level = (
        np.searchsorted(
            np.asarray(lower_bounds, dtype=np.float64), np.floor(ssd + 0.5), side="right"
        )
        - 4.0
    )
    return np.where(np.isnan(ssd), np.nan, level)


def human_comfort_level(
    temperature, relative_humidity, wind_speed, day_definition, level_lower_bounds
):
    """Daily human comfort level (人体舒适度指数, BCMI/ssd), −4 … +4.

    .. math::

        ssd = (1.818\\,t + 18.18)(0.88 + 0.002\\,f) + \\frac{t - 32}{45 - t} - 3.2\\,v + 18.2

    with the day's mean temperature :math:`t` (°C), relative humidity :math:`f` (%) and
    10 m wind :math:`v` (m s-1); undefined (missing) at :math:`t \\ge 45` °C. The index is
    reported as an integer (rounded half up) and graded on the operational table: ≥86 +4,
    80–85 +3, 76–79 +2, 71–75 +1, 59–70 0, 51–58 −1, 39–50 −2, 26–38 −3, ≤25 −4.

    References
    ----------
    China Meteorological Administration operational 人体舒适度指数 (BCMI), as tabulated
    in 360docs.net/doc/511085272.html; see also the Shenzhen 9-level ICHB scheme.
    """
    mean_temperature = daily(temperature, "mean", day=day_definition)
    mean_humidity = daily(relative_humidity, "mean", day=day_definition)
    mean_wind = daily(wind_speed, "mean", day=day_definition)
    bounds = np.asarray(level_lower_bounds, dtype=np.float64)

    def kernel(t, rh, v):
        ssd = _comfort_ssd(t.m_as("degC"), rh.m_as("percent"), v.m_as("m/s"))
        return comfort_level_from_index(ssd, bounds) * unit_registry.dimensionless

    return pointwise(kernel, mean_temperature, mean_humidity, mean_wind, units="1")


def missenard_effective_temperature(temperature, relative_humidity):
    """Missenard's effective temperature (有效温度 TE), °C.

    .. math:: TE = T - 0.4\\,(T - 10)\\left(1 - \\frac{RH}{100}\\right)

    (:math:`T` in °C, :math:`RH` in %): humidity raises the felt temperature above 10 °C
    and lowers it below.

    References
    ----------
    Missenard, A., 1937: L'homme et le climat. Paris, Plon. Formula as quoted by
    Błażejczyk, K. et al., 2012: Comparison of UTCI to selected thermal indices.
    Int. J. Biometeorol., 56, 515–535.
    """

    def kernel(t, rh):
        t = t.m_as("degC")
        return unit_registry.Quantity(t - 0.4 * (t - 10) * (1 - rh.m_as("percent") / 100), DEGC)

    return pointwise(kernel, temperature, relative_humidity, units="degC")


__all__ = [
    "climate_comfort_grade",
    "human_comfort_level",
    "missenard_effective_temperature",
    "temperature_humidity_index",
    "wind_effect_index",
]
