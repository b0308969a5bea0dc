"""Publication: store layout, append/replace semantics, STAC, locking, and SIGKILL safety."""

import collections
import json
import multiprocessing
import os
import random
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from tests.helpers import grid_dataset
from weatherdata.errors import CatalogError, PublishError
from weatherdata.publication import chunk_layout, open_published, publish, publisher_lock

PRODUCTS = ["temperature_2m", "precipitation_accumulation_1h", "wind_speed_10m"]


def inputs(times=48, start="2026-07-25T00:00", temperature=300.0):
    rng = np.random.default_rng(1)
    rain = rng.gamma(0.5, 2.0, size=(times, 3, 4)).astype(np.float32)
    return grid_dataset(
        {
            "air_temperature_2m": temperature + rng.normal(0, 1, size=(times, 3, 4)),
            "precipitation_amount": rain,
            "eastward_wind_10m": 3.0,
            "northward_wind_10m": 4.0,
        },
        times=times,
        start=start,
    )


def read(root, product):
    return open_published(root, product).load()


def test_one_store_per_product_readable_with_plain_xarray(tmp_path):
    ds = inputs()
    summary = publish(ds, tmp_path, PRODUCTS)
    assert sorted(s.product for s in summary.stores) == sorted(PRODUCTS)
    for product in PRODUCTS:
        store = tmp_path / "observation" / f"{product}.zarr"
        plain = xr.open_zarr(store, consolidated=True, zarr_format=3)
        assert plain[product].attrs["units"]
        assert plain.attrs["weatherdata_product"] == product
        assert (store / "zarr.json").exists()
        metadata = json.loads((store / "zarr.json").read_text())
        assert metadata["zarr_format"] == 3 and "consolidated_metadata" in metadata
    np.testing.assert_allclose(
        read(tmp_path, "temperature_2m")["temperature_2m"],
        ds["air_temperature_2m"] - 273.15,
        atol=1e-4,
    )


def _bytes_of_files(store: Path) -> int:
    return sum(
        os.path.getsize(os.path.join(directory, name))
        for directory, _, names in os.walk(os.path.realpath(store))
        for name in names
    )


def test_append_and_replace_keep_time_sorted_and_unique(tmp_path):
    full = inputs(72)
    summary = publish(full.isel(time=slice(0, 24)), tmp_path, PRODUCTS)
    first = {s.product: s.bytes for s in summary.stores}
    summary = publish(full.isel(time=slice(24, 48)), tmp_path, PRODUCTS)
    assert {s.action for s in summary.stores} == {"append"}
    # The summary counts each version's bytes, the hard-linked chunks of an append too.
    for store in summary.stores:
        assert store.bytes == _bytes_of_files(Path(store.path)) > first[store.product]
    assert summary.total_bytes == sum(s.bytes for s in summary.stores)
    summary = publish(full.isel(time=slice(12, 72)), tmp_path, PRODUCTS)
    assert {s.action for s in summary.stores} == {"replace"}
    out = read(tmp_path, "temperature_2m")
    np.testing.assert_array_equal(out.time.values, full.time.values)
    np.testing.assert_allclose(
        out["temperature_2m"], full["air_temperature_2m"] - 273.15, atol=1e-4
    )
    # Re-running the same range replaces it, never duplicates.
    publish(full.isel(time=slice(12, 72)), tmp_path, PRODUCTS)
    assert read(tmp_path, "temperature_2m").sizes["time"] == 72


def test_appends_share_unchanged_chunks_with_the_previous_version(tmp_path):
    # 150×150 cells: ~24 hourly maps per 2 MiB chunk, so the first day is one whole chunk.
    full = grid_dataset({"air_temperature_2m": 300.0}, times=48, shape=(150, 150))
    publish(full.isel(time=slice(0, 24)), tmp_path, ["temperature_2m"])
    publish(full.isel(time=slice(24, 48)), tmp_path, ["temperature_2m"])
    versions = sorted((tmp_path / "observation" / "_versions" / "temperature_2m").iterdir())
    assert len(versions) == 2
    for path in ("temperature_2m/c/0/0/0", "latitude/c/0"):
        assert os.stat(versions[0] / path).st_ino == os.stat(versions[1] / path).st_ino, path
    assert read(tmp_path, "temperature_2m").sizes["time"] == 48


def test_stac_catalog_is_valid_and_lists_every_store(tmp_path):
    import pystac

    publish(inputs(), tmp_path, PRODUCTS)
    catalog = pystac.Catalog.from_file(str(tmp_path / "catalog.json"))
    catalog.validate_all()
    items = list(catalog.get_items(recursive=True))
    assert sorted(i.id for i in items) == sorted(PRODUCTS)
    for item in items:
        href = item.assets["zarr"].get_absolute_href()
        assert Path(href).exists()
        opened = xr.open_zarr(
            href,
            **{
                k: v
                for k, v in item.assets["zarr"].extra_fields["xarray:open_kwargs"].items()
                if k != "engine"
            },
        )
        assert item.id in opened
        # the index describes what is stored (read while the data was written)
        variable = opened[item.id]
        assert item.properties["weatherdata:dimensions"] == list(variable.dims)
        assert item.properties["weatherdata:shape"] == list(variable.shape)
        times = opened["time"].values
        for key, value in (("start_datetime", times.min()), ("end_datetime", times.max())):
            assert item.properties[key] == np.datetime_as_string(value, unit="s") + "Z"
    index = json.loads((tmp_path / "products.json").read_text())
    assert sorted(p["id"] for p in index["products"]) == sorted(PRODUCTS)


