"""Helpers for product tests.

Every product needs a reference-value test marked ``@pytest.mark.product("<id>")``
(or ``pytest.param(..., marks=pytest.mark.product("<id>"))``);
``tests/test_catalog.py`` checks that every catalog id has one.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import dask.array as dask_array
import numpy as np
import pandas as pd
import requests
import xarray as xr

import weatherdata
from weatherdata.variables import canonical_variables


def grid_dataset(
    variables: dict[str, np.ndarray | float],
    *,
    times: int | None = None,
    shape: tuple[int, int] = (3, 4),
    start: str = "2026-07-25T00:00",
    step: str = "1h",
    levels: list[float] | None = None,
    heights: list[float] | None = None,
    chunks: bool = True,
) -> xr.Dataset:
    """A small canonical dataset. Values are broadcast to each variable's canonical dims.

    ``variables`` maps canonical names to arrays (already shaped like the canonical
    dims) or scalars; units are the canonical ones. With ``chunks`` the data are
    Dask arrays, so tests also check that recipes stay lazy.
    """
    spec = canonical_variables()
    latitude = np.linspace(22.0, 23.0, shape[0])
    longitude = np.linspace(113.0, 114.0, shape[1])
    coords: dict = {"latitude": latitude, "longitude": longitude}
    if times is not None:
        coords["time"] = pd.date_range(start, periods=times, freq=step)
    if levels is not None:
        coords["pressure"] = np.asarray(levels, dtype=float)
    if heights is not None:
        coords["height"] = np.asarray(heights, dtype=float)
    data_vars = {}
    for name, value in variables.items():
        var = spec[name]
        dims = []
        for dim in var.dims:
            if dim == "horizontal":
                dims += ["latitude", "longitude"]
            elif dim == "time" and times is None:
                continue
            else:
                dims.append(dim)
        sizes = {d: len(coords[d]) for d in dims}
        array = np.asarray(value, dtype=np.float32)
        if array.shape != tuple(sizes.values()):
            array = np.broadcast_to(array, tuple(sizes.values())).copy()
        if chunks:
            array = dask_array.from_array(array, chunks=array.shape)
        data_vars[name] = (dims, array, {"units": var.units})
    return xr.Dataset(data_vars, coords=coords)


def derive_one(
    product_id: str, dataset: xr.Dataset, *, parameters=None, forecast=None
) -> xr.DataArray:
    """Derive one product, check it stayed lazy on lazy input, and return it computed."""
    out = weatherdata.derive(
        dataset,
        [product_id],
        forecast=forecast,
        parameters={product_id: parameters} if parameters else None,
    )[product_id]
    if any(hasattr(v.data, "dask") for v in dataset.data_vars.values()):
        assert hasattr(out.data, "dask"), f"{product_id} computed eagerly"
    return out.compute()


SECTIONS = {
    "observation_basic": "Observation: basic analyses",
    "observation_surface": "Observation: surface analyses, windows and grades",
    "observation_radar_upper_air": "Observation: radar and upper air",
    "forecast_convective": "Forecast & warning: convective diagnostics",
    "forecast_grids": "Forecast & warning: synoptic diagnostics, nowcasts, forecast grids",
    "warning_signals": "Forecast & warning: warning signals",
    "service_public": "Service: thermal comfort and public indices",
    "service_sector": "Service: fire, agriculture, energy, transport, climate",
}


def catalog_section(name: str) -> dict:
    """One titled section of catalog.yaml, as ``{"products": [...], "intermediates": [...]}``.

    Sections are the ``# <title>`` comment blocks between product entries; an intermediate
    belongs to the first section whose products use it.
    """
    import re

    import yaml

    from weatherdata.catalog import default_catalog_path

    text = default_catalog_path().read_text(encoding="utf-8")
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    order, current = {}, None
    titles = {title: key for key, title in SECTIONS.items()}
    for line in text.split("\n"):
        if line.startswith("# ") and line[2:] in titles:
            current = titles[line[2:]]
        match = re.match(r"^- id: ([a-z0-9_]+)$", line)
        if match and current:
            order[match.group(1)] = current
    products = [e for e in raw["products"] if order.get(e["id"]) == name]
    used_first: dict[str, str] = {}
    for entry in raw["products"]:
        for reference in entry["inputs"].values():
            used_first.setdefault(reference.split(".")[0], order.get(entry["id"]))
    intermediates = [e for e in raw["intermediates"] if used_first.get(e["id"]) == name]
    return {"products": products, "intermediates": intermediates, "references": raw["references"]}


def free_port() -> int:
    """A free TCP port on localhost."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto_server(attempts: int = 300):
    """Start moto's S3 server in a subprocess on a free port; return ``(process, endpoint)``.

    A real S3-compatible endpoint on localhost, as s3fs's own tests use. The caller
    terminates the process.
    """
    import subprocess
    import sys
    import time

    import requests

    port = free_port()
    server = ["-c", "from moto.server import main; main()", "-p", str(port), "-H", "127.0.0.1"]
    process = subprocess.Popen(
        [sys.executable, *server],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(attempts):
        try:
            requests.get(endpoint, timeout=2)
            break
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    return process, endpoint


@contextlib.contextmanager
def serving(root: Path, log: Path, *extra: str):
    """``weatherdata serve ROOT`` in its own process on a free port; yields the base URL.

    The access log goes to ``log`` (a pipe nobody reads would fill and stall the server).
    """
    port = free_port()
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "weatherdata", "serve", str(root), "--port", str(port), *extra],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            if process.poll() is not None:
                raise RuntimeError(f"weatherdata serve exited: {log.read_text()}")
            try:
                requests.head(f"{url}/products.json", timeout=0.5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"weatherdata serve did not start: {log.read_text()}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
