"""The engine's time helpers against xarray's own (slower) formulations of the same thing."""

from __future__ import annotations

import dask.array
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from weatherdata.products.service.thermal_comfort import _trailing_mean

from weatherdata.compute import DAY_DEFINITIONS, daily
from weatherdata.errors import InsufficientDataError


def hourly_field(steps: int, step: str = "1h", start: str = "2026-07-25T05:00", seed: int = 0):
    rng = np.random.default_rng(seed)
    values = 280.0 + 10 * rng.random((steps, 3, 4))
    values[rng.random(values.shape) < 0.01] = np.nan  # scattered missing steps
    times = pd.date_range(start, periods=steps, freq=step)
    return xr.DataArray(
        values,
        dims=("time", "latitude", "longitude"),
        coords={"time": times, "latitude": [20.0, 21.0, 22.0], "longitude": [110.0, 111, 112, 113]},
        attrs={"units": "K"},
    )


def resample_reference(data: xr.DataArray, how: str, day: str, complete: bool) -> xr.DataArray:
    """Daily values as xarray's resample defines them: a step stamped t covers
    (t - step, t]; days start at the definition's hour (UTC); partial days are dropped."""
    step = pd.Timedelta(data["time"].values[1] - data["time"].values[0])
    stamped = data.assign_coords(time=data["time"] - step)
    offset = pd.Timedelta(hours=DAY_DEFINITIONS[day])
    groups = stamped.resample(time="1D", offset=offset, label="left")
    out = getattr(groups, how)(**({"skipna": False} if complete else {}))
    sizes = stamped["time"].resample(time="1D", offset=offset, label="left").count()
    out = out.isel(time=np.flatnonzero((sizes == pd.Timedelta("1D") / step).values))
    return out.rename(time="day")


@pytest.mark.parametrize("day", sorted(DAY_DEFINITIONS))
@pytest.mark.parametrize("how", ["mean", "sum", "max", "min"])
@pytest.mark.parametrize("complete", [True, False])
@pytest.mark.parametrize("chunks", [None, 37, 200])
def test_daily_equals_resample_for_every_day_definition(day, how, complete, chunks):
    data = hourly_field(24 * 6 + 11)
    if chunks:
        data = data.chunk({"time": chunks})
    with np.errstate(all="ignore"):
        out = daily(data, how, day=day, complete=complete)
        expected = resample_reference(data, how, day, complete).compute()
    np.testing.assert_array_equal(out["day"].values, expected["day"].values)
    np.testing.assert_allclose(out.values, expected.values, rtol=1e-6, equal_nan=True)
    assert out.dims == ("day", "latitude", "longitude")
    assert out.attrs["units"] == "K"


@pytest.mark.parametrize("step", ["10min", "3h"])
def test_daily_at_other_time_steps(step):
    per_day = int(pd.Timedelta("1D") / pd.Timedelta(step))
    data = hourly_field(per_day * 4 + 3, step=step).chunk({"time": per_day + 5})
    out = daily(data, "max", day="beijing_08_08")
    expected = resample_reference(data, "max", "beijing_08_08", True)
    np.testing.assert_array_equal(out["day"].values, expected["day"].values)
    np.testing.assert_allclose(out.values, expected.values, equal_nan=True)


def test_daily_is_one_task_per_chunk_of_days_not_one_per_day():
    # A year of hourly data in chunks of 30 days: resample made a task per day and
    # variable (365 groups); the whole days of each chunk are reduced together.
    data = hourly_field(24 * 365, start="2026-01-01T01:00").chunk({"time": 24 * 30})
    out = daily(data, "mean", day="utc")
    assert out.sizes["day"] == 365
    assert out.data.npartitions <= 14
    np.testing.assert_allclose(
        out.values[:3],
        resample_reference(data.isel(time=slice(0, 24 * 4)), "mean", "utc", True)[:3],
    )


def test_daily_without_a_whole_day_says_so():
    with pytest.raises(InsufficientDataError, match="no complete beijing_20_20 day"):
        daily(hourly_field(23), "mean")


@pytest.mark.parametrize(("window", "min_periods"), [(3, 3), (30, 25), (5, 1)])
def test_trailing_mean_equals_xarray_rolling(window, min_periods):
    rng = np.random.default_rng(1)
    values = 290 + rng.random((70, 2, 3))
    values[rng.random(values.shape) < 0.15] = np.nan
    data = xr.DataArray(values, dims=("date", "y", "x"))
    expected = data.rolling(date=window, min_periods=min_periods).mean()
    for candidate in (data, data.chunk({"date": -1})):
        np.testing.assert_allclose(
            _trailing_mean(candidate, "date", window, min_periods).values,
            expected.values,
            rtol=1e-12,
            equal_nan=True,
        )


