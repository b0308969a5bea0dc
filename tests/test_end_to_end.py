"""The main job end to end on the built-in demo: ingest → derive → publish → read back.

Every catalog product must compute on the demo through the engine (no shortcut path)
and give plausible, not all-missing, values with its CF metadata.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import weatherdata
from weatherdata.catalog import shipped_catalog

CATALOG = shipped_catalog()


@pytest.fixture(scope="module")
def published(published_demo):
    return published_demo


def test_every_catalog_product_is_published_from_the_demo(published):
    root, summary = published
    assert sorted(s.product for s in summary.stores) == sorted(CATALOG.products)
    index = json.loads((root / "products.json").read_text())
    assert len(index["products"]) == len(CATALOG.products)


@pytest.fixture(scope="module")
def winter(tmp_path_factory):
    """The cold-season demo, for products undefined in summer (e.g. wind chill above 10 °C)."""
    from weatherdata.demo import write_demo

    directory = tmp_path_factory.mktemp("winter")
    write_demo(directory, resolution=0.5, scenario="winter")
    return weatherdata.open_inputs(directory)


@pytest.mark.parametrize("product_id", sorted(CATALOG.products))
def test_published_product_is_plausible(published, product_id, request):
    root, _ = published
    entry = CATALOG[product_id]
    data = xr.open_zarr(
        root / entry.family / f"{product_id}.zarr", consolidated=True, zarr_format=3
    )
    values = data[product_id]
    assert values.attrs["long_name"] and values.attrs["long_name_zh"]
    assert values.attrs["weatherdata_product"] == product_id
    array = values.values
    if not np.isfinite(array).any():
        # Some products are undefined in a summer scenario; the winter demo must give values.
        observations, forecast = request.getfixturevalue("winter")
        winter_values = weatherdata.derive(observations, [product_id], forecast=forecast)[
            product_id
        ].values
        assert np.isfinite(winter_values).any(), (
            f"{product_id} is all missing on both demo scenarios"
        )
        array = winter_values
    if entry.categories:
        allowed = {c.value for c in entry.categories}
        assert set(np.unique(array[np.isfinite(array)]).astype(int)) <= allowed
        assert values.attrs["flag_meanings"].split() == [c.meaning for c in entry.categories]
    elif entry.valid_range:
        finite = array[np.isfinite(array)]
        assert finite.min() >= entry.valid_range[0] and finite.max() <= entry.valid_range[1]


def test_categorical_levels_survive_publication(published, demo_inputs):
    # human_comfort_level has -1 as a real level: it must not become the missing value.
    root, _ = published
    observations, forecast = demo_inputs
    product_id = "human_comfort_level"
    derived = weatherdata.derive(observations, [product_id], forecast=forecast)[product_id]
    stored = xr.open_zarr(
        root / CATALOG[product_id].family / f"{product_id}.zarr", consolidated=True, zarr_format=3
    )[product_id]
    assert (derived.values == -1).any()
    np.testing.assert_array_equal(stored.values, derived.values)


@pytest.mark.slow
def test_every_published_store_holds_exactly_what_derive_computes(published, demo_inputs):
    """The publisher writes each store's data itself (one ``dask.array.store`` for all
    products, encoded with xarray's Zarr encoder): every value read back with plain xarray
    equals ``derive`` on the same inputs, cast to the stored type (missing stays missing,
    levels stay levels), and the store's coordinates equal the derived ones."""
    import dask

    from weatherdata.engine import derive_arrays

    root, _ = published
    observations, forecast = demo_inputs
    derived = derive_arrays(observations, forecast=forecast)
    assert sorted(derived) == sorted(CATALOG.products)
    computed = dict(zip(derived, dask.compute(*derived.values()), strict=True))
    for product_id, expected in computed.items():
        entry = CATALOG[product_id]
        stored = xr.open_zarr(
            root / entry.family / f"{product_id}.zarr", consolidated=True, zarr_format=3
        )[product_id]
        assert stored.dims == expected.dims, product_id
        for dim in expected.dims:
            if dim in expected.coords and expected[dim].dtype.kind in "iufmM":
                np.testing.assert_array_equal(stored[dim].values, expected[dim].values)
        values = stored.values
        want = expected.values.astype(values.dtype) if values.dtype.kind == "f" else expected.values
        np.testing.assert_array_equal(values, want, err_msg=product_id)


def test_no_published_coordinate_has_an_oversized_chunk(published):
    # A time coordinate chunked 10^6 steps along time made forecast stores' valid_time
    # (init_time x lead_time) a 584 MB chunk, allocated by every write and every read.
    import zarr

    _root, summary = published
    largest = {}
    for store in summary.stores:
        group = zarr.open_group(store.path, mode="r", zarr_format=3)
        for name, array in group.arrays():
            if name != store.product:
                largest[f"{store.product}/{name}"] = array.dtype.itemsize * int(
                    np.prod(array.chunks)
                )
    assert any("valid_time" in key for key in largest)
    assert max(largest.values()) <= 1024 * 1024, max(largest, key=largest.get)


