"""Reference values for the convective diagnostics (forecast & warning rows 82–113).

The vectorized parcel and wind kernels are compared with MetPy 1.7 column by column, through
the engine, on the real soundings of ``tests/data/soundings`` and on 1000 columns built from
them with perturbations (warmer/cooler and moister/drier boundary layers, capping inversions,
surfaces from 880 to 1020 hPa). Tolerances: |ΔCAPE|, |ΔCIN| ≤ max(1 J/kg, 0.5 %), LCL within
0.5 hPa. Indices MetPy computes on arrays are compared with MetPy directly; SHIP, DCP and EHI
with hand-computed cases of their published formulas. A slow test repeats the agreement on
more columns of another seed (400 by default, ``WEATHERDATA_PARCEL_COLUMNS=2000`` for the
full sample; ~28 ms of MetPy per column) and prints the distribution of the differences.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import metpy.calc as mpcalc
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from metpy.calc.tools import get_layer
from metpy.units import units
from weatherdata.products.forecast_warning import _parcel
from weatherdata.products.forecast_warning.convective import _ship

import weatherdata
from tests.helpers import catalog_section, derive_one, grid_dataset

ROOT = Path(__file__).resolve().parents[2]
SOUNDINGS = ROOT / "tests" / "data" / "soundings"
STANDARD_LEVELS = np.array(
    [
        1000,
        975,
        950,
        925,
        900,
        850,
        800,
        750,
        700,
        650,
        600,
        550,
        500,
        450,
        400,
        350,
        300,
        250,
        200,
        150,
        100.0,
    ]
)
RD, G0 = 287.04749097718457, 9.80665

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")


def within(ours, reference, *, absolute=1.0, relative=0.005):
    """|Δ| ≤ max(absolute, relative·|reference|) element-wise (NaN must match NaN)."""
    ours, reference = np.asarray(ours, float), np.asarray(reference, float)
    same_nan = np.isnan(ours) == np.isnan(reference)
    close = np.abs(ours - reference) <= np.maximum(absolute, relative * np.abs(reference))
    return same_nan & (close | np.isnan(reference))


# ------------------------------------------------------------------ test columns


def load_sounding(path):
    table = pd.read_csv(path).dropna(subset=["airTemperature", "dewpointTemperature"])
    table = table.sort_values("pressure", ascending=False).drop_duplicates("pressure")
    return (
        table.pressure.to_numpy() / 100.0,
        table.airTemperature.to_numpy(),
        table.dewpointTemperature.to_numpy(),
    )


def soundings():
    return {
        path.name.split("_")[1]: load_sounding(path)
        for path in sorted(SOUNDINGS.glob("bufr_*.csv"))
    }


def hypsometric_heights(pressure, temperature, dewpoint, z0):
    virtual = mpcalc.virtual_temperature_from_dewpoint(
        pressure * units.hPa, temperature * units.K, dewpoint * units.K
    ).m
    heights = np.empty_like(pressure)
    heights[0] = z0
    for k in range(1, pressure.size):
        heights[k] = heights[k - 1] + RD * 0.5 * (virtual[k] + virtual[k - 1]) / G0 * math.log(
            pressure[k - 1] / pressure[k]
        )
    return heights


def synthetic_columns(count, seed):
    """Columns on the 21 standard levels from the real soundings, perturbed.

    Boundary layer warmer or cooler (−6…+6 K decaying to zero at 450 hPa), moister or drier
    (dewpoint depression scaled by 0.15–1.3), a capping inversion in 40 % of the columns,
    surfaces between 880 and 1020 hPa (terrain from ~−60 to 1060 m), random winds with
    veering/backing, shear and a low-level jet. Levels below the ground are extrapolated as
    models do; dewpoint depressions stay ≥ 0.05 K (an exactly saturated parcel start is a
    rounding knife edge in MetPy itself, tested separately).
    """
    rng = np.random.default_rng(seed)
    bases = [s for s in soundings().values() if s[0][-1] <= 150 and s[0][0] >= 1000]
    shape = (count, STANDARD_LEVELS.size)
    t_levels, td_levels, z_levels, u_levels, v_levels = (np.empty(shape) for _ in range(5))
    surface = {name: np.empty(count) for name in ("p", "t", "td", "z", "u", "v")}
    log_levels = np.log(STANDARD_LEVELS)
    weight = np.clip((STANDARD_LEVELS - 450.0) / 550.0, 0, 1)
    for c in range(count):
        p, t, td = bases[rng.integers(len(bases))]
        t_std = np.interp(log_levels, np.log(p[::-1]), t[::-1])
        td_std = np.interp(log_levels, np.log(p[::-1]), td[::-1])
        t_new = t_std + rng.uniform(-6, 6) * weight**1.5 + rng.normal(0, 0.7, STANDARD_LEVELS.size)
        depression = np.maximum(t_std - td_std, 0.1)
        scale = rng.uniform(0.15, 1.3)
        td_new = (
            t_new
            - depression * (scale * weight + (1 - weight))
            - rng.uniform(0, 0.5, STANDARD_LEVELS.size)
        )
        if rng.random() < 0.4:
            bump = rng.uniform(1, 7) * np.exp(
                -(((STANDARD_LEVELS - rng.uniform(650, 900)) / 35.0) ** 2)
            )
            t_new, td_new = t_new + bump, td_new - 2 * bump
        td_new = np.minimum(td_new, t_new - 0.05)
        ps = rng.uniform(880, 1020)
        ts = np.interp(np.log(ps), log_levels[::-1], t_new[::-1]) + rng.uniform(-1, 3)
        tds = min(
            np.interp(np.log(ps), log_levels[::-1], td_new[::-1]) + rng.uniform(-1, 2), ts - 0.05
        )
        zs = 8.0 * (1013.0 - ps)
        above = STANDARD_LEVELS < ps
        column_p = np.concatenate([[ps], STANDARD_LEVELS[above]])
        z_column = hypsometric_heights(
            column_p,
            np.concatenate([[ts], t_new[above]]),
            np.concatenate([[tds], td_new[above]]),
            zs,
        )
        z = np.interp(log_levels, np.log(column_p[::-1]), z_column[::-1])
        z[~above] = zs - 8.0 * (STANDARD_LEVELS[~above] - ps)
        agl = np.maximum(z - zs, 0)
        base, speed0 = rng.uniform(0, 2 * np.pi), rng.uniform(0, 10)
        angle = base + rng.uniform(-1.5, 2.5) * np.tanh(agl / 3000.0)
        speed = speed0 + rng.uniform(0, 6e-3) * agl + rng.normal(0, 1.0, agl.size)
        speed += rng.uniform(0, 15) * np.exp(-(((agl - rng.uniform(500, 1500)) / 500.0) ** 2))
        t_levels[c], td_levels[c], z_levels[c] = t_new, td_new, z
        u_levels[c], v_levels[c] = speed * np.cos(angle), speed * np.sin(angle)
        surface["p"][c], surface["t"][c], surface["td"][c], surface["z"][c] = ps, ts, tds, zs
        surface["u"][c] = 0.6 * speed0 * np.cos(base) + rng.normal(0, 1)
        surface["v"][c] = 0.6 * speed0 * np.sin(base) + rng.normal(0, 1)
    return {
        "t": t_levels,
        "td": td_levels,
        "z": z_levels,
        "u": u_levels,
        "v": v_levels,
        "surface": surface,
    }


def relative_humidity_percent(temperature, dewpoint):
    return (
        100.0 * mpcalc.relative_humidity_from_dewpoint(temperature * units.K, dewpoint * units.K).m
    )


def to_dataset(columns, shape, levels=STANDARD_LEVELS):
    """A canonical grid dataset (time = 1) holding ``columns`` on a ``shape`` grid."""
    ny, nx = shape

    def grid(a):  # (column, level) → (time, level, y, x)
        return np.moveaxis(np.asarray(a).reshape(ny, nx, -1), -1, 0)[None]

    def flat(a):
        return np.asarray(a).reshape(1, ny, nx)

    s = columns["surface"]
    variables = {
        "air_temperature": grid(columns["t"]),
        "relative_humidity": grid(relative_humidity_percent(columns["t"], columns["td"])),
        "geopotential_height": grid(columns["z"]),
        "eastward_wind": grid(columns["u"]),
        "northward_wind": grid(columns["v"]),
        "surface_air_pressure": flat(s["p"]),
        "air_temperature_2m": flat(s["t"]),
        "dewpoint_temperature_2m": flat(s["td"]),
        "eastward_wind_10m": flat(s["u"]),
        "northward_wind_10m": flat(s["v"]),
        "surface_altitude": np.asarray(s["z"]).reshape(ny, nx),
    }
    return grid_dataset(variables, times=1, shape=shape, levels=list(levels))


def metpy_column(ds, i, j):
    """The column the products see, from the dataset's (float32) values, with MetPy's dewpoints.

    ``ds`` should be loaded (``ds.compute()``): the references index it column by column.
    """
    levels = ds["pressure"].values.astype(float)
    t = ds["air_temperature"].values[0, :, i, j].astype(float)
    rh = ds["relative_humidity"].values[0, :, i, j].astype(float)
    td = mpcalc.dewpoint_from_relative_humidity(t * units.K, rh * units.percent).m_as("K")
    z = ds["geopotential_height"].values[0, :, i, j].astype(float)
    u = ds["eastward_wind"].values[0, :, i, j].astype(float)
    v = ds["northward_wind"].values[0, :, i, j].astype(float)
    ps = float(ds["surface_air_pressure"].values[0, i, j])
    keep = (levels < ps) & np.isfinite(t) & np.isfinite(td) & np.isfinite(z)
    return {
        "p": np.concatenate([[ps], levels[keep]]),
        "t": np.concatenate([[float(ds["air_temperature_2m"].values[0, i, j])], t[keep]]),
        "td": np.concatenate([[float(ds["dewpoint_temperature_2m"].values[0, i, j])], td[keep]]),
        "z": np.concatenate([[float(ds["surface_altitude"].values[i, j])], z[keep]]),
        "u": np.concatenate([[float(ds["eastward_wind_10m"].values[0, i, j])], u[keep]]),
        "v": np.concatenate([[float(ds["northward_wind_10m"].values[0, i, j])], v[keep]]),
    }


def height_agl(pressure, column):
    """Height above ground at ``pressure``, linear in ln p (the products' convention)."""
    p, z = column["p"], column["z"]
    if not np.isfinite(pressure):
        return np.nan
    return np.interp(np.log(pressure), np.log(p[::-1]), z[::-1], left=np.nan, right=np.nan) - z[0]


def cape_cin_levels(p, t, td, profile):
    """LFC and EL as metpy.calc.cape_cin uses them (virtual temperatures, bottom LFC, top EL)."""
    p_lcl = mpcalc.lcl(p[0], t[0], td[0])[0]
    mixing = np.where(
        p > p_lcl,
        mpcalc.saturation_mixing_ratio(p[0], td[0]),
        mpcalc.saturation_mixing_ratio(p, profile),
    )
    tv_env = mpcalc.virtual_temperature_from_dewpoint(p, t, td)
    tv_parcel = mpcalc.virtual_temperature(profile, mixing)
    lfc = mpcalc.lfc(p, tv_env, td, parcel_temperature_profile=tv_parcel, which="bottom")[0].m
    if np.isnan(lfc):
        return np.nan, np.nan  # cape_cin stops here: no EL either
    return lfc, mpcalc.el(p, tv_env, td, parcel_temperature_profile=tv_parcel, which="top")[0].m


def with_lcl(p, t, td):
    pp, tt, tdd, profile = mpcalc.parcel_profile_with_lcl(p, t, td)
    keep = np.isfinite(tt.m) & np.isfinite(tdd.m)
    return pp[keep], tt[keep], tdd[keep], profile[keep]


def metpy_parcels(column, *, which=("surface", "mixed", "unstable"), levels=True):
    """MetPy's CAPE/CIN/LCL (and, with ``levels``, LFC/EL) for the parcels of one column."""
    p, t, td = column["p"] * units.hPa, column["t"] * units.K, column["td"] * units.K
    out = {}
    if "surface" in which:
        cape, cin = mpcalc.surface_based_cape_cin(p, t, td)
        lfc, el = cape_cin_levels(*with_lcl(p, t, td)) if levels else (np.nan, np.nan)
        out["surface"] = {
            "cape": cape.m,
            "cin": cin.m,
            "lcl": mpcalc.lcl(p[0], t[0], td[0])[0].m,
            "lfc": lfc,
            "el": el,
        }
    if "mixed" in which:
        cape, cin = mpcalc.mixed_layer_cape_cin(p, t, td)
        parcel_p, parcel_t, parcel_td = mpcalc.mixed_parcel(p, t, td)
        upper = p < p[0] - 100 * units.hPa
        profile = (
            np.concatenate([[parcel_p.m], p[upper].m]) * units.hPa,
            np.concatenate([[parcel_t.m_as("K")], t[upper].m]) * units.K,
            np.concatenate([[parcel_td.m_as("K")], td[upper].m]) * units.K,
        )
        lfc, el = cape_cin_levels(*with_lcl(*profile)) if levels else (np.nan, np.nan)
        lcl_p = mpcalc.lcl(parcel_p, parcel_t, parcel_td)[0].m
        out["mixed"] = {"cape": cape.m, "cin": cin.m, "lcl": lcl_p, "lfc": lfc, "el": el}
    if "unstable" in which:
        cape, cin = mpcalc.most_unstable_cape_cin(p, t, td)
        index = mpcalc.most_unstable_parcel(p, t, td)[3]
        lfc, el = (
            cape_cin_levels(*with_lcl(p[index:], t[index:], td[index:]))
            if levels
            else (np.nan, np.nan)
        )
        lcl_p = mpcalc.lcl(p[index], t[index], td[index])[0].m
        out["unstable"] = {
            "cape": cape.m,
            "cin": cin.m,
            "lcl": lcl_p,
            "lfc": lfc,
            "el": el,
            "index": index,
        }
    return out


def derive(ds, ids, **kwargs):
    out = weatherdata.derive(ds, ids, **kwargs)
    for pid in ids:
        assert hasattr(out[pid].data, "dask"), f"{pid} computed eagerly"
    return out.compute()


# ------------------------------------------------------------------------ fixtures

THERMO_PRODUCTS = [
    "surface_based_cape",
    "surface_based_cin",
    "mixed_layer_cape",
    "mixed_layer_cin",
    "most_unstable_cape",
    "lifting_condensation_level_height",
    "level_of_free_convection_height",
    "equilibrium_level_height",
]


@pytest.fixture(scope="module")
def thousand_columns():
    columns = synthetic_columns(1000, seed=20260725)
    ds = to_dataset(columns, (25, 40))
    return ds.compute(), derive(ds, THERMO_PRODUCTS)


@pytest.fixture(scope="module")
def small_grid():
    """60 columns with winds, for the profile and wind diagnostics (MetPy is slow per column)."""
    columns = synthetic_columns(60, seed=7)
    ds = to_dataset(columns, (6, 10))
    return ds, ds.compute()


# ------------------------------------------------------------- the fragment itself


def test_fragment_declares_the_32_products_of_rows_82_to_113():
    fragment = catalog_section("forecast_convective")
    ids = [entry["id"] for entry in fragment["products"]]
    assert len(ids) == 32 and len(set(ids)) == 32
    assert {entry["family"] for entry in fragment["products"]} == {"forecast_warning"}
    agreed = {
        "surface_based_cape",
        "surface_based_cin",
        "mixed_layer_cape",
        "most_unstable_cape",
        "lifted_index",
        "k_index",
        "significant_hail_parameter",
        "bulk_shear_0_6km",
    }
    assert agreed <= set(ids)
    catalog = weatherdata.load_catalog()
    for pid in ids:
        catalog[pid].recipe_function()


# ------------------------------------------------- parcel ascents against MetPy


@pytest.mark.product("surface_based_cape")
@pytest.mark.product("surface_based_cin")
@pytest.mark.product("lifting_condensation_level_height")
def test_surface_based_parcel_matches_metpy_on_1000_columns(thousand_columns):
    ds, out = thousand_columns
    cape, cin, lcl_height = (np.full((25, 40), np.nan) for _ in range(3))
    for i in range(25):
        for j in range(40):
            column = metpy_column(ds, i, j)
            reference = metpy_parcels(column, which=("surface",), levels=False)["surface"]
            cape[i, j], cin[i, j] = reference["cape"], reference["cin"]
            lcl_height[i, j] = height_agl(reference["lcl"], column)
    assert (cape > 100).sum() > 300 and (cin < -10).sum() > 100  # varied columns
    assert within(out["surface_based_cape"][0], cape).all()
    assert within(out["surface_based_cin"][0], cin).all()
    # LCL pressure within 0.5 hPa ⇔ within ~5 m; the heights agree to float32 precision.
    assert within(
        out["lifting_condensation_level_height"][0], lcl_height, absolute=0.05, relative=0
    ).all()
    assert (
        out["surface_based_cape"].attrs["standard_name"]
        == "atmosphere_convective_available_potential_energy_wrt_surface"
    )


@pytest.mark.product("mixed_layer_cape")
@pytest.mark.product("mixed_layer_cin")
@pytest.mark.product("most_unstable_cape")
@pytest.mark.product("level_of_free_convection_height")
@pytest.mark.product("equilibrium_level_height")
def test_mixed_layer_and_most_unstable_parcels_match_metpy(thousand_columns):
    ds, out = thousand_columns
    checked = 0
    for flat in range(0, 1000, 7):  # 143 columns: MetPy needs ~60 ms per column for all of this
        i, j = divmod(flat, 40)
        column = metpy_column(ds, i, j)
        reference = metpy_parcels(column)
        ml, mu, sb = reference["mixed"], reference["unstable"], reference["surface"]
        assert within(out["surface_based_cape"].values[0, i, j], sb["cape"])
        assert within(out["mixed_layer_cape"].values[0, i, j], ml["cape"])
        assert within(out["mixed_layer_cin"].values[0, i, j], ml["cin"])
        assert within(out["most_unstable_cape"].values[0, i, j], mu["cape"])
        assert within(
            out["level_of_free_convection_height"].values[0, i, j],
            height_agl(sb["lfc"], column),
            absolute=1.0,
            relative=0,
        )
        assert within(
            out["equilibrium_level_height"].values[0, i, j],
            height_agl(sb["el"], column),
            absolute=1.0,
            relative=0,
        )
        checked += 1
    assert checked == 143
    assert np.isfinite(out["level_of_free_convection_height"]).sum() > 300
    assert np.isnan(out["equilibrium_level_height"]).sum() > 300  # no LFC, or buoyant at the top


@pytest.mark.product("surface_based_cape")
@pytest.mark.product("mixed_layer_cape")
@pytest.mark.product("most_unstable_cape")
@pytest.mark.product("surface_based_cin")
@pytest.mark.product("mixed_layer_cin")
@pytest.mark.parametrize("station", ["45004", "47122", "47909", "48820", "58968", "96315"])
def test_parcels_match_metpy_on_each_real_sounding(station):
    p, t, td = soundings()[station]
    levels = p[1:]
    z = hypsometric_heights(p, t, td, 0.0)
    columns = {
        "t": t[None, 1:],
        "td": td[None, 1:],
        "z": z[None, 1:],
        "u": np.zeros((1, levels.size)),
        "v": np.zeros((1, levels.size)),
        "surface": {"p": [p[0]], "t": [t[0]], "td": [td[0]], "z": [0.0], "u": [0.0], "v": [0.0]},
    }
    lazy = to_dataset(columns, (1, 1), levels=levels)
    ds = lazy.compute()
    ids = [
        "surface_based_cape",
        "surface_based_cin",
        "mixed_layer_cape",
        "mixed_layer_cin",
        "most_unstable_cape",
    ]
    out = derive(lazy, [*ids, "lifting_condensation_level_height"])
    column = metpy_column(ds, 0, 0)
    reference = metpy_parcels(column)
    expected = [
        reference[k][f]
        for k, f in [
            ("surface", "cape"),
            ("surface", "cin"),
            ("mixed", "cape"),
            ("mixed", "cin"),
            ("unstable", "cape"),
        ]
    ]
    for pid, value in zip(ids, expected, strict=True):
        assert within(out[pid].item(), value), (pid, out[pid].item(), value)
    surface = reference["surface"]
    assert (
        abs(_parcel.lcl(column["p"][0], column["t"][0], column["td"][0])[0] - surface["lcl"]) < 0.5
    )
    if station == "96315":  # Brunei: the sounding with real instability (README: ≈ 1800 J/kg)
        assert out["surface_based_cape"].item() == pytest.approx(1824.2, abs=1.0)


def test_saturated_parcel_start_follows_the_exact_lcl():
    """A parcel starting saturated (Td = T) is at its LCL: p_LCL = p exactly (Romps' formula).

    MetPy's floating-point LCL lands on p, 1 ulp below or 1 ulp above it (this column: exactly
    p). The branch changes where MetPy inserts the LCL point and can flip CAPE between 0 and
    thousands of J/kg for profiles that are slightly stable just above the ground; we follow
    the exact (and MetPy's most frequent) branch.
    """
    p, t, td = soundings()["96315"]
    td = td.copy()
    td[0] = t[0]
    pq, tq, tdq = p * units.hPa, t * units.K, td * units.K
    assert mpcalc.lcl(pq[0], tq[0], tdq[0])[0].m == p[0]  # the exact branch in MetPy too
    assert _parcel.lcl(p[0], t[0], td[0]) == (p[0], t[0])
    out = np.empty(len(_parcel.SURFACE_BASED_FIELDS))
    n = p.size
    _parcel._surface_based_column(p, t, td, np.zeros(n), n, 3000.0, out)
    assert within(out[0], mpcalc.surface_based_cape_cin(pq, tq, tdq)[0].m)


@pytest.mark.product("surface_based_cape")
@pytest.mark.product("lifted_index")
def test_missing_values_propagate_and_missing_levels_are_skipped():
    p, t, td = soundings()["96315"]
    keep = np.isin(
        p, [1003.0, 1000.0, 925.0, 850.0, 700.0, 500.0, 400.0, 300.0, 250.0, 200.0, 150.0, 100.0]
    )
    p, t, td = p[keep], t[keep], td[keep]
    z = hypsometric_heights(p, t, td, 0.0)

    def tile(a):
        return np.repeat(np.asarray(a, float)[None], 3, axis=0)

    columns = {
        "t": tile(t[1:]),
        "td": tile(td[1:]),
        "z": tile(z[1:]),
        "u": tile(np.zeros(p.size - 1)),
        "v": tile(np.zeros(p.size - 1)),
        "surface": {
            k: np.repeat(v, 3)
            for k, v in {"p": p[0], "t": t[0], "td": td[0], "z": 0.0, "u": 0.0, "v": 0.0}.items()
        },
    }
    columns["surface"]["t"][1] = np.nan  # missing surface temperature → every parcel output missing
    columns["t"][2, 4] = np.nan  # a missing level (400 hPa) is skipped, as metpy's _remove_nans
    lazy = to_dataset(columns, (1, 3), levels=p[1:])
    ds = lazy.compute()
    out = derive(lazy, ["surface_based_cape", "lifted_index"])
    cape = out["surface_based_cape"].values[0, 0]
    assert np.isnan(cape[1]) and np.isfinite(cape[[0, 2]]).all()
    assert np.isnan(out["lifted_index"].values[0, 0, 1])
    reference = metpy_column(ds, 0, 2)
    assert reference["p"].size == p.size - 1
    expected = mpcalc.surface_based_cape_cin(
        reference["p"] * units.hPa, reference["t"] * units.K, reference["td"] * units.K
    )[0].m
    assert within(cape[2], expected)
    full = metpy_column(ds, 0, 0)
    expected = mpcalc.surface_based_cape_cin(
        full["p"] * units.hPa, full["t"] * units.K, full["td"] * units.K
    )[0].m
    assert within(cape[0], expected) and cape[0] != pytest.approx(cape[2], abs=1.0)


# --------------------------------------------------- other parcel/profile products


@pytest.mark.product("lifted_index")
@pytest.mark.product("surface_based_cape_0_3km")
@pytest.mark.product("downdraft_cape")
@pytest.mark.product("showalter_index")
@pytest.mark.product("wet_bulb_zero_height")
@pytest.mark.product("convective_temperature")
def test_profile_diagnostics_match_metpy(small_grid):
    ds, loaded = small_grid
    ids = [
        "lifted_index",
        "surface_based_cape_0_3km",
        "downdraft_cape",
        "showalter_index",
        "wet_bulb_zero_height",
        "convective_temperature",
    ]
    out = derive(ds, ids)
    for i in range(6):
        for j in range(i % 2, 10, 2):  # 30 columns (the wet-bulb loop costs MetPy ~20 ms each)
            c = metpy_column(loaded, i, j)
            p, t, td = c["p"] * units.hPa, c["t"] * units.K, c["td"] * units.K
            li = mpcalc.lifted_index(p, t, mpcalc.parcel_profile(p, t[0], td[0]))[0].m
            assert within(out["lifted_index"].values[0, i, j], li, absolute=1e-3, relative=0)
            layer = get_layer(p, t, td, height=c["z"] * units.m, depth=3000 * units.m)
            cape3 = mpcalc.surface_based_cape_cin(*layer)[0].m
            assert within(out["surface_based_cape_0_3km"].values[0, i, j], cape3)
            assert within(
                out["downdraft_cape"].values[0, i, j], mpcalc.downdraft_cape(p, t, td)[0].m
            )
            showalter = np.atleast_1d(mpcalc.showalter_index(p, t, td).m)[0]
            assert within(
                out["showalter_index"].values[0, i, j], showalter, absolute=1e-3, relative=0
            )
            ccl = mpcalc.ccl(p, t, td)[2].m_as("degC")
            assert within(
                out["convective_temperature"].values[0, i, j], ccl, absolute=1e-3, relative=0
            )
            wet_bulb = mpcalc.wet_bulb_temperature(p, t, td).m_as("degC")
            wbz = 0.0 if wet_bulb[0] <= 0 else np.nan
            for k in range(c["p"].size - 1):
                if wet_bulb[k] >= 0 > wet_bulb[k + 1]:
                    f = wet_bulb[k] / (wet_bulb[k] - wet_bulb[k + 1])
                    crossing = math.exp(
                        math.log(c["p"][k]) + f * math.log(c["p"][k + 1] / c["p"][k])
                    )
                    wbz = height_agl(crossing, c)
                    break
            assert within(
                out["wet_bulb_zero_height"].values[0, i, j], wbz, absolute=1.0, relative=0
            )
    assert out["convective_temperature"].attrs["units"] == "degC"


def test_convective_temperature_of_metpy_docstring_sounding():
    """metpy.calc.ccl docstring example: CCL 758.137 hPa, convective temperature 38.439 °C."""
    p = np.array([993, 957, 925, 886, 850, 813, 798, 732, 716, 700.0])
    t = np.array([34.6, 31.1, 27.8, 24.3, 21.4, 19.6, 18.7, 13, 13.5, 13]) + 273.15
    td = np.array([19.6, 18.7, 17.8, 16.3, 12.4, -0.4, -3.8, -6, -13.2, -11]) + 273.15
    out = np.empty(len(_parcel.PROFILE_FIELDS))
    _parcel._profile_column(p, t, td, np.linspace(0, 3000, p.size), p.size, out)
    assert out[4] - 273.15 == pytest.approx(38.4385502, abs=1e-6)


@pytest.mark.product("k_index")
@pytest.mark.product("total_totals_index")
@pytest.mark.product("severe_weather_threat_index")
@pytest.mark.product("galvez_davison_index")
def test_level_indices_match_metpy(small_grid):
    lazy, ds = small_grid
    out = derive(
        lazy,
        ["k_index", "total_totals_index", "severe_weather_threat_index", "galvez_davison_index"],
    )
    p = ds["pressure"].values * units.hPa
    for i in range(6):
        for j in range(10):
            t = ds["air_temperature"].values[0, :, i, j].astype(float) * units.K
            rh = ds["relative_humidity"].values[0, :, i, j].astype(float) * units.percent
            td = mpcalc.dewpoint_from_relative_humidity(t, rh).to("K")
            u = ds["eastward_wind"].values[0, :, i, j].astype(float) * units("m/s")
            v = ds["northward_wind"].values[0, :, i, j].astype(float) * units("m/s")
            assert out["k_index"].values[0, i, j] == pytest.approx(
                mpcalc.k_index(p, t, td).m_as("degC"), abs=1e-3
            )
            assert out["total_totals_index"].values[0, i, j] == pytest.approx(
                mpcalc.total_totals_index(p, t, td).m, abs=1e-3
            )
            speed = mpcalc.wind_speed(u, v).to("knot")
            sweat = mpcalc.sweat_index(p, t, td, speed, mpcalc.wind_direction(u, v))
            assert out["severe_weather_threat_index"].values[0, i, j] == pytest.approx(
                float(np.atleast_1d(sweat)[0]), abs=1e-2
            )
            mixing = mpcalc.mixing_ratio_from_relative_humidity(p, t, rh)
            psfc = float(ds["surface_air_pressure"].values[0, i, j]) * units.hPa
            gdi = mpcalc.galvez_davison_index(p, t, mixing, psfc)
            assert out["galvez_davison_index"].values[0, i, j] == pytest.approx(
                float(np.atleast_1d(gdi.m)[0]), abs=1e-3
            )


@pytest.mark.parametrize(
    "levels",
    [
        [1000.0, 950.0, 925.0, 850.0, 700.0, 600.0, 500.0, 400.0, 300.0],  # every target a level
        [1013.25, 987.3, 911.7, 833.1, 741.9, 623.3, 517.7, 433.3],  # targets between levels
        [300.0, 500.0, 700.0, 850.0, 950.0, 1000.0],  # ascending: sorted as MetPy sorts
    ],
)
def test_level_indices_on_shared_levels_are_metpys_values_bit_for_bit(levels):
    """The K, total totals, SWEAT and Gálvez–Davison indices interpolate the levels all
    columns share once (MetPy searches every column in a Python loop) and equal MetPy's
    own functions on the same arrays bit for bit, NaN included; so does the interpolation
    itself, targets outside the levels (NaN) included."""
    from weatherdata.products.forecast_warning import convective

    rng = np.random.default_rng(3)
    n, shape = len(levels), (4, 5)
    pressure = np.array(levels).reshape(-1, 1, 1) * units.hPa
    # a tropical profile: 500 hPa near -5 °C, so each GDI term is on in some columns
    standard = np.interp(np.log(levels), np.log([300.0, 500.0, 1000.0]), [240.0, 268.0, 302.0])
    temperature = (standard[:, None, None] + rng.normal(0, 4, (n, *shape))) * units.K
    dewpoint = temperature - rng.uniform(0.5, 25.0, (n, *shape)) * units.K
    relative_humidity = rng.uniform(20.0, 100.0, (n, *shape)) * units.percent
    u = rng.normal(5, 15, (n, *shape)) * units("m/s")
    v = rng.normal(5, 15, (n, *shape)) * units("m/s")
    # a missing temperature on a level the 850 hPa values use reaches every index as in MetPy
    temperature[levels.index(min(level for level in levels if level >= 850)), 1, 3] = np.nan
    surface = rng.uniform(960.0, 1030.0, shape) * units.hPa

    import metpy.interpolate

    targets = [1050.0, 850.0, 700.0, 500.0, 250.0] * units.hPa
    ours = convective._interpolated_to_pressures(targets.m, pressure, temperature, dewpoint)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MetPy warns of the targets outside the levels
        theirs = metpy.interpolate.interpolate_1d(
            targets, np.broadcast_to(pressure, temperature.shape), temperature, dewpoint
        )
    for mine, metpys in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine.m_as("K"), metpys.m_as("K"))
    assert np.isnan(ours[0][0]).all() and np.isnan(ours[0][-1]).all()

    def same(mine, metpys):
        mine = np.asarray(getattr(mine, "m", mine))
        assert np.isfinite(mine).sum() == mine.size - 1  # all but the missing temperature's
        np.testing.assert_array_equal(mine, np.asarray(getattr(metpys, "m", metpys)))

    same(
        convective._k_index(pressure, temperature, dewpoint).m_as("degC"),
        mpcalc.k_index(pressure, temperature, dewpoint).m_as("degC"),
    )
    same(
        convective._total_totals(pressure, temperature, dewpoint).m_as("K"),
        mpcalc.total_totals_index(pressure, temperature, dewpoint).m_as("K"),
    )
    speed = mpcalc.wind_speed(u, v).to("knot")
    same(
        convective._sweat(pressure, temperature, dewpoint, u, v),
        mpcalc.sweat_index(pressure, temperature, dewpoint, speed, mpcalc.wind_direction(u, v)),
    )
    if max(levels) >= 950:
        mixing = mpcalc.mixing_ratio_from_relative_humidity(
            pressure, temperature, relative_humidity
        )
        same(
            convective._galvez_davison(pressure, temperature, relative_humidity, surface),
            mpcalc.galvez_davison_index(
                np.broadcast_to(pressure, temperature.shape), temperature, mixing, surface
            ),
        )


