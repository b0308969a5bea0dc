"""``weatherdata serve`` under load: 50 concurrent clients, every answer checked byte for byte.

A smaller version of ``benchmarks/bench_serve_load.py`` with no timing assertions: the
clients read random chunks of every published store in full, random byte ranges of them,
and store metadata with gzip accepted, for a fixed time; every response must be the
expected status with a body equal to the file's bytes, and the server must stay up.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest
import requests

from tests.test_interop import serving

CLIENTS = 50
SECONDS = 12.0


def _files(root):
    """``{URL path: file bytes}`` of every chunk and every array's ``zarr.json``."""
    files = {}
    for product in json.loads((root / "products.json").read_text())["products"]:
        store = root / product["href"]
        for path in store.rglob("*"):
            relative = path.relative_to(store)
            if path.is_file() and ("c" in relative.parts[:-1] or path.name == "zarr.json"):
                files[f"/{product['href']}/{relative.as_posix()}"] = path.read_bytes()
    return files


async def _client(index, url, files, chunks, metadata, deadline, outcome):
    import aiohttp

    rng = random.Random(index)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        while time.monotonic() < deadline:
            kind = rng.random()
            path = rng.choice(metadata if kind < 0.1 else chunks)
            expected = files[path]
            headers, status = {}, 200
            if 0.1 <= kind < 0.3 and len(expected) > 1:
                start = rng.randrange(len(expected))
                end = rng.randrange(start, len(expected))
                headers["Range"] = f"bytes={start}-{end}"
                expected, status = expected[start : end + 1], 206
            try:
                async with session.get(url + path, headers=headers) as response:
                    body = await response.read()  # gzip, if sent, is undone here
                    ok = response.status == status and body == expected
            except Exception as exc:
                outcome["errors"].append(f"{path} {headers}: {type(exc).__name__}: {exc}")
                continue
            outcome["requests"][index] += 1
            if not ok:
                outcome["errors"].append(
                    f"{path} {headers}: HTTP {response.status}, {len(body)} B, "
                    f"expected {status} with {len(expected)} B"
                )


@pytest.mark.slow
def test_fifty_clients_get_exact_bytes_and_no_errors(published_demo, tmp_path):
    root, _ = published_demo
    files = _files(root)
    chunks = sorted(p for p in files if not p.endswith("zarr.json"))
    metadata = sorted(p for p in files if p.endswith("zarr.json"))
    assert len(chunks) > 243 and len(metadata) > 243
    outcome = {"requests": [0] * CLIENTS, "errors": []}

    async def run(url):
        deadline = time.monotonic() + SECONDS
        await asyncio.gather(
            *(_client(i, url, files, chunks, metadata, deadline, outcome) for i in range(CLIENTS))
        )

    log = tmp_path / "serve.log"
    with serving(root, log) as url:
        asyncio.run(run(url))
        still_up = requests.get(f"{url}/products.json", timeout=10)
    assert not outcome["errors"], f"{len(outcome['errors'])} errors:\n" + "\n".join(
        outcome["errors"][:10]
    )
    assert all(outcome["requests"]), "a client never completed a request"
    assert still_up.status_code == 200
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text, text[-2000:]
    # Every request is in the access log (and nothing else went wrong on the server).
    assert text.count('"GET /') >= sum(outcome["requests"])
