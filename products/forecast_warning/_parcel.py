"""Vectorized parcel and profile kernels (numba) reproducing MetPy 1.7 column by column.

MetPy's sounding functions (``surface_based_cape_cin``, ``mixed_layer_cape_cin``,
``most_unstable_cape_cin``, ``downdraft_cape``, ``lfc``, ``el``, ``ccl``,
``showalter_index``, ``bunkers_storm_motion``, ``storm_relative_helicity``, …) work on one
1-D profile at a time and integrate the moist adiabat with ``scipy.integrate.solve_ivp``:
about 5–20 ms per column. This module runs the *same* steps for many columns at once,
compiled with numba (``nogil``: Dask runs blocks in parallel threads):

* saturation vapour pressure of Ambaum (2020), dewpoint by inverting Bolton (1980), as
  MetPy does (MetPy mixes the two; so do we);
* the LCL of Romps (2017) with the Lambert-W function (branch −1), as ``metpy.calc.lcl``;
* the pseudo-adiabat ``dT/dlnp = (R_d T + L_v r_s)/(c_pd + L_v² r_s ε/(R_d T²))``
  (Bakhshaii 2013, MetPy's ``moist_lapse``) integrated with classical Runge–Kutta in
  ``ln p`` (step ≤ :data:`LOG_PRESSURE_STEP`), instead of LSODA: the ODE solution is the
  same to ~1e-4 K;
* the LCL inserted in the parcel profile, virtual-temperature correction of parcel and
  environment, LFC (lowest, ``which='bottom'``) and EL (highest) with MetPy's quirks
  (LFC = LCL rules, the LCL of the *virtual* parcel temperature), log-p interpolated
  zero crossings and trapezoidal integration in ``ln p`` exactly as ``metpy.calc.cape_cin``.

Columns are built as MetPy users build soundings from gridded data: the surface
(2 m temperature and dewpoint at the surface pressure) followed by the pressure levels
strictly above the ground (``p_level < p_surface``) with finite values; heights are the
geopotential heights of those levels and the terrain height at the surface.

Agreement with MetPy (tests/products/test_forecast_convective.py, 3000+ columns): CAPE within
0.07 J/kg, CIN within 0.003 J/kg, LCL to 1e-11 hPa, LFC/EL to 0.005 hPa, kinematics to
1e-12. Known differences:

* the moist adiabat: LSODA in MetPy differs from the converged solution by up to ~1.2e-4 K;
* a parcel that starts exactly saturated (Td = T) has its LCL at the start pressure; MetPy's
  floating-point LCL lands on it or 1 ulp above/below, and the branch decides where the LCL
  point is inserted — with a slightly stable first layer MetPy then returns either 0 or the
  full CAPE. The kernels take the exact value (MetPy's most frequent branch);
* the EL of :func:`_cape_cin` is missing when there is no LFC (``cape_cin`` stops there),
  and LFC/EL are those of ``cape_cin`` (virtual temperatures, ``which_lfc='bottom'``), not
  the defaults of ``metpy.calc.lfc`` (``which='top'``, no virtual correction).

Kernels take 2-D arrays ``(column, level)`` and return ``(column, field)`` arrays;
:func:`apply_columns` wraps them with :func:`xarray.apply_ufunc` (``dask="parallelized"``,
``pressure`` as core dimension) so recipes stay lazy.

References
----------
Ambaum, M. H. P., 2020: Accurate, simple equation for saturated vapour pressure over water
and ice. QJRMS 146, 4252–4258. —
Bakhshaii, A. and R. Stull, 2013: Saturated pseudoadiabats — a noniterative approximation.
JAMC 52, 5–15. —
Bolton, D., 1980: The computation of equivalent potential temperature. MWR 108, 1046–1053. —
Romps, D. M., 2017: Exact expression for the lifting condensation level. JAS 74, 3891–3900. —
May, R. M. et al., 2022: MetPy. BAMS 103, E2273–E2284.
"""

from __future__ import annotations

import math

import metpy.constants.nounit as _c
import numpy as np
import xarray as xr
from numba import njit

from weatherdata.compute import columns_in_pieces

__all__ = [
    "KINEMATIC_FIELDS",
    "LOG_PRESSURE_STEP",
    "MIXED_LAYER_FIELDS",
    "MOST_UNSTABLE_FIELDS",
    "PROFILE_FIELDS",
    "SURFACE_BASED_FIELDS",
    "apply_columns",
    "equivalent_potential_temperature",
    "kinematic_columns",
    "lcl",
    "mixed_layer_columns",
    "moist_lapse",
    "most_unstable_columns",
    "profile_columns",
    "saturation_vapor_pressure",
    "surface_based_columns",
    "wet_bulb_temperature",
]

# MetPy's constants (SI, floats) frozen into the compiled code.
RD = float(_c.Rd)
RV = float(_c.Rv)
CP_D = float(_c.Cp_d)
CP_V = float(_c.Cp_v)
CP_L = float(_c.Cp_l)
LV = float(_c.Lv)
T0 = float(_c.T0)  # triple point, 273.16 K
ZERO_CELSIUS = float(_c.zero_degc)  # 273.15 K
ES0 = float(_c.sat_pressure_0c)  # 611.2 Pa
EPSILON = float(_c.epsilon)
KAPPA = float(_c.kappa)
P0_HPA = 1000.0

#: Largest Runge–Kutta step of the moist adiabat in ln p (10 % of pressure; ~23 steps from
#: 1000 to 100 hPa, about one per standard pressure level). RK4 at this step agrees with
#: the converged solution to ~2e-5 K; MetPy's LSODA (rtol 1.5e-8) differs from it by up
#: to ~1.2e-4 K, which bounds the agreement (≈ 0.1 J/kg of CAPE).
LOG_PRESSURE_STEP = 0.1

_NAN = np.nan
# Typed (non-literal) constants: literal arguments would make numba compile one
# specialization per value.
_ZERO = np.int64(0)
_ONE = np.int64(1)
_INCREASING = 1.0
_DECREASING = -1.0
_ALL = 0.0
_HEAT_POWER = (CP_L - CP_V) / RV


# --------------------------------------------------------------------------- thermo


@njit(cache=True, error_model="numpy")
def _isclose(a, b):
    """numpy.isclose(a, b) with its defaults (rtol 1e-5, atol 1e-8)."""
    return abs(a - b) <= 1e-8 + 1e-5 * abs(b)


@njit(cache=True, error_model="numpy")
def saturation_vapor_pressure(temperature):
    """Ambaum (2020) Eq. 13 over liquid water [Pa] (``metpy.calc.saturation_vapor_pressure``)."""
    latent_heat = LV - (CP_L - CP_V) * (temperature - T0)
    return (
        ES0
        * (T0 / temperature) ** _HEAT_POWER
        * math.exp((LV / T0 - latent_heat / temperature) / RV)
    )


@njit(cache=True, error_model="numpy")
def saturation_mixing_ratio(pressure_hpa, temperature):
    """:math:`r_s = \\varepsilon e_s/(p - e_s)`; NaN where :math:`e_s \\ge p` (as MetPy)."""
    pressure = pressure_hpa * 100.0
    es = saturation_vapor_pressure(temperature)
    if es >= pressure:
        return _NAN
    return EPSILON * es / (pressure - es)


@njit(cache=True, error_model="numpy")
def dewpoint_from_vapor_pressure(vapor_pressure_pa):
    """Inverse of Bolton's formula, as ``metpy.calc.dewpoint`` [K]."""
    value = math.log(vapor_pressure_pa / ES0)
    return ZERO_CELSIUS + 243.5 * value / (17.67 - value)


@njit(cache=True, error_model="numpy")
def virtual_temperature(temperature, mixing_ratio):
    """:math:`T_v = T (r + \\varepsilon)/(\\varepsilon (1 + r))`."""
    return temperature * (mixing_ratio + EPSILON) / (EPSILON * (1.0 + mixing_ratio))