def test_stored_times_read_without_xarray_equal_xarrays(published, monkeypatch):
    """Append-or-replace reads each store's time axis without xarray (hourly runs): its
    ``zarr.json`` and chunk file where stored as this package stores it, else through
    zarr. On every published store both equal what ``xr.open_zarr`` decodes, for each
    kind of time axis, and the direct read is the one taken."""
    from weatherdata import publication
    from weatherdata.publication import TIME_DIMENSIONS, _stored_times

    _, summary = published
    kinds, direct = set(), 0
    for store in summary.stores:
        opened = xr.open_zarr(store.path, consolidated=True, zarr_format=3)
        for dim in TIME_DIMENSIONS:
            times = _stored_times(Path(store.path), dim)
            with monkeypatch.context() as patched:
                patched.setattr(publication, "_read_time_chunk", lambda path: None)
                through_zarr = _stored_times(Path(store.path), dim)
            if dim not in opened[store.product].dims:
                assert times is None or dim in opened.coords, (store.product, dim)
                continue
            kinds.add(dim)
            direct += publication._read_time_chunk(Path(store.path, dim)) is not None
            for read in (times, through_zarr):
                np.testing.assert_array_equal(read, opened[dim].values, err_msg=store.product)
                assert read.dtype == opened[dim].dtype
    assert kinds == {"time", "day", "period", "init_time"}
    assert direct >= 0.9 * len(summary.stores), direct


def test_opening_inputs_and_publishing_load_no_xarray_backend_plugins(demo_directory, tmp_path):
    """To guess a file's backend xarray loads every installed backend's entry point
    (MetPy's imports its plots and Matplotlib, ~2 s a process): opening the inputs,
    publishing, appending, rewriting published times and opening a product never leave
    xarray to guess."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        f"""
        import sys
        import weatherdata
        from weatherdata.publication import open_published, publish
        observations, forecast = weatherdata.open_inputs({str(demo_directory)!r})
        root = {str(tmp_path / "root")!r}
        products = ["temperature_2m", "heat_index"]
        publish(observations, root, products, forecast=forecast)
        publish(observations, root, products, forecast=forecast, since=observations.time.values[-1])
        publish(observations, root, products, forecast=forecast, since=observations.time.values[-2])
        open_published(root, "heat_index").load()
        import xarray.backends.plugins as plugins
        print(plugins.list_engines.cache_info().currsize, "metpy.io" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["0", "False"], done.stdout


def test_the_shipped_real_grib_samples_publish_end_to_end(tmp_path, monkeypatch):
    """NCEP's NAM analysis (Lambert conformal: projected y/x, 2-D latitude/longitude, a 0-d
    ``crs``) and GFS forecast, everything they allow. This failed twice before any store
    was written: a Beijing-hours product raised a plain input error on the one-step
    record (now "insufficient", skipped with its reason), then the ``crs`` coordinate's
    chunk failed to encode (NumPy made it 1-d). Every store holds what derive computes;
    a recipe's own input error names its product."""
    from weatherdata.products.observation import thermodynamics

    from weatherdata.engine import derive
    from weatherdata.errors import InputError
    from weatherdata.publication import publish

    data = Path(__file__).parent / "data"
    files = [data / "nam.t00z.awp21100.tm00.grib2", data / "gfs.t12z.pgrbf120.2p5deg.grib2"]
    observations, forecast = weatherdata.open_inputs(files)
    summary = publish(observations, tmp_path, forecast=forecast, input_files=files)
    assert len(summary.stores) >= 80
    assert "Beijing hours" in summary.skipped["dressing_index_morning_evening"]
    temperature = xr.open_zarr(
        tmp_path / "observation" / "temperature_2m.zarr", consolidated=True, zarr_format=3
    )
    assert temperature["crs"].attrs["grid_mapping_name"] == "lambert_conformal_conic"
    assert temperature["temperature_2m"].dims == ("time", "y", "x")
    expected = derive(observations, ["temperature_2m", "dewpoint_2m"], forecast=forecast)
    for product_id in ("temperature_2m", "dewpoint_2m"):
        store = next(s for s in summary.stores if s.product == product_id)
        published = xr.open_zarr(store.path, consolidated=True, zarr_format=3)[product_id]
        np.testing.assert_array_equal(published.values, expected[product_id].values)

    def refuses(*args, **kwargs):
        raise InputError("a recipe's own complaint")

    monkeypatch.setattr(thermodynamics, "dewpoint_from_relative_humidity", refuses)
    with pytest.raises(InputError, match=r"^product dewpoint_2m: a recipe's own complaint$"):
        derive(observations, ["dewpoint_2m"], forecast=forecast)
