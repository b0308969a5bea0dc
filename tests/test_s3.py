"""Publishing to S3-compatible storage, against a real endpoint (moto's server on localhost,
as s3fs's own test-suite does)."""

import json

import numpy as np
import pytest
import xarray as xr

import weatherdata
from tests.helpers import start_moto_server
from tests.test_publish import PRODUCTS, inputs
from weatherdata.errors import PublishError
from weatherdata.publication import publish


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    process, endpoint = start_moto_server()
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-west-2"},
    }
    import s3fs

    fs = s3fs.S3FileSystem(**options)
    fs.mkdir("weatherdata-test")
    yield fs, options
    process.terminate()
    process.wait(10)


def test_publish_to_s3_and_read_back_with_plain_xarray(s3):
    fs, options = s3
    root = "s3://weatherdata-test/products"
    data = inputs(48)
    publish(data.isel(time=slice(0, 24)), root, PRODUCTS, storage_options=options)
    summary = publish(data.isel(time=slice(24, 48)), root, PRODUCTS, storage_options=options)
    assert {s.action for s in summary.stores} == {"append"}
    index = json.loads(fs.cat_file("weatherdata-test/products/products.json"))
    assert sorted(p["id"] for p in index["products"]) == sorted(PRODUCTS)
    for entry in index["products"]:
        remote = xr.open_zarr(
            f"{root}/{entry['href']}", consolidated=True, zarr_format=3, storage_options=options
        )
        assert remote.sizes["time"] == 48
    temperature = weatherdata.open_product("temperature_2m", root=root, storage_options=options)
    np.testing.assert_allclose(
        temperature["temperature_2m"], data["air_temperature_2m"] - 273.15, atol=1e-4
    )
    # Only the current and the previous version of each store remain.
    for product in PRODUCTS:
        assert len(fs.ls(f"weatherdata-test/products/observation/_versions/{product}")) <= 2


def test_stac_on_s3_points_only_at_existing_stores(s3):
    fs, options = s3
    root = "s3://weatherdata-test/stac"
    publish(inputs(24), root, PRODUCTS, storage_options=options)
    catalog = json.loads(fs.cat_file("weatherdata-test/stac/catalog.json"))
    children = [link["href"] for link in catalog["links"] if link["rel"] == "child"]
    assert children == ["./observation/collection.json"]
    for product in PRODUCTS:
        item = json.loads(fs.cat_file(f"weatherdata-test/stac/observation/{product}/item.json"))
        href = item["assets"]["zarr"]["href"].removeprefix("../../")
        assert fs.exists(f"weatherdata-test/stac/{href}/zarr.json")


def test_a_held_lock_on_s3_is_refused(s3):
    fs, options = s3
    root = "s3://weatherdata-test/locked"
    from datetime import UTC, datetime

    fs.pipe_file(
        "weatherdata-test/locked/.weatherdata.lock",
        f"abc pid 1 since {datetime.now(UTC).isoformat()}".encode(),
    )
    with pytest.raises(PublishError, match="another publisher"):
        publish(inputs(6), root, ["temperature_2m"], storage_options=options)
    fs.pipe_file(
        "weatherdata-test/locked/.weatherdata.lock", b"abc pid 1 since 2000-01-01T00:00:00+00:00"
    )
    publish(inputs(6), root, ["temperature_2m"], storage_options=options)  # stale lock taken over
    assert not fs.exists("weatherdata-test/locked/.weatherdata.lock")
