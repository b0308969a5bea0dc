"""Reference values for the radar and upper-air observation products (rows 46–81).

References: MetPy on the same columns (precipitable water, thickness, θe), per-column
``numpy.interp`` / ``numpy.trapezoid`` loops for every vectorized column kernel,
a per-point loop for the Steiner–Houze–Yuter classification, hand-computed cases from
the published formulas (Greene & Clark 1972 VIL, Witt et al. 1998 SHI/POSH/MESH, Z–R),
and the real soundings in ``tests/data/soundings``.
"""

from __future__ import annotations

import math
from pathlib import Path

import dask.array as dask_array
import metpy.calc as mpcalc
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from metpy.units import units
from weatherdata.products.observation import _column_kernels as kernels
from weatherdata.products.observation.hail import probability_of_severe_hail
from weatherdata.products.observation.upper_air import precipitable_water_from_dewpoint

from tests.helpers import catalog_section, derive_one, grid_dataset
from weatherdata.units import parse_quantity

ROOT = Path(__file__).resolve().parents[2]
SOUNDINGS = ROOT / "tests" / "data" / "soundings"

LEVELS = [
    1000.0,
    975.0,
    950.0,
    925.0,
    900.0,
    850.0,
    800.0,
    700.0,
    600.0,
    500.0,
    400.0,
    300.0,
    250.0,
    200.0,
]
HEIGHTS = [500.0 * k for k in range(1, 37)]  # 0.5–18 km CAPPIs
NO_ECHO = -32.0


def test_fragment_declares_the_36_products_of_rows_46_to_81():
    fragment = catalog_section("observation_radar_upper_air")
    ids = [entry["id"] for entry in fragment["products"]]
    assert len(ids) == 36 and len(set(ids)) == 36
    assert [entry["id"] for entry in fragment["intermediates"]] == ["minus_10c_level_height"]


# -- synthetic inputs ---------------------------------------------------------------------


def _standard_heights(surface_temperature, lapse=6.5e-3):
    """Hydrostatic heights (m) of LEVELS in a constant-lapse-rate atmosphere (1013.25 hPa at 0 m)."""
    p = np.asarray(LEVELS)
    return surface_temperature / lapse * (1.0 - (p / 1013.25) ** (287.05 * lapse / 9.80665))