@pytest.mark.parametrize("append", ["in place", "xarray"])
def test_the_index_describes_each_store_version_once(append, tmp_path, monkeypatch):
    """Once per version: a new store from its dataset, a store extended in place from
    its stored times and what is appended, one extended by xarray's path read back."""
    import weatherdata.publication as publication

    if append == "xarray":  # a store not laid out as this version lays it out
        monkeypatch.setattr(publication, "_extend_in_place", lambda *arguments: None)
    described = []

    def recording(name):
        original = getattr(publication, name)

        def record(source, entry, *arguments):
            described.append(entry.id)
            return original(source, entry, *arguments)

        monkeypatch.setattr(publication, name, record)

    recording("_describe_store")  # a store read back
    recording("_describe_dataset")  # a new store, from what it was made of
    recording("_describe_appended")  # an extended store, from its times and what is appended
    publish(inputs(), tmp_path, PRODUCTS)
    assert sorted(described) == sorted(PRODUCTS)
    # a later hour appends to one store: only its new version is described again, and
    # the index still shows the other stores as they are
    described.clear()
    later = inputs(times=50).isel(time=slice(48, None))
    publish(later, tmp_path, ["temperature_2m"])
    assert described == ["temperature_2m"]
    items = {p["id"]: p for p in json.loads((tmp_path / "products.json").read_text())["products"]}
    assert set(items) == set(PRODUCTS)
    item = json.loads((tmp_path / "observation" / "temperature_2m" / "item.json").read_text())
    assert item["properties"]["end_datetime"].startswith("2026-07-27T01:00")


def test_provenance_attributes(tmp_path):
    source = tmp_path / "input.nc"
    source.write_bytes(b"x")
    publish(inputs(), tmp_path / "out", ["temperature_2m"], input_files=[source])
    attrs = xr.open_zarr(tmp_path / "out" / "observation" / "temperature_2m.zarr").attrs
    assert attrs["weatherdata_version"]
    assert len(attrs["weatherdata_catalog_entry_sha256"]) == 16
    inputs_ = json.loads(attrs["weatherdata_inputs"])
    assert inputs_ == [
        {
            "file": "input.nc",
            "sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
        }
    ]
    assert attrs["date_created"].startswith("20")


def test_concurrent_publishers_one_fails_clearly(tmp_path):
    held = threading.Event()
    release = threading.Event()

    def holder():
        with publisher_lock(tmp_path):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    try:
        with pytest.raises(PublishError, match="another publisher is writing here"):
            publish(inputs(), tmp_path, ["temperature_2m"])
    finally:
        release.set()
        thread.join()
    publish(inputs(), tmp_path, ["temperature_2m"], wait=5)


def test_a_second_publisher_can_wait_for_the_first(tmp_path):
    def later():
        time.sleep(0.5)
        release.set()

    release = threading.Event()
    with publisher_lock(tmp_path):
        threading.Thread(target=later).start()
        release.wait()
    publish(inputs(), tmp_path, ["temperature_2m"], wait=2)


def test_warnings_about_all_missing_slices_stay_out_of_a_publish_and_others_do_not():
    """A block reducing only missing values (a kernel's ``nanmax`` where a column has no
    data) warns in a worker thread; a publish's compute ignores that warning, not
    others (an invalid division still reaches the user), and leaves the filters as
    they were."""
    import warnings

    import dask.array

    from weatherdata import publication

    missing = dask.array.from_array(np.full((4, 3), np.nan), chunks=(2, 3))
    maxima = missing.map_blocks(
        lambda block: np.nanmax(block, axis=0, keepdims=True), chunks=((1, 1), (3,))
    )
    ratios = missing.map_blocks(lambda block: np.zeros_like(block) / np.zeros_like(block))
    first, second = np.empty((2, 3)), np.empty((4, 3))
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        publication._write_all(
            [(maxima, first, (slice(None),) * 2), (ratios, second, (slice(None),) * 2)]
        )
    messages = [str(warning.message) for warning in caught]
    assert not [m for m in messages if "All-NaN" in m], messages
    assert [m for m in messages if "invalid value encountered in divide" in m], messages
    assert np.isnan(first).all() and np.isnan(second).all()
    assert warnings.filters == filters


