"""The derivation engine: dependency resolution, shared intermediates, laziness, errors."""

import numpy as np
import pytest
import xarray as xr
import yaml

import weatherdata
from tests.helpers import grid_dataset
from weatherdata import engine
from weatherdata.catalog import load_catalog
from weatherdata.errors import CatalogError, InputError, UnitsError


def _catalog(tmp_path):
    speed = {
        "id": "speed",
        "family": "observation",
        "name": {"en": "Speed", "zh": "风速"},
        "description": "d",
        "recipe": "observation.wind:wind_speed",
        "inputs": {"eastward_wind": "eastward_wind_10m", "northward_wind": "northward_wind_10m"},
        "units": "km h-1",
        "valid_range": [0, 100],
    }
    doubled = {
        **speed,
        "id": "speed_of_speed",
        "inputs": {"eastward_wind": "speed", "northward_wind": "speed"},
        "units": "m s-1",
    }
    window = {
        "id": "wet",
        "family": "observation",
        "name": {"en": "Rain", "zh": "雨"},
        "description": "d",
        "recipe": "observation.precipitation:accumulation",
        "inputs": {"precipitation": "precipitation_amount"},
        "parameters": {"window": {"value": "3 h", "source": "T", "verified": True}},
        "units": "mm",
        "time": {"kind": "rolling_window", "window": "3 h"},
        "cf": {"cell_methods": "time: sum (interval: 3 hour)"},
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(
        yaml.safe_dump({"version": 1, "products": [speed, doubled, window]}, allow_unicode=True)
    )
    return load_catalog(path)


def test_dependencies_are_computed_once_and_shared(tmp_path):
    catalog = _catalog(tmp_path)
    ds = grid_dataset({"eastward_wind_10m": 3.0, "northward_wind_10m": 4.0}, times=2)
    engine.recipe_calls.clear()
    out = weatherdata.derive(ds, ["speed", "speed_of_speed"], catalog=catalog)
    assert engine.recipe_calls == {"speed": 1, "speed_of_speed": 1}
    # 5 m/s = 18 km/h; the engine converted to the declared units.
    assert float(out["speed"][0, 0, 0]) == pytest.approx(18.0)
    # speed_of_speed receives speed in km/h and combines two 18 km/h components.
    assert float(out["speed_of_speed"][0, 0, 0]) == pytest.approx(np.hypot(5.0, 5.0))


def test_nothing_is_computed_before_the_caller_asks(tmp_path):
    import dask

    catalog = _catalog(tmp_path)
    ds = grid_dataset(
        {"eastward_wind_10m": 3.0, "northward_wind_10m": 4.0, "precipitation_amount": 1.0}, times=6
    )
    computed = []

    class Spy(dask.callbacks.Callback):
        def _start(self, dsk):
            computed.append(len(dsk))

    with Spy():
        out = weatherdata.derive(ds, ["speed", "wet"], catalog=catalog)
    assert computed == []
    assert all(hasattr(v.data, "dask") for v in out.data_vars.values())


def test_metadata_is_attached(tmp_path):
    catalog = _catalog(tmp_path)
    ds = grid_dataset({"precipitation_amount": 1.0}, times=6)
    out = weatherdata.derive(ds, ["wet"], catalog=catalog)["wet"]
    assert out.attrs["units"] == "mm"
    assert out.attrs["long_name"] == "Rain" and out.attrs["long_name_zh"] == "雨"
    assert out.attrs["cell_methods"] == "time: sum (interval: 3 hour)"
    assert out.attrs["weatherdata_window"] == "3 h"
    assert len(out.attrs["weatherdata_catalog_entry_sha256"]) == 16


def test_valid_range_masks_implausible_outputs(tmp_path):
    catalog = _catalog(tmp_path)
    ds = grid_dataset({"eastward_wind_10m": 30.0, "northward_wind_10m": 40.0}, times=1)  # 180 km/h
    out = weatherdata.derive(ds, ["speed"], catalog=catalog)["speed"].compute()
    assert np.isnan(out).all()


def test_missing_inputs_name_the_variable_and_the_products(tmp_path):
    catalog = _catalog(tmp_path)
    ds = grid_dataset({"eastward_wind_10m": 3.0}, times=1)
    with pytest.raises(
        InputError,
        match=r"missing input variable.*northward_wind_10m: cannot compute speed, speed_of_speed",
    ):
        weatherdata.derive(ds, ["speed", "speed_of_speed"], catalog=catalog)
    # Without an explicit list, products that cannot be computed are skipped.
    assert list(weatherdata.derive(ds, catalog=catalog).data_vars) == []


def test_input_units_are_checked_and_converted(tmp_path):
    catalog = _catalog(tmp_path)
    ds = grid_dataset({"eastward_wind_10m": 3.0, "northward_wind_10m": 4.0}, times=1)
    ds["eastward_wind_10m"].attrs["units"] = "knot"
    ds["northward_wind_10m"].attrs["units"] = "knot"
    out = weatherdata.derive(ds, ["speed"], catalog=catalog)["speed"]
    assert float(out[0, 0, 0]) == pytest.approx(5 * 1.852, rel=1e-6)
    ds["northward_wind_10m"].attrs["units"] = "K"
    with pytest.raises(UnitsError, match="northward_wind_10m"):
        weatherdata.derive(ds, ["speed"], catalog=catalog)
    del ds["northward_wind_10m"].attrs["units"]
    with pytest.raises(UnitsError, match="northward_wind_10m: units are missing"):
        weatherdata.derive(ds, ["speed"], catalog=catalog)


def test_parameters_can_be_overridden_with_units_checked(tmp_path):
    catalog = _catalog(tmp_path)
    ds = grid_dataset({"precipitation_amount": 1.0}, times=8)
    out = weatherdata.derive(ds, ["wet"], catalog=catalog, parameters={"wet": {"window": "6 h"}})[
        "wet"
    ]
    assert float(out[-1, 0, 0]) == pytest.approx(6.0)
    with pytest.raises(UnitsError, match="does not have the units"):
        weatherdata.derive(ds, ["wet"], catalog=catalog, parameters={"wet": {"window": "6 mm"}})
    with pytest.raises(CatalogError, match="unknown parameter 'size'"):
        weatherdata.derive(ds, ["wet"], catalog=catalog, parameters={"wet": {"size": "6 h"}})
    with pytest.raises(CatalogError, match="unknown product id"):
        weatherdata.derive(ds, ["wet"], catalog=catalog, parameters={"dry": {"window": "6 h"}})


def test_unknown_product_is_an_error():
    ds = grid_dataset({"precipitation_amount": 1.0}, times=2)
    with pytest.raises(CatalogError, match="unknown product id 'rainfall'"):
        weatherdata.derive(ds, ["rainfall"])


def test_window_products_record_the_input_time_step(tmp_path):
    catalog = _catalog(tmp_path)
    for step, expected in (("10min", "10 minute"), ("1h", "1 hour"), ("3h", "3 hour")):
        ds = grid_dataset({"precipitation_amount": 1.0}, times=12, step=step)
        out = weatherdata.derive(ds, ["wet"], catalog=catalog)["wet"]
        assert out.attrs["weatherdata_input_time_step"] == expected


def _unreadable(ds, name):
    """``ds`` with ``name`` replaced by Dask chunks that raise when computed."""
    import dask.array

    def fail(block):
        raise AssertionError(f"{name} was read")

    poisoned = ds[name].copy(data=dask.array.map_blocks(fail, ds[name].data, dtype=np.float32))
    return ds.assign({name: poisoned})


def test_published_values_are_read_instead_of_deriving_again(tmp_path):
    catalog = _catalog(tmp_path)
    ds = grid_dataset({"eastward_wind_10m": 3.0, "northward_wind_10m": 4.0}, times=3)
    speed = weatherdata.derive(ds, ["speed"], catalog=catalog)["speed"].compute()
    published = speed.copy(data=np.full(speed.shape, 36.0, dtype=np.float32))  # 10 m/s
    published = published.chunk({"time": 1}).assign_attrs(units="m s-1", note="stored")
    out = weatherdata.derive(
        _unreadable(ds, "eastward_wind_10m"),
        ["speed_of_speed", "speed"],
        catalog=catalog,
        published={"speed": published},
    )
    # the published speed is used (and its inputs never read); metadata stay the catalog's
    np.testing.assert_allclose(out["speed_of_speed"].values, np.hypot(10.0, 10.0), rtol=1e-6)
    np.testing.assert_array_equal(out["speed"].values, published.values)
    assert out["speed"].attrs == speed.attrs


@pytest.mark.parametrize(
    "change",
    ["a time missing", "times shifted", "another dtype", "other dimensions"],
)
def test_published_values_that_do_not_cover_the_derivation_are_not_used(tmp_path, change):
    catalog = _catalog(tmp_path)
    ds = grid_dataset({"eastward_wind_10m": 3.0, "northward_wind_10m": 4.0}, times=3)
    speed = weatherdata.derive(ds, ["speed"], catalog=catalog)["speed"].compute()
    published = speed.copy(data=np.full(speed.shape, 36.0, dtype=np.float32))
    published = {
        "a time missing": published.isel(time=[0, 2]),
        "times shifted": published.assign_coords(time=published.time + np.timedelta64(1, "h")),
        "another dtype": published.astype(np.float64),
        "other dimensions": published.transpose("latitude", "time", "longitude"),
    }[change]
    out = weatherdata.derive(
        ds, ["speed_of_speed"], catalog=catalog, published={"speed": published}
    )
    np.testing.assert_allclose(out["speed_of_speed"].values, np.hypot(5.0, 5.0), rtol=1e-6)


def test_published_values_may_hold_more_times_than_derived(tmp_path):
    catalog = _catalog(tmp_path)
    ds = grid_dataset({"eastward_wind_10m": 3.0, "northward_wind_10m": 4.0}, times=3)
    longer = grid_dataset({"eastward_wind_10m": 6.0, "northward_wind_10m": 8.0}, times=5)
    longer = longer.assign_coords(time=longer.time - np.timedelta64(1, "h"))
    published = weatherdata.derive(longer, ["speed"], catalog=catalog)["speed"]
    out = weatherdata.derive(
        _unreadable(ds, "eastward_wind_10m"),
        ["speed_of_speed"],
        catalog=catalog,
        published={"speed": published},
    )
    assert out.sizes["time"] == 3
    np.testing.assert_array_equal(out["time"].values, ds["time"].values)
    np.testing.assert_allclose(out["speed_of_speed"].values, np.hypot(10.0, 10.0), rtol=1e-6)


def test_products_are_float32_block_by_block_even_under_float32_metadata():
    import dask.array

    lying = dask.array.ones((4, 3), chunks=2, dtype=np.float32).map_blocks(
        lambda block: block.astype(np.float64), dtype=np.float32
    )
    assert lying.compute().dtype == np.float64  # what astype(float32) would have left alone
    fixed = engine._published_values(xr.DataArray(lying, dims=("y", "x")))
    assert fixed.dtype == np.float32
    assert fixed.compute().dtype == np.float32


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_published_values_are_missing_outside_the_valid_range_and_the_categories(lazy):
    values = xr.DataArray(np.array([[-1.0, 0.0, 5.0], [10.0, 10.5, np.nan]]), dims=("y", "x"))
    levels = xr.DataArray(np.array([0, 1, 2, 3, -1], dtype=np.int8), dims="x")
    if lazy:
        values, levels = values.chunk(x=2), levels.chunk(x=2)
    ranged = engine._published_values(values, valid_range=(0, 10)).compute()
    assert ranged.dtype == np.float32
    np.testing.assert_array_equal(ranged, [[np.nan, 0, 5], [10, np.nan, np.nan]])
    coded = engine._published_values(levels, allowed=[0, 1, 2]).compute()
    assert coded.dtype == np.float32
    np.testing.assert_array_equal(coded, [0, 1, 2, np.nan, np.nan])


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("source", "target", "valid_range"),
    [("degC", "K", (250.0, 300.0)), ("m s-1", "km h-1", (0.0, 100.0)), ("Pa", "hPa", None)],
)
def test_published_values_convert_as_the_units_conversion_does(
    lazy, dtype, source, target, valid_range
):
    from weatherdata.units import convert_dataarray, linear_conversion

    rng = np.random.default_rng(3)
    values = xr.DataArray(
        rng.normal(10.0, 20.0, size=(5, 7)).astype(dtype), dims=("y", "x"), attrs={"units": source}
    )
    if lazy:
        values = values.chunk(x=3)
    linear = linear_conversion(source, target)
    fused = engine._published_values(values, valid_range=valid_range, linear=linear).compute()
    stepwise = engine._published_values(
        convert_dataarray(values, target), valid_range=valid_range
    ).compute()
    assert fused.dtype == stepwise.dtype == np.float32
    np.testing.assert_array_equal(fused.values, stepwise.values)
    if valid_range is not None:  # the range applies to the converted values
        assert np.isnan(fused.values).any() and not np.isnan(fused.values).all()
    if source == "degC":
        assert linear == (1.0, 273.15)
    with pytest.raises(UnitsError, match="cannot be converted"):
        linear_conversion("degC", "mm")