def test_xclims_compiled_kernels_are_kept_for_the_next_process():
    """xclim compiles its run-length kernel with numba and no disk cache; imported through
    ``import_xclim`` it is cached, so a new process (each publish) loads it instead of
    compiling it again (5.4 s of consecutive dry days on the demo)."""
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "from weatherdata.units import import_xclim\n"
        "run_length = import_xclim('xclim.indices.run_length')\n"
        "run_length._cumsum_reset_np(np.zeros((2, 3), np.uint8), 'last', np.uint8(1))\n"
        "print(sum(run_length._cumsum_reset_np.stats.cache_hits.values()))\n"
    )
    exec(script.rsplit("\n", 2)[0])  # compiled here (or loaded if compiled earlier)
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert other.returncode == 0, other.stderr
    assert int(other.stdout) == 1, other.stdout


def test_pointwise_names_its_tasks_by_function_units_and_keywords():
    """Dask names a pointwise result by what computes it, without pickling the unit
    registry: the same call gives the same name, and any other function, input units,
    output units or keyword gives another (a shared name would make Dask reuse one
    result for the other)."""
    import dask.array
    import metpy.calc

    from weatherdata.compute import pointwise
    from weatherdata.units import unit_registry

    def celsius(units):
        return xr.DataArray(
            dask.array.from_array(np.array([10.0, 20.0]), chunks=1),
            dims="x",
            attrs={"units": units},
        )

    def shifted(temperature, by):
        return temperature + by

    kelvin = unit_registry.Quantity(1.0, "delta_degC")
    first = pointwise(shifted, celsius("degC"), units="degC", by=kelvin)
    np.testing.assert_allclose(first.values, [11.0, 21.0])
    assert pointwise(shifted, celsius("degC"), units="degC", by=kelvin).data.name == first.data.name
    others = [
        pointwise(shifted, celsius("degC"), units="K", by=kelvin),
        pointwise(shifted, celsius("K"), units="degC", by=kelvin),
        pointwise(shifted, celsius("degC"), units="degC", by=2 * kelvin),
        pointwise(metpy.calc.saturation_vapor_pressure, celsius("degC"), units="degC"),
    ]
    names = {first.data.name} | {other.data.name for other in others}
    assert len(names) == 5
    np.testing.assert_allclose(others[0].values, [284.15, 294.15])