def test_the_garbage_collector_runs_less_during_a_publish_and_as_before_after(tmp_path):
    import gc

    import dask.callbacks

    from weatherdata.publication import COLLECTION_THRESHOLD

    before = gc.get_threshold()
    seen, computing = [], []

    def during():
        seen.append((gc.get_threshold(), gc.get_freeze_count() > 0))

    class Computing(dask.callbacks.Callback):
        def _start(self, dsk):
            computing.append((gc.get_threshold(), gc.get_freeze_count() > 0))

    with Computing():
        publish(inputs(), tmp_path / "one", PRODUCTS, before_swap=during)
    assert seen == [((COLLECTION_THRESHOLD, *before[1:]), True)]
    assert computing and all(state == (before, True) for state in computing)  # usual thresholds
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    # a failed publish restores them too
    with pytest.raises(CatalogError):
        publish(inputs(), tmp_path / "two", ["no_such_product"])
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    # objects something else froze stay frozen, and the publish does not unfreeze them
    gc.freeze()
    try:
        publish(inputs(), tmp_path / "three", PRODUCTS, before_swap=during)
        assert seen[-1] == ((COLLECTION_THRESHOLD, *before[1:]), True)
        # still frozen (not unfrozen to 0; a few frozen objects may be freed meanwhile)
        assert gc.get_freeze_count() > 0 and gc.get_threshold() == before
    finally:
        gc.unfreeze()


def test_chunk_layout_serves_maps_and_series():
    chunks = chunk_layout({"time": 2000, "latitude": 61, "longitude": 81})
    assert chunks["latitude"] == 61 and chunks["longitude"] == 81
    # 2 MiB / (61 * 81 * 4 bytes) = 106 maps per chunk: a map reads one chunk
    assert chunks["time"] == 2 * 1024 * 1024 // (61 * 81 * 4)
    assert chunk_layout({"time": 120, "latitude": 61, "longitude": 81})["time"] == 106
    # a small grid: the budget would allow ~2400 steps; a quarter of hours is the cap
    assert chunk_layout({"time": 5000, "latitude": 13, "longitude": 17})["time"] == 24 * 92
    big = chunk_layout({"time": 120, "latitude": 600, "longitude": 800})
    assert big["latitude"] == 256 and big["longitude"] == 256 and big["time"] == 8
    assert chunk_layout({"time": 120, "latitude": 61, "longitude": 81}, "map")["time"] == 1
    forecast = chunk_layout({"init_time": 10, "lead_time": 73, "latitude": 31, "longitude": 41})
    assert forecast == {"init_time": 1, "lead_time": 73, "latitude": 31, "longitude": 41}
    assert chunk_layout({"time": 0, "latitude": 3, "longitude": 3})["time"] == 1


def _publish_newer(root: str, ready, swapping) -> None:
    """The killed publisher (a fork-server child: no interpreter start-up per kill)."""
    data = inputs(96, temperature=310.0).isel(time=slice(24, 96))
    ready.set()
    publish(data, root, PRODUCTS, before_swap=swapping.set)


def _snapshot(root):
    out = {}
    for product in PRODUCTS:
        out[product] = read(root, product)[product].values
    return out