def test_published_values_that_must_be_read_back_and_do_not_cover_are_an_error(tmp_path):
    catalog = _catalog(tmp_path)
    ds = grid_dataset({"eastward_wind_10m": 3.0, "northward_wind_10m": 4.0}, times=3)
    speed = weatherdata.derive(ds, ["speed"], catalog=catalog)["speed"]
    with pytest.raises(InputError, match=r"product speed: its published values do not hold"):
        weatherdata.derive(
            ds,
            ["speed_of_speed"],
            catalog=catalog,
            published={"speed": speed.isel(time=[0, 2])},  # a gap inside
            must_read_back={"speed"},
        )


def test_times_after_the_end_of_the_published_values_are_derived(tmp_path):
    # a window reaching past the end of what was published: the stored hours, then the
    # derived ones
    catalog = _catalog(tmp_path)
    ds = grid_dataset({"eastward_wind_10m": 3.0, "northward_wind_10m": 4.0}, times=3)
    speed = weatherdata.derive(ds, ["speed"], catalog=catalog)["speed"].compute()
    published = speed.copy(data=np.full(speed.shape, 36.0, dtype=np.float32)).isel(time=[0, 1])
    out = weatherdata.derive(
        ds,
        ["speed_of_speed", "speed"],
        catalog=catalog,
        published={"speed": published},
        must_read_back={"speed"},
    )
    np.testing.assert_array_equal(out["time"].values, ds["time"].values)
    np.testing.assert_allclose(out["speed"].isel(time=[0, 1]).values, 36.0)
    np.testing.assert_allclose(out["speed"].isel(time=2).values, 18.0, rtol=1e-6)
    np.testing.assert_allclose(out["speed_of_speed"].isel(time=2).values, np.hypot(5, 5), rtol=1e-6)
    assert out["speed"].attrs == speed.attrs


def test_one_product_id_may_be_given_as_a_string(demo_inputs, tmp_path):
    """``derive(obs, "heat_index")`` read the string as the ids 'h', 'e', ... and failed
    with "unknown product id 'h'"; publish likewise."""
    from weatherdata.publication import publish

    observations, forecast = demo_inputs
    one = weatherdata.derive(observations, "heat_index")
    assert list(one.data_vars) == ["heat_index"]
    xr.testing.assert_identical(one, weatherdata.derive(observations, ["heat_index"]))
    summary = publish(observations, tmp_path, "dewpoint_2m", forecast=forecast)
    assert [store.product for store in summary.stores] == ["dewpoint_2m"]
