"""`weatherdata serve`: a real server process, read back with plain xarray over HTTP."""

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import xarray as xr

from tests.helpers import free_port
from tests.test_publish import PRODUCTS, inputs
from weatherdata.publication import open_published, publish


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    publish(inputs(), root, PRODUCTS)
    (root / "secret.txt").parent.mkdir(exist_ok=True)
    outside = tmp_path_factory.mktemp("outside") / "private.txt"
    outside.write_text("private")
    os.symlink(outside, root / "escape.txt")
    return root


def _start(root, *extra):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "weatherdata", "serve", str(root), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.head(url + "/catalog.json", timeout=0.2)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(process.stdout.read())


@pytest.fixture(scope="module")
def server(published):
    process, url = _start(published, "--cors-origin", "https://maps.example.org")
    yield url
    process.terminate()
    process.wait(10)


def test_every_product_reads_back_over_http_with_plain_xarray(server, published):
    for product in PRODUCTS:
        remote = xr.open_zarr(
            f"{server}/observation/{product}.zarr", consolidated=True, zarr_format=3
        )
        local = open_published(published, product)
        xr.testing.assert_identical(remote.load(), local.load())


def test_ranges_etags_and_cache_headers(server, published):
    chunk = next(
        (published / "observation" / "temperature_2m.zarr" / "temperature_2m").rglob("c/*/*/*")
    )
    relative = chunk.relative_to(published)
    # the symlinked store path is what clients use
    url = f"{server}/observation/temperature_2m.zarr/temperature_2m/{chunk.relative_to(published / 'observation' / 'temperature_2m.zarr' / 'temperature_2m')}"
    assert relative
    full = requests.get(url)
    assert full.status_code == 200 and full.content == chunk.read_bytes()
    assert (
        "max-age" in full.headers["cache-control"]
        and full.headers["etag"]
        and full.headers["last-modified"]
    )
    part = requests.get(url, headers={"Range": "bytes=2-9"})
    assert part.status_code == 206 and part.content == chunk.read_bytes()[2:10]
    assert requests.get(url, headers={"If-None-Match": full.headers["etag"]}).status_code == 304
    head = requests.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == chunk.stat().st_size


def test_json_is_gzipped_and_cors_is_configurable(server):
    response = requests.get(
        f"{server}/catalog.json",
        headers={"Accept-Encoding": "gzip", "Origin": "https://maps.example.org"},
    )
    assert response.headers.get("content-encoding") == "gzip"
    assert response.json()["type"] == "Catalog"
    assert response.headers["access-control-allow-origin"] == "https://maps.example.org"
    raw = requests.get(f"{server}/products.json", headers={"Accept-Encoding": "gzip"}, stream=True)
    assert gzip.decompress(raw.raw.read())
    other = requests.get(f"{server}/catalog.json", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    "path",
    [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/observation/..%2f..%2f..%2fetc%2fpasswd",
        "/escape.txt",
        "/.weatherdata.lock",
        "/observation/_versions",
        "/nothing.json",
    ],
)
def test_traversal_symlink_escape_and_hidden_files_are_refused(server, path):
    response = requests.get(server + path)
    assert response.status_code == 404
    assert "private" not in response.text and "root:" not in response.text


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_only_get_and_head(server, method):
    assert requests.request(method, f"{server}/catalog.json").status_code == 405


def test_token_mode(published):
    process, url = _start(published, "--token", "s3cret")
    try:
        assert requests.get(f"{url}/catalog.json").status_code == 401
        assert (
            requests.get(
                f"{url}/catalog.json", headers={"Authorization": "Bearer wrong"}
            ).status_code
            == 401
        )
        assert (
            requests.get(
                f"{url}/catalog.json", headers={"Authorization": "Bearer s3cret"}
            ).status_code
            == 200
        )
        remote = xr.open_zarr(
            f"{url}/observation/temperature_2m.zarr",
            consolidated=True,
            zarr_format=3,
            storage_options={"headers": {"Authorization": "Bearer s3cret"}},
        )
        assert np.isfinite(remote["temperature_2m"].values).all()
    finally:
        process.terminate()
        process.wait(10)


def test_serve_refuses_a_missing_root(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "weatherdata", "serve", str(tmp_path / "none")],
        capture_output=True,
        text=True,
    )
    assert (
        result.returncode == 2
        and "not a directory" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_a_static_host_serving_the_same_directory_works(published):
    """The layout needs no server logic: Python's plain static server (one request at a
    time is enough here) serves the same root and xarray reads it."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(published),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                requests.head(f"http://127.0.0.1:{port}/catalog.json", timeout=0.2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        remote = xr.open_zarr(
            f"http://127.0.0.1:{port}/observation/wind_speed_10m.zarr",
            consolidated=True,
            zarr_format=3,
        )
        np.testing.assert_allclose(remote["wind_speed_10m"].values, 5.0, rtol=1e-6)
    finally:
        process.terminate()
        process.wait(10)


def test_path_resolution_unit():
    from weatherdata.serve import _resolve

    root = Path(__file__).resolve().parent
    assert _resolve(root, "test_serve.py") == root / "test_serve.py"
    assert _resolve(root, "../pyproject.toml") is None
    assert _resolve(root, "a\x00b") is None


def test_notebook_helpers_over_http(server, published):
    import weatherdata

    catalog = weatherdata.open_catalog(server)
    assert {c.id for c in catalog.get_children()} == {"observation"}
    listed = weatherdata.list_products(server)
    assert sorted(p["id"] for p in listed) == sorted(PRODUCTS)
    one = weatherdata.open_product(
        "temperature_2m", root=server, time="2026-07-25T06:00", bbox=(113.4, 22.0, 114.0, 23.0)
    )
    local = (
        open_published(published, "temperature_2m")
        .sel(time="2026-07-25T06:00")
        .sel(longitude=slice(113.4, 114.0))
    )
    np.testing.assert_allclose(one["temperature_2m"].values, local["temperature_2m"].values)
    window = weatherdata.open_product(
        "temperature_2m", root=server, time=slice("2026-07-25T06:00", "2026-07-25T11:00")
    )
    assert window.sizes["time"] == 6
    with pytest.raises(weatherdata.WeatherdataError, match="did you mean temperature_2m"):
        weatherdata.open_product("temperature_2n", root=server)