def _run_publisher(root, kill_after=None, after_swap_starts=False):
    """Publish the newer data in another process; killed with SIGKILL ``kill_after`` seconds
    after it starts publishing (or after it starts swapping the stores in, with
    ``after_swap_starts``), or run to the end (returns its duration)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.test_publish"])
    ready, swapping = context.Event(), context.Event()
    process = context.Process(target=_publish_newer, args=(str(root), ready, swapping))
    process.start()
    assert ready.wait(120), "the publisher did not start"
    started = time.monotonic()
    if kill_after is None:
        process.join(120)
        assert process.exitcode == 0, process.exitcode
        return time.monotonic() - started
    if after_swap_starts:
        assert swapping.wait(120), "the publisher did not reach the swap"
    time.sleep(kill_after)
    process.kill()
    process.join(30)
    return None


@pytest.mark.slow
def test_sigkill_at_random_points_never_leaves_a_partial_store(tmp_path):
    """A publish killed at ≥ 20 random moments: every store reads as its previous or new
    version, the STAC index points only at existing stores, and the next run completes with
    the same result as an uninterrupted run.

    Every other kill comes a random moment after the publisher starts swapping its stores in
    (the last few milliseconds of its run): the moments measured from its start alone
    depend on how busy the machine is (a slower run than the first ends after every kill)."""
    before = inputs(96).isel(time=slice(0, 48))
    reference_old = tmp_path / "reference-old"
    publish(before, reference_old, PRODUCTS)
    old = _snapshot(reference_old)
    reference_new = tmp_path / "reference-new"
    publish(before, reference_new, PRODUCTS)
    duration = _run_publisher(reference_new)
    new = _snapshot(reference_new)
    rng = random.Random(20261128)
    outcomes = {"old": 0, "new": 0}
    template = tmp_path / "template"
    publish(before, template, PRODUCTS)
    after = inputs(96, temperature=310.0).isel(time=slice(24, 96))
    for attempt in range(20):
        root = tmp_path / f"attempt-{attempt}"
        shutil.copytree(template, root, symlinks=True)
        if attempt % 2:
            _run_publisher(root, kill_after=rng.uniform(0, 0.02), after_swap_starts=True)
        else:
            _run_publisher(root, kill_after=rng.uniform(0, duration * 1.1))
        for product in PRODUCTS:
            values = read(root, product)[product].values
            if values.shape == old[product].shape and np.array_equal(
                values, old[product], equal_nan=True
            ):
                outcomes["old"] += 1
            else:
                assert values.shape == new[product].shape and np.array_equal(
                    values, new[product], equal_nan=True
                ), f"attempt {attempt}: {product} is neither the old nor the new version"
                outcomes["new"] += 1
        catalog = json.loads((root / "catalog.json").read_text())
        for link in catalog["links"]:
            if link["rel"] == "child":
                collection = root / link["href"]
                for item_link in json.loads(collection.read_text())["links"]:
                    if item_link["rel"] == "item":
                        item = json.loads(
                            (collection.parent / item_link["href"]).resolve().read_text()
                        )
                        asset = (collection.parent / item_link["href"]).resolve().parent / item[
                            "assets"
                        ]["zarr"]["href"]
                        assert asset.resolve().exists()
        publish(after, root, PRODUCTS)
        assert all(np.array_equal(v, new[p], equal_nan=True) for p, v in _snapshot(root).items())
    assert outcomes["old"] and outcomes["new"], outcomes


def test_since_publishes_only_new_times_with_full_windows(tmp_path):
    full = inputs(48)
    publish(full, tmp_path / "once", ["precipitation_accumulation_24h"])
    hourly = tmp_path / "hourly"
    publish(full.isel(time=slice(0, 30)), hourly, ["precipitation_accumulation_24h"])
    for hour in range(30, 48):
        # each run sees every input so far but publishes only the new hour
        publish(
            full.isel(time=slice(0, hour + 1)),
            hourly,
            ["precipitation_accumulation_24h"],
            since=full.time.values[hour],
        )
    once = read(tmp_path / "once", "precipitation_accumulation_24h")
    incremental = read(hourly, "precipitation_accumulation_24h")
    xr.testing.assert_allclose(
        once["precipitation_accumulation_24h"], incremental["precipitation_accumulation_24h"]
    )


def test_later_inputs_never_replace_what_they_cannot_derive_completely(tmp_path):
    """An operational run that reads only the last days of inputs: stored times whose
    look-back those inputs do not reach stay as published (not replaced by a 24 h total
    of fewer hours), the rain-process total continues its published record, and instant
    products are replaced as usual. Every store then equals one publish of all inputs."""
    products = ["temperature_2m", "precipitation_accumulation_24h", "process_rainfall_total"]
    full = inputs(96)
    publish(full, tmp_path / "once", products)
    root = tmp_path / "runs"
    publish(full.isel(time=slice(0, 60)), root, products)
    later = full.isel(time=slice(36, 96))
    later["air_temperature_2m"] = later["air_temperature_2m"] + 1.0  # corrected inputs
    summary = publish(later, root, products)
    assert {s.product for s in summary.stores} == set(products) and not summary.skipped

    def stored(where, product):
        return read(where, product)[product]

    once = {product: stored(tmp_path / "once", product) for product in products}
    # Hours 36–59 of the 24 h total kept (the later inputs lack their first hours),
    # hours 60–95 complete from the later run; the process total continued exactly.
    for product in products[1:]:
        xr.testing.assert_allclose(stored(root, product), once[product])
    temperature = stored(root, "temperature_2m")
    xr.testing.assert_allclose(temperature[:36], once["temperature_2m"][:36])
    xr.testing.assert_allclose(temperature[36:], once["temperature_2m"][36:] + 1.0)


def test_a_recursion_that_cannot_continue_its_store_is_not_restarted_on_it(tmp_path):
    """Without its published state (a catalog with no ``carry``), or with inputs that do
    not overlap the store by its dry gap, the rain-process total would restart on a store
    started on an earlier record: skipped with the reason, the store left as it was."""
    from weatherdata.catalog import default_catalog_path, load_catalog

    text = default_catalog_path().read_text(encoding="utf-8")
    carry = "    carry:\n      published_total: process_rainfall_total\n"
    assert text.count(carry) == 1
    path = tmp_path / "catalog.yaml"
    path.write_text(text.replace(carry, ""), encoding="utf-8")
    without_carry = load_catalog(path)
    full = inputs(96)
    for name, catalog, later in (
        ("no-carry", without_carry, full.isel(time=slice(36, 96))),
        ("no-overlap", None, full.isel(time=slice(59, 96))),
    ):
        root = tmp_path / name
        publish(full.isel(time=slice(0, 60)), root, ["process_rainfall_total"], catalog=catalog)
        before = read(root, "process_rainfall_total")
        summary = publish(later, root, ["process_rainfall_total"], catalog=catalog)
        assert not summary.stores, name
        reason = summary.skipped["process_rainfall_total"]
        assert ("would restart" if name == "no-carry" else "cannot be continued") in reason
        xr.testing.assert_identical(read(root, "process_rainfall_total"), before)


def test_a_later_range_in_windows_continues_the_published_recursion(tmp_path, monkeypatch):
    """An hourly service publishing the new day in windows: the rain-process total is
    continued from its store in each window (inputs from two days back, not the record),
    and equals one publish of everything."""
    from weatherdata import publication

    full = inputs(144)
    product = ["process_rainfall_total"]
    publish(full, tmp_path / "once", product)
    root = tmp_path / "runs"
    publish(full.isel(time=slice(0, 96)), root, product)
    starts = []
    one_publish = publication.publish

    def publishing(observations, *arguments, **keywords):
        starts.append(observations["time"].values[0])
        return one_publish(observations, *arguments, **keywords)

    monkeypatch.setattr(publication, "publish", publishing)
    summary = publication.publish_in_windows(
        full, root, product, since=full.time.values[96], window="1D"
    )
    assert not summary.skipped and len(starts) == 2
    assert all(start > full.time.values[0] for start in starts)  # never the whole record
    xr.testing.assert_allclose(read(root, product[0]), read(tmp_path / "once", product[0]))


def test_status_reports_latest_complete_time(tmp_path):
    from weatherdata.publication import status

    data = inputs(30)
    data["air_temperature_2m"] = data["air_temperature_2m"].where(data.time < data.time[-3])
    publish(data, tmp_path, ["temperature_2m"])
    (row,) = status(tmp_path)
    assert row.last_time == "2026-07-26T05:00:00Z"
    assert row.last_complete_time == "2026-07-26T02:00:00Z"
    assert row.time_steps == 30


def test_new_versions_are_flushed_once_per_file_system_else_file_by_file(tmp_path, monkeypatch):
    """Before any store is swapped in, its files and directories are durable: one
    ``syncfs`` per file system where the C library has it; where it has not, or it fails,
    every file and directory of each version is fsynced."""
    from weatherdata import publication

    versions = [tmp_path / "a", tmp_path / "b" / "nested"]
    for version in versions:
        (version / "c").mkdir(parents=True)
        (version / "zarr.json").write_text("{}")
        (version / "c" / "0").write_bytes(b"chunk")
    synced = []

    def syncfs(result):
        return lambda descriptor: synced.append(os.fstat(descriptor).st_dev) or result

    monkeypatch.setattr(publication, "_syncfs", lambda: syncfs(0))
    publication._flush_to_disk(versions)
    assert synced == [tmp_path.stat().st_dev]

    fsynced = []
    real_fsync = os.fsync

    def fsync(descriptor):
        fsynced.append(os.path.realpath(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    every_path = {str(p) for v in versions for p in [v, *v.rglob("*")]}
    for missing in (lambda: None, lambda: syncfs(-1)):
        fsynced.clear()
        monkeypatch.setattr(publication, "_syncfs", missing)
        publication._flush_to_disk(versions)
        assert set(fsynced) == every_path


def test_index_documents_are_made_durable_at_once_then_renamed_in_order(tmp_path, monkeypatch):
    """The STAC documents are written to temporaries, made durable together (one syncfs
    per file system, else an fsync of each) before the first is renamed over its path,
    then renamed in the order given (items first, the root last); a failure renames
    nothing and leaves no temporary."""
    from weatherdata import publication

    documents = [(tmp_path / "a" / "item.json", "item"), (tmp_path / "catalog.json", "root")]
    events = []
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(
        os, "replace", lambda a, b: events.append(("rename", Path(b))) or real_replace(a, b)
    )
    monkeypatch.setattr(os, "fsync", lambda d: events.append(("fsync", None)) or real_fsync(d))
    monkeypatch.setattr(
        publication, "_syncfs", lambda: lambda descriptor: events.append(("syncfs", None)) or 0
    )
    publication._atomic_write_texts(documents)
    assert events == [("syncfs", None), ("rename", documents[0][0]), ("rename", documents[1][0])]
    assert [path.read_text() for path, _ in documents] == ["item", "root"]

    events.clear()
    monkeypatch.setattr(publication, "_syncfs", lambda: None)
    publication._atomic_write_texts([(path, text + "2") for path, text in documents])
    assert [kind for kind, _ in events] == ["fsync", "fsync", "rename", "rename"]
    assert [path.read_text() for path, _ in documents] == ["item2", "root2"]

    events.clear()
    (tmp_path / "blocked").write_text("a file, not a directory")
    with pytest.raises(OSError):
        publication._atomic_write_texts([documents[0], (tmp_path / "blocked" / "x.json", "x")])
    assert not events  # nothing renamed
    assert documents[0][0].read_text() == "item2"
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_a_publish_from_since_computes_from_each_products_lookback_not_the_record():
    """Inputs read as one chunk of many days are cut where each product's inputs start
    for ``since`` (a step and a day earlier too): the hour's temperature needs only the
    chunk from ``since``, the 24 h total the chunks from 24 h before. Values never
    depend on chunks (the hourly-run tests compare such runs with one publish)."""
    import pandas as pd

    from weatherdata.catalog import shipped_catalog
    from weatherdata.publication import _split_where_lookbacks_start

    rng = np.random.default_rng(3)
    data = grid_dataset(
        {
            "air_temperature_2m": 290 + rng.random((72, 3, 4)),
            "precipitation_amount": rng.random((72, 3, 4)),
        },
        times=72,
    ).chunk(time=-1)
    since = pd.Timestamp(data.time.values[60])
    products = ["temperature_2m", "precipitation_accumulation_24h"]
    split = _split_where_lookbacks_start(data, shipped_catalog(), products, None, since)
    for name in ("air_temperature_2m", "precipitation_amount"):
        edges = set(np.cumsum(split[name].chunksizes["time"]).tolist())
        assert {12, 35, 36, 59, 60, 72} <= edges, edges
        xr.testing.assert_identical(split[name].compute(), data[name].compute())


def _laid_out(layout, data, encoding):
    """A layout's writes (as comparable keys) and documents (JSON decoded)."""
    writes, documents = layout(data, {name: dict(e) for name, e in encoding.items()})
    keys = sorted(
        (source.name, array.path, json.dumps(array.metadata.to_dict(), default=str), region)
        for source, array, region in writes
    )
    decoded = {
        key: json.loads(value.to_bytes()) if key.endswith("zarr.json") else value.to_bytes()
        for key, value in documents.items()
    }
    return keys, decoded