@njit(cache=True, error_model="numpy")
def equivalent_potential_temperature(pressure_hpa, temperature, dewpoint):
    """Bolton (1980) θe as ``metpy.calc.equivalent_potential_temperature`` [K]."""
    r = saturation_mixing_ratio(pressure_hpa, dewpoint)
    e_hpa = saturation_vapor_pressure(dewpoint) / 100.0
    t_l = 56.0 + 1.0 / (1.0 / (dewpoint - 56.0) + math.log(temperature / dewpoint) / 800.0)
    theta_l = (
        temperature * (P0_HPA / (pressure_hpa - e_hpa)) ** KAPPA * (temperature / t_l) ** (0.28 * r)
    )
    return theta_l * math.exp(r * (1.0 + 0.448 * r) * (3036.0 / t_l - 1.78))


@njit(cache=True, error_model="numpy")
def _lambertw_minus_one(z):
    """Lower real branch W₋₁(z) of the Lambert W function, −1/e ≤ z < 0 (Halley)."""
    branch = -1.0 / math.e
    if z < branch:
        if z > branch - 1e-12:
            return -1.0
        return _NAN
    if z >= 0.0:
        return _NAN
    if z < -0.25:
        q = -math.sqrt(2.0 * (math.e * z + 1.0))
        w = -1.0 + q - q * q / 3.0 + 11.0 / 72.0 * q * q * q
    else:
        l1 = math.log(-z)
        l2 = math.log(-l1)
        w = l1 - l2 + l2 / l1
    for _ in range(50):
        ew = math.exp(w)
        f = w * ew - z
        wp1 = w + 1.0
        if wp1 == 0.0:
            break
        step = f / (ew * wp1 - (w + 2.0) * f / (2.0 * wp1))
        w -= step
        if abs(step) <= 1e-15 * (1.0 + abs(w)):
            break
    return w


@njit(cache=True, error_model="numpy")
def lcl(pressure_hpa, temperature, dewpoint):
    """Lifting condensation level of Romps (2017), as ``metpy.calc.lcl``: (p [hPa], T [K]).

    A saturated parcel (dewpoint equal to temperature) is at its LCL: the exact solution
    (W₋₁(c eᶜ) = c) is returned without rounding, which is also what MetPy obtains for
    most such parcels (its floating-point result lands ±1 ulp around the start pressure
    for the others, see the module notes).
    """
    if dewpoint == temperature:
        return pressure_hpa, temperature
    w = saturation_mixing_ratio(pressure_hpa, dewpoint)
    q = w / (1.0 + w)
    moist_heat_ratio = (CP_D + q * (CP_V - CP_D)) / (RD + q * (RV - RD))
    spec_heat_diff = CP_L - CP_V
    a = moist_heat_ratio + spec_heat_diff / RV
    b = -(LV + spec_heat_diff * T0) / (RV * temperature)
    c = b / a
    relative_humidity = saturation_vapor_pressure(dewpoint) / saturation_vapor_pressure(temperature)
    w_minus1 = _lambertw_minus_one(relative_humidity ** (1.0 / a) * c * math.exp(c))
    t_lcl = c / w_minus1 * temperature
    p_lcl = pressure_hpa * 100.0 * (t_lcl / temperature) ** moist_heat_ratio / 100.0
    return p_lcl, t_lcl


# Ambaum's e_s(T) = e_s0 (T0/T)^a exp((L0/T0 − L(T)/T)/Rv) with L(T) = L0 − (c_pl − c_pv)(T − T0),
# regrouped as exp(C − a ln T − B/T): one log and one exp per call in the ODE's inner loop.
_ES_LOG_CONSTANT = math.log(ES0) + _HEAT_POWER * math.log(T0) + (LV / T0 + (CP_L - CP_V)) / RV
_ES_INVERSE_T = (LV + (CP_L - CP_V) * T0) / RV


@njit(cache=True, error_model="numpy")
def _moist_slope(pressure_pa, temperature):
    """dT/dln p on the pseudo-adiabat (MetPy ``moist_lapse``'s ODE times p)."""
    es = math.exp(
        _ES_LOG_CONSTANT - _HEAT_POWER * math.log(temperature) - _ES_INVERSE_T / temperature
    )
    rs = EPSILON * es / (pressure_pa - es) if es < pressure_pa else _NAN
    return (RD * temperature + LV * rs) / (
        CP_D + LV * LV * rs * EPSILON / (RD * temperature * temperature)
    )


@njit(cache=True, error_model="numpy")
def moist_lapse(pressure_from_hpa, temperature, pressure_to_hpa):
    """Temperature at ``pressure_to`` on the pseudo-adiabat through (``pressure_from``, ``temperature``).

    Classical RK4 in ln p (pressures in Pa inside, like MetPy), steps ≤ LOG_PRESSURE_STEP.
    """
    if _isclose(pressure_to_hpa * 100.0, pressure_from_hpa * 100.0):
        return temperature
    span = math.log(pressure_to_hpa / pressure_from_hpa)
    steps = max(1, math.ceil(abs(span) / LOG_PRESSURE_STEP))
    h = span / steps
    half = math.exp(0.5 * h)
    pressure = pressure_from_hpa * 100.0
    t = temperature
    for _ in range(steps):
        middle = pressure * half
        k1 = _moist_slope(pressure, t)
        k2 = _moist_slope(middle, t + 0.5 * h * k1)
        k3 = _moist_slope(middle, t + 0.5 * h * k2)
        pressure = middle * half
        k4 = _moist_slope(pressure, t + h * k3)
        t = t + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return t


@njit(cache=True, error_model="numpy")
def wet_bulb_temperature(pressure_hpa, temperature, dewpoint):
    """Normand's rule as ``metpy.calc.wet_bulb_temperature``: moist adiabat from the LCL."""
    p_lcl, t_lcl = lcl(pressure_hpa, temperature, dewpoint)
    return moist_lapse(p_lcl, t_lcl, pressure_hpa)


# --------------------------------------------------------------------- profile tools


@njit(cache=True, error_model="numpy")
def _sign(x):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    if x == 0.0:
        return 0.0
    return _NAN


@njit(cache=True, error_model="numpy")
def _intersections(pressure, a, b, start, n, direction, out_p, out_t):
    """``metpy.calc.find_intersections(p[start:n], a, b, direction, log_x=True)``.

    ``direction``: +1.0 increasing (a − b turns positive), −1.0 decreasing, 0.0 all. Keeps
    MetPy's handling of exact touches (sign 0) and of duplicate crossings. Returns the
    number of crossings written to ``out_p`` (hPa) and ``out_t``.
    """
    count = 0
    tmp_x = np.empty(max(n - start, 1))
    tmp_y = np.empty(max(n - start, 1))
    tmp_s = np.empty(max(n - start, 1))
    for i in range(start, n - 1):
        s0 = _sign(a[i] - b[i])
        s1 = _sign(a[i + 1] - b[i + 1])
        if s0 == s1:
            continue
        x0 = math.log(pressure[i])
        x1 = math.log(pressure[i + 1])
        d0 = a[i] - b[i]
        d1 = a[i + 1] - b[i + 1]
        ix = (d1 * x0 - d0 * x1) / (d1 - d0)
        iy = ((ix - x0) / (x1 - x0)) * (a[i + 1] - a[i]) + a[i]
        tmp_x[count] = math.exp(ix)
        tmp_y[count] = iy
        tmp_s[count] = s1
        count += 1
    kept = 0
    for j in range(count):
        if j < count - 1 and tmp_x[j + 1] - tmp_x[j] == 0.0:
            continue
        if direction > 0 and not tmp_s[j] > 0:
            continue
        if direction < 0 and not tmp_s[j] < 0:
            continue
        out_p[kept] = tmp_x[j]
        out_t[kept] = tmp_y[j]
        kept += 1
    return kept


@njit(cache=True, error_model="numpy")
def _interp_linear(x, xp_desc, fp, n):
    """``metpy.interpolate.interpolate_1d`` at one point, ``xp`` decreasing (NaN outside)."""
    # xp ascending is xp_desc reversed: index j ascending ↔ n-1-j descending.
    if not (x >= xp_desc[n - 1] and x <= xp_desc[0]):
        return _NAN
    # searchsorted(left) in the ascending copy: first ascending index with value >= x.
    above = 0
    for j in range(n):
        if xp_desc[n - 1 - j] >= x:
            above = j
            break
    if above == 0:
        above = 1
    ia = n - 1 - above
    ib = n - above
    return fp[ib] + (fp[ia] - fp[ib]) * ((x - xp_desc[ib]) / (xp_desc[ia] - xp_desc[ib]))