def test_k_index_and_total_totals_hand_computed():
    """K = (20 − (−10)) + 15 − (10 − 5) = 40 °C; TT = (20 + 10) + (15 + 10) = 55 K."""
    temperature = np.array([[[[25.0]], [[20.0]], [[10.0]], [[-10.0]]]])[:, :, :, :] + 273.15
    dewpoint = np.array([[[[20.0]], [[15.0]], [[5.0]], [[-30.0]]]]) + 273.15
    rh = relative_humidity_percent(temperature, dewpoint)
    ds = grid_dataset(
        {"air_temperature": temperature, "relative_humidity": rh},
        times=1,
        shape=(1, 1),
        levels=[1000.0, 850.0, 700.0, 500.0],
    )
    # The dewpoints come back from RH (Ambaum e_s, Bolton inverse): within 0.1 K.
    assert derive_one("k_index", ds).item() == pytest.approx(40.0, abs=0.2)
    assert derive_one("total_totals_index", ds).item() == pytest.approx(55.0, abs=0.2)


@pytest.mark.product("equivalent_potential_temperature_deficit")
def test_theta_e_deficit_matches_metpy(small_grid):
    lazy, ds = small_grid
    out = derive_one("equivalent_potential_temperature_deficit", lazy)
    p = ds["pressure"].values
    for i, j in [(0, 0), (2, 5), (5, 9)]:
        t = ds["air_temperature"].values[0, :, i, j].astype(float) * units.K
        rh = ds["relative_humidity"].values[0, :, i, j].astype(float) * units.percent
        td = mpcalc.dewpoint_from_relative_humidity(t, rh).to("K")
        theta = mpcalc.equivalent_potential_temperature(p * units.hPa, t, td).m
        psfc = float(ds["surface_air_pressure"].values[0, i, j])
        layer = (p <= 700) & (p >= 500) & (p < psfc)
        surface = mpcalc.equivalent_potential_temperature(
            psfc * units.hPa,
            float(ds["air_temperature_2m"].values[0, i, j]) * units.K,
            float(ds["dewpoint_temperature_2m"].values[0, i, j]) * units.K,
        ).m
        assert out.values[0, i, j] == pytest.approx(surface - theta[layer].min(), abs=1e-3)
    # A different layer through the catalog parameters (unverified convention).
    narrow = derive_one(
        "equivalent_potential_temperature_deficit", lazy, parameters={"layer_top": "600 hPa"}
    )
    assert (narrow.values <= out.values + 1e-4).all()