def _store_files(store: Path) -> dict:
    """Every file of a store: documents JSON-decoded, chunks as bytes."""
    return {
        str(path.relative_to(store)): json.loads(path.read_bytes())
        if path.name == "zarr.json"
        else path.read_bytes()
        for path in sorted(store.rglob("*"))
        if path.is_file()
    }


def test_every_demo_store_is_extended_as_xarrays_append_extends_it(
    published_demo, tmp_path, monkeypatch
):
    """The one-call append (:func:`_extend_in_place`) writes the store xarray's append
    path writes, file by file, for every published demo product: the resized arrays, the
    new times CF-encoded as stored, the values (a partly filled last chunk completed),
    the group's attributes replaced (one dropped, one changed) and the consolidated
    metadata (in place: made from the copy's, written with the extension). Both ways of
    extending in place do: as files (:func:`_extend_directly`, the one taken for the
    demo's stores) and through zarr. A store whose arrays are not stored as this version
    lays them out goes to xarray's path. The index's description of the extended store,
    made from the stored times and the appended dataset, is the one read back."""
    from weatherdata import publication
    from weatherdata.catalog import shipped_catalog

    root, _ = published_demo
    catalog = shipped_catalog()
    extended = 0
    through_zarr = []
    extend_async = publication._extend_async

    async def recorded(target, *arguments):
        through_zarr.append(target)
        return await extend_async(target, *arguments)

    monkeypatch.setattr(publication, "_extend_async", recorded)
    for entry in publication._published_entries(root, catalog):
        stored = xr.open_zarr(publication.store_path(root, entry), chunks={})
        time_dim = publication._time_dimension(stored[entry.id])
        if time_dim is None or stored.sizes[time_dim] < 2:
            continue
        new = stored.isel({time_dim: slice(-2, None)})
        span = new[time_dim].values[-1] - stored[time_dim].values[0] + np.timedelta64(1, "h")
        new = new.assign_coords({time_dim: new[time_dim].values + span})
        for variable in new.variables.values():
            variable.encoding = {}
        new.attrs = {**stored.attrs, "history": "appended"}
        new.attrs.pop("summary")
        encoding = publication._encoding(new, entry)
        data = new.drop_vars([c for c in new.coords if time_dim not in new[c].dims])
        stores = {}
        for way in ("xarray", "in place", "through zarr"):
            target = tmp_path / way / entry.id
            publication._hardlink_copy(
                Path(os.path.realpath(publication.store_path(root, entry))), target
            )
            (target / ".complete").unlink()
            data[entry.id] = publication._aligned_to_store(
                data[entry.id], target / entry.id, time_dim
            )
            if way == "xarray":
                writes = publication._extend_store(data, target, time_dim)
            else:
                with monkeypatch.context() as patched:
                    if way == "through zarr":
                        patched.setattr(publication, "_extend_directly", lambda *a: None)
                    writes = publication._extend_in_place(data, target, time_dim, encoding)
                if writes is None:
                    for made in stores:
                        shutil.rmtree(tmp_path / made / entry.id)
                    shutil.rmtree(target)
                    break
            publication._write_all(writes)
            if way == "xarray":  # in place, the metadata is consolidated with the extension
                publication._consolidate_quietly(str(target))
            stores[way] = _store_files(target)
        else:
            assert stores["in place"] == stores["xarray"], entry.id
            assert stores["through zarr"] == stores["xarray"], entry.id
            reopened = xr.open_zarr(tmp_path / "in place" / entry.id)
            assert reopened.sizes[time_dim] == stored.sizes[time_dim] + 2, entry.id
            assert "summary" not in reopened.attrs and reopened.attrs["history"] == "appended"
            # the index's description, made from what is appended, is the store's
            stored_times = publication._stored_times(publication.store_path(root, entry), time_dim)
            described = publication._describe_appended(new, entry, time_dim, stored_times)
            assert described == publication._describe_store(tmp_path / "in place" / entry.id, entry)
            extended += 1
            for way in stores:
                shutil.rmtree(tmp_path / way / entry.id)
    print(f"{extended} stores extended all three ways")
    assert extended >= 150, extended
    ways = collections.Counter(Path(target).parent.name for target in through_zarr)
    assert ways == {"through zarr": extended}, ways