@njit(cache=True, error_model="numpy")
def _interp_log(x, xp_desc, fp, n):
    """``metpy.interpolate.log_interpolate_1d`` at one point (linear in ln p)."""
    if not (x >= xp_desc[n - 1] and x <= xp_desc[0]):
        return _NAN
    lx = math.log(x)
    # searchsorted(left) of ln x in ln xp ascending (xp_desc reversed), by bisection: the
    # logs of a column's distinct levels increase strictly, so this is the index a linear
    # scan finds, with a handful of logarithms instead of one per level.
    low = 0
    high = n - 1
    if math.log(xp_desc[0]) < lx:
        high = n
    while low < high:
        middle = (low + high) // 2
        if math.log(xp_desc[n - 1 - middle]) >= lx:
            high = middle
        else:
            low = middle + 1
    above = low if low < n else 0
    if above == 0:
        above = 1
    ia = n - 1 - above
    ib = n - above
    la = math.log(xp_desc[ia])
    lb = math.log(xp_desc[ib])
    return fp[ib] + (fp[ia] - fp[ib]) * ((lx - lb) / (la - lb))


@njit(cache=True, error_model="numpy")
def _height_at_pressure(pressure, column_p, column_z, n):
    """Height at ``pressure`` interpolated linearly in ln p (NaN outside the column)."""
    if not (pressure == pressure) or n < 2:
        return _NAN
    return _interp_log(pressure, column_p, column_z, n)


@njit(cache=True, error_model="numpy")
def _pressure_at_height(height, column_p, column_z, n):
    """``numpy.interp(height, z, p)`` (linear in height), NaN outside, as MetPy's get_layer."""
    if not (height >= column_z[0] and height <= column_z[n - 1]):
        return _NAN
    for k in range(n - 1):
        if column_z[k + 1] >= height:
            if column_z[k + 1] == column_z[k]:
                return column_p[k + 1]
            f = (height - column_z[k]) / (column_z[k + 1] - column_z[k])
            return column_p[k] + f * (column_p[k + 1] - column_p[k])
    return column_p[n - 1]


@njit(cache=True, error_model="numpy")
def _trapezoid(y, x, n):
    total = 0.0
    for i in range(n - 1):
        total += 0.5 * (y[i] + y[i + 1]) * (x[i + 1] - x[i])
    return total


# --------------------------------------------------------------- parcel and CAPE/CIN


@njit(cache=True, error_model="numpy")
def _parcel_profile(p, n, start_t, start_td, tp):
    """``metpy.calc.parcel_profile(p, start_t, start_td)`` written to ``tp[:n]``; returns the LCL."""
    p_lcl, t_lcl = lcl(p[0], start_t, start_td)
    k_lcl = 0
    for i in range(n):
        if p[i] >= p_lcl:
            k_lcl += 1
    reference = p[0] if k_lcl > 0 else p_lcl
    t_dry_lcl = start_t * (p_lcl / reference) ** KAPPA
    top_below_lcl = p[n - 1] >= p_lcl or _isclose(p[n - 1], p_lcl)
    p_prev = p_lcl
    t_prev = t_dry_lcl
    for i in range(n):
        if i >= k_lcl and top_below_lcl:
            tp[i] = _NAN
            continue
        if i < k_lcl:
            tp[i] = start_t * (p[i] / reference) ** KAPPA
        elif _isclose(p[i] * 100.0, p_lcl * 100.0):
            tp[i] = t_dry_lcl
        else:
            tp[i] = moist_lapse(p_prev, t_prev, p[i])
            p_prev = p[i]
            t_prev = tp[i]
    return p_lcl, t_lcl


@njit(cache=True, error_model="numpy")
def _parcel_profile_with_lcl(p, t, td, n, parcel, p_lcl, t_lcl, pp, tp, te, tde):
    """``metpy.calc.parcel_profile_with_lcl`` for a parcel starting at p[0] with (start_t, start_td).

    Writes the pressures with the LCL inserted (``pp``), the parcel temperatures (``tp``)
    and the environment interpolated (linearly in p) to the LCL (``te``, ``tde``), then
    drops points with a missing value as ``metpy.calc.cape_cin`` does. ``parcel`` and the
    LCL come from :func:`_parcel_profile`. Returns the length.
    """
    k_lcl = 0
    for i in range(n):
        if p[i] >= p_lcl:
            k_lcl += 1
    top_below_lcl = p[n - 1] >= p_lcl or _isclose(p[n - 1], p_lcl)
    out = 0
    for i in range(n + 1):
        if i == k_lcl:
            pp[out] = p_lcl
            tp[out] = t_lcl
            te[out] = _interp_linear(p_lcl, p, t, n)
            tde[out] = _interp_linear(p_lcl, p, td, n)
            out += 1
        if i == n:
            break
        if i < k_lcl or not top_below_lcl:
            pp[out] = p[i]
            tp[out] = parcel[i]
            te[out] = t[i]
            tde[out] = td[i]
            out += 1
    m = 0
    for i in range(out):
        if pp[i] == pp[i] and tp[i] == tp[i] and te[i] == te[i] and tde[i] == tde[i]:
            pp[m] = pp[i]
            tp[m] = tp[i]
            te[m] = te[i]
            tde[m] = tde[i]
            m += 1
    return m