# ------------------------------------------------------------------- wind profile


@pytest.mark.product("bulk_shear_0_1km")
@pytest.mark.product("bulk_shear_0_6km")
@pytest.mark.product("storm_relative_helicity_0_1km")
@pytest.mark.product("storm_relative_helicity_0_3km")
@pytest.mark.product("bunkers_right_mover_storm_motion")
@pytest.mark.product("corfidi_mesoscale_convective_system_motion")
@pytest.mark.product("mean_wind_0_6km")
@pytest.mark.product("critical_angle")
def test_wind_products_match_metpy(small_grid):
    lazy, loaded = small_grid
    ids = [
        "bulk_shear_0_1km",
        "bulk_shear_0_6km",
        "storm_relative_helicity_0_1km",
        "storm_relative_helicity_0_3km",
        "bunkers_right_mover_storm_motion",
        "corfidi_mesoscale_convective_system_motion",
        "mean_wind_0_6km",
        "critical_angle",
    ]
    out = derive(lazy, ids)
    assert out["bunkers_right_mover_storm_motion"].dims == (
        "time",
        "component",
        "latitude",
        "longitude",
    )
    assert list(out["bunkers_right_mover_storm_motion"]["component"].values) == [
        "eastward",
        "northward",
    ]
    corfidi = out["corfidi_mesoscale_convective_system_motion"]
    assert corfidi.dims == ("time", "motion", "component", "latitude", "longitude")
    for i in range(6):
        for j in range(10):
            c = metpy_column(loaded, i, j)
            p, z = c["p"] * units.hPa, c["z"] * units.m
            u, v = c["u"] * units("m/s"), c["v"] * units("m/s")
            for pid, depth in [("bulk_shear_0_1km", 1000), ("bulk_shear_0_6km", 6000)]:
                shear = mpcalc.bulk_shear(p, u, v, height=z, depth=depth * units.m)
                assert out[pid].values[0, i, j] == pytest.approx(
                    math.hypot(shear[0].m, shear[1].m), abs=1e-4
                )
            right, _, mean = mpcalc.bunkers_storm_motion(p, u, v, z)
            np.testing.assert_allclose(
                out["bunkers_right_mover_storm_motion"].values[0, :, i, j], right.m, atol=1e-4
            )
            np.testing.assert_allclose(out["mean_wind_0_6km"].values[0, :, i, j], mean.m, atol=1e-4)
            for pid, depth in [
                ("storm_relative_helicity_0_1km", 1000),
                ("storm_relative_helicity_0_3km", 3000),
            ]:
                srh = mpcalc.storm_relative_helicity(
                    z, u, v, depth * units.m, storm_u=right[0], storm_v=right[1]
                )[2]
                assert out[pid].values[0, i, j] == pytest.approx(srh.m, abs=1e-3)
            upshear, downshear = mpcalc.corfidi_storm_motion(p, u, v)
            np.testing.assert_allclose(
                corfidi.values[0, :, :, i, j], [upshear.m, downshear.m], atol=1e-4
            )
            angle = mpcalc.critical_angle(p, u, v, z, right[0], right[1]).m
            assert out["critical_angle"].values[0, i, j] == pytest.approx(angle, abs=1e-3)