def test_every_demo_store_is_laid_out_as_xarrays_writer_lays_it_out(demo_inputs, monkeypatch):
    """The layout of a new store (xarray's encoding, zarr's metadata made without a
    store, the coordinates' chunks in one zarr call) gives the documents and lazy writes
    of xarray's own writer, for every product of the demo: arrays, attributes, fill
    values, codecs, chunks, CF-encoded times, coordinate values and consolidated
    metadata. And the index's description of
    each new store, made from its dataset, is the one read back from its documents.
    Coordinates' chunks and CF-encoded times made once and shared by the stores of a
    publish (its cache) are the ones each store makes for itself. The coordinates'
    chunks are encoded without zarr's event loop (:class:`_ChunkEncoder`)."""
    from weatherdata import publication
    from weatherdata.catalog import shipped_catalog
    from weatherdata.engine import derive_arrays

    observations, forecast = demo_inputs
    catalog = shipped_catalog()
    derived = derive_arrays(observations, forecast=forecast, skip_missing=True)
    compared, cache, coordinates = 0, {}, 0
    through_zarr, set_values = [], publication._set_values
    monkeypatch.setattr(
        publication,
        "_set_values",
        lambda assignments: through_zarr.append(assignments) or set_values(assignments),
    )
    for product_id in derived:
        entry = catalog[product_id]
        data = publication._product_dataset(derived, entry, {"weatherdata_inputs": "[]"})
        encoding = publication._encoding(data, entry)
        data = publication._chunk_like_encoding(data, entry, encoding)
        # the index's description made from the dataset is that of the store read back
        _, documents = publication._lay_out_store(data, "unused", encoding)
        _, shared = publication._lay_out_store(data, "unused", encoding, chunk_cache=cache)
        assert {k: v.to_bytes() for k, v in shared.items()} == {
            k: v.to_bytes() for k, v in documents.items()
        }, product_id
        coordinates += sum(c.chunks is None for c in data.coords.values() if c.ndim)
        assert publication._describe_dataset(data, entry) == publication._describe_store(
            zarr.storage.MemoryStore(documents), entry
        ), product_id
        if any(v.dtype.kind in "OSUT" for v in data.variables.values()):
            continue  # labels: xarray's writer lays these out itself
        direct = _laid_out(publication._lay_out_in_memory, data, encoding)
        assert direct == _laid_out(publication._lay_out_with_xarray, data, encoding), product_id
        compared += 1
    assert compared >= 200, compared
    assert 0 < len(cache) < coordinates / 10, (len(cache), coordinates)  # shared, not all alike
    assert any(key[0] == "CF encoding" for key in cache)  # the times encoded once too
    assert not through_zarr