@njit(cache=True, error_model="numpy")
def _cape_cin(pp, te, tde, tp, m, result):
    """``metpy.calc.cape_cin(p, T, Td, parcel, which_lfc='bottom', which_el='top')``.

    ``result`` ← [cape, cin, lfc_pressure, el_pressure] (J/kg, J/kg, hPa, hPa; LFC/EL NaN
    when MetPy finds none).
    """
    result[0] = 0.0
    result[1] = 0.0
    result[2] = _NAN
    result[3] = _NAN
    if m < 2:
        return
    p_lcl_env = lcl(pp[0], te[0], tde[0])[0]
    tve = np.empty(m)
    tvp = np.empty(m)
    parcel_start_mixing = saturation_mixing_ratio(pp[0], tde[0])
    for i in range(m):
        tve[i] = virtual_temperature(te[i], saturation_mixing_ratio(pp[i], tde[i]))
        if pp[i] > p_lcl_env:
            mixing = parcel_start_mixing
        else:
            mixing = saturation_mixing_ratio(pp[i], tp[i])
        tvp[i] = virtual_temperature(tp[i], mixing)

    crossing_p = np.empty(m)
    crossing_t = np.empty(m)
    # ---- LFC (metpy.calc.lfc, which='bottom', on virtual temperatures)
    start = _ONE if _isclose(tvp[0], tve[0]) else _ZERO
    count = _intersections(pp, tvp, tve, start, m, _INCREASING, crossing_p, crossing_t)
    this_lcl = lcl(pp[0], tvp[0], tde[0])[0]
    lfc_p = _NAN
    if count == 0:
        positive_above_lcl = False
        for i in range(m):
            if pp[i] < this_lcl and not (tvp[i] < tve[i] or _isclose(tvp[i], tve[i])):
                positive_above_lcl = True
        if positive_above_lcl:
            lfc_p = this_lcl
    else:
        first_valid = -1
        for j in range(count):
            if crossing_p[j] < this_lcl:
                first_valid = j
                break
        if first_valid < 0:
            el_count = _intersections(pp, tvp, tve, _ONE, m, _DECREASING, crossing_p, crossing_t)
            lowest = np.inf
            for j in range(el_count):
                lowest = min(lowest, crossing_p[j])
            if not (el_count > 0 and lowest > this_lcl):
                lfc_p = this_lcl
        else:
            lfc_p = crossing_p[first_valid]
    if not (lfc_p == lfc_p):
        return
    # ---- EL (metpy.calc.el, which='top')
    el_p = _NAN
    if not tvp[m - 1] > tve[m - 1]:
        count = _intersections(pp, tvp, tve, _ONE, m, _DECREASING, crossing_p, crossing_t)
        p_lcl_virtual_env = lcl(pp[0], tve[0], tde[0])[0]
        if count > 0 and crossing_p[count - 1] < p_lcl_virtual_env:
            el_p = crossing_p[count - 1]
    el_limit = el_p if el_p == el_p else pp[m - 1]
    # ---- zero crossings of the buoyancy, appended and sorted by ascending pressure
    y = np.empty(m)
    zeros = np.zeros(m)
    for i in range(m):
        y[i] = tvp[i] - tve[i]
    count = _intersections(pp, y, zeros, _ONE, m, _ALL, crossing_p, crossing_t)
    total = m + count
    xs = np.empty(total)
    ys = np.empty(total)
    # Merge two pressure-descending sequences into ascending order.
    i = m - 1
    j = count - 1
    for k in range(total):
        if j < 0 or (i >= 0 and pp[i] <= crossing_p[j]):
            xs[k] = pp[i]
            ys[k] = y[i]
            i -= 1
        else:
            xs[k] = crossing_p[j]
            ys[k] = crossing_t[j]
            j -= 1
    # Remove near duplicates (keep the last of each run, as MetPy's ediff1d mask).
    kept = 0
    for k in range(total):
        if k < total - 1 and not (xs[k + 1] - xs[k] > 1e-6):
            continue
        xs[kept] = xs[k]
        ys[kept] = ys[k]
        kept += 1
    # ---- CAPE between LFC and EL, CIN below the LFC (trapezoid in ln p)
    cape_x = np.empty(kept)
    cape_y = np.empty(kept)
    nc = 0
    ncin = 0
    cin_x = np.empty(kept)
    cin_y = np.empty(kept)
    for k in range(kept):
        x = xs[k]
        below_lfc = x < lfc_p or _isclose(x, lfc_p)
        above_el = x > el_limit or _isclose(x, el_limit)
        if below_lfc and above_el:
            cape_x[nc] = math.log(x)
            cape_y[nc] = ys[k]
            nc += 1
        if x > lfc_p or _isclose(x, lfc_p):
            cin_x[ncin] = math.log(x)
            cin_y[ncin] = ys[k]
            ncin += 1
    cape = RD * _trapezoid(cape_y, cape_x, nc)
    cin = RD * _trapezoid(cin_y, cin_x, ncin)
    if cin > 0.0:
        cin = 0.0
    result[0] = cape
    result[1] = cin
    result[2] = lfc_p
    result[3] = el_p


@njit(cache=True, error_model="numpy")
def _build_column(levels, t_levels, td_levels, z_levels, p_sfc, t_sfc, td_sfc, z_sfc, p, t, td, z):
    """Surface + levels strictly above it with finite T, Td (and z). Returns the length (0 = NaN)."""
    if not (
        math.isfinite(p_sfc)
        and math.isfinite(t_sfc)
        and math.isfinite(td_sfc)
        and math.isfinite(z_sfc)
    ):
        return 0
    p[0] = p_sfc
    t[0] = t_sfc
    td[0] = td_sfc
    z[0] = z_sfc
    n = 1
    for k in range(levels.shape[0]):
        finite = (
            math.isfinite(t_levels[k])
            and math.isfinite(td_levels[k])
            and math.isfinite(z_levels[k])
        )
        if levels[k] < p_sfc and finite:
            p[n] = levels[k]
            t[n] = t_levels[k]
            td[n] = td_levels[k]
            z[n] = z_levels[k]
            n += 1
    return n


@njit(cache=True, error_model="numpy")
def _parcel_cape(p, t, td, n, start_t, start_td, parcel, result):
    """Parcel from p[0] with (start_t, start_td) on the column p/t/td: result ← cape, cin, lfc, el.

    The parcel temperatures at the levels (``metpy.calc.parcel_profile``) are written to
    ``parcel``; returns the LCL (p, T).
    """
    p_lcl, t_lcl = _parcel_profile(p, n, start_t, start_td, parcel)
    size = n + 1
    pp = np.empty(size)
    tp = np.empty(size)
    te = np.empty(size)
    tde = np.empty(size)
    m = _parcel_profile_with_lcl(p, t, td, n, parcel, p_lcl, t_lcl, pp, tp, te, tde)
    _cape_cin(pp, te, tde, tp, m, result)
    return p_lcl, t_lcl


# Fields of each kernel's output (the last axis, in this order) and their units.
SURFACE_BASED_FIELDS = {
    "cape": "J kg-1",
    "cin": "J kg-1",
    "lcl_pressure": "hPa",
    "lcl_temperature": "K",
    "lcl_height": "m",
    "lfc_pressure": "hPa",
    "lfc_height": "m",
    "el_pressure": "hPa",
    "el_height": "m",
    "lifted_index": "K",
    "cape_0_3km": "J kg-1",
}
MIXED_LAYER_FIELDS = {
    "cape": "J kg-1",
    "cin": "J kg-1",
    "lcl_pressure": "hPa",
    "lcl_height": "m",
    "lfc_pressure": "hPa",
    "lfc_height": "m",
    "el_pressure": "hPa",
    "el_height": "m",
    "parcel_temperature": "K",
    "parcel_dewpoint": "K",
}
MOST_UNSTABLE_FIELDS = {
    "cape": "J kg-1",
    "cin": "J kg-1",
    "lcl_pressure": "hPa",
    "lcl_height": "m",
    "lfc_pressure": "hPa",
    "lfc_height": "m",
    "el_pressure": "hPa",
    "el_height": "m",
    "parcel_pressure": "hPa",
    "parcel_temperature": "K",
    "parcel_dewpoint": "K",
    "parcel_mixing_ratio": "kg kg-1",
}
PROFILE_FIELDS = {
    "downdraft_cape": "J kg-1",
    "showalter_index": "K",
    "wet_bulb_zero_height": "m",
    "freezing_level_height": "m",
    "convective_temperature": "K",
    "lapse_rate_700_500": "K km-1",
    "temperature_500": "K",
}
KINEMATIC_FIELDS = {
    "bulk_shear_shallow_eastward": "m s-1",
    "bulk_shear_shallow_northward": "m s-1",
    "bulk_shear_deep_eastward": "m s-1",
    "bulk_shear_deep_northward": "m s-1",
    "storm_relative_helicity_shallow": "m2 s-2",
    "storm_relative_helicity_deep": "m2 s-2",
    "bunkers_right_eastward": "m s-1",
    "bunkers_right_northward": "m s-1",
    "bunkers_left_eastward": "m s-1",
    "bunkers_left_northward": "m s-1",
    "mean_wind_0_6km_eastward": "m s-1",
    "mean_wind_0_6km_northward": "m s-1",
    "corfidi_upshear_eastward": "m s-1",
    "corfidi_upshear_northward": "m s-1",
    "corfidi_downshear_eastward": "m s-1",
    "corfidi_downshear_northward": "m s-1",
    "critical_angle": "degree",
}

_N_SURFACE_BASED = len(SURFACE_BASED_FIELDS)
_N_MIXED_LAYER = len(MIXED_LAYER_FIELDS)
_N_MOST_UNSTABLE = len(MOST_UNSTABLE_FIELDS)
_N_PROFILE = len(PROFILE_FIELDS)
_N_KINEMATIC = len(KINEMATIC_FIELDS)