def test_bunkers_motion_of_a_straight_hodograph_by_hand():
    """Unidirectional shear u = z/1000 m/s (0–10 km): the right mover deviates 7.5 m/s to the right
    of the (eastward) shear, i.e. southward; 0–6 km shear 6 m/s; SRH = 7.5 × 3 = 22.5 m²/s²."""
    heights = np.arange(0.0, 10001.0, 250.0)
    pressure = 1000.0 * np.exp(-heights / 8000.0)
    u = heights / 1000.0
    out = np.empty(len(_parcel.KINEMATIC_FIELDS))
    _parcel._kinematic_column(
        pressure, u, np.zeros_like(u), heights, u.size, 1000.0, 6000.0, 1000.0, 3000.0, out
    )
    fields = dict(zip(_parcel.KINEMATIC_FIELDS, out, strict=True))
    # ∫u dp/Δp with p = p0 e^{-z/H} is not exactly the height mean; MetPy's own value:
    reference = mpcalc.bunkers_storm_motion(
        pressure * units.hPa, u * units("m/s"), np.zeros_like(u) * units("m/s"), heights * units.m
    )
    assert fields["bunkers_right_eastward"] == pytest.approx(reference[0][0].m, abs=1e-9)
    assert fields["bunkers_right_northward"] == pytest.approx(
        -7.5, abs=1e-9
    )  # straight shear: pure deviation
    assert fields["bulk_shear_deep_eastward"] == pytest.approx(6.0, abs=1e-9)
    assert fields["storm_relative_helicity_deep"] == pytest.approx(22.5, abs=1e-9)
    # Straight hodograph, storm 7.5 m/s to its right: SRH = 7.5 m/s × |ΔV(0–3 km)| = 7.5 × 3.