@pytest.mark.parametrize(
    "options",
    [
        {
            "shape": (5, 3, 4),
            "dtype": np.dtype("float32"),
            "chunks": (2, 3, 4),
            "compressors": (zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),),
            "fill_value": np.nan,
            "dimension_names": ("time", "latitude", "longitude"),
            "attributes": {"units": "K", "_FillValue": "AADAfw=="},
        },
        {
            "shape": (7,),
            "dtype": np.dtype("int64"),
            "chunks": (7,),
            "fill_value": None,
            "dimension_names": ("time",),
            "attributes": {"units": "seconds since 1970-01-01", "calendar": "proleptic_gregorian"},
        },
        {
            "shape": (2, 2),
            "dtype": np.dtype("int8"),
            "chunks": (1, 2),
            "fill_value": -1,
            "dimension_names": ("y", "x"),
            "attributes": {"flag_values": [0, 1, 2]},
        },
        {
            "shape": (8, 4),
            "dtype": np.dtype("float32"),
            "chunks": (2, 4),
            "shards": (4, 4),
            "fill_value": np.nan,
            "dimension_names": ("time", "x"),
            "attributes": {},
        },
    ],
)
def test_array_metadata_is_what_zarrs_create_array_makes(options, monkeypatch):
    """A new array's metadata made without a store is zarr's own, and so is the fallback
    for a zarr release without the internals it uses."""
    from weatherdata import publication

    options = {"name": "values", "config": {}, **options}
    created = zarr.create_array(
        zarr.storage.MemoryStore(), **{k: v for k, v in options.items() if k != "config"}
    )
    assert publication._array_metadata(options).to_dict() == created.metadata.to_dict()
    monkeypatch.setitem(sys.modules, "zarr.core.chunk_grids", None)  # as if moved: ImportError
    with pytest.raises(ImportError):
        from zarr.core.chunk_grids import _auto_partition  # noqa: F401
    assert publication._array_metadata(options).to_dict() == created.metadata.to_dict()