@pytest.mark.parametrize("chunks", [None, {"time": 2, "height": 3}])
@pytest.mark.parametrize("extreme", ["max", "min"])
def test_maximum_and_minimum_over_skip_missing_without_a_warning(chunks, extreme):
    """The column maximum (minimum) of the valid values, missing for a column without
    any, equals ``max(skipna=True)`` (``min``) and its coordinates, and computing it warns
    of nothing: a block's ``nanmax`` warns of the column without data, and Dask's
    silencing of that in each chunk is not thread-safe (a race this test cannot stage
    deterministically; it leaked from the fire and convective recipes' ``max``/``min``
    into a full test run)."""
    import warnings

    from weatherdata.compute import maximum_over, minimum_over

    reduce_over = {"max": maximum_over, "min": minimum_over}[extreme]

    rng = np.random.default_rng(2)
    values = rng.normal(20.0, 15.0, (4, 7, 3, 5)).astype(np.float32)
    values[rng.random(values.shape) < 0.3] = np.nan
    values[1, :, 2, 4] = np.nan  # a column without data
    data = xr.DataArray(
        values,
        dims=("time", "height", "y", "x"),
        coords={"time": pd.date_range("2026-07-01", periods=4, freq="h"), "height": np.arange(7.0)},
        attrs={"units": "dBZ"},
    )
    expected = getattr(data, extreme)("height", skipna=True)
    with pytest.warns(RuntimeWarning, match="All-NaN"):
        getattr(np, f"nan{extreme}")(values, axis=1)  # what each Dask chunk calls
    if chunks:
        data = data.chunk(chunks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = reduce_over(data, "height")
        assert (got.chunks is not None) == bool(chunks)
        got = got.compute(scheduler="sync")
    assert got.dtype == np.float32 and got.dims == ("time", "y", "x")
    assert np.isnan(got.values[1, 2, 4]) and np.isfinite(got.values).sum() == got.size - 1
    np.testing.assert_array_equal(got.values, expected.values)
    xr.testing.assert_identical(got.drop_attrs(), expected.drop_attrs())
    assert got.attrs == {"units": "dBZ"}


# -- elementwise ----------------------------------------------------------------------------


def _elementwise_operands(case: str):
    rng = np.random.default_rng(5)
    times = np.arange(48)

    def operand(shape, dims, coords, chunks=None):
        values = rng.normal(size=shape).astype(np.float32)
        values[rng.random(shape) < 0.2] = np.nan
        array = xr.DataArray(values, dims=dims, coords=coords)
        return array.chunk(chunks) if chunks else array

    grid = ("time", "y", "x")
    first = operand((48, 3, 4), grid, {"time": times}, {"time": 12})
    return {
        "different chunks": [
            first,
            operand((48, 3, 4), grid, {"time": times}, {"time": 7, "y": 2}),
        ],
        "fewer dimensions": [first, operand((3, 4), ("y", "x"), {}, {"y": 2})],
        "another order": [first, operand((4, 48, 3), ("x", "time", "y"), {"time": times}, 16)],
        "numpy and dask": [operand((48, 3, 4), grid, {"time": times}), first],
        "numpy": [operand((48, 3, 4), grid, {"time": times}), operand((3, 4), ("y", "x"), {})],
        "an extra dimension": [
            first,
            operand((2, 48, 3, 4), ("lead", *grid), {"time": times}, {"time": 24}),
        ],
        "shifted times": [first, operand((48, 3, 4), grid, {"time": times + 5}, {"time": 12})],
    }[case]


def _weighted_sum(a, b, weight):
    return (np.nan_to_num(a) + weight * b).astype(np.float32)


@pytest.mark.parametrize(
    "case",
    [
        "different chunks",
        "fewer dimensions",
        "another order",
        "numpy and dask",
        "numpy",
        "an extra dimension",
        "shifted times",
    ],
)
def test_elementwise_is_apply_ufunc_parallelized_with_a_lighter_graph(case):
    """Same dimensions, coordinates, values and laziness as ``xr.apply_ufunc(…,
    dask="parallelized")``, whatever the operands' chunks, dimensions and order."""
    from weatherdata.compute import elementwise

    a, b = _elementwise_operands(case)
    join = "inner" if case == "shifted times" else "exact"
    expected = xr.apply_ufunc(
        _weighted_sum,
        a,
        b,
        kwargs={"weight": 2.5},
        dask="parallelized",
        output_dtypes=[np.float32],
        join=join,
    )
    out = elementwise(_weighted_sum, a, b, join=join, keywords={"weight": 2.5})
    assert out.dims == expected.dims and out.dtype == np.float32
    assert (out.chunks is None) == (expected.chunks is None)  # lazy stays lazy
    xr.testing.assert_identical(out.compute(), expected.compute())
    if case == "shifted times":  # the default, as apply_ufunc's, refuses misaligned operands
        with pytest.raises(ValueError, match="exact"):
            elementwise(_weighted_sum, a, b, keywords={"weight": 2.5})


def _lazy(shape, dims, chunks):
    return xr.DataArray(
        dask.array.arange(np.prod(shape), dtype="float32").reshape(shape).rechunk(chunks),
        dims=dims,
    )


def test_columns_in_pieces_splits_the_outermost_dimensions_first_and_never_merges():
    from weatherdata.compute import columns_in_pieces

    profile = _lazy((120, 31, 41, 21), ("time", "latitude", "longitude", "pressure"), -1)
    surface = _lazy((120, 31, 41), ("time", "latitude", "longitude"), -1)
    terrain = xr.DataArray(np.zeros((31, 41)), dims=("latitude", "longitude"))
    split = columns_in_pieces([profile, surface, terrain], "pressure", 16_384)
    assert split[0].chunks == ((12,) * 10, (31,), (41,), (21,))  # 12 × 1271 ≤ 16,384
    assert split[1].chunks == split[0].chunks[:3]
    assert split[2] is terrain  # NumPy-backed: as it is
    xr.testing.assert_identical(split[0], profile)

    # Existing chunks are split (into nearly equal pieces), their boundaries kept.
    uneven = _lazy(
        (120, 10, 10, 5), ("time", "latitude", "longitude", "pressure"), ((50, 70), -1, -1, -1)
    )
    (split,) = columns_in_pieces([uneven], "pressure", 3_000)
    assert split.chunks[0] == (25, 25, 24, 23, 23)  # 50 + 70, each in pieces of ≤ 30

    # A single time step over the limit: one step a piece, then the rows.
    large = _lazy((4, 200, 100, 5), ("time", "latitude", "longitude", "pressure"), -1)
    (split,) = columns_in_pieces([large], "pressure", 5_000)
    assert split.chunks[:3] == ((1,) * 4, (50,) * 4, (100,))

    # Small enough, or NumPy only: unchanged.
    assert columns_in_pieces([surface], "pressure", 10**7)[0] is surface
    assert columns_in_pieces([terrain], "pressure", 1)[0] is terrain