# ----------------------------------------------------------------------- composites


@pytest.mark.product("significant_tornado_parameter")
@pytest.mark.product("supercell_composite_parameter")
@pytest.mark.product("energy_helicity_index_0_1km")
def test_composites_apply_metpy_and_sharplib_to_the_other_products(small_grid):
    ds, _ = small_grid
    ids = [
        "significant_tornado_parameter",
        "supercell_composite_parameter",
        "energy_helicity_index_0_1km",
        "surface_based_cape",
        "mixed_layer_cape",
        "most_unstable_cape",
        "lifting_condensation_level_height",
        "storm_relative_helicity_0_1km",
        "storm_relative_helicity_0_3km",
        "bulk_shear_0_6km",
    ]
    out = derive(ds, ids)
    stp = mpcalc.significant_tornado(
        out["surface_based_cape"].values * units("J/kg"),
        out["lifting_condensation_level_height"].values * units.m,
        out["storm_relative_helicity_0_1km"].values * units("m^2/s^2"),
        out["bulk_shear_0_6km"].values * units("m/s"),
    ).m
    np.testing.assert_allclose(out["significant_tornado_parameter"].values, stp, atol=1e-4)
    scp = mpcalc.supercell_composite(
        out["most_unstable_cape"].values * units("J/kg"),
        out["storm_relative_helicity_0_3km"].values * units("m^2/s^2"),
        out["bulk_shear_0_6km"].values * units("m/s"),
    ).m
    np.testing.assert_allclose(
        out["supercell_composite_parameter"].values,
        scp.reshape(out["supercell_composite_parameter"].shape),
        atol=1e-4,
    )
    ehi = out["mixed_layer_cape"].values * out["storm_relative_helicity_0_1km"].values / 160000.0
    np.testing.assert_allclose(out["energy_helicity_index_0_1km"].values, ehi, rtol=1e-5, atol=1e-6)


