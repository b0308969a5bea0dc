"""Fault injection: a full disk, a file-size limit, an S3 endpoint that fails, stalls or goes
down mid-write, reads interrupted mid-body, a publisher killed at every stage, hostile HTTP
clients, and the hourly operational loop.

In every publication fault the same things must hold: each store reads as its previous or
its new version (values equal to one of them), the STAC index and ``products.json`` point
only at stores that exist, the failure is one clear line, and the next run completes with
the result of an uninterrupted run. Transient storage errors are retried with backoff and
reported (``PublishSummary.retries`` and one warning each).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import multiprocessing
import os
import random
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import requests
import xarray as xr

import weatherdata
from tests.helpers import free_port, start_moto_server
from tests.test_publish import PRODUCTS, inputs
from weatherdata.cli import main
from weatherdata.errors import PublishError
from weatherdata.publication import open_published, publish

REPOSITORY = Path(__file__).resolve().parent.parent
DAYS = 4  # the inputs: four daily files; the first run publishes two days, the next all four


def _event_loop_thread(start) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """Run ``await start()`` on a new event loop in a daemon thread, then keep the loop
    running (for the in-process proxies and fake servers below); returns once started."""
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    return loop, thread


def _data():
    return inputs(24 * DAYS).compute()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Daily input files and the two local reference publications: ``old`` (first two days)
    and ``new`` (then all four days appended, the uninterrupted result)."""
    base = tmp_path_factory.mktemp("reference")
    files = []
    data = _data()
    for day in range(DAYS):
        path = base / "input" / f"observations_day{day}.nc"
        path.parent.mkdir(exist_ok=True)
        data.isel(time=slice(24 * day, 24 * (day + 1))).to_netcdf(path)
        files.append(str(path))
    old, new = base / "old", base / "new"
    for root, days in ((old, 2), (new, 2), (new, DAYS)):
        assert main(_publish_arguments(files[:days], root)) == 0
    return {
        "files": files,
        "old": _values(old),
        "new": _values(new),
    }


def _publish_arguments(files, root, *extra) -> list[str]:
    return [
        "publish",
        *map(str, files),
        "--root",
        str(root),
        "--products",
        ",".join(PRODUCTS),
        *extra,
    ]


def _values(root) -> dict[str, np.ndarray]:
    return {p: open_published(root, p)[p].values for p in PRODUCTS}


def _remote_values(root, options) -> dict[str, np.ndarray]:
    return {
        p: weatherdata.open_product(p, root=root, storage_options=options)[p].values
        for p in PRODUCTS
    }


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _assert_previous_or_new(values: dict, reference: dict, where: str) -> dict[str, str]:
    seen = {}
    for product, got in values.items():
        if _same(got, reference["old"][product]):
            seen[product] = "old"
        else:
            assert _same(got, reference["new"][product]), (
                f"{where}: {product} is neither its previous nor its new version"
            )
            seen[product] = "new"
    return seen


def _assert_local_index_consistent(root: Path, *, extents: bool = True) -> None:
    """Every link of the STAC catalog and every ``products.json`` href exists and opens
    (and, with ``extents``, the shape ``products.json`` gives is the store's)."""
    catalog = json.loads((root / "catalog.json").read_text())
    for child in (link for link in catalog["links"] if link["rel"] == "child"):
        collection_path = root / child["href"]
        collection = json.loads(collection_path.read_text())
        for item_link in (link for link in collection["links"] if link["rel"] == "item"):
            item_path = collection_path.parent / item_link["href"]
            item = json.loads(item_path.read_text())
            asset = (item_path.parent / item["assets"]["zarr"]["href"]).resolve()
            assert (asset / "zarr.json").is_file(), asset
    for product in json.loads((root / "products.json").read_text())["products"]:
        store = root / product["href"]
        assert (store / "zarr.json").is_file(), store
        opened = xr.open_zarr(store, consolidated=True, zarr_format=3)
        if extents:
            assert list(opened[product["id"]].shape) == product["shape"], product["id"]


def _version_directories(root: Path) -> set[Path]:
    return {p for p in root.glob("*/_versions/*/*") if p.is_dir()}


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr
    return errors[0]


# -- a full disk -------------------------------------------------------------------------


def _fill(disk: Path, leave: int) -> Path:
    """A ballast file leaving ``leave`` bytes free on ``disk``."""
    stat = os.statvfs(disk)
    ballast = disk / "ballast"
    with open(ballast, "wb") as handle:
        handle.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))
    return ballast