@njit(cache=True, error_model="numpy")
def _surface_based_column(p, t, td, z, n, low_level_depth, out):
    result = np.empty(4)
    parcel = np.empty(n)
    p_lcl, t_lcl = _parcel_cape(p, t, td, n, t[0], td[0], parcel, result)
    out[0] = result[0]
    out[1] = result[1]
    out[2] = p_lcl
    out[3] = t_lcl
    out[4] = _height_at_pressure(p_lcl, p, z, n) - z[0]
    out[5] = result[2]
    out[6] = _height_at_pressure(result[2], p, z, n) - z[0]
    out[7] = result[3]
    out[8] = _height_at_pressure(result[3], p, z, n) - z[0]
    # Lifted index (metpy.calc.lifted_index with parcel_profile(p, T[0], Td[0])).
    out[9] = _interp_linear(500.0, p, t, n) - _interp_linear(500.0, p, parcel, n)
    # 0–3 km CAPE: surface_based_cape_cin on the profile cut low_level_depth above the surface
    # (get_layer: level pressure at z_sfc + 3 km by numpy.interp in height, T and Td
    # interpolated in ln p).
    p_top = _pressure_at_height(z[0] + low_level_depth, p, z, n)
    if not (p_top == p_top):
        out[10] = _NAN
        return
    cut_p = np.empty(n + 1)
    cut_t = np.empty(n + 1)
    cut_td = np.empty(n + 1)
    k = 0
    has_top = False
    for i in range(n):
        if p[i] > p_top or _isclose(p[i], p_top):
            cut_p[k] = p[i]
            cut_t[k] = t[i]
            cut_td[k] = td[i]
            if _isclose(p_top, p[i]):
                has_top = True
            k += 1
    if not has_top:
        cut_p[k] = p_top
        cut_t[k] = _interp_log(p_top, p, t, n)
        cut_td[k] = _interp_log(p_top, p, td, n)
        k += 1
    _parcel_cape(cut_p, cut_t, cut_td, k, cut_t[0], cut_td[0], np.empty(k), result)
    out[10] = result[0]


@njit(cache=True, error_model="numpy")
def _mixed_layer_column(p, t, td, z, n, depth, out):
    """metpy.calc.mixed_layer_cape_cin (mixed_parcel over ``depth`` hPa, then cape_cin)."""
    for i in range(out.shape[0]):
        out[i] = _NAN
    bottom = p[0]
    top = bottom - depth
    if top < p[n - 1] and not _isclose(top, p[n - 1]):
        return
    # get_layer(p, θ, r, depth): levels within [top, bottom] plus the interpolated top.
    layer_p = np.empty(n + 1)
    layer_theta = np.empty(n + 1)
    layer_r = np.empty(n + 1)
    theta = np.empty(n)
    mixing = np.empty(n)
    for i in range(n):
        theta[i] = t[i] / (p[i] / P0_HPA) ** KAPPA
        mixing[i] = saturation_mixing_ratio(p[i], td[i])
    k = 0
    has_top = False
    for i in range(n):
        if (p[i] < bottom or _isclose(p[i], bottom)) and (p[i] > top or _isclose(p[i], top)):
            layer_p[k] = p[i]
            k += 1
            if _isclose(top, p[i]):
                has_top = True
    if not has_top:
        layer_p[k] = top
        k += 1
    for i in range(k):
        layer_theta[i] = _interp_log(layer_p[i], p, theta, n)
        layer_r[i] = _interp_log(layer_p[i], p, mixing, n)
    actual_depth = abs(layer_p[0] - layer_p[k - 1])
    mean_theta = -_trapezoid(layer_theta, layer_p, k) / actual_depth
    mean_mixing = -_trapezoid(layer_r, layer_p, k) / actual_depth
    parcel_t = mean_theta * (bottom / P0_HPA) ** KAPPA
    vapor = bottom * 100.0 * mean_mixing / (EPSILON + mean_mixing)
    parcel_td = dewpoint_from_vapor_pressure(vapor)
    # The profile: the mixed parcel at the surface, then the levels above the layer.
    prof_p = np.empty(n)
    prof_t = np.empty(n)
    prof_td = np.empty(n)
    prof_p[0] = bottom
    prof_t[0] = parcel_t
    prof_td[0] = parcel_td
    m = 1
    for i in range(n):
        if p[i] < top:
            prof_p[m] = p[i]
            prof_t[m] = t[i]
            prof_td[m] = td[i]
            m += 1
    result = np.empty(4)
    parcel = np.empty(m)
    p_lcl, _t_lcl = _parcel_cape(prof_p, prof_t, prof_td, m, parcel_t, parcel_td, parcel, result)
    out[0] = result[0]
    out[1] = result[1]
    out[2] = p_lcl
    out[3] = _height_at_pressure(p_lcl, p, z, n) - z[0]
    out[4] = result[2]
    out[5] = _height_at_pressure(result[2], p, z, n) - z[0]
    out[6] = result[3]
    out[7] = _height_at_pressure(result[3], p, z, n) - z[0]
    out[8] = parcel_t
    out[9] = parcel_td


@njit(cache=True, error_model="numpy")
def _most_unstable_column(p, t, td, z, n, depth, out):
    """metpy.calc.most_unstable_cape_cin (max θe within ``depth`` hPa, levels not interpolated)."""
    for i in range(out.shape[0]):
        out[i] = _NAN
    bottom = p[0]
    top = bottom - depth
    # _get_bound_pressure_height(..., interpolate=False): nearest level to the top.
    best = 0
    for i in range(n):
        if p[i] == top:
            best = i
            break
        if abs(p[i] - top) < abs(p[best] - top):
            best = i
    top_p = p[best]
    if not (top_p > p[n - 1] or _isclose(top_p, p[n - 1])):
        return
    index = 0
    highest = -np.inf
    for i in range(n):
        if (p[i] < bottom or _isclose(p[i], bottom)) and (p[i] > top_p or _isclose(p[i], top_p)):
            value = equivalent_potential_temperature(p[i], t[i], td[i])
            if value > highest:
                highest = value
                index = i
    result = np.empty(4)
    m = n - index
    parcel = np.empty(m)
    p_lcl, _t_lcl = _parcel_cape(
        p[index:], t[index:], td[index:], m, t[index], td[index], parcel, result
    )
    out[0] = result[0]
    out[1] = result[1]
    out[2] = p_lcl
    out[3] = _height_at_pressure(p_lcl, p, z, n) - z[0]
    out[4] = result[2]
    out[5] = _height_at_pressure(result[2], p, z, n) - z[0]
    out[6] = result[3]
    out[7] = _height_at_pressure(result[3], p, z, n) - z[0]
    out[8] = p[index]
    out[9] = t[index]
    out[10] = td[index]
    out[11] = saturation_mixing_ratio(p[index], td[index])


@njit(cache=True, error_model="numpy")
def _downdraft_cape(p, t, td, n):
    """metpy.calc.downdraft_cape: min-θe parcel in 700–500 hPa lowered moist-adiabatically."""
    if p[0] < 700.0 and not _isclose(p[0], 700.0):
        return _NAN
    if p[n - 1] > 500.0 and not _isclose(p[n - 1], 500.0):
        return _NAN
    layer_p = np.empty(n + 2)
    k = 0
    has_bottom = False
    has_top = False
    for i in range(n):
        if (p[i] < 700.0 or _isclose(p[i], 700.0)) and (p[i] > 500.0 or _isclose(p[i], 500.0)):
            layer_p[k] = p[i]
            k += 1
            if _isclose(500.0, p[i]):
                has_top = True
            if _isclose(700.0, p[i]):
                has_bottom = True
    # get_layer appends the bounds and sorts; keep descending order.
    if not has_top:
        layer_p[k] = 500.0
        k += 1
    if not has_bottom:
        for i in range(k, 0, -1):
            layer_p[i] = layer_p[i - 1]
        layer_p[0] = 700.0
        k += 1
    lowest = np.inf
    start_p = _NAN
    start_t = _NAN
    start_td = _NAN
    for i in range(k):
        lt = _interp_log(layer_p[i], p, t, n)
        ltd = _interp_log(layer_p[i], p, td, n)
        value = equivalent_potential_temperature(layer_p[i], lt, ltd)
        if value < lowest:
            lowest = value
            start_p = layer_p[i]
            start_t = lt
            start_td = ltd
    wet_bulb = wet_bulb_temperature(start_p, start_t, start_td)
    # Descend from the start to every level at or below it (pressure >= start).
    count = 0
    for i in range(n):
        if p[i] >= start_p:
            count += 1
    diff = np.empty(count)
    log_p = np.empty(count)
    # Integrate downward from the start pressure, level by level (highest level first).
    t_prev = wet_bulb
    p_prev = start_p
    for j in range(count - 1, -1, -1):
        if _isclose(p[j] * 100.0, start_p * 100.0):
            parcel = wet_bulb
        else:
            parcel = moist_lapse(p_prev, t_prev, p[j])
            p_prev = p[j]
            t_prev = parcel
        parcel_v = virtual_temperature(parcel, saturation_mixing_ratio(p[j], parcel))
        env_v = virtual_temperature(t[j], saturation_mixing_ratio(p[j], td[j]))
        diff[j] = env_v - parcel_v
        log_p[j] = math.log(p[j])
    return -RD * _trapezoid(diff, log_p, count)