def _random_profiles(shape=(10, 12), seed=1):
    """Plausible, varied columns: T, Td, Z on LEVELS plus surface fields, with inversions and NaNs."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    n = len(LEVELS)
    t_surface = rng.uniform(268.0, 305.0, shape)
    lapse = rng.uniform(4.0e-3, 8.0e-3, shape)
    z = np.stack(
        [_standard_heights(t, g) for t, g in zip(t_surface.ravel(), lapse.ravel(), strict=True)]
    )
    z = z.reshape(ny, nx, n)
    temperature = t_surface[..., None] - lapse[..., None] * z + rng.normal(0.0, 1.5, (ny, nx, n))
    # Some warm layers aloft (inversions) and some missing levels.
    temperature[0, :, 3] += 8.0
    temperature[1, 2, 6] = np.nan
    dewpoint = temperature - rng.uniform(0.5, 25.0, (ny, nx, n))
    surface_altitude = rng.uniform(0.0, 1500.0, shape)
    surface_altitude[2, :4] = 0.0
    temperature_2m = t_surface - lapse * surface_altitude + rng.normal(0.0, 2.0, shape)
    surface_pressure = 1013.25 * (1.0 - lapse * surface_altitude / t_surface) ** (
        9.80665 / (287.05 * lapse)
    )
    dewpoint_2m = temperature_2m - rng.uniform(0.5, 15.0, shape)

    def move(a):  # (y, x, level) -> (1, level, y, x)
        return np.moveaxis(a, -1, 0)[None]

    return {
        "air_temperature": move(temperature),
        "dewpoint_temperature": move(dewpoint),
        # Specific humidity of that dewpoint (MetPy), so MetPy's dewpoint-based
        # precipitable_water sees exactly the same water vapour.
        "specific_humidity": move(
            mpcalc.specific_humidity_from_dewpoint(
                np.asarray(LEVELS) * units.hPa, dewpoint * units.K
            ).m_as("")
        ),
        "geopotential_height": move(z),
        "air_temperature_2m": temperature_2m[None],
        "dewpoint_temperature_2m": dewpoint_2m[None],
        "surface_altitude": surface_altitude,
        "surface_air_pressure": surface_pressure[None],
    }


def _dataset(variables, **kwargs):
    kwargs.setdefault("times", 1)
    kwargs.setdefault("levels", LEVELS)
    shapes = [np.shape(v)[-2:] for v in variables.values() if np.ndim(v) >= 2]
    kwargs.setdefault("shape", shapes[0] if shapes else (3, 4))
    return grid_dataset(variables, **kwargs)


def _replace(ds, name, values):
    """``ds`` with variable ``name`` replaced by ``values`` (kept lazy, as grid_dataset makes it)."""
    values = np.asarray(values, dtype=np.float32)
    return ds.assign(
        {name: (ds[name].dims, dask_array.from_array(values, chunks=values.shape), ds[name].attrs)}
    )


def _radar(reflectivity, *, heights=HEIGHTS, **extra):
    """A dataset with a (time, height, y, x) reflectivity and optional other variables."""
    reflectivity = np.asarray(reflectivity, dtype=float)
    shape = reflectivity.shape[-2:]
    return grid_dataset(
        {"radar_reflectivity": reflectivity, **extra},
        times=reflectivity.shape[0],
        heights=heights,
        shape=shape,
    )


def _f32(array):
    """The values as the engine sees them (grid_dataset stores float32)."""
    return np.asarray(array, dtype=np.float32).astype(np.float64)


# -- column kernels against per-column numpy loops ------------------------------------------


def _reference_interp(coordinate, values, target):
    ok = np.isfinite(coordinate) & np.isfinite(values)
    return (
        np.interp(target, coordinate[ok], values[ok], left=np.nan, right=np.nan)
        if ok.any()
        else np.nan
    )


def _reference_highest_crossing(coordinate, values, target):
    ok = np.isfinite(coordinate) & np.isfinite(values)
    c, v = coordinate[ok], values[ok]
    if c.size == 0:
        return np.nan, kernels.NO_DATA
    reaching = np.flatnonzero(v >= target)
    if reaching.size == 0:
        return c[0], kernels.NONE_ABOVE
    k = reaching[-1]
    if k == c.size - 1:
        return c[k], kernels.TOP_ABOVE
    return np.interp(target, [v[k + 1], v[k]], [c[k + 1], c[k]]), kernels.CROSSING


def _random_columns(seed, count=400, levels=30):
    rng = np.random.default_rng(seed)
    coordinate = np.sort(rng.uniform(0.0, 15000.0, (count, levels)), axis=-1)
    values = rng.normal(20.0, 20.0, (count, levels))
    values[rng.random((count, levels)) < 0.1] = np.nan
    values[:5] = np.nan  # empty columns
    return coordinate, values


def test_interpolate_to_matches_numpy_interp_column_by_column():
    coordinate, values = _random_columns(2)
    targets = np.random.default_rng(3).uniform(-500.0, 15500.0, coordinate.shape[0])
    out = kernels.interpolate_to(coordinate, values, targets)
    expected = [
        _reference_interp(c, v, t) for c, v, t in zip(coordinate, values, targets, strict=True)
    ]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-9, equal_nan=True)
    assert np.isnan(out).any() and np.isfinite(out).sum() > 300


def test_highest_crossing_matches_a_per_column_loop():
    coordinate, values = _random_columns(4)
    out, status = kernels.highest_crossing(coordinate, values, 25.0)
    expected = [
        _reference_highest_crossing(c, v, 25.0) for c, v in zip(coordinate, values, strict=True)
    ]
    np.testing.assert_allclose(out, [e[0] for e in expected], rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(status, [e[1] for e in expected])
    assert set(np.unique(status)) == {kernels.CROSSING, kernels.TOP_ABOVE, kernels.NO_DATA}


#: The kernels that read one profile against a coordinate, with their scalar arguments.
_PROFILE_KERNELS = [
    (kernels.interpolate_to, [7000.0]),
    (kernels.highest_crossing, [25.0]),
    (kernels.vertically_integrated_liquid, [56.0]),
    (kernels.severe_hail_index, [4000.0, 8000.0, 40.0, 50.0]),
    (kernels.maximum_above, [6000.0]),
    (kernels.height_and_value_of_maximum, []),
    (kernels.lowest_valid_above, [1200.0]),
]


@pytest.mark.parametrize("kernel, scalars", _PROFILE_KERNELS)
def test_float32_profiles_give_exactly_the_float64_results(kernel, scalars):
    """The kernels that keep float32 profiles (no conversion copy) promote each value to
    float64 where it is used: the results equal those of the same values as float64."""
    coordinate, values = _random_columns(5)
    values = values.astype(np.float32)
    # a strided view, as apply_ufunc hands blocks over (the vertical moved last)
    strided = np.moveaxis(np.ascontiguousarray(np.moveaxis(values, -1, 0)), 0, -1)
    for height in (coordinate, coordinate.astype(np.float32)):
        single = kernel(height, strided, *scalars)
        double = kernel(height.astype(np.float64), values.astype(np.float64), *scalars)
        for a, b in zip(np.atleast_1d(single), np.atleast_1d(double), strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kernel, scalars", [*_PROFILE_KERNELS, (kernels.pressure_integral, [9000.0, 3.0])]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_transposed_grid_block_gives_each_column_its_own_result(kernel, scalars, dtype):
    """A (time, level, y, x) block with the vertical moved last, as ``apply_ufunc`` hands
    it over (a strided view the loops read in place, split into time × grid cells), and
    per-column scalars varying over (y, x): every column's result equals the kernel on
    that column alone."""
    rng = np.random.default_rng(11)
    times, levels, ny, nx = 3, 12, 5, 7
    native = rng.normal(20.0, 20.0, (times, levels, ny, nx)).astype(dtype)
    native[rng.random(native.shape) < 0.15] = np.nan
    native[1, :, 2, 3] = np.nan  # an empty column
    block = np.moveaxis(native, 1, -1)
    assert not block.flags.c_contiguous
    height = np.linspace(0.0, 15000.0, levels)
    if kernel is kernels.pressure_integral:
        height = np.linspace(1000.0, 100.0, levels)  # hPa, decreasing
    varying = [s + rng.uniform(-500.0, 500.0, (ny, nx)) if s > 100.0 else s for s in scalars]
    whole = np.atleast_1d(kernel(height, block, *varying))
    if isinstance(whole, tuple):
        whole = np.stack(whole)
    for t in range(times):
        for y in range(ny):
            for x in range(nx):
                here = [np.asarray(s)[y, x] if np.ndim(s) else s for s in varying]
                alone = kernel(height, np.ascontiguousarray(block[t, y, x]), *here)
                alone = np.stack(alone) if isinstance(alone, tuple) else np.atleast_1d(alone)
                got = whole[..., t, y, x] if whole.ndim == 4 else whole[t, y, x]
                np.testing.assert_array_equal(np.squeeze(got), np.squeeze(alone))


def test_apply_columns_hands_dask_blocks_over_without_copying_them():
    """The lazy path gives the block function the native ``(time, level, y, x)`` block
    with the vertical moved last as a view (Dask's gufunc path copied each block into
    ``(time, y, x, level)`` order, a gather per product), lines up per-column inputs of
    other shapes and chunks, and equals the eager result."""
    rng = np.random.default_rng(5)
    times, levels, ny, nx = 4, 9, 6, 5
    values = rng.normal(20.0, 20.0, (times, levels, ny, nx)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    heights = xr.DataArray(np.linspace(0.0, 12000.0, levels), dims="height")
    bottoms = rng.uniform(0.0, 6000.0, (ny, nx))  # per grid cell
    offsets = rng.uniform(0.0, 500.0, times)  # per time: a dimension missing in the middle
    seen = []

    def block_function(height, reflectivity, bottom, offset):
        seen.append(reflectivity.strides)
        return kernels.maximum_above(height, reflectivity, bottom + offset)

    def run(chunked):
        data = xr.DataArray(values, dims=("time", "height", "y", "x"))
        bottom = xr.DataArray(bottoms, dims=("y", "x"))
        offset = xr.DataArray(offsets, dims="time")
        if chunked:
            data = data.chunk({"time": 2, "height": 4, "y": 3})  # the vertical gets merged
            offset = offset.chunk({"time": 1})  # finer: the data's blocks are split
        return kernels.apply_columns(
            block_function,
            heights,
            data,
            bottom,
            offset,
            core_dims=["height", "height", None, None],
        )

    eager = run(chunked=False)
    seen.clear()
    lazy = run(chunked=True)
    assert lazy.chunks is not None and not seen  # nothing computed yet
    assert lazy.dims == ("time", "y", "x")
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert len(seen) == times * 2  # time split to single steps, y in two chunks
    # the level axis is 3 rows of nx float32 apart: a view of the native block (a copy
    # into rows would make it 4 bytes)
    assert {strides[-1] for strides in seen} == {3 * nx * 4}
    for t in range(times):
        for y in range(ny):
            for x in range(nx):
                alone = kernels.maximum_above(
                    heights.values, values[t, :, y, x], bottoms[y, x] + offsets[t]
                )
                np.testing.assert_array_equal(lazy.values[t, y, x], alone)


def test_whole_column_merges_the_vertical_only_where_it_is_split():
    values = xr.DataArray(np.zeros((2, 6, 3)), dims=("time", "height", "x"))
    assert kernels.whole_column(values, "height") is values  # in memory
    split = values.chunk({"time": 1, "height": 2})
    merged = kernels.whole_column(split, "height")
    assert merged.chunks == ((1, 1), (6,), (3,))
    assert kernels.whole_column(merged, "height") is merged  # already one chunk
    assert kernels.whole_column(split, "level") is split  # no such dimension


def test_height_and_value_of_maximum_gives_the_column_maximum_in_the_same_pass():
    coordinate, values = _random_columns(8)
    heights, maxima = kernels.height_and_value_of_maximum(coordinate, values)
    expected = np.max(np.where(np.isnan(values), -np.inf, values), axis=-1)
    np.testing.assert_array_equal(maxima, expected)
    np.testing.assert_array_equal(heights, kernels.height_of_maximum(coordinate, values))
    assert np.isneginf(maxima[:5]).all() and np.isnan(heights[:5]).all()


# -- composites ---------------------------------------------------------------------------


def _stack(profile, shape=(3, 4), times=1):
    """Broadcast one column (over HEIGHTS) to (time, height, y, x)."""
    profile = np.asarray(profile, dtype=float)
    return np.broadcast_to(profile[None, :, None, None], (times, profile.size, *shape)).copy()


def _column_profile():
    z = np.full(len(HEIGHTS), NO_ECHO)
    z[0:4] = [35.0, 38.0, 41.0, 44.0]  # 0.5–2 km
    z[6] = 47.0  # 3.5 km
    z[14] = 52.0  # 7.5 km (above 24 kft = 7315 m)
    z[20] = 30.0  # 10.5 km
    return z


@pytest.mark.product("composite_reflectivity")
@pytest.mark.product("low_level_composite_reflectivity")
@pytest.mark.product("layer_composite_reflectivity_low")
@pytest.mark.product("layer_composite_reflectivity_high")
def test_composites_are_maxima_over_their_mrms_layers():
    refl = _stack(_column_profile())
    refl[0, :, 2, 3] = np.nan  # a column without data
    refl[0, 6, 0, 0] = 53.0  # stronger at 3.5 km in one column
    ds = _radar(refl)
    composite = derive_one("composite_reflectivity", ds)
    low_level = derive_one("low_level_composite_reflectivity", ds)
    low = derive_one("layer_composite_reflectivity_low", ds)
    high = derive_one("layer_composite_reflectivity_high", ds)
    assert composite.values[0, 1, 1] == 52.0 and composite.values[0, 0, 0] == 53.0
    assert low_level.values[0, 1, 1] == 47.0  # 0–4 km
    assert low.values[0, 1, 1] == 47.0  # 0–7315 m: the 7.5 km core is above
    assert high.values[0, 1, 1] == 52.0  # 7315–18288 m
    assert low.values[0, 0, 0] == 53.0 and high.values[0, 0, 0] == 52.0
    for out in (composite, low_level, low, high):
        assert np.isnan(out.values[0, 2, 3])
    assert composite.attrs["standard_name"] == "equivalent_reflectivity_factor"


@pytest.mark.product("reflectivity_at_lowest_altitude")
def test_lowest_altitude_skips_levels_below_the_terrain_and_missing_levels():
    refl = _stack(np.arange(len(HEIGHTS), dtype=float))  # level k holds k dBZ
    refl[0, 0, 0, 1] = np.nan  # blocked lowest level
    altitude = np.zeros((3, 4))
    altitude[1, 1] = 1200.0  # levels 500 and 1000 m are underground; first valid 1500 m (index 2)
    ds = _radar(refl, surface_altitude=altitude)
    out = derive_one("reflectivity_at_lowest_altitude", ds)
    assert out.values[0, 0, 0] == 0.0
    assert out.values[0, 0, 1] == 1.0
    assert out.values[0, 1, 1] == 2.0


@pytest.mark.product("maximum_composite_reflectivity_1h")
def test_hourly_maximum_composite_on_ten_minute_frames():
    frames = 9
    refl = np.full((frames, len(HEIGHTS), 3, 4), NO_ECHO)
    peaks = [10, 20, 45, 30, 25, 20, 15, 12, 11]
    for t, peak in enumerate(peaks):
        refl[t, 3] = peak
    ds = grid_dataset({"radar_reflectivity": refl}, times=frames, step="10min", heights=HEIGHTS)
    out = derive_one("maximum_composite_reflectivity_1h", ds)
    assert np.isnan(out.values[:5]).all()  # no full hour yet
    np.testing.assert_allclose(out.values[5:, 0, 0], [45, 45, 45, 30])
    assert out.attrs["cell_methods"].endswith("time: maximum (interval: 1 hour)")


@pytest.mark.product("height_of_composite_reflectivity")
def test_height_of_composite_reflectivity():
    refl = _stack(_column_profile())
    refl[0, :, 0, 1] = NO_ECHO  # no echo at all
    refl[0, 2, 0, 2] = 52.0  # tie with the 7.5 km maximum: the lowest wins
    ds = _radar(refl)
    out = derive_one("height_of_composite_reflectivity", ds)
    assert out.values[0, 0, 0] == 7500.0
    assert out.values[0, 0, 2] == 1500.0
    assert np.isnan(out.values[0, 0, 1])


# -- echo tops ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "threshold"),
    [
        pytest.param("echo_top_18dbz", 18.0, marks=pytest.mark.product("echo_top_18dbz")),
        pytest.param("echo_top_30dbz", 30.0, marks=pytest.mark.product("echo_top_30dbz")),
        pytest.param("echo_top_50dbz", 50.0, marks=pytest.mark.product("echo_top_50dbz")),
        pytest.param("echo_top_60dbz", 60.0, marks=pytest.mark.product("echo_top_60dbz")),
    ],
)
def test_echo_tops_interpolate_between_levels(product, threshold):
    # Reflectivity falls linearly 70 → 0 dBZ from 0.5 to 7.5 km (10 dBZ per km), no echo above:
    # the threshold is reached exactly at h = 0.5 + (70 − threshold)/10 km.
    z = np.full(len(HEIGHTS), NO_ECHO)
    z[:15] = 70.0 - 10.0 * (np.asarray(HEIGHTS[:15]) - 500.0) / 1000.0
    refl = _stack(z)
    refl[0, :, 1, 1] = NO_ECHO  # data, no echo → 0 km
    refl[0, :, 1, 2] = np.nan  # no data → missing
    refl[0, :, 2, 2] = 65.0  # echo up to the top level → its height
    ds = _radar(refl)
    out = derive_one(product, ds)
    assert out.values[0, 0, 0] == pytest.approx(0.5 + (70.0 - threshold) / 10.0, abs=1e-5)
    assert out.values[0, 1, 1] == 0.0
    assert np.isnan(out.values[0, 1, 2])
    assert out.values[0, 2, 2] == pytest.approx(18.0 if threshold <= 65 else 0.0)
    assert out.attrs["units"] == "km"


@pytest.mark.product("echo_top_18dbz")
def test_echo_top_matches_a_per_column_loop_across_the_no_echo_floor():
    rng = np.random.default_rng(5)
    refl = rng.uniform(-10.0, 60.0, (2, len(HEIGHTS), 6, 7))
    refl[:, 20:] = NO_ECHO
    refl[rng.random(refl.shape) < 0.05] = np.nan
    ds = _radar(refl)
    out = derive_one("echo_top_18dbz", ds)
    data = _f32(refl)
    h = np.asarray(HEIGHTS)
    for t, y, x in np.ndindex(2, 6, 7):
        top, status = _reference_highest_crossing(h, data[t, :, y, x], 18.0)
        expected = 0.0 if status == kernels.NONE_ABOVE else top / 1000.0
        assert out.values[t, y, x] == pytest.approx(expected, rel=1e-6, nan_ok=True)


# -- VIL ---------------------------------------------------------------------------------------


def _reference_vil(h, dbz, cap=56.0):
    total = 0.0
    for i in range(len(h) - 1):
        if np.isfinite(dbz[i]) and np.isfinite(dbz[i + 1]):
            z = 10.0 ** (np.minimum(dbz[i : i + 2], cap) / 10.0)
            total += 3.44e-6 * (z.mean()) ** (4.0 / 7.0) * (h[i + 1] - h[i])
    return total


@pytest.mark.product("vertically_integrated_liquid")
def test_vil_greene_clark_hand_value_cap_and_column_loop():
    z = np.full(len(HEIGHTS), NO_ECHO)
    z[:10] = 50.0  # 0.5–5 km
    refl = _stack(z)
    refl[0, :10, 0, 1] = 65.0  # hail core: capped at 56 dBZ
    rng = np.random.default_rng(6)
    refl[0, :, 2] = rng.uniform(-20.0, 70.0, (len(HEIGHTS), 4))
    ds = _radar(refl)
    out = derive_one("vertically_integrated_liquid", ds)
    # 9 layers of 500 m at 50 dBZ (1e5 mm6/m3), plus the 50 → −32 dBZ layer.
    inside = 9 * 3.44e-6 * (1e5) ** (4 / 7) * 500.0
    edge = 3.44e-6 * ((1e5 + 10**-3.2) / 2) ** (4 / 7) * 500.0
    floor = 25 * 3.44e-6 * (10**-3.2) ** (4 / 7) * 500.0
    assert out.values[0, 0, 0] == pytest.approx(inside + edge + floor, rel=1e-6)
    assert inside == pytest.approx(11.14, abs=0.01)  # 50 dBZ through 4.5 km ≈ 11 kg/m²
    capped = 9 * 3.44e-6 * (10**5.6) ** (4 / 7) * 500.0
    capped += 3.44e-6 * ((10**5.6 + 10**-3.2) / 2) ** (4 / 7) * 500.0 + floor
    assert out.values[0, 0, 1] == pytest.approx(capped, rel=1e-6)
    h = np.asarray(HEIGHTS)
    for x in range(4):
        assert out.values[0, 2, x] == pytest.approx(
            _reference_vil(h, _f32(refl[0, :, 2, x])), rel=1e-6
        )


@pytest.mark.product("vertically_integrated_liquid_density")
def test_vil_density_is_vil_over_the_18dbz_echo_top():
    z = np.full(len(HEIGHTS), NO_ECHO)
    z[:10] = 50.0
    refl = _stack(z)
    refl[0, :, 1, 1] = 10.0  # weak echo: no 18 dBZ top → 0
    ds = _radar(refl)
    vil = derive_one("vertically_integrated_liquid", ds)
    top = derive_one("echo_top_18dbz", ds)
    out = derive_one("vertically_integrated_liquid_density", ds)
    assert out.values[0, 0, 0] == pytest.approx(
        vil.values[0, 0, 0] / (top.values[0, 0, 0] * 1000.0) * 1000.0, rel=1e-6
    )
    assert top.values[0, 0, 0] == pytest.approx(5.0 + 0.5 * 32.0 / 82.0, rel=1e-6)
    assert out.values[0, 1, 1] == 0.0
    assert out.attrs["units"] == "g m-3"


# -- isotherm heights, isothermal reflectivity -----------------------------------------------


def _reference_isotherm(z, t, surface_altitude, t2m, isotherm):
    keep = z > surface_altitude
    heights = np.r_[surface_altitude, z[keep]]
    temperatures = np.r_[t2m, t[keep]]
    ok = np.isfinite(heights) & np.isfinite(temperatures)
    heights, temperatures = heights[ok], temperatures[ok]
    warm = np.flatnonzero(temperatures >= isotherm)
    if warm.size == 0:
        return surface_altitude
    k = warm[-1]
    if k == heights.size - 1:
        return np.nan
    return np.interp(isotherm, [temperatures[k + 1], temperatures[k]], [heights[k + 1], heights[k]])


def _reference_isotherm_grid(profiles, isotherm):
    z, t = _f32(profiles["geopotential_height"])[0], _f32(profiles["air_temperature"])[0]
    zs, t2 = _f32(profiles["surface_altitude"]), _f32(profiles["air_temperature_2m"])[0]
    out = np.empty(zs.shape)
    for y, x in np.ndindex(zs.shape):
        out[y, x] = _reference_isotherm(z[:, y, x], t[:, y, x], zs[y, x], t2[y, x], isotherm)
    return out


@pytest.mark.parametrize(
    ("product", "isotherm"),
    [
        pytest.param(
            "freezing_level_height", 273.15, marks=pytest.mark.product("freezing_level_height")
        ),
        pytest.param(
            "minus_20c_level_height", 253.15, marks=pytest.mark.product("minus_20c_level_height")
        ),
    ],
)
def test_isotherm_heights_match_a_per_column_numpy_interp_loop(product, isotherm):
    profiles = _random_profiles()
    out = derive_one(product, _dataset(profiles))
    expected = _reference_isotherm_grid(profiles, isotherm)
    assert out.shape == (1, 10, 12)
    np.testing.assert_allclose(out.values[0], expected, rtol=1e-6, atol=1e-3, equal_nan=True)
    assert np.isfinite(expected).sum() >= 100
    if product == "freezing_level_height":
        # Cold columns (surface below 0 °C) have the level at the ground.
        cold = _f32(profiles["air_temperature_2m"])[0] < 273.15
        cold &= (_f32(profiles["air_temperature"])[0] < 273.15).all(axis=0)
        assert cold.any()
        np.testing.assert_allclose(
            out.values[0][cold], _f32(profiles["surface_altitude"])[cold], rtol=1e-6
        )


@pytest.mark.product("freezing_level_height")
def test_freezing_level_hand_case_with_a_warm_layer_aloft():
    z = np.array(
        [100.0, 800, 1500, 3000, 5800, 7500, 9600, 10900, 12400, 14200, 16600, 17500, 18000, 18500]
    )
    t = np.array([300.0, 294, 289, 279, 268, 256, 242, 233, 222, 210, 205, 205, 205, 205])
    t[3] = 270.0  # below freezing at 3 km …
    t[4] = 274.15  # … and a warm (+1 °C) layer above it at 5.8 km
    profiles = {
        "air_temperature": t[None, :, None, None],
        "geopotential_height": z[None, :, None, None],
        "air_temperature_2m": 302.0,
        "surface_altitude": 0.0,
    }
    out = derive_one("freezing_level_height", _dataset(profiles))
    # Highest crossing: between 5800 m (+1 °C) and 7500 m (−17.15 °C).
    assert out.values[0, 0, 0] == pytest.approx(5800 + 1700 * 1.0 / 18.15, abs=0.01)
    t2 = np.full(14, 250.0)  # the whole column below freezing
    frozen = {
        **profiles,
        "air_temperature": t2[None, :, None, None],
        "air_temperature_2m": 265.0,
        "surface_altitude": 400.0,
    }
    assert derive_one("freezing_level_height", _dataset(frozen)).values[0, 0, 0] == 400.0
    # A column whose top level is still warmer than −20 °C has no −20 °C level: missing.
    warm = {**profiles, "air_temperature": np.maximum(t, 260.0)[None, :, None, None]}
    assert np.isnan(derive_one("minus_20c_level_height", _dataset(warm)).values[0, 0, 0])


def _isothermal_case():
    """A column with Z = h/250 dBZ (2 dBZ at 500 m … 72 dBZ at 18 km) and a simple profile."""
    z = np.array(
        [100.0, 300, 500, 750, 1000, 1500, 2000, 3000, 4200, 5800, 7500, 9600, 10900, 12400]
    )
    t = 300.0 - 6.5e-3 * z
    refl = _stack(np.asarray(HEIGHTS) / 250.0)
    refl[0, 30:, 2, 3] = np.nan  # no data above 15 km in one column
    variables = {
        "radar_reflectivity": refl,
        "air_temperature": np.broadcast_to(t[None, :, None, None], (1, 14, 3, 4)).copy(),
        "geopotential_height": np.broadcast_to(z[None, :, None, None], (1, 14, 3, 4)).copy(),
        "air_temperature_2m": 300.0,
        "surface_altitude": 0.0,
    }
    return grid_dataset(variables, times=1, levels=LEVELS, heights=HEIGHTS)


@pytest.mark.parametrize(
    ("product", "level"),
    [
        pytest.param(
            "reflectivity_at_0c",
            "freezing_level_height",
            marks=pytest.mark.product("reflectivity_at_0c"),
        ),
        pytest.param(
            "reflectivity_at_minus_20c",
            "minus_20c_level_height",
            marks=pytest.mark.product("reflectivity_at_minus_20c"),
        ),
    ],
)
def test_isothermal_reflectivity_is_interpolated_at_the_isotherm_height(product, level):
    ds = _isothermal_case()
    height = derive_one(level, ds).values
    out = derive_one(product, ds)
    h = np.asarray(HEIGHTS)
    for y, x in np.ndindex(3, 4):
        column = _f32(ds["radar_reflectivity"].values[0, :, y, x])
        assert out.values[0, y, x] == pytest.approx(
            _reference_interp(h, column, height[0, y, x]), rel=1e-5
        )
    # Z = h/250 dBZ: the reflectivity is the isotherm height / 250 m.
    np.testing.assert_allclose(out.values, height / 250.0, rtol=1e-5)


@pytest.mark.product("reflectivity_at_minus_10c")
@pytest.mark.product("maximum_reflectivity_above_minus_10c")
def test_reflectivity_at_and_above_minus_10c():
    ds = _isothermal_case()
    h10 = (300.0 - 263.15) / 6.5e-3  # 5669.2 m
    at = derive_one("reflectivity_at_minus_10c", ds)
    above = derive_one("maximum_reflectivity_above_minus_10c", ds)
    np.testing.assert_allclose(at.values, h10 / 250.0, rtol=1e-5)
    assert above.values[0, 0, 0] == pytest.approx(72.0)  # top level
    assert above.values[0, 2, 3] == pytest.approx(60.0)  # data stop at 15 km
    # A storm whose maximum is below −10 °C: only the value at the level and above counts.
    refl = ds["radar_reflectivity"].values.copy()
    refl[0, :, 1, 1] = np.where(np.asarray(HEIGHTS) < 4000, 60.0, 20.0)
    out = derive_one(
        "maximum_reflectivity_above_minus_10c", _replace(ds, "radar_reflectivity", refl)
    )
    assert out.values[0, 1, 1] == pytest.approx(20.0)


@pytest.mark.product("echo_top_50dbz_above_freezing_level")
@pytest.mark.product("echo_top_60dbz_above_minus_20c_level")
def test_echo_tops_above_isotherm_levels():
    ds = _isothermal_case()
    refl = np.full((1, len(HEIGHTS), 3, 4), NO_ECHO)
    refl[0, :16] = 65.0  # core up to 8 km
    refl[0, :, 1, 1] = NO_ECHO  # no echo → missing
    refl[0, :8, 2, 2] = 55.0  # 50 dBZ core up to 4 km (below the 0 °C level)
    refl[0, 8:, 2, 2] = NO_ECHO
    ds = _replace(ds, "radar_reflectivity", refl)
    h0, h20 = 300.0 / 6.5e-3 - 273.15 / 6.5e-3, (300.0 - 253.15) / 6.5e-3
    top50 = 8000.0 + 500.0 * (65.0 - 50.0) / (65.0 + 32.0)
    top60 = 8000.0 + 500.0 * (65.0 - 60.0) / (65.0 + 32.0)
    h50 = derive_one("echo_top_50dbz_above_freezing_level", ds)
    h60 = derive_one("echo_top_60dbz_above_minus_20c_level", ds)
    assert h50.values[0, 0, 0] == pytest.approx((top50 - h0) / 1000.0, abs=1e-4)
    assert h60.values[0, 0, 0] == pytest.approx((top60 - h20) / 1000.0, abs=1e-4)
    assert (
        h50.values[0, 2, 2] == pytest.approx((4000.0 + 500.0 * 5.0 / 87.0 - h0) / 1000.0, abs=1e-4)
        and h50.values[0, 2, 2] < 0
    )
    assert np.isnan(h50.values[0, 1, 1]) and np.isnan(h60.values[0, 1, 1])


# -- hail ---------------------------------------------------------------------------------------


def _hail_case():
    """Uniform 60 dBZ from 0.5 to 15 km; 0 °C at 5 km and −20 °C at 8 km (linear T profile)."""
    z = np.array(
        [100.0, 300, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 8000, 10000, 12000, 14000]
    )
    t = 273.15 + 20.0 / 3000.0 * (5000.0 - z)  # exactly 0 °C at 5 km, −20 °C at 8 km
    refl = _stack(np.where(np.asarray(HEIGHTS) <= 15000.0, 60.0, NO_ECHO))
    refl[0, :, 0, 1] = NO_ECHO  # no echo: SHI 0
    refl[0, :, 0, 2] = np.where(
        np.asarray(HEIGHTS) <= 15000.0, 45.0, NO_ECHO
    )  # half-weighted hail echo
    variables = {
        "radar_reflectivity": refl,
        "air_temperature": np.broadcast_to(t[None, :, None, None], (1, 14, 3, 4)).copy(),
        "geopotential_height": np.broadcast_to(z[None, :, None, None], (1, 14, 3, 4)).copy(),
        "air_temperature_2m": float(t[0]),
        "surface_altitude": 100.0,
    }
    return grid_dataset(variables, times=1, levels=LEVELS, heights=HEIGHTS)


def _hand_shi(dbz):
    # 0.1·Ė·∫W_T dH with ∫W_T from 5 to 15 km = 1500 m (ramp 5–8 km) + 7000 m.
    weight = min(max((dbz - 40.0) / 10.0, 0.0), 1.0)
    return 0.1 * 5e-6 * 10 ** (0.084 * dbz) * weight * 8500.0


@pytest.mark.product("severe_hail_index")
def test_severe_hail_index_witt_hand_value_and_trapezoid_loop():
    ds = _hail_case()
    out = derive_one("severe_hail_index", ds)
    # The 60 dBZ column ends at 15 km; the layer 15–15.5 km (60 → −32 dBZ) adds half a layer.
    top_layer = 0.5 * 0.1 * 5e-6 * 10 ** (0.084 * 60.0) * 500.0
    assert out.values[0, 0, 0] == pytest.approx(_hand_shi(60.0) + top_layer, rel=1e-4)
    assert _hand_shi(60.0) == pytest.approx(466.0, abs=0.5)
    assert out.values[0, 0, 1] == 0.0
    assert out.values[0, 0, 2] == pytest.approx(
        _hand_shi(45.0) + top_layer * 0.5 * 10 ** (0.084 * -15.0), rel=1e-4
    )
    # Random columns against numpy.trapezoid of the Witt integrand, column by column.
    rng = np.random.default_rng(8)
    refl = rng.uniform(20.0, 70.0, (1, len(HEIGHTS), 3, 4))
    ds = _replace(ds, "radar_reflectivity", refl)
    out = derive_one("severe_hail_index", ds)
    h = np.asarray(HEIGHTS)
    wt = np.clip((h - 5000.0) / 3000.0, 0.0, 1.0)
    for y, x in np.ndindex(3, 4):
        z = _f32(refl[0, :, y, x])
        energy = 5e-6 * 10 ** (0.084 * z) * np.clip((z - 40.0) / 10.0, 0.0, 1.0)
        assert out.values[0, y, x] == pytest.approx(np.trapezoid(0.1 * wt * energy, h), rel=1e-4)


@pytest.mark.product("probability_of_severe_hail")
def test_posh_formula_boundaries():
    ds = _hail_case()
    shi = derive_one("severe_hail_index", ds).values[0, 0, 0]
    out = derive_one("probability_of_severe_hail", ds)
    wt = 57.5 * 5.0 - 121.0  # 166.5 J/m/s at H0 = 5 km
    assert out.values[0, 0, 0] == pytest.approx(29.0 * math.log(shi / wt) + 50.0, abs=1e-3)
    assert out.values[0, 0, 0] == pytest.approx(80.7, abs=0.1)  # SHI ≈ 480 J/m/s
    assert out.values[0, 0, 1] == 0.0  # SHI = 0
    # Boundaries: SHI = WT gives 50 %; SHI = WT·e^(−50/29) gives 0 %; SHI = WT·e^(50/29) gives 100 %.

    def posh(shi_values, h0_km):
        s = xr.DataArray(np.asarray(shi_values, dtype=float), attrs={"units": "J m-1 s-1"})
        h = xr.DataArray(np.full(len(shi_values), h0_km), attrs={"units": "km"})
        return probability_of_severe_hail(s, h, parse_quantity("20 J m-1 s-1")).values

    edge = wt * math.exp(-50.0 / 29.0)
    full = wt * math.exp(50.0 / 29.0)
    np.testing.assert_allclose(
        posh([wt, edge, edge * 0.9, full, full * 1.1, 0.0], 5.0), [50, 0, 0, 100, 100, 0], atol=1e-6
    )
    # Low freezing level: WT floored at 20 J/m/s.
    assert posh([20.0], 2.0)[0] == pytest.approx(50.0)


@pytest.mark.product("maximum_expected_hail_size")
def test_mesh_witt_and_alternative_fits():
    ds = _hail_case()
    shi = derive_one("severe_hail_index", ds).values
    out = derive_one("maximum_expected_hail_size", ds)
    np.testing.assert_allclose(out.values, 2.54 * np.sqrt(shi), rtol=1e-5)
    assert out.values[0, 0, 0] == pytest.approx(55.6, abs=0.1)  # about golf-ball size
    assert out.values[0, 0, 1] == 0.0
    alternative = derive_one(
        "maximum_expected_hail_size", ds, parameters={"method": "murillo_homeyer_2019_95"}
    )
    np.testing.assert_allclose(alternative.values, 22.157 * shi**0.212, rtol=1e-5)


@pytest.mark.product("maximum_expected_hail_size_swath_1h")
@pytest.mark.product("maximum_expected_hail_size_swath_24h")
def test_mesh_swaths_are_trailing_maxima():
    ds = _hail_case()
    frames = 30
    refl = np.repeat(ds["radar_reflectivity"].values, frames, axis=0)
    refl[:, :, 0, 0] = NO_ECHO
    refl[3, :30, 0, 0] = 60.0  # one hail frame at hour 3
    variables = {name: ds[name].values for name in ("air_temperature", "geopotential_height")}
    variables = {k: np.repeat(v, frames, axis=0) for k, v in variables.items()}
    series = grid_dataset(
        {
            "radar_reflectivity": refl,
            **variables,
            "air_temperature_2m": float(ds["air_temperature_2m"].values.ravel()[0]),
            "surface_altitude": 100.0,
        },
        times=frames,
        levels=LEVELS,
        heights=HEIGHTS,
    )
    mesh = derive_one("maximum_expected_hail_size", series).values[:, 0, 0]
    hour = derive_one("maximum_expected_hail_size_swath_1h", series).values[:, 0, 0]
    day = derive_one("maximum_expected_hail_size_swath_24h", series).values[:, 0, 0]
    np.testing.assert_allclose(hour, mesh)  # hourly frames: a 1 h window is one frame
    assert mesh[3] > 50.0 and mesh[4] == 0.0
    assert np.isnan(day[:23]).all()
    np.testing.assert_allclose(day[23:27], mesh[3])  # windows (t−24 h, t] holding hour 3
    assert day[27] == 0.0


# -- radar precipitation ----------------------------------------------------------------------


@pytest.mark.product("radar_precipitation_rate")
def test_zr_rain_rate_hand_values_cap_and_floor():
    values = [NO_ECHO, 9.9, 10.0, 30.0, 40.0, 53.0, 60.0, np.nan]
    refl = np.full((1, len(HEIGHTS), 1, len(values)), NO_ECHO)
    refl[0, 0, 0, :] = values
    refl[0, :, 0, -1] = np.nan  # a column without data
    ds = _radar(refl, surface_altitude=0.0)
    out = derive_one("radar_precipitation_rate", ds).values[0, 0]

    def rate(dbz, a=300.0, b=1.4):
        return (10 ** (dbz / 10) / a) ** (1 / b)

    assert out[0] == 0.0 and out[1] == 0.0
    np.testing.assert_allclose(
        out[2:6], [rate(10.0), rate(30.0), rate(40.0), rate(53.0)], rtol=1e-5
    )
    assert out[4] == pytest.approx(12.24, abs=0.01)  # 40 dBZ with Z = 300 R^1.4
    assert out[6] == pytest.approx(rate(53.0), rel=1e-5)  # capped
    assert np.isnan(out[7])
    mp = derive_one(
        "radar_precipitation_rate", ds, parameters={"multiplier": "200", "exponent": "1.6"}
    ).values[0, 0]
    assert mp[4] == pytest.approx(rate(40.0, 200.0, 1.6), rel=1e-5)  # Marshall–Palmer: 11.53 mm/h
    assert mp[4] == pytest.approx(11.53, abs=0.01)


def _rain_series(step, frames, dbz):
    refl = np.full((frames, len(HEIGHTS), 3, 4), NO_ECHO)
    refl[:, 0] = dbz
    return grid_dataset(
        {"radar_reflectivity": refl, "surface_altitude": 0.0},
        times=frames,
        step=step,
        heights=HEIGHTS,
    )


@pytest.mark.product("radar_precipitation_accumulation_1h")
@pytest.mark.product("radar_precipitation_accumulation_3h")
def test_radar_qpe_integrates_the_rate_over_the_time_step():
    rate40 = (10**4 / 300.0) ** (1 / 1.4)
    for step, frames, per_hour in (("6min", 40, 10), ("10min", 24, 6), ("1h", 5, 1)):
        ds = _rain_series(step, frames, 40.0)
        one = derive_one("radar_precipitation_accumulation_1h", ds).values[:, 0, 0]
        assert np.isnan(one[: per_hour - 1]).all()
        np.testing.assert_allclose(one[per_hour - 1 :], rate40, rtol=1e-5)
    ds = _rain_series("10min", 24, 40.0)
    refl = ds["radar_reflectivity"].values.copy()
    refl[5, :, 1, 1] = np.nan  # one missing frame
    ds = _replace(ds, "radar_reflectivity", refl)
    three = derive_one("radar_precipitation_accumulation_3h", ds).values
    assert np.isnan(three[:17]).all()
    np.testing.assert_allclose(three[17:, 0, 0], 3 * rate40, rtol=1e-5)
    assert np.isnan(three[17:23, 1, 1]).all()  # the windows holding the missing frame are missing
    assert three[23, 1, 1] == pytest.approx(3 * rate40, rel=1e-5)


# -- convective / stratiform ------------------------------------------------------------------


def _reference_steiner(
    field,
    dy,
    dx,
    *,
    minimum=10.0,
    intense=40.0,
    radius=11.0,
    steps=(25, 30, 35, 40),
    radii=(1, 2, 3, 4, 5),
):
    """Per-point Steiner–Houze–Yuter loop (as Py-ART's, with an explicit no-echo class)."""
    ny, nx = field.shape
    echo = np.isfinite(field) & (field >= minimum)
    classes = np.where(echo, 1, 0)
    yy, xx = np.meshgrid(np.arange(ny) * dy, np.arange(nx) * dx, indexing="ij")
    for j, i in zip(*np.nonzero(echo), strict=True):
        near = ((yy - yy[j, i]) ** 2 + (xx - xx[j, i]) ** 2 <= radius**2 + 1e-9) & echo
        background = 10 * np.log10(np.mean(10 ** (field[near] / 10)))
        if background < 0:
            peak = 10.0
        elif background < 42.43:
            peak = 10.0 - background**2 / 180.0
        else:
            peak = 0.0
        if field[j, i] >= intense or field[j, i] - background >= peak:
            r = radii[int(np.digitize(background, steps))]
            inside = ((yy - yy[j, i]) ** 2 + (xx - xx[j, i]) ** 2 <= r**2 + 1e-9) & echo
            classes[inside] = 2
    return np.where(np.isnan(field), np.nan, classes)


@pytest.mark.product("convective_stratiform_classification")
def test_steiner_classification_matches_a_per_point_loop():
    ny, nx = 30, 34
    rng = np.random.default_rng(9)
    field = np.full((ny, nx), NO_ECHO)
    field[5:25, 4:30] = rng.uniform(15.0, 32.0, (20, 26))  # stratiform rain
    field[12, 10] = 48.0  # intense core
    field[18, 22] = 38.0  # peaked cell
    field[8:11, 25:28] = 41.0
    field[0, 0] = np.nan
    refl = np.full((1, len(HEIGHTS), ny, nx), NO_ECHO)
    refl[0, 5] = field  # the 3 km CAPPI (index 5)
    ds = grid_dataset({"radar_reflectivity": refl}, times=1, heights=HEIGHTS, shape=(ny, nx))
    # A 1 km grid near 23°N: 0.009° of latitude, 0.00976° of longitude.
    ds = ds.assign_coords(
        latitude=23.0 + 0.009 * np.arange(ny), longitude=113.0 + 0.00976 * np.arange(nx)
    )
    out = derive_one("convective_stratiform_classification", ds)
    dy = 0.009 * 111.195
    dx = 0.00976 * 111.195 * np.cos(np.deg2rad(np.mean(23.0 + 0.009 * np.arange(ny))))
    expected = _reference_steiner(_f32(field), dy, dx)
    np.testing.assert_array_equal(out.values[0], expected)
    assert (
        out.values[0, 12, 10] == 2 and out.values[0, 20, 6] in (1, 2) and out.values[0, 1, 1] == 0
    )
    assert {0, 1, 2} <= set(np.unique(out.values[0][np.isfinite(out.values[0])]))
    assert out.attrs["flag_meanings"] == "no_echo stratiform convective"


# -- upper air --------------------------------------------------------------------------------


@pytest.mark.product("precipitable_water")
def test_precipitable_water_matches_metpy_on_120_columns():
    profiles = _random_profiles()
    out = derive_one("precipitable_water", _dataset(profiles))
    p = np.asarray(LEVELS)
    td = _f32(profiles["dewpoint_temperature"])[0]
    td2, ps = (
        _f32(profiles["dewpoint_temperature_2m"])[0],
        _f32(profiles["surface_air_pressure"])[0],
    )
    checked = 0
    for y, x in np.ndindex(ps.shape):
        keep = p < ps[y, x]
        column_p = np.r_[ps[y, x], p[keep]] * units.hPa
        column_td = np.r_[td2[y, x], td[keep, y, x]] * units.K
        expected = mpcalc.precipitable_water(column_p, column_td, top=300 * units.hPa).m_as("mm")
        assert out.values[0, y, x] == pytest.approx(expected, rel=2e-6)
        checked += 1
    assert checked == 120
    assert out.attrs["standard_name"] == "lwe_thickness_of_atmosphere_mass_content_of_water_vapor"


def _soundings():
    paths = sorted(SOUNDINGS.glob("*.csv"))
    if not paths:
        pytest.skip("tests/data/soundings/*.csv not present yet")
    columns = []
    for path in paths:
        frame = pd.read_csv(path).sort_values("pressure", ascending=False)
        columns.append(
            (
                path.name,
                frame["pressure"].to_numpy() / 100.0,
                frame["dewpointTemperature"].to_numpy(),
            )
        )
    return columns


@pytest.mark.product("precipitable_water")
@pytest.mark.parametrize("top", [None, 300.0, 475.0])
def test_precipitable_water_matches_metpy_on_real_soundings(top):
    soundings = _soundings()
    n = max(p.size for _, p, _ in soundings)
    pressure = np.full((len(soundings), n), np.nan)
    dewpoint = np.full((len(soundings), n), np.nan)
    for i, (_, p, td) in enumerate(soundings):
        pressure[i, : p.size], dewpoint[i, : p.size] = p, td
    tops = np.array(
        [np.nanmin(p[np.isfinite(td)]) if top is None else top for _, p, td in soundings]
    )
    out = precipitable_water_from_dewpoint(pressure, dewpoint, tops)
    for (name, p, td), value, layer_top in zip(soundings, out, tops, strict=True):
        try:
            expected = mpcalc.precipitable_water(
                p * units.hPa, td * units.K, top=layer_top * units.hPa
            ).m_as("mm")
        except ValueError:  # MetPy refuses a top above the sounding; we give NaN
            expected = np.nan
        assert value == pytest.approx(expected, abs=1e-9, nan_ok=True), name
    assert np.isfinite(out).sum() >= 5


@pytest.mark.product("thickness_1000_500hpa")
def test_thickness_equals_metpy_hydrostatic_thickness():
    rng = np.random.default_rng(10)
    ny, nx = 3, 4
    p = np.asarray(LEVELS)
    temperature = (
        300.0 - 50.0 * np.log(1000.0 / p)[None, :] + rng.normal(0.0, 1.0, (ny * nx, p.size))
    )
    mixing = rng.uniform(0.0, 0.015, (ny * nx, p.size)) * (p / 1000.0) ** 3
    heights = np.empty_like(temperature)
    for k in range(ny * nx):
        heights[k, 0] = 100.0
        for i in range(1, p.size):
            layer = mpcalc.thickness_hydrostatic(
                p[i - 1 : i + 1] * units.hPa,
                temperature[k, i - 1 : i + 1] * units.K,
                mixing_ratio=mixing[k, i - 1 : i + 1],
            )
            heights[k, i] = heights[k, i - 1] + layer.m_as("m")

    def grid(a):
        return np.moveaxis(a.reshape(ny, nx, -1), -1, 0)[None]

    out = derive_one("thickness_1000_500hpa", _dataset({"geopotential_height": grid(heights)}))
    assert out.attrs["units"] == "dam"
    layer = slice(0, LEVELS.index(500.0) + 1)
    for k, (y, x) in enumerate(np.ndindex(ny, nx)):
        metpy_thickness = mpcalc.thickness_hydrostatic(
            p[layer] * units.hPa, temperature[k, layer] * units.K, mixing_ratio=mixing[k, layer]
        ).m_as("dam")
        # MetPy integrates the same trapezoid over the whole layer; float32 heights give ~1e-3 dam.
        assert out.values[0, y, x] == pytest.approx(metpy_thickness, abs=2e-3)
    assert 550.0 < out.values.mean() < 590.0


@pytest.mark.product("lapse_rate_700_500hpa")
def test_lapse_rate_700_500_hand_value_and_below_ground():
    z = np.array(
        [100.0, 300, 500, 750, 1000, 1500, 2000, 3100, 4300, 5800, 7500, 9600, 10900, 12400]
    )
    t = 300.0 - 6.0e-3 * z
    t[LEVELS.index(500.0)] = t[LEVELS.index(700.0)] - 7.0 * 2.7  # 7 K/km over 2.7 km
    profiles = {
        "air_temperature": np.broadcast_to(t[None, :, None, None], (1, 14, 3, 4)),
        "geopotential_height": np.broadcast_to(z[None, :, None, None], (1, 14, 3, 4)),
        "surface_air_pressure": np.array([[1005.0, 650.0, 1010.0, 1000.0]] * 3)[None],
    }
    out = derive_one("lapse_rate_700_500hpa", _dataset(profiles))
    assert out.values[0, 0, 0] == pytest.approx(7.0, abs=1e-4)
    assert np.isnan(out.values[0, 0, 1])  # 700 hPa underground (Tibet-like surface)
    assert out.attrs["units"] == "K km-1"


@pytest.mark.product("lapse_rate_0_3km")
def test_lapse_rate_0_3km_matches_a_per_column_interp_loop():
    profiles = _random_profiles()
    out = derive_one("lapse_rate_0_3km", _dataset(profiles))
    z, t = _f32(profiles["geopotential_height"])[0], _f32(profiles["air_temperature"])[0]
    zs, t2 = _f32(profiles["surface_altitude"]), _f32(profiles["air_temperature_2m"])[0]
    for y, x in np.ndindex(zs.shape):
        keep = z[:, y, x] > zs[y, x]
        heights = np.r_[zs[y, x], z[keep, y, x]]
        temperatures = np.r_[t2[y, x], t[keep, y, x]]
        at_3km = _reference_interp(heights, temperatures, zs[y, x] + 3000.0)
        assert out.values[0, y, x] == pytest.approx((t2[y, x] - at_3km) / 3.0, rel=1e-5, abs=1e-5)
    # Hand case: the 2 m temperature 300 K, 6.5 K/km above: exactly 6.5 K/km.
    z = np.array(
        [100.0, 300, 500, 750, 1000, 1500, 2000, 3100, 4300, 5800, 7500, 9600, 10900, 12400]
    )
    hand = {
        "air_temperature": (300.0 - 6.5e-3 * z)[None, :, None, None],
        "geopotential_height": z[None, :, None, None],
        "air_temperature_2m": 300.0,
        "surface_altitude": 0.0,
    }
    assert derive_one("lapse_rate_0_3km", _dataset(hand)).values[0, 0, 0] == pytest.approx(
        6.5, abs=1e-4
    )


@pytest.mark.product("equivalent_potential_temperature_850hpa")
def test_theta_e_850_matches_metpy():
    profiles = _random_profiles(shape=(3, 4))
    profiles["surface_air_pressure"][0, 0, 0] = 800.0  # 850 hPa below the ground
    out = derive_one("equivalent_potential_temperature_850hpa", _dataset(profiles))
    k = LEVELS.index(850.0)
    t = _f32(profiles["air_temperature"])[0, k]
    q = _f32(profiles["specific_humidity"])[0, k]
    td = mpcalc.dewpoint_from_specific_humidity(850 * units.hPa, q * units(""))
    expected = mpcalc.equivalent_potential_temperature(850 * units.hPa, t * units.K, td).m_as("K")
    expected[0, 0] = np.nan
    np.testing.assert_allclose(out.values[0], expected, rtol=1e-6, equal_nan=True)
    # MetPy's documented example: 850 hPa, 20 °C, dewpoint 18 °C → 353.90 K (the specific
    # humidity of an 18 °C dewpoint; the q → dewpoint round trip of MetPy costs < 0.1 K).
    q18 = mpcalc.specific_humidity_from_dewpoint(850 * units.hPa, 18 * units.degC).m_as("")
    one = {"air_temperature": 293.15, "specific_humidity": q18, "surface_air_pressure": 1000.0}
    value = derive_one("equivalent_potential_temperature_850hpa", _dataset(one)).values[0, 0, 0]
    assert value == pytest.approx(353.90, abs=0.1)


@pytest.mark.product("integrated_vapour_transport")
def test_integrated_vapour_transport_hand_value_and_column_loop():
    # Uniform q = 10 g/kg and wind (6, 8) m/s from 1000 hPa (surface) to 300 hPa:
    # IVT = q·|V|·700 hPa/g = 0.01·10·70000/9.80665 = 713.8 kg/m/s.
    uniform = {
        "specific_humidity": 0.01,
        "eastward_wind": 6.0,
        "northward_wind": 8.0,
        "surface_air_pressure": 1000.0,
        "dewpoint_temperature_2m": 287.0,
        "eastward_wind_10m": 6.0,
        "northward_wind_10m": 8.0,
    }
    q_surface = mpcalc.specific_humidity_from_dewpoint(1000 * units.hPa, 287.0 * units.K).m_as("")
    ds = _dataset(uniform)
    out = derive_one("integrated_vapour_transport", ds)
    # The 1000 hPa level is at the surface pressure (not above it): the surface q replaces it
    # over 1000–975 hPa.
    expected = 10.0 * (0.01 * 67500.0 + 0.5 * (q_surface + 0.01) * 2500.0) / 9.80665
    assert out.values[0, 0, 0] == pytest.approx(expected, rel=1e-5)
    assert expected == pytest.approx(713.8, rel=0.02)
    # Random columns against numpy.trapezoid, column by column.
    rng = np.random.default_rng(11)
    shape = (1, len(LEVELS), 3, 4)
    variables = {
        "specific_humidity": rng.uniform(0.0, 0.02, shape),
        "eastward_wind": rng.normal(0.0, 10.0, shape),
        "northward_wind": rng.normal(0.0, 10.0, shape),
        "surface_air_pressure": rng.uniform(850.0, 1015.0, (1, 3, 4)),
        "dewpoint_temperature_2m": rng.uniform(270.0, 300.0, (1, 3, 4)),
        "eastward_wind_10m": rng.normal(0.0, 5.0, (1, 3, 4)),
        "northward_wind_10m": rng.normal(0.0, 5.0, (1, 3, 4)),
    }
    out = derive_one("integrated_vapour_transport", _dataset(variables))
    p = np.asarray(LEVELS)
    v = {k: _f32(a)[0] for k, a in variables.items()}
    for y, x in np.ndindex(3, 4):
        ps = v["surface_air_pressure"][y, x]
        qs = mpcalc.specific_humidity_from_dewpoint(
            ps * units.hPa, v["dewpoint_temperature_2m"][y, x] * units.K
        ).m_as("")
        keep = (p < ps) & (p >= 300.0)
        column_p = np.r_[ps, p[keep]] * 100.0
        q = np.r_[qs, v["specific_humidity"][keep, y, x]]
        u = np.r_[v["eastward_wind_10m"][y, x], v["eastward_wind"][keep, y, x]]
        w = np.r_[v["northward_wind_10m"][y, x], v["northward_wind"][keep, y, x]]
        ivt = np.hypot(np.trapezoid(q * u, -column_p), np.trapezoid(q * w, -column_p)) / 9.80665
        assert out.values[0, y, x] == pytest.approx(ivt, rel=1e-5)


# -- missing values and laziness ---------------------------------------------------------------


@pytest.mark.parametrize(
    "product",
    [
        "freezing_level_height",
        "precipitable_water",
        "lapse_rate_0_3km",
        "integrated_vapour_transport",
        "equivalent_potential_temperature_850hpa",
    ],
)
def test_missing_surface_input_gives_missing_upper_air_products(product):
    profiles = _random_profiles(shape=(3, 4))
    for name in ("air_temperature_2m", "dewpoint_temperature_2m", "surface_air_pressure"):
        profiles[name] = profiles[name].copy()
        profiles[name][0, 1, 1] = np.nan
    profiles["specific_humidity"] = 0.01
    profiles["eastward_wind"] = 5.0
    profiles["northward_wind"] = 5.0
    profiles["eastward_wind_10m"] = 2.0
    profiles["northward_wind_10m"] = 2.0
    out = derive_one(product, _dataset(profiles))
    assert np.isnan(out.values[0, 1, 1])
    assert np.isfinite(out.values[0, 0, 0])


@pytest.mark.parametrize(
    "product",
    [
        "composite_reflectivity",
        "echo_top_30dbz",
        "vertically_integrated_liquid",
        "severe_hail_index",
        "radar_precipitation_rate",
    ],
)
def test_columns_without_radar_data_stay_missing(product):
    ds = _hail_case()
    refl = ds["radar_reflectivity"].values.copy()
    refl[0, :, 2, 0] = np.nan
    ds = _replace(ds, "radar_reflectivity", refl)
    out = derive_one(product, ds)
    assert np.isnan(out.values[0, 2, 0]) and np.isfinite(out.values[0, 0, 0])