@pytest.mark.slow
def test_full_disk_fails_cleanly_and_the_next_run_completes(tmp_path, reference, capfd):
    """A real small filesystem (tmpfs), filled to leave less and less space: the publish
    fails with one ENOSPC line at whatever stage the space runs out, gives the space back,
    leaves every store as it was, and once space is freed the next run completes."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:  # no mount here: a kernel-enforced file-size quota instead
        warnings.warn(
            f"mounting a tmpfs was refused ({mounted.stderr.strip()}): testing a full disk "
            "with RLIMIT_FSIZE instead",
            stacklevel=1,
        )
        _file_size_limit_scenario(tmp_path, reference)
        return
    try:
        root = disk / "products"
        files = reference["files"]
        assert main(_publish_arguments(files[:2], root)) == 0
        capfd.readouterr()
        failures = []
        for leave in (0, 4, 12, 24, 48, 96, 160, 256):
            before = _version_directories(root)
            used = shutil.disk_usage(disk).used
            ballast = _fill(disk, leave * 1024)
            code = main(_publish_arguments(files, root))
            stderr = capfd.readouterr().err
            ballast.unlink()
            if code == 0:
                break
            line = _one_error_line(stderr)
            assert "No space left on device (ENOSPC)" in line and str(root) in line, line
            assert "nothing was published" in line, line
            failures.append(leave)
            assert _version_directories(root) == before, "a half-written version was left"
            assert not list(root.rglob(".*.tmp")) and not list(root.rglob(".*.link"))
            assert shutil.disk_usage(disk).used <= used + 64 * 1024, "the space was not given back"
            assert set(
                _assert_previous_or_new(_values(root), reference, f"{leave} KiB").values()
            ) == {"old"}
            _assert_local_index_consistent(root)
        assert len(failures) >= 4, failures  # the space ran out at several different stages
        if code != 0:
            assert main(_publish_arguments(files, root)) == 0, capfd.readouterr().err
        for product, values in _values(root).items():
            assert _same(values, reference["new"][product]), product
        _assert_local_index_consistent(root)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _file_size_limit_scenario(tmp_path: Path, reference) -> None:
    """``weatherdata publish`` under RLIMIT_FSIZE (SIGXFSZ ignored, so writes fail with
    EFBIG): one clear line, the root unchanged, then an unlimited run completes."""
    root = tmp_path / "limited"
    files = reference["files"]
    assert main(_publish_arguments(files[:2], root)) == 0
    before = _snapshot(root)

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        _soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, hard))

    done = subprocess.run(
        [sys.executable, "-m", "weatherdata", *_publish_arguments(files, root)],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=300,
    )
    assert done.returncode != 0
    line = _one_error_line(done.stderr)
    assert "File too large (EFBIG)" in line and "nothing was published" in line, line
    assert _snapshot(root) == before
    assert main(_publish_arguments(files, root)) == 0
    for product, values in _values(root).items():
        assert _same(values, reference["new"][product]), product
    _assert_local_index_consistent(root)


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            out[key] = "-> " + os.readlink(path)
        elif path.is_file():
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.mark.slow
def test_file_size_limit_fails_cleanly_and_the_next_run_completes(tmp_path, reference):
    _file_size_limit_scenario(tmp_path, reference)


@pytest.mark.parametrize(
    "error", [OSError(5, "Input/output error"), ValueError("a recipe bug")], ids=["EIO", "bug"]
)
def test_a_failure_while_writing_leaves_the_root_as_it_was(tmp_path, error):
    """Whatever fails while the chunks are written (an I/O error, a bug), the versions this
    run started are removed: the root is byte for byte what it was, and a storage error is
    one PublishError line naming the errno."""
    root = tmp_path / "products"
    publish(inputs(24), root, PRODUCTS)
    before = _snapshot(root)
    broken = inputs(48)

    def fail(block):
        if block.size:  # dask probes with an empty block first
            raise error
        return block

    temperature = broken["air_temperature_2m"]
    failing = temperature.data.map_blocks(fail, dtype=temperature.dtype, meta=np.array((), "f4"))
    broken["air_temperature_2m"] = temperature.copy(data=failing)
    with pytest.raises(PublishError if isinstance(error, OSError) else ValueError) as raised:
        publish(broken, root, PRODUCTS)
    if isinstance(error, OSError):
        message = str(raised.value)
        assert "\n" not in message and message.startswith(f"{root}: Input/output error (EIO)")
        assert "nothing was published" in message
    assert _snapshot(root) == before
    fresh = tmp_path / "fresh"
    with pytest.raises(PublishError if isinstance(error, OSError) else ValueError):
        publish(broken, fresh, PRODUCTS)
    assert sorted(p.name for p in fresh.rglob("*")) == [".weatherdata.lock"]


# -- a publisher killed at every stage ------------------------------------------------------


def _publish_and_die_at(root: str, kill_at: int, count_file: str) -> None:
    """In a fork-server child: publish days 2–4 and SIGKILL ourselves at the ``kill_at``-th
    file-system change (0: never; the number of changes is written to ``count_file``)."""
    import builtins
    import io

    from weatherdata.publication import publish as publish_products

    changes = [0]
    lock = threading.Lock()

    def change():
        with lock:
            changes[0] += 1
            if changes[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    def counted(function, only_if=None):
        def wrapper(*args, **kwargs):
            if only_if is None or only_if(*args, **kwargs):
                change()
            return function(*args, **kwargs)

        return wrapper

    def writes(file, mode="r", *args, **kwargs):
        return isinstance(mode, str) and any(flag in mode for flag in "wax+")

    real_open = builtins.open
    builtins.open = io.open = counted(real_open, writes)
    for name in ("replace", "rename", "symlink", "link", "unlink", "remove", "mkdir", "rmdir"):
        setattr(os, name, counted(getattr(os, name)))
    os.pwrite = counted(os.pwrite)
    shutil.rmtree = counted(shutil.rmtree)
    publish_products(_data().isel(time=slice(24, 24 * DAYS)), root, PRODUCTS)
    with real_open(count_file, "w") as handle:
        handle.write(str(changes[0]))


def _warm_fork_server() -> None:
    """What a publish loads first (units, catalog, recipes), loaded when this module is
    imported: in the fork server (the preload), so that every killed child starts warm.
    Loading starts no thread, so forking stays safe."""
    from weatherdata.catalog import shipped_catalog
    from weatherdata.units import ensure_registry

    ensure_registry()
    for product in PRODUCTS:
        shipped_catalog()[product].recipe_function()


_warm_fork_server()


@pytest.mark.slow
def test_killed_at_20_stages_of_a_publish_every_store_is_old_or_new(tmp_path):
    """Complements tests/test_publish.py's kill at 20 random *moments*: here the publisher
    (a fork-server child, so no interpreter start-up per kill) is killed at its k-th
    file-system change, for 20 k spread over all of them (writing chunks, metadata,
    consolidation, the marker, the symlink swap, the STAC documents, the clean-up)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.test_faults"])
    template = tmp_path / "template"
    data = _data()
    publish(data.isel(time=slice(0, 48)), template, PRODUCTS)
    old = _values(template)
    expected = tmp_path / "expected"
    shutil.copytree(template, expected, symlinks=True)

    def run(root: Path, kill_at: int) -> int:
        process = context.Process(
            target=_publish_and_die_at, args=(str(root), kill_at, str(tmp_path / "changes"))
        )
        process.start()
        process.join(300)
        return process.exitcode

    assert run(expected, 0) == 0
    new = _values(expected)
    total = int((tmp_path / "changes").read_text())
    rng = random.Random(20261128)
    points = sorted({rng.randint(total * i // 20 + 1, total * (i + 1) // 20) for i in range(20)})
    assert len(points) == 20 and total >= 40, (total, points)
    outcomes = {"old": 0, "new": 0, "index extents behind the stores": 0}
    for kill_at in points:
        root = tmp_path / f"killed-at-{kill_at}"
        shutil.copytree(template, root, symlinks=True)
        assert run(root, kill_at) == -signal.SIGKILL
        for product, values in _values(root).items():
            if _same(values, old[product]):
                outcomes["old"] += 1
            else:
                assert _same(values, new[product]), f"killed at change {kill_at}: {product}"
                outcomes["new"] += 1
        _assert_local_index_consistent(root, extents=False)
        try:
            _assert_local_index_consistent(root)
        except AssertionError:  # killed between the symlink swap and the STAC rewrite
            outcomes["index extents behind the stores"] += 1
        publish(data.isel(time=slice(24, 24 * DAYS)), root, PRODUCTS)
        assert all(_same(v, new[p]) for p, v in _values(root).items()), kill_at
        assert len(_version_directories(root)) <= 2 * len(PRODUCTS), "killed versions left"
    assert outcomes["old"] and outcomes["new"], outcomes


# -- an S3 endpoint that fails -------------------------------------------------------------

BUCKET = "weatherdata-faults"
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "host",
    "content-encoding",
}


class FaultProxy:
    """An HTTP proxy in front of the S3 endpoint that injects faults.

    ``pass``: forward everything. ``flaky``: the first attempt of every ``every``-th distinct
    request (method, path and body) gets an S3 error, alternately 503 ServiceUnavailable
    and 500 InternalError; its retry goes through. ``stall``: the same requests stall for
    ``stall`` s instead (the client times out). ``down``: every request after the first
    ``after`` gets 503.
    """

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.configure("pass")

    def configure(self, mode: str, *, every: int = 10, stall: float = 5.0, after: int = 0):
        with self.lock:
            self.mode, self.every, self.stall, self.after = mode, every, stall, after
            self.requests = 0
            self.injected = 0
            self.statuses: list[int] = []
            self.seen: set = set()

    def _decide(self, method: str, target: str, body: bytes) -> str | None:
        with self.lock:
            self.requests += 1
            if self.mode == "down":
                return "error" if self.requests > self.after else None
            if self.mode == "pass":
                return None
            key = (method, target, hashlib.sha1(body).hexdigest())
            if key in self.seen:
                return None
            self.seen.add(key)
            if len(self.seen) % self.every:
                return None
            return "error" if self.mode == "flaky" else "stall"

    async def handle(self, request):
        from aiohttp import web

        body = await request.read()
        action = self._decide(request.method, request.path_qs, body)
        if action == "stall":
            with self.lock:
                self.injected += 1
            await asyncio.sleep(self.stall)
            return web.Response(status=503)
        if action == "error":
            with self.lock:
                self.injected += 1
                status = 503 if self.mode == "down" or len(self.statuses) % 2 == 0 else 500
                self.statuses.append(status)
            code = {503: "ServiceUnavailable", 500: "InternalError"}[status]
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?><Error><Code>'
                f"{code}</Code><Message>injected fault</Message><RequestId>f</RequestId></Error>"
            )
            return web.Response(status=status, body=xml.encode(), content_type="application/xml")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Host"] = request.headers.get("Host", "")
        async with self.session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
            if request.method == "HEAD":
                response = web.StreamResponse(status=upstream.status, headers=out)
                response.content_length = int(upstream.headers.get("Content-Length", 0))
                await response.prepare(request)
                await response.write_eof()
                return response
            return web.Response(status=upstream.status, body=payload, headers=out)

    def start(self) -> str:
        import aiohttp
        from aiohttp import web

        self.port = free_port()

        async def serve():
            self.session = aiohttp.ClientSession(auto_decompress=False)
            app = web.Application(client_max_size=1 << 30)
            app.router.add_route("*", "/{tail:.*}", self.handle)
            self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

        self.loop, self.thread = _event_loop_thread(serve)
        self.url = f"http://127.0.0.1:{self.port}"
        return self.url

    def stop(self) -> None:
        async def shutdown():
            await self.session.close()
            await self.runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server on localhost (as tests/test_s3.py), with a bucket."""
    process, endpoint = start_moto_server()
    import s3fs

    s3fs.S3FileSystem(**_options(endpoint)).mkdir(BUCKET)
    yield endpoint
    process.terminate()
    process.wait(10)


@pytest.fixture
def proxy(s3_endpoint):
    proxy = FaultProxy(s3_endpoint)
    proxy.start()
    yield proxy
    proxy.stop()


def _options(endpoint: str, **config) -> dict:
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-west-2"},
        **({"config_kwargs": config} if config else {}),
    }


def _assert_remote_index_consistent(endpoint: str, prefix: str) -> dict:
    import s3fs

    fs = s3fs.S3FileSystem(**_options(endpoint), skip_instance_cache=True)
    index = json.loads(fs.cat_file(f"{BUCKET}/{prefix}/products.json"))
    for product in index["products"]:
        assert fs.exists(f"{BUCKET}/{prefix}/{product['href']}/zarr.json"), product["href"]
        item = json.loads(
            fs.cat_file(f"{BUCKET}/{prefix}/{product['family']}/{product['id']}/item.json")
        )
        href = item["assets"]["zarr"]["href"].removeprefix("../../")
        assert fs.exists(f"{BUCKET}/{prefix}/{href}/zarr.json"), href
    return index


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["errors", "stalls"])
def test_transient_s3_faults_are_retried_with_backoff_and_reported(
    fault, proxy, s3_endpoint, reference, caplog
):
    """One request in ten (HTTP 500/503) or in 15 (stalled past the read timeout)
    fails on its first attempt: the publish completes, equal to an uninterrupted one, and
    every retry is counted and reported as a warning."""
    options = _options(proxy.url, read_timeout=1, connect_timeout=1)
    root = f"s3://{BUCKET}/transient-{fault}"
    data = _data()
    publish(data.isel(time=slice(0, 48)), root, PRODUCTS, storage_options=options)
    if fault == "errors":
        proxy.configure("flaky", every=10)
    else:
        proxy.configure("stall", every=15, stall=3.0)
    with caplog.at_level(logging.WARNING, logger="weatherdata.publication"):
        summary = publish(data.isel(time=slice(48, 96)), root, PRODUCTS, storage_options=options)
    injected, statuses = proxy.injected, set(proxy.statuses)
    proxy.configure("pass")
    assert injected >= (5 if fault == "errors" else 3), injected
    reports = [
        r.getMessage() for r in caplog.records if "transient storage error" in r.getMessage()
    ]
    assert summary.retries == len(reports) >= injected, (summary.retries, injected, reports)
    assert all(m.startswith(root) and "retrying" in m for m in reports)
    if fault == "errors":
        assert {500, 503} <= statuses
        assert any("503" in m for m in reports) and any("500" in m for m in reports)
    else:
        assert any("timeout" in m.lower() for m in reports), reports
    assert {s.action for s in summary.stores} == {"append"}
    for product, values in _remote_values(root, _options(s3_endpoint)).items():
        assert _same(values, reference["new"][product]), product
    _assert_remote_index_consistent(s3_endpoint, f"transient-{fault}")


@pytest.mark.slow
def test_persistent_s3_failure_is_one_clear_line_and_the_next_run_completes(
    proxy, s3_endpoint, reference, monkeypatch, capfd, caplog
):
    """The endpoint goes down in the middle of a publish (every request after a point gets
    503): after botocore's retries the command fails with one line, products.json and every
    store are unchanged, and once the endpoint is back the next run completes (taking over
    the lock object the failed run could not remove) with the uninterrupted result."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")  # botocore gives up sooner: a shorter test
    files = reference["files"]
    root = f"s3://{BUCKET}/persistent"
    arguments = ["--endpoint-url", proxy.url]
    proxy.configure("pass")
    assert main(_publish_arguments(files[:2], root, *arguments)) == 0
    requests_of_a_run = proxy.requests  # the next run makes about as many: fail mid-way
    capfd.readouterr()
    import s3fs

    fs = s3fs.S3FileSystem(**_options(s3_endpoint), skip_instance_cache=True)
    index_before = fs.cat_file(f"{BUCKET}/persistent/products.json")
    proxy.configure("down", after=requests_of_a_run // 2)
    with caplog.at_level(logging.WARNING, logger="weatherdata.publication"):
        code = main(_publish_arguments(files, root, *arguments))
    stderr = capfd.readouterr().err
    proxy.configure("pass")
    assert code != 0
    line = _one_error_line(stderr)
    assert line.startswith(f"error: {root}: storage failed") and "retries" in line, line
    assert "products.json still lists the previous version" in line, line
    retries = [
        r.getMessage() for r in caplog.records if "transient storage error" in r.getMessage()
    ]
    assert f"after {len(retries)} retries" in line, (line, retries)  # reported, then given up
    assert any("could not remove the lock object" in r.getMessage() for r in caplog.records)
    assert fs.cat_file(f"{BUCKET}/persistent/products.json") == index_before
    _assert_remote_index_consistent(s3_endpoint, "persistent")
    for product, values in _remote_values(root, _options(s3_endpoint)).items():
        assert _same(values, reference["old"][product]), product
    assert main(_publish_arguments(files, root, *arguments)) == 0, capfd.readouterr().err
    for product, values in _remote_values(root, _options(s3_endpoint)).items():
        assert _same(values, reference["new"][product]), product
    _assert_remote_index_consistent(s3_endpoint, "persistent")
    fs.invalidate_cache()
    assert not fs.exists(f"{BUCKET}/persistent/.weatherdata.lock")
    for product in PRODUCTS:  # the failed run's partial versions are gone: current + previous
        assert len(fs.ls(f"{BUCKET}/persistent/observation/_versions/{product}")) <= 2


def test_a_lock_left_by_a_failed_run_of_this_host_is_taken_over_and_others_are_not(
    s3_endpoint,
):
    import s3fs

    from weatherdata.publication import _remote_lock

    fs = s3fs.S3FileSystem(**_options(s3_endpoint), skip_instance_cache=True)
    root = f"{BUCKET}/lock-takeover"
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    host = socket.gethostname()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    fs.pipe_file(
        f"{root}/.weatherdata.lock", f"x pid {dead.stdout.strip()} host {host} since {now}".encode()
    )
    with _remote_lock(fs, root, wait=0):
        pass
    assert not fs.exists(f"{root}/.weatherdata.lock")
    for holder in (
        f"x pid {os.getppid()} host {host} since {now}",
        f"x pid 1 host elsewhere since {now}",
    ):
        fs.pipe_file(f"{root}/.weatherdata.lock", holder.encode())
        with pytest.raises(PublishError, match="another publisher is writing here"):
            with _remote_lock(fs, root, wait=0):
                pass
    fs.rm_file(f"{root}/.weatherdata.lock")


# -- reads interrupted mid-body -----------------------------------------------------------


class BreakingServer:
    """A plain HTTP/1.1 file server for a publication root that breaks chunk responses.

    ``drop``: full Content-Length, half the body, then the connection closes. ``eof``: no
    Content-Length (close-delimited), half the body. ``reset``: the connection is reset
    (RST) before any answer. ``first``: ``drop`` on the first request of each chunk only.
    Metadata (``*.json``) is always served whole.
    """

    def __init__(self, root: Path, mode: str):
        self.root, self.mode = root, mode
        self.broken = 0
        self.seen: set[str] = set()

    async def handle(self, reader, writer):
        try:
            while line := await reader.readline():
                method, target, _ = line.decode().split(" ", 2)
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                path = (self.root / target.lstrip("/").split("?")[0]).resolve()
                if not path.is_file():
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                body = path.read_bytes()
                breaks = "/c/" in target and (self.mode != "first" or target not in self.seen)
                self.seen.add(target)
                if breaks:
                    self.broken += 1
                    if self.mode in ("drop", "first"):
                        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n"
                        writer.write(head.encode() + body[: len(body) // 2])
                    elif self.mode == "eof":
                        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                        writer.write(body[: len(body) // 2])
                    else:
                        sock = writer.get_extra_info("socket")
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    await writer.drain()
                    writer.close()
                    return
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n"
                writer.write(head.encode() + (body if method == "GET" else b""))
                await writer.drain()
        except (ConnectionError, ValueError):
            pass
        writer.close()

    def __enter__(self) -> str:
        port = free_port()

        async def serve():
            self.server = await asyncio.start_server(self.handle, "127.0.0.1", port)

        self.loop, self.thread = _event_loop_thread(serve)
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc_info):
        async def close():
            self.server.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    publish(inputs(48), root, PRODUCTS)
    return root, {p: open_published(root, p)[p].values for p in PRODUCTS}


@pytest.mark.parametrize("mode", ["drop", "eof", "reset", "first"])
@pytest.mark.parametrize("how", ["xarray", "open_product"])
def test_an_interrupted_remote_read_raises_and_never_returns_wrong_data(served, mode, how):
    root, expected = served
    with BreakingServer(root, mode) as url:
        for product in PRODUCTS:
            try:
                if how == "xarray":
                    opened = xr.open_zarr(
                        f"{url}/observation/{product}.zarr", consolidated=True, zarr_format=3
                    )
                else:
                    opened = weatherdata.open_product(product, root=url)
                values = opened[product].values
            except Exception as error:  # any clear error is the right outcome
                assert not isinstance(error, AssertionError)
                assert str(error) or type(error).__name__
                continue
            # Only a reader that retried may return data, and then it must be exact.
            assert _same(values, expected[product]), f"{mode}: {product} read wrong, silently"
            raise AssertionError(f"{mode}: a broken response was read without error")


# -- the server under attack ---------------------------------------------------------------


class ThreadServer:
    """``weatherdata serve``'s own Uvicorn configuration, run in a thread (fast to start)."""

    def __init__(self, root: Path, **options):
        import uvicorn

        from weatherdata.serve import server_config

        self.port = free_port()
        config = server_config(
            root, port=self.port, access_log=False, log_level="warning", **options
        )
        self.server = uvicorn.Server(config)

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(300):
            if self.server.started:
                break
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info):
        self.server.should_exit = True
        self.thread.join(30)

    def raw(self, request: bytes, timeout: float = 10.0) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(request)
            data = b""
            try:
                while chunk := sock.recv(65536):
                    data += chunk
            except (ConnectionResetError, TimeoutError):
                pass
            return data


def _status(response: bytes) -> int | None:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else None


@pytest.fixture(scope="module")
def attacked(served, tmp_path_factory):
    root, _ = served
    outside = tmp_path_factory.mktemp("outside") / "private.txt"
    outside.write_text("private")
    link = root / "escape.txt"
    if not link.is_symlink():
        os.symlink(outside, link)
    with ThreadServer(root, token="s3cret", header_timeout=1.5) as server:
        yield server


AUTH = b"Authorization: Bearer s3cret\r\n"


@pytest.mark.parametrize(
    "path",
    [
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/%252e%252e/%252e%252e/etc/passwd",
        "/..%5c..%5cetc%5cpasswd",
        "/..\\..\\etc\\passwd",
        "/observation/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/observation//..//..//etc/passwd",
        "/catalog.json%00.txt",
        "/..%c0%af..%c0%afetc/passwd",
        "/%u002e%u002e/etc/passwd",
        "/observation/temperature_2m.zarr/../../../../etc/passwd",
        "/escape.txt",
        "/%65scape.txt",
        "/observation/_versions",
        "/.weatherdata.lock",
        "/%2eweatherdata.lock",
        "/observation/./../.weatherdata.lock",
        "http://127.0.0.1/etc/passwd",
        "*",
    ],
)
def test_encoded_traversal_and_escapes_are_refused(attacked, path):
    response = attacked.raw(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode() + AUTH + b"\r\n"
    )
    assert _status(response) in (400, 404), response[:200]
    assert b"root:" not in response and b"private" not in response


def test_token_mode_covers_head_and_every_path(attacked):
    head = "HEAD /catalog.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    assert _status(attacked.raw(head.encode() + b"\r\n")) == 401
    assert _status(attacked.raw(head.encode() + AUTH + b"\r\n")) == 200
    for credentials in (
        b"Authorization: Basic czNjcmV0\r\n",
        b"Authorization: bearer S3CRET\r\n",
        b"Authorization: Bearer s3cre\r\n",
    ):
        assert _status(attacked.raw(head.encode() + credentials + b"\r\n")) == 401, credentials
    query = b"GET /catalog.json?token=s3cret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert _status(attacked.raw(query)) == 401
    # without the token, a missing file is not told apart from an existing one
    missing = b"GET /nothing.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert _status(attacked.raw(missing)) == 401


@pytest.mark.parametrize(
    "ranges",
    [
        "bytes=0-99999999999",
        "bytes=-99999999999",
        "bytes=99999999999-",
        "bytes=5-1",
        "bytes=abc",
        "bytes=" + ",".join(f"{i}-{i}" for i in range(2000)),
        "bytes=" + ",".join("0-" for _ in range(500)),
        "bytes=0-0,0-0,0-0,0-0",
        "bytes=1-2,4-5",
        "items=0-1",
        "bytes=-0",
    ],
    ids=lambda r: r[:24],
)
def test_range_abuse_is_bounded(attacked, served, ranges):
    root, _ = served
    chunk = next((root / "observation" / "temperature_2m.zarr" / "temperature_2m").rglob("c/*/*/*"))
    target = "/" + chunk.relative_to(root).as_posix()
    request = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nRange: {ranges}\r\n"
    response = attacked.raw(request.encode() + AUTH + b"\r\n")
    assert _status(response) in (200, 206, 400, 416, 431), response[:200]
    size = chunk.stat().st_size
    assert len(response) <= 2 * size + 8192, "a range request multiplied the response"
    assert (
        _status(
            attacked.raw(
                b"GET /catalog.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + AUTH + b"\r\n"
            )
        )
        == 200
    )


def test_oversized_request_heads_are_refused(attacked):
    big = (
        b"GET /catalog.json HTTP/1.1\r\nHost: x\r\nX-Big: "
        + b"a" * 70_000
        + b"\r\n"
        + AUTH
        + b"\r\n"
    )
    assert _status(attacked.raw(big)) == 431
    many = b"".join(b"X-%d: %s\r\n" % (i, b"b" * 100) for i in range(400))
    assert (
        _status(attacked.raw(b"GET /catalog.json HTTP/1.1\r\nHost: x\r\n" + many + AUTH + b"\r\n"))
        == 431
    )
    long_target = b"GET /" + b"a/" * 6000 + b"catalog.json HTTP/1.1\r\nHost: x\r\n" + AUTH + b"\r\n"
    assert _status(attacked.raw(long_target)) in (400, 414)
    # a head sent in pieces is refused by h11 once 16 KiB are buffered, or the server closes
    with socket.create_connection(("127.0.0.1", attacked.port), timeout=10) as sock:
        sock.sendall(b"GET /catalog.json HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        try:
            for _ in range(40):
                sock.sendall(b"X-Piece: " + b"c" * 1000 + b"\r\n")
                time.sleep(0.005)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = sock.recv(200)
        except (ConnectionResetError, TimeoutError):
            pass
        assert answer == b"" or _status(answer) in (400, 431), answer
    assert (
        _status(
            attacked.raw(
                b"GET /catalog.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + AUTH + b"\r\n"
            )
        )
        == 200
    )


@pytest.mark.slow
def test_slow_clients_are_cut_off_and_do_not_block_others(attacked):
    """30 clients sending their request head one byte every 0.2 s and 10 that send nothing:
    each is disconnected within the head timeout (1.5 s here) plus a margin, and meanwhile
    normal requests are answered at once."""
    slow, idle = [], []
    for _ in range(30):
        sock = socket.create_connection(("127.0.0.1", attacked.port), timeout=10)
        slow.append(sock)
    for _ in range(10):
        idle.append(socket.create_connection(("127.0.0.1", attacked.port), timeout=10))
    started = time.monotonic()
    closed_after: dict[int, float] = {}
    head = b"GET /catalog.json HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"z" * 200

    def dribble():
        for position in range(len(head)):
            for index, sock in enumerate(slow):
                if index in closed_after:
                    continue
                try:
                    sock.sendall(head[position : position + 1])
                except OSError:
                    closed_after[index] = time.monotonic() - started
            if len(closed_after) == len(slow) or time.monotonic() - started > 8:
                return
            time.sleep(0.2)

    thread = threading.Thread(target=dribble)
    thread.start()
    latencies = []
    while thread.is_alive() and time.monotonic() - started < 3:
        t0 = time.monotonic()
        response = requests.get(
            f"http://127.0.0.1:{attacked.port}/catalog.json",
            headers={"Authorization": "Bearer s3cret"},
            timeout=5,
        )
        latencies.append(time.monotonic() - t0)
        assert response.status_code == 200
        time.sleep(0.1)
    thread.join(15)
    assert max(latencies) < 1.0, latencies
    assert len(closed_after) == len(slow), (
        f"{len(slow) - len(closed_after)} slow clients still connected"
    )
    assert max(closed_after.values()) < 1.5 + 2.0, closed_after
    for sock in idle:
        sock.settimeout(5)
        assert sock.recv(100) == b"", "an idle connection was kept open"
    for sock in slow + idle:
        sock.close()


@pytest.mark.slow
def test_the_serve_command_bounds_slow_clients_and_a_killed_server_is_an_error(served):
    """The real ``weatherdata serve``: a slowloris connection is closed by the default head
    timeout; then the server is killed between a reader's metadata and data requests and
    the read fails (never a store silently filled with missing values)."""
    from weatherdata.serve import HEADER_TIMEOUT

    root, expected = served
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "weatherdata",
            "serve",
            str(root),
            "--port",
            str(port),
            "--no-access-log",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.head(f"{url}/catalog.json", timeout=0.5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        sock = socket.create_connection(("127.0.0.1", port), timeout=HEADER_TIMEOUT + 5)
        sock.sendall(b"GET /catalog.json HTTP/1.1\r\n")
        started = time.monotonic()
        assert sock.recv(100) == b""
        assert time.monotonic() - started < HEADER_TIMEOUT + 3
        sock.close()
        opened = weatherdata.open_product("temperature_2m", root=url)
        first = opened.isel(time=slice(0, 1))["temperature_2m"].values
        assert _same(first, expected["temperature_2m"][:1])
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    with pytest.raises(Exception) as error:  # whatever the client raises
        opened["temperature_2m"].values  # noqa: B018
    assert not isinstance(error.value, AssertionError)


# -- the hourly operational loop -------------------------------------------------------------


@pytest.mark.slow
def test_six_hourly_runs_over_a_growing_directory(tmp_path, capfd):
    """32 hours of inputs, then one new file per hour, each hour ``publish DIR --since
    HOUR``: after every run the stores have sorted, unique times up to that hour (a daily
    product's store appears with the day the hour completes); after six runs they equal one
    publish of everything; ``status --stale-after`` reports the latest complete time and flags a
    product whose newest hours are incomplete."""
    from weatherdata.publication import status

    hourly = "temperature_2m,precipitation_accumulation_3h,wind_speed_10m"
    daily = "daily_maximum_temperature"  # days of 12-12 UTC (20-20 Beijing time)
    data = inputs(38)
    directory = tmp_path / "incoming"
    directory.mkdir()
    data.isel(time=slice(0, 32)).compute().to_netcdf(directory / "first.nc")
    roots = {hourly: tmp_path / "hourly", daily: tmp_path / "daily"}
    for products, root in roots.items():
        assert main(["publish", str(directory), "--root", str(root), "--products", products]) == 0
    for hour in range(32, 38):
        data.isel(time=slice(hour, hour + 1)).compute().to_netcdf(directory / f"h{hour}.nc")
        since = str(data.time.values[hour])[:16]
        for products, root in roots.items():
            arguments = ["--root", str(root), "--products", products, "--since", since]
            assert main(["publish", str(directory), *arguments]) == 0, (hour, products)
        for product in hourly.split(","):
            times = open_published(roots[hourly], product)["time"].values
            assert np.array_equal(times, data.time.values[: hour + 1]), (hour, product)
        # 07-25T12 ends at 07-26T12: until then the daily store waits (skipped, exit 0)
        store = roots[daily] / "observation" / f"{daily}.zarr"
        assert store.exists() == (hour >= 36), hour
        if hour >= 36:
            assert len(open_published(roots[daily], daily)["day"]) == 1
    for products, root in roots.items():
        once = tmp_path / f"once-{len(products)}"
        assert main(["publish", str(directory), "--root", str(once), "--products", products]) == 0
        for product in products.split(","):
            xr.testing.assert_identical(
                open_published(root, product)[product].load(),
                open_published(once, product)[product].load(),
            )
    for row in status(roots[hourly]):
        assert row.last_time == row.last_complete_time == "2026-07-26T13:00:00Z", row
        assert row.time_steps == 38
    capfd.readouterr()
    assert main(["status", str(roots[hourly]), "--stale-after", "2 h"]) == 0
    # three more hours whose temperature misses a cell: its latest complete time falls behind
    late = inputs(41).isel(time=slice(38, 41)).compute()
    late["air_temperature_2m"][:, 0, 0] = np.nan
    late.to_netcdf(directory / "late.nc")
    arguments = ["--root", str(roots[hourly]), "--products", hourly, "--since", "2026-07-26T14:00"]
    assert main(["publish", str(directory), *arguments]) == 0
    capfd.readouterr()
    assert main(["status", str(roots[hourly]), "--stale-after", "2 h"]) == 1
    captured = capfd.readouterr()
    assert "1 stale product(s)" in captured.err and "Traceback" not in captured.err
    assert "stale" in next(line for line in captured.out.splitlines() if "temperatu" in line)
    rows = {row.product: row for row in status(roots[hourly])}
    assert rows["temperature_2m"].last_time == "2026-07-26T16:00:00Z"
    assert rows["temperature_2m"].last_complete_time == "2026-07-26T13:00:00Z"
    assert rows["wind_speed_10m"].last_complete_time == "2026-07-26T16:00:00Z"


def test_stale_check_of_a_daily_product_uses_the_end_of_its_day(tmp_path):
    root = tmp_path / "products"
    publish(inputs(37), root, ["temperature_2m", "daily_maximum_temperature"])
    assert main(["status", str(root), "--stale-after", "2 h"]) == 0