@njit(cache=True, error_model="numpy")
def _showalter(p, t, td, n):
    """metpy.calc.showalter_index: T500 − parcel from 850 hPa (linear-in-p interpolation)."""
    t850 = _interp_linear(850.0, p, t, n)
    td850 = _interp_linear(850.0, p, td, n)
    t500 = _interp_linear(500.0, p, t, n)
    if not (t850 == t850 and td850 == td850 and t500 == t500):
        return _NAN
    levels = np.array([850.0, 500.0])
    parcel = np.empty(2)
    _parcel_profile(levels, levels.shape[0], t850, td850, parcel)
    return t500 - parcel[1]


@njit(cache=True, error_model="numpy")
def _first_crossing_height(p, values, z, n, threshold):
    """Height AGL of the lowest level where ``values`` falls through ``threshold`` going up.

    The crossing pressure is interpolated linearly in ln p, its height linearly in ln p
    too (the top of the lowest layer warmer than the threshold, as SHARPpy's
    ``temp_lvl``). 0 m when the surface is already at or below the threshold and no
    warmer layer lies above; NaN when the whole column stays above the threshold.
    """
    for i in range(n - 1):
        if values[i] >= threshold and values[i + 1] < threshold:
            return _crossing_height(p, z, n, i, values[i], values[i + 1], threshold)
    if values[0] <= threshold:
        return 0.0
    return _NAN


@njit(cache=True, error_model="numpy")
def _crossing_height(p, z, n, i, lower, upper, threshold):
    """Height AGL where a value going from ``lower`` (level i) to ``upper`` (level i + 1),
    linear in ln p, meets ``threshold``."""
    x0 = math.log(p[i])
    x1 = math.log(p[i + 1])
    f = (threshold - lower) / (upper - lower)
    crossing = math.exp(x0 + f * (x1 - x0))
    return _height_at_pressure(crossing, p, z, n) - z[0]


@njit(cache=True, error_model="numpy")
def _wet_bulb_zero_height(p, t, td, z, n):
    """:func:`_first_crossing_height` of the wet-bulb temperature at 0 °C.

    Each level's wet bulb (an LCL and a moist descent, ~0.5 µs) is computed when the
    search reaches it: the levels above the crossing are never needed.
    """
    surface = wet_bulb_temperature(p[0], t[0], td[0])
    lower = surface
    for i in range(n - 1):
        upper = wet_bulb_temperature(p[i + 1], t[i + 1], td[i + 1])
        if lower >= ZERO_CELSIUS and upper < ZERO_CELSIUS:
            return _crossing_height(p, z, n, i, lower, upper, ZERO_CELSIUS)
        lower = upper
    if surface <= ZERO_CELSIUS:
        return 0.0
    return _NAN


@njit(cache=True, error_model="numpy")
def _convective_temperature(p, t, td, n):
    """metpy.calc.ccl(p, T, Td)[2]: dry descent to the surface from the (top) CCL."""
    vapor = saturation_vapor_pressure(td[0])
    r_start = EPSILON * vapor / (p[0] * 100.0 - vapor)
    line = np.empty(n)
    for i in range(n):
        line[i] = dewpoint_from_vapor_pressure(p[i] * 100.0 * r_start / (EPSILON + r_start))
    crossing_p = np.empty(n)
    crossing_t = np.empty(n)
    count = _intersections(p, line, t, _ZERO, n, _INCREASING, crossing_p, crossing_t)
    if count == 0:
        return _NAN
    return crossing_t[count - 1] * (p[0] / crossing_p[count - 1]) ** KAPPA


@njit(cache=True, error_model="numpy")
def _profile_column(p, t, td, z, n, out):
    out[0] = _downdraft_cape(p, t, td, n)
    out[1] = _showalter(p, t, td, n)
    out[2] = _wet_bulb_zero_height(p, t, td, z, n)
    out[3] = _first_crossing_height(p, t, z, n, ZERO_CELSIUS)
    out[4] = _convective_temperature(p, t, td, n)
    t700 = _interp_log(700.0, p, t, n)
    t500 = _interp_log(500.0, p, t, n)
    z700 = _interp_log(700.0, p, z, n)
    z500 = _interp_log(500.0, p, z, n)
    out[5] = (t700 - t500) / ((z500 - z700) / 1000.0)
    out[6] = t500


# ------------------------------------------------------------------------ drivers


@njit(cache=True, error_model="numpy", nogil=True)
def surface_based_columns(
    levels, t_levels, td_levels, z_levels, p_sfc, t_sfc, td_sfc, z_sfc, low_level_depth
):
    """Surface-based parcel for each column: ``(column, _N_SURFACE_BASED)``.

    ``cape_0_3km`` is the CAPE of the profile cut ``low_level_depth`` (m) above the surface.
    """
    columns = t_levels.shape[0]
    nlev = levels.shape[0]
    out = np.full((columns, _N_SURFACE_BASED), np.nan)
    for c in range(columns):
        p = np.empty(nlev + 1)
        t = np.empty(nlev + 1)
        td = np.empty(nlev + 1)
        z = np.empty(nlev + 1)
        n = _build_column(
            levels,
            t_levels[c],
            td_levels[c],
            z_levels[c],
            p_sfc[c],
            t_sfc[c],
            td_sfc[c],
            z_sfc[c],
            p,
            t,
            td,
            z,
        )
        if n >= 2:
            _surface_based_column(p, t, td, z, n, low_level_depth, out[c])
    return out


@njit(cache=True, error_model="numpy", nogil=True)
def mixed_layer_columns(levels, t_levels, td_levels, z_levels, p_sfc, t_sfc, td_sfc, z_sfc, depth):
    """Mixed-layer parcel (``depth`` hPa) for each column: ``(column, _N_MIXED_LAYER)``."""
    columns = t_levels.shape[0]
    nlev = levels.shape[0]
    out = np.full((columns, _N_MIXED_LAYER), np.nan)
    for c in range(columns):
        p = np.empty(nlev + 1)
        t = np.empty(nlev + 1)
        td = np.empty(nlev + 1)
        z = np.empty(nlev + 1)
        n = _build_column(
            levels,
            t_levels[c],
            td_levels[c],
            z_levels[c],
            p_sfc[c],
            t_sfc[c],
            td_sfc[c],
            z_sfc[c],
            p,
            t,
            td,
            z,
        )
        if n >= 2:
            _mixed_layer_column(p, t, td, z, n, depth, out[c])
    return out


@njit(cache=True, error_model="numpy", nogil=True)
def most_unstable_columns(
    levels, t_levels, td_levels, z_levels, p_sfc, t_sfc, td_sfc, z_sfc, depth
):
    """Most-unstable parcel (search ``depth`` hPa) for each column."""
    columns = t_levels.shape[0]
    nlev = levels.shape[0]
    out = np.full((columns, _N_MOST_UNSTABLE), np.nan)
    for c in range(columns):
        p = np.empty(nlev + 1)
        t = np.empty(nlev + 1)
        td = np.empty(nlev + 1)
        z = np.empty(nlev + 1)
        n = _build_column(
            levels,
            t_levels[c],
            td_levels[c],
            z_levels[c],
            p_sfc[c],
            t_sfc[c],
            td_sfc[c],
            z_sfc[c],
            p,
            t,
            td,
            z,
        )
        if n >= 2:
            _most_unstable_column(p, t, td, z, n, depth, out[c])
    return out