def _chunk_regions(shape, chunks) -> list[tuple]:
    """The region of each chunk of an array (edge chunks cut at the array's shape)."""
    counts = [-(-size // chunk) for size, chunk in zip(shape, chunks, strict=True)]
    return [
        tuple(
            slice(i * chunk, min((i + 1) * chunk, size))
            for i, chunk, size in zip(index, chunks, shape, strict=True)
        )
        for index in np.ndindex(*counts)
    ]


class _CountingArray:
    """A zarr array that counts the writes it is given."""

    def __init__(self, array):
        self.array, self.writes = array, 0

    def __setitem__(self, region, values):
        self.writes += 1
        self.array[region] = values


@pytest.mark.parametrize(
    "options",
    [
        {  # the publish's codecs; an edge chunk; a chunk all fill value (NaN)
            "shape": (5, 3, 4),
            "dtype": "float32",
            "chunks": (2, 3, 4),
            "compressors": (zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),),
            "fill_value": np.nan,
        },
        {  # a filter before the bytes, big-endian bytes, zstd; edges along both axes
            "shape": (3, 5),
            "dtype": "int16",
            "chunks": (2, 2),
            "filters": (zarr.codecs.TransposeCodec(order=(1, 0)),),
            "serializer": zarr.codecs.BytesCodec(endian="big"),
            "compressors": (zarr.codecs.ZstdCodec(level=3),),
            "fill_value": -1,
        },
        {  # zero as fill value, gzip, a chunk all zero
            "shape": (4, 2),
            "dtype": "float64",
            "chunks": (2, 2),
            "compressors": (zarr.codecs.GzipCodec(),),
            "fill_value": 0.0,
        },
    ],
)
def test_chunk_files_are_the_files_zarr_writes(options, tmp_path):
    """A new store's data chunks written by the publish (each encoded by the array's own
    codecs and written as its file) are zarr's own files, chunk by chunk: an edge chunk
    filled out with the fill value, a chunk all fill value left out, a value of another
    data type cast; a region that is not one whole chunk goes to zarr itself."""
    from weatherdata.publication import _ChunkFiles

    rng = np.random.default_rng(0)
    values = (rng.random(options["shape"]) * 100).astype(options["dtype"])
    fill = options["fill_value"]
    values[2:4] = fill  # the second chunk along the first axis holds nothing
    regions = _chunk_regions(options["shape"], options["chunks"])
    whole = tuple(slice(0, n) for n in options["shape"])
    files = {}
    for way in ("zarr", "chunk files"):
        array = zarr.create_array(tmp_path / way, **options)
        if way == "chunk files":
            assert _ChunkFiles.can_write(array)
            array = _ChunkFiles(array, tmp_path / way)
            array.array = counting = _CountingArray(array.array)
        for region in regions:
            array[region] = values[region].astype("float64")  # cast as zarr casts
        files[way] = _store_files(tmp_path / way)
        assert np.array_equal(zarr.open_array(tmp_path / way)[whole], values, equal_nan=True)
    assert counting.writes == 0  # every region was one chunk: no write went through zarr
    assert files["chunk files"] == files["zarr"]
    assert not any(name.startswith("c/1/") for name in files["zarr"])  # the empty chunks

    # a region over two chunks along the first axis, then over part of a chunk: zarr's
    span = (slice(0, min(2 * options["chunks"][0], options["shape"][0])), *whole[1:])
    part = (slice(0, 1),) * len(whole)
    for way in ("zarr", "chunk files"):
        array = zarr.open_array(tmp_path / way, mode="r+")
        if way == "chunk files":
            array = _ChunkFiles(array, tmp_path / way)
            array.array = counting = _CountingArray(array.array)
        array[span] = values[span][::-1]
        array[part] = values[part] + 1
        files[way] = _store_files(tmp_path / way)
    assert counting.writes == 2
    assert files["chunk files"] == files["zarr"]


def test_a_sharded_array_or_a_zarr_without_these_internals_is_written_by_zarr(
    tmp_path, monkeypatch
):
    """Chunks inside shards are written by zarr (a shard holds several chunks), and so is
    every chunk where a zarr release has moved the internals the chunk files use."""
    from weatherdata.publication import _ChunkFiles

    array = zarr.create_array(tmp_path, shape=(8, 4), chunks=(2, 4), shards=(4, 4), dtype="f4")
    assert not _ChunkFiles.can_write(array)
    plain = zarr.create_array(tmp_path / "plain", shape=(8, 4), chunks=(2, 4), dtype="f4")
    assert _ChunkFiles.can_write(plain)
    monkeypatch.setitem(sys.modules, "zarr.core.codec_pipeline", None)  # as if moved
    assert not _ChunkFiles.can_write(plain)


def test_every_demo_store_holds_the_chunk_files_zarr_writes(published_demo, tmp_path):
    """Every published demo store's data chunks are the files zarr writes for the same
    values into an array with the same metadata (the publish writes new stores' chunks
    without zarr's event loop: :class:`~weatherdata.publication._ChunkFiles`)."""
    _, summary = published_demo
    compared = 0
    for store in summary.stores:
        group = zarr.open_group(os.path.realpath(store.path), mode="r")
        name = store.product
        published = group[name]
        copy = zarr.create_array(
            tmp_path / name,
            shape=published.shape,
            dtype=published.dtype,
            chunks=published.chunks,
            fill_value=published.fill_value,
            filters=published.filters,
            serializer=published.serializer,
            compressors=published.compressors,
        )
        values = published[...]
        for region in _chunk_regions(published.shape, published.chunks):
            copy[region] = values[region]
        chunks = _store_files(Path(group.store.root, name))
        chunks.pop("zarr.json")
        written = _store_files(tmp_path / name)
        written.pop("zarr.json")
        assert chunks == written, name
        compared += 1
    assert compared == len(summary.stores) >= 243