def test_significant_tornado_parameter_hand_computed():
    """MetPy docstring-style case: 3000 J/kg, LCL 1500 m, SRH 150, shear 25 m/s →
    2 · 0.5 · 1 · 1.25 = 1.25; LCL 2100 m → 0; shear 12 m/s → 0."""
    args = [
        xr.DataArray(np.array(v, float), dims="x", attrs={"units": u})
        for v, u in [
            ([3000, 3000, 3000], "J kg-1"),
            ([1500, 2100, 1500], "m"),
            ([150, 150, 150], "m2 s-2"),
            ([25, 25, 12], "m s-1"),
            ([0, 0, 0], "m s-1"),
        ]
    ]
    from weatherdata.products.forecast_warning.convective import significant_tornado_parameter

    np.testing.assert_allclose(
        significant_tornado_parameter(*args).values, [1.25, 0.0, 0.0], atol=1e-9
    )


@pytest.mark.parametrize(
    ("cape", "mixing", "lapse", "t500", "fzl", "shear", "expected"),
    [
        # base: 2000 · 12 · 7 · 15 · 20 / 42e6 = 1.2
        (2000, 0.012, 7.0, 258.15, 3000, 20, 1.2),
        # clamps: r 15 g/kg → 13.6, shear 30 → 27, T500 −3 °C → −5.5 °C
        (2000, 0.015, 7.0, 270.15, 3000, 30, 2000 * 13.6 * 7 * 5.5 * 27 / 42e6),
        # r 9 g/kg → 11, shear 5 → 7
        (2000, 0.009, 7.0, 258.15, 3000, 5, 2000 * 11 * 7 * 15 * 7 / 42e6),
        # reductions: CAPE 650 (×0.5), lapse 2.9 (×0.5), FZL 1200 m (×0.5)
        (650, 0.012, 2.9, 258.15, 1200, 20, 650 * 12 * 2.9 * 15 * 20 / 42e6 * 0.5 * 0.5 * 0.5),
        # exactly at the reduction thresholds: no reduction
        (1300, 0.012, 5.8, 258.15, 2400, 20, 1300 * 12 * 5.8 * 15 * 20 / 42e6),
    ],
)
def test_significant_hail_parameter_formula_at_its_bounds(
    cape, mixing, lapse, t500, fzl, shear, expected
):
    assert _ship(
        np.float64(cape),
        np.float64(mixing),
        np.float64(lapse),
        np.float64(t500),
        np.float64(fzl),
        np.float64(shear),
    ) == pytest.approx(expected, rel=1e-12)