@njit(cache=True, error_model="numpy", nogil=True)
def profile_columns(levels, t_levels, td_levels, z_levels, p_sfc, t_sfc, td_sfc, z_sfc):
    """DCAPE, Showalter, wet-bulb-zero and freezing levels, convective temperature, LR75, T500."""
    columns = t_levels.shape[0]
    nlev = levels.shape[0]
    out = np.full((columns, _N_PROFILE), np.nan)
    for c in range(columns):
        p = np.empty(nlev + 1)
        t = np.empty(nlev + 1)
        td = np.empty(nlev + 1)
        z = np.empty(nlev + 1)
        n = _build_column(
            levels,
            t_levels[c],
            td_levels[c],
            z_levels[c],
            p_sfc[c],
            t_sfc[c],
            td_sfc[c],
            z_sfc[c],
            p,
            t,
            td,
            z,
        )
        if n >= 2:
            _profile_column(p, t, td, z, n, out[c])
    return out


# ---------------------------------------------------------------------- kinematics


@njit(cache=True, error_model="numpy")
def _layer_by_height(p, z, n, bottom_height, depth, layer_p):
    """``metpy.calc.get_layer(p, height=z, bottom=..., depth=<length>)`` pressures (descending).

    ``bottom_height`` NaN means the surface (``bottom=None``). Returns the count, or 0 when
    a bound lies outside the column (MetPy raises).
    """
    if bottom_height == bottom_height:
        bottom_p = _pressure_at_height(bottom_height, p, z, n)
        for i in range(n):
            if z[i] == bottom_height:
                bottom_p = p[i]
                break
        b_height = bottom_height
    else:
        bottom_p = p[0]
        b_height = z[0]
    top_height = b_height + depth
    top_p = _pressure_at_height(top_height, p, z, n)
    for i in range(n):
        if z[i] == top_height:
            top_p = p[i]
            break
    if not (bottom_p == bottom_p and top_p == top_p):
        return 0
    k = 0
    has_top = False
    has_bottom = False
    # Ascending assembly, then reversed (get_layer sorts and returns descending).
    for i in range(n):
        if (p[i] < bottom_p or _isclose(p[i], bottom_p)) and (
            p[i] > top_p or _isclose(p[i], top_p)
        ):
            layer_p[k] = p[i]
            k += 1
            if _isclose(top_p, p[i]):
                has_top = True
            if _isclose(bottom_p, p[i]):
                has_bottom = True
    if not has_top:
        layer_p[k] = top_p
        k += 1
    if not has_bottom:
        for i in range(k, 0, -1):
            layer_p[i] = layer_p[i - 1]
        layer_p[0] = bottom_p
        k += 1
    return k


@njit(cache=True, error_model="numpy")
def _layer_by_pressure(p, n, bottom_p, top_p, layer_p):
    """``get_layer(p, bottom=<pressure>, depth=<pressure>)`` pressures (descending); 0 if outside."""
    for bound in (bottom_p, top_p):
        if not (
            (bound > p[n - 1] or _isclose(bound, p[n - 1]))
            and (bound < p[0] or _isclose(bound, p[0]))
        ):
            return 0
    k = 0
    has_top = False
    has_bottom = False
    for i in range(n):
        if (p[i] < bottom_p or _isclose(p[i], bottom_p)) and (
            p[i] > top_p or _isclose(p[i], top_p)
        ):
            layer_p[k] = p[i]
            k += 1
            if _isclose(top_p, p[i]):
                has_top = True
            if _isclose(bottom_p, p[i]):
                has_bottom = True
    if not has_top:
        layer_p[k] = top_p
        k += 1
    if not has_bottom:
        for i in range(k, 0, -1):
            layer_p[i] = layer_p[i - 1]
        layer_p[0] = bottom_p
        k += 1
    return k


@njit(cache=True, error_model="numpy")
def _continuous_average(p, u, v, n, layer_p, k):
    """``weighted_continuous_average``: ∫ x dp / Δp over the layer (x log-p interpolated)."""
    if k < 2:
        return _NAN, _NAN
    lu = np.empty(k)
    lv = np.empty(k)
    for i in range(k):
        lu[i] = _interp_log(layer_p[i], p, u, n)
        lv[i] = _interp_log(layer_p[i], p, v, n)
    width = layer_p[k - 1] - layer_p[0]
    return _trapezoid(lu, layer_p, k) / width, _trapezoid(lv, layer_p, k) / width


@njit(cache=True, error_model="numpy")
def _pressure_weighted_mean(p, u, v, n, layer_p, k):
    """``mean_pressure_weighted``: ∫ x p dp / ∫ p dp over the layer."""
    if k < 2:
        return _NAN, _NAN
    lu = np.empty(k)
    lv = np.empty(k)
    for i in range(k):
        lu[i] = _interp_log(layer_p[i], p, u, n) * layer_p[i]
        lv[i] = _interp_log(layer_p[i], p, v, n) * layer_p[i]
    weight = 0.5 * (layer_p[k - 1] ** 2 - layer_p[0] ** 2)
    return _trapezoid(lu, layer_p, k) / weight, _trapezoid(lv, layer_p, k) / weight


@njit(cache=True, error_model="numpy")
def _bulk_shear(p, u, v, z, n, depth, layer_p):
    """``metpy.calc.bulk_shear(p, u, v, height=z, depth=depth)`` (top minus surface)."""
    k = _layer_by_height(p, z, n, _NAN, depth, layer_p)
    if k < 2:
        return _NAN, _NAN
    top = layer_p[k - 1]
    return _interp_log(top, p, u, n) - _interp_log(layer_p[0], p, u, n), _interp_log(
        top, p, v, n
    ) - _interp_log(layer_p[0], p, v, n)


@njit(cache=True, error_model="numpy")
def _interp_height(x, z, f, n):
    """``interpolate_1d`` in height (z ascending), NaN outside."""
    if not (x >= z[0] and x <= z[n - 1]):
        return _NAN
    above = n - 1
    for j in range(n):
        if z[j] >= x:
            above = j
            break
    if above == 0:
        above = 1
    below = above - 1
    return f[below] + (f[above] - f[below]) * ((x - z[below]) / (z[above] - z[below]))


@njit(cache=True, error_model="numpy")
def _storm_relative_helicity(u, v, z, n, depth, storm_u, storm_v):
    """``metpy.calc.storm_relative_helicity(z, u, v, depth, storm_u, storm_v)[2]``."""
    agl = np.empty(n)
    lowest = z[0]
    for i in range(n):
        lowest = min(lowest, z[i])
    for i in range(n):
        agl[i] = z[i] - lowest
    if depth > agl[n - 1]:
        return _NAN
    heights = np.empty(n + 2)
    k = 0
    has_top = False
    has_bottom = False
    for i in range(n):
        if (agl[i] > 0.0 or _isclose(agl[i], 0.0)) and (agl[i] < depth or _isclose(agl[i], depth)):
            heights[k] = agl[i]
            k += 1
            if agl[i] == depth:
                has_top = True
            if agl[i] == 0.0:
                has_bottom = True
    if not has_top:
        heights[k] = depth
        k += 1
    if not has_bottom:
        for i in range(k, 0, -1):
            heights[i] = heights[i - 1]
        heights[0] = 0.0
        k += 1
    positive = 0.0
    negative = 0.0
    su_prev = _interp_height(heights[0], agl, u, n) - storm_u
    sv_prev = _interp_height(heights[0], agl, v, n) - storm_v
    for i in range(1, k):
        su = _interp_height(heights[i], agl, u, n) - storm_u
        sv = _interp_height(heights[i], agl, v, n) - storm_v
        term = su * sv_prev - su_prev * sv
        if term > 0.0:
            positive += term
        elif term < 0.0:
            negative += term
        su_prev = su
        sv_prev = sv
    return positive + negative


@njit(cache=True, error_model="numpy")
def _kinematic_column(
    p, u, v, z, n, shallow_shear, deep_shear, shallow_helicity, deep_helicity, out
):
    layer_p = np.empty(n + 2)
    out[0], out[1] = _bulk_shear(p, u, v, z, n, shallow_shear, layer_p)
    out[2], out[3] = _bulk_shear(p, u, v, z, n, deep_shear, layer_p)
    # Bunkers (2000) as metpy.calc.bunkers_storm_motion.
    k = _layer_by_height(p, z, n, _NAN, 6000.0, layer_p)
    mean_u, mean_v = _continuous_average(p, u, v, n, layer_p, k)
    k = _layer_by_height(p, z, n, _NAN, 500.0, layer_p)
    low_u, low_v = _continuous_average(p, u, v, n, layer_p, k)
    k = _layer_by_height(p, z, n, z[0] + 5500.0, 500.0, layer_p)
    high_u, high_v = _continuous_average(p, u, v, n, layer_p, k)
    shear_u = high_u - low_u
    shear_v = high_v - low_v
    magnitude = math.hypot(shear_u, shear_v)
    dev_u = shear_v * (7.5 / magnitude)
    dev_v = -shear_u * (7.5 / magnitude)
    right_u = mean_u + dev_u
    right_v = mean_v + dev_v
    out[6] = right_u
    out[7] = right_v
    out[8] = mean_u - dev_u
    out[9] = mean_v - dev_v
    out[10] = mean_u
    out[11] = mean_v
    out[4] = _storm_relative_helicity(u, v, z, n, shallow_helicity, right_u, right_v)
    out[5] = _storm_relative_helicity(u, v, z, n, deep_helicity, right_u, right_v)
    # Corfidi et al. (1996) as metpy.calc.corfidi_storm_motion (LLJ = fastest wind at or
    # below 850 hPa; cloud layer 850–300 hPa, pressure-weighted).
    if p[0] >= 850.0:
        lowlevel_index = 0
        for i in range(n):
            if not p[i] >= 850.0:
                lowlevel_index = i
                break
        if lowlevel_index > 0:
            fastest = 0
            for i in range(lowlevel_index):
                if math.hypot(u[i], v[i]) > math.hypot(u[fastest], v[fastest]):
                    fastest = i
            bottom = 850.0
            depth = bottom - p[n - 1] if p[n - 1] > 300.0 else 550.0
            k = _layer_by_pressure(p, n, bottom, bottom - depth, layer_p)
            cloud_u, cloud_v = _pressure_weighted_mean(p, u, v, n, layer_p, k)
            out[12] = cloud_u - u[fastest]
            out[13] = cloud_v - v[fastest]
            out[14] = 2.0 * cloud_u - u[fastest]
            out[15] = 2.0 * cloud_v - v[fastest]
    # Critical angle (Esterheld & Giuliano 2008) as metpy.calc.critical_angle.
    shear5_u, shear5_v = _bulk_shear(p, u, v, z, n, 500.0, layer_p)
    inflow_u = right_u - u[0]
    inflow_v = right_v - v[0]
    cosine = (shear5_u * inflow_u + shear5_v * inflow_v) / (
        math.hypot(shear5_u, shear5_v) * math.hypot(inflow_u, inflow_v)
    )
    out[16] = math.degrees(math.acos(cosine)) if -1.0 <= cosine <= 1.0 else _NAN


@njit(cache=True, error_model="numpy", nogil=True)
def kinematic_columns(
    levels,
    u_levels,
    v_levels,
    z_levels,
    p_sfc,
    u_sfc,
    v_sfc,
    z_sfc,
    shallow_shear,
    deep_shear,
    shallow_helicity,
    deep_helicity,
):
    """Shear, helicity and storm motions for each column: ``(column, _N_KINEMATIC)``.

    Depths in m above the surface: bulk shear over ``shallow_shear`` and ``deep_shear``,
    storm-relative helicity (Bunkers right mover) over ``shallow_helicity`` and
    ``deep_helicity``.
    """
    columns = u_levels.shape[0]
    nlev = levels.shape[0]
    out = np.full((columns, _N_KINEMATIC), np.nan)
    for c in range(columns):
        p = np.empty(nlev + 1)
        u = np.empty(nlev + 1)
        v = np.empty(nlev + 1)
        z = np.empty(nlev + 1)
        n = _build_column(
            levels,
            u_levels[c],
            v_levels[c],
            z_levels[c],
            p_sfc[c],
            u_sfc[c],
            v_sfc[c],
            z_sfc[c],
            p,
            u,
            v,
            z,
        )
        if n >= 3:
            _kinematic_column(
                p, u, v, z, n, shallow_shear, deep_shear, shallow_helicity, deep_helicity, out[c]
            )
    return out


# ------------------------------------------------------------------- xarray glue


def _column_block(*arrays, kernel, fields, levels, **options):
    """Run ``kernel`` on one block: profile arrays end with the level axis, surface arrays not."""
    profiles = arrays[:3]
    surface = arrays[3:]
    shape = np.broadcast_shapes(*(a.shape[:-1] for a in profiles), *(a.shape for a in surface))
    flat_profiles = [
        np.ascontiguousarray(
            np.broadcast_to(a, (*shape, a.shape[-1])).reshape(-1, a.shape[-1]), dtype=np.float64
        )
        for a in profiles
    ]
    flat_surface = [
        np.ascontiguousarray(np.broadcast_to(a, shape).reshape(-1), dtype=np.float64)
        for a in surface
    ]
    order = np.argsort(-levels, kind="stable")
    sorted_levels = np.ascontiguousarray(levels[order], dtype=np.float64)
    flat_profiles = [np.ascontiguousarray(a[:, order]) for a in flat_profiles]
    values = [float(v) for v in options.values()]
    out = kernel(sorted_levels, *flat_profiles, *flat_surface, *values)
    return out.reshape(*shape, len(fields)).astype(np.float32)


def pressure_levels_hpa(coordinate: xr.DataArray) -> np.ndarray:
    """The pressure coordinate's values in hPa (canonical; converted if labelled otherwise)."""
    from weatherdata.units import unit_registry

    values = np.asarray(coordinate.values, dtype=np.float64)
    label = coordinate.attrs.get("units")
    if label in (None, "hPa", "hectopascal", "mbar", "millibar"):
        return values
    return unit_registry.Quantity(values, label).m_as("hPa")


#: Most columns a kernel call takes (:func:`weatherdata.compute.columns_in_pieces`): at
#: 8–21 µs a column, 0.1–0.35 s a task, so the threads (or workers) share the work. The
#: 0.2° demo's whole record, one input chunk, was one task per kernel: a publish of
#: mixed-layer CAPE alone took 2.7–3.3 s, in ten pieces 2.0–2.3 s on two cores.
COLUMNS_PER_TASK = 16_384


def apply_columns(kernel, fields, profiles, surface, *, options=None, dim="pressure"):
    """Lazily run a column kernel over xarray inputs; returns a Dataset of ``fields``.

    ``profiles``: three DataArrays on ``dim`` (hPa coordinate); ``surface``: surface
    pressure [hPa] and three surface values matching the profiles (same units), any
    broadcastable dims. The vertical dimension is gathered into one chunk, the columns
    into pieces of at most :data:`COLUMNS_PER_TASK`.
    """
    options = options or {}
    levels = pressure_levels_hpa(profiles[0][dim])
    profiles = [a.chunk({dim: -1}) if a.chunks is not None else a for a in profiles]
    arrays = columns_in_pieces([*profiles, *surface], dim, COLUMNS_PER_TASK)
    profiles, surface = arrays[: len(profiles)], arrays[len(profiles) :]
    result = xr.apply_ufunc(
        _column_block,
        *profiles,
        *surface,
        input_core_dims=[[dim]] * len(profiles) + [[]] * len(surface),
        output_core_dims=[["parcel_field"]],
        dask="parallelized",
        output_dtypes=[np.float32],
        dask_gufunc_kwargs={"output_sizes": {"parcel_field": len(fields)}},
        kwargs={"kernel": kernel, "fields": fields, "levels": levels, **options},
        keep_attrs=False,
    )
    out = {}
    for i, (name, units) in enumerate(fields.items()):
        field = result.isel(parcel_field=i, drop=True)
        field.attrs = {"units": units}
        out[name] = field
    return xr.Dataset(out)