@pytest.mark.product("significant_hail_parameter")
@pytest.mark.product("derecho_composite_parameter")
def test_hail_and_derecho_parameters_from_metpy_columns(small_grid):
    lazy, ds = small_grid
    out = derive(
        lazy,
        [
            "significant_hail_parameter",
            "derecho_composite_parameter",
            "bulk_shear_0_6km",
            "mean_wind_0_6km",
            "downdraft_cape",
        ],
    )
    for i, j in [(0, 0), (1, 3), (3, 7), (5, 9)]:
        c = metpy_column(ds, i, j)
        p, t, td = c["p"] * units.hPa, c["t"] * units.K, c["td"] * units.K
        mucape = mpcalc.most_unstable_cape_cin(p, t, td)[0].m
        mu_p, _, mu_td, _ = mpcalc.most_unstable_parcel(p, t, td)
        mixing = mpcalc.saturation_mixing_ratio(mu_p, mu_td).m
        t700, t500 = (
            np.interp(np.log(lv), np.log(c["p"][::-1]), c["t"][::-1]) for lv in (700.0, 500.0)
        )
        z700, z500 = (
            np.interp(np.log(lv), np.log(c["p"][::-1]), c["z"][::-1]) for lv in (700.0, 500.0)
        )
        lapse = (t700 - t500) / ((z500 - z700) / 1000.0)
        warm = c["t"] >= 273.15
        k = int(np.argmin(warm))  # first level below 0 °C above a warm one
        f = (273.15 - c["t"][k - 1]) / (c["t"][k] - c["t"][k - 1])
        fzl = height_agl(
            math.exp(math.log(c["p"][k - 1]) + f * math.log(c["p"][k] / c["p"][k - 1])), c
        )
        shear = float(out["bulk_shear_0_6km"].values[0, i, j])
        # SHARPlib significant_hail_parameter, written out scalar by scalar
        r = min(max(mixing * 1000, 11.0), 13.6)
        s = min(max(shear, 7.0), 27.0)
        t5 = min(t500 - 273.15, -5.5)
        ship = mucape * r * lapse * -t5 * s / 42e6
        ship = ship * mucape / 1300 if mucape < 1300 else ship
        ship = ship * lapse / 5.8 if lapse < 5.8 else ship
        ship = ship * fzl / 2400 if fzl < 2400 else ship
        assert out["significant_hail_parameter"].values[0, i, j] == pytest.approx(
            ship, rel=2e-3, abs=2e-3
        )
        # DCP: (DCAPE/980)(MUCAPE/2000)(shear/20 kt)(mean wind/16 kt)
        dcape = mpcalc.downdraft_cape(p, t, td)[0].m
        wind = float(np.hypot(*out["mean_wind_0_6km"].values[0, :, i, j]))
        dcp = dcape / 980 * mucape / 2000 * shear / (20 * 0.514444) * wind / (16 * 0.514444)
        assert out["derecho_composite_parameter"].values[0, i, j] == pytest.approx(
            dcp, rel=2e-3, abs=1e-4
        )


def test_derecho_and_energy_helicity_hand_computed():
    """DCP = (980/980)(2000/2000)(20 kt/20 kt)(16 kt/16 kt) = 1; EHI = 2000·160/160000 = 2."""
    from weatherdata.products.forecast_warning.convective import (
        derecho_composite_parameter,
        energy_helicity_index,
    )

    def da(value, unit):
        return xr.DataArray(np.array([value], float), dims="x", attrs={"units": unit})

    knot = 0.514444
    dcp = derecho_composite_parameter(
        da(980, "J kg-1"),
        da(2000, "J kg-1"),
        da(20 * knot * 0.6, "m s-1"),
        da(20 * knot * 0.8, "m s-1"),
        da(16, "knot"),
        da(0, "knot"),
    )
    assert dcp.item() == pytest.approx(1.0, rel=1e-5)
    assert energy_helicity_index(da(2000, "J kg-1"), da(160, "m2 s-2")).item() == pytest.approx(2.0)


# ------------------------------------------------------------- end to end, slow


def test_each_ascent_is_computed_once_and_shared(small_grid):
    from weatherdata import engine

    lazy, _ = small_grid
    before = engine.recipe_calls.copy()
    ids = [
        "surface_based_cape",
        "surface_based_cin",
        "lifted_index",
        "significant_tornado_parameter",
        "bulk_shear_0_6km",
    ]
    weatherdata.derive(lazy, ids)
    calls = {
        k: engine.recipe_calls[k] - before.get(k, 0)
        for k in ("surface_based_parcel", "storm_kinematics")
    }
    assert calls == {"surface_based_parcel": 1, "storm_kinematics": 1}


def test_column_kernels_run_in_pieces_with_the_values_of_one_block(small_grid, monkeypatch):
    """Blocks of more than ``COLUMNS_PER_TASK`` columns are split (here the grid's rows, the
    one time step being too many already); every parcel, profile and kinematic kernel
    gives the values it gives on the whole block."""
    lazy, _ = small_grid
    ids = [
        "surface_based_cape",
        "mixed_layer_cin",
        "most_unstable_cape",
        "convective_temperature",
        "bulk_shear_0_6km",
        "storm_relative_helicity_0_1km",
    ]
    whole = weatherdata.derive(lazy, ids)
    assert all(whole[name].data.npartitions == 1 for name in ids)
    monkeypatch.setattr(_parcel, "COLUMNS_PER_TASK", 16)  # 60 columns: rows of 10
    pieces = weatherdata.derive(lazy, ids)
    assert all(pieces[name].data.npartitions == 6 for name in ids)
    xr.testing.assert_identical(pieces.compute(), whole.compute())


def test_products_compute_on_forecast_grids_along_lead_time(small_grid):
    """The same entries run on a forecast dataset (init_time, lead_time) passed as the dataset."""
    lazy, _ = small_grid
    ds = lazy.isel(time=0, drop=True)
    forecast = ds.expand_dims(
        init_time=pd.DatetimeIndex(["2026-07-25T00:00"]), lead_time=pd.to_timedelta([1, 2], "h")
    )
    forecast = forecast.transpose("init_time", "lead_time", ...)
    out = weatherdata.derive(
        forecast, ["surface_based_cape", "bunkers_right_mover_storm_motion"]
    ).compute()
    assert out["surface_based_cape"].dims == ("init_time", "lead_time", "latitude", "longitude")
    reference = derive(lazy, ["surface_based_cape"])["surface_based_cape"].values[0]
    np.testing.assert_allclose(out["surface_based_cape"].values[0, 1], reference)


#: Columns of the second agreement sample: MetPy needs ~28 ms per column for the three
#: parcels, so the default run checks 400 (11 s); the full sample is 2000 (~1 min).
MORE_COLUMNS = int(os.environ.get("WEATHERDATA_PARCEL_COLUMNS", "400"))


@pytest.mark.slow
def test_parcel_agreement_distribution_on_more_columns(capsys):
    """Agreement on ``MORE_COLUMNS`` more columns of another seed: every column within
    tolerance; prints the distribution of the differences."""
    assert MORE_COLUMNS % 50 == 0, "WEATHERDATA_PARCEL_COLUMNS: a multiple of 50"
    rows = MORE_COLUMNS // 50
    columns = synthetic_columns(MORE_COLUMNS, seed=99)
    lazy = to_dataset(columns, (rows, 50))
    ds = lazy.compute()
    out = derive(
        lazy,
        [
            "surface_based_cape",
            "surface_based_cin",
            "mixed_layer_cape",
            "mixed_layer_cin",
            "most_unstable_cape",
        ],
    )
    differences = {k: [] for k in ("SBCAPE", "SBCIN", "MLCAPE", "MLCIN", "MUCAPE", "LCL hPa")}
    failures = []
    for i in range(rows):
        for j in range(50):
            column = metpy_column(ds, i, j)
            ref = metpy_parcels(column, levels=False)
            pairs = [
                ("SBCAPE", "surface_based_cape", ref["surface"]["cape"]),
                ("SBCIN", "surface_based_cin", ref["surface"]["cin"]),
                ("MLCAPE", "mixed_layer_cape", ref["mixed"]["cape"]),
                ("MLCIN", "mixed_layer_cin", ref["mixed"]["cin"]),
                ("MUCAPE", "most_unstable_cape", ref["unstable"]["cape"]),
            ]
            for name, pid, value in pairs:
                ours = float(out[pid].values[0, i, j])
                differences[name].append(ours - value)
                if not within(ours, value):
                    failures.append((name, i, j, ours, value))
            differences["LCL hPa"].append(
                _parcel.lcl(column["p"][0], column["t"][0], column["td"][0])[0]
                - ref["surface"]["lcl"]
            )
    with capsys.disabled():
        for name, values in differences.items():
            a = np.abs(np.asarray(values))
            print(
                f"{name:8s} n={a.size} max={a.max():.3g} p99={np.percentile(a, 99):.3g} p50={np.percentile(a, 50):.3g}"
            )
    assert not failures, failures[:10]


@pytest.mark.slow
def test_all_products_on_the_demo(demo_directory):
    catalog = weatherdata.load_catalog()
    ids = [
        e.id
        for e in catalog.products.values()
        if e.recipe.startswith(("forecast_warning.convective", "forecast_warning.kinematics"))
    ]
    observations = weatherdata.open_observations(demo_directory).isel(time=slice(30, 33))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = weatherdata.derive(observations, ids).compute()
    for pid in ids:
        assert np.isfinite(out[pid].values).mean() > 0.5 or pid == "equilibrium_level_height", pid
    assert float(out["surface_based_cape"].max()) > 1000  # the summer afternoon is unstable


def test_log_interpolation_matches_metpy_at_levels_bounds_and_between():
    """``_interp_log`` finds its bracketing levels by bisection: the same values as MetPy's
    ``log_interpolate_1d`` at every level, at both bounds, between levels, and NaN outside."""
    from metpy.interpolate import log_interpolate_1d

    rng = np.random.default_rng(7)
    for n in (2, 3, 8, 22):
        p = np.sort(rng.uniform(100.0, 1000.0, n))[::-1].copy()
        f = rng.normal(280.0, 20.0, n)
        inside = rng.uniform(p[-1], p[0], 50)
        points = np.concatenate([p, inside, [p[0] * (1 + 1e-12), p[-1] * (1 - 1e-12)]])
        ours = np.array([_parcel._interp_log(x, p, f, n) for x in points])
        theirs = np.array(
            [log_interpolate_1d(np.array([x]), p[::-1].copy(), f[::-1].copy())[0] for x in points]
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        assert np.isnan(ours[-2:]).all()


def test_wet_bulb_zero_height_is_the_first_crossing_of_every_levels_wet_bulb():
    """Computed lazily (up to the crossing), the height equals the crossing of the wet bulb
    computed at every level: warm, cold, saturated and all-above-zero columns."""
    p = np.array([1000, 950, 900, 850, 800, 700, 600, 500, 400, 300.0])
    z = np.array([100, 540, 990, 1460, 1950, 3010, 4200, 5570, 7190, 9160.0])
    base = np.array([30, 26, 23, 20, 17, 10, 2, -6, -17, -32.0]) + 273.15
    for t, spread in ((base, 4.0), (base - 25.0, 3.0), (base, 0.0), (base + 60.0, 8.0)):
        td = t - spread
        n = p.size
        wet_bulb = np.array([_parcel.wet_bulb_temperature(p[i], t[i], td[i]) for i in range(n)])
        expected = _parcel._first_crossing_height(p, wet_bulb, z, n, _parcel.ZERO_CELSIUS)
        got = _parcel._wet_bulb_zero_height(p, t, td, z, n)
        assert got == expected or (np.isnan(got) and np.isnan(expected))
