"""Atomic, idempotent publication: one Zarr v3 store per product, plus a STAC index.

Layout under the root (a plain directory any static web server can serve)::

    ROOT/catalog.json                          STAC catalog (one collection per family)
    ROOT/products.json                         every product in one request (id, names, href, open args)
    ROOT/<family>/collection.json              STAC collection
    ROOT/<family>/<id>/item.json               STAC item with the Zarr asset and xarray open arguments
    ROOT/<family>/<id>.zarr                    -> _versions/<id>/<version>  (a relative symlink)
    ROOT/<family>/_versions/<id>/<version>/    the Zarr v3 store of one version

A publish writes a complete new version next to the current one (appends start from
a hard-linked copy of the current version, so only new chunks are written, and their
metadata is consolidated after the data), marks it ``.complete``, makes it durable,
and then swaps the symlink with one atomic ``rename``; a new version is invisible
until then, so its data and metadata files are written in whatever order is fastest.
A publish killed at any moment therefore leaves every store readable as its previous
or its new version. The STAC index is written beside the versions before the swap and
renamed into place after it, so it never points at a store that does not exist.
Re-publishing a time range replaces it (time
stays sorted and unique); a later range appends. One publisher at a time holds
``ROOT/.weatherdata.lock``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import dataclasses
import datetime as dt
import errno
import fcntl
import functools
import gc
import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dask
import dask.array
import dask.callbacks
import numpy as np
import pandas as pd
import xarray as xr
import zarr
import zarr.abc.store
import zarr.storage
from zarr.codecs import BloscCodec

from ._version import __version__
from .catalog import Catalog, Lookback, ProductEntry, parameter_value, shipped_catalog
from .engine import derive_arrays
from .errors import PublishError
from .units import parse_units

# We publish zarr-python's consolidated metadata for v3 deliberately (one metadata
# request per store); its reminder that this is an extension is not news to users.
warnings.filterwarnings(
    "ignore", message="Consolidated metadata is currently not part", category=UserWarning
)

__all__ = [
    "PublishSummary",
    "chunk_layout",
    "open_published",
    "publish",
    "publish_in_windows",
    "store_path",
]

LOG = logging.getLogger(__name__)

TIME_DIMENSIONS = ("time", "day", "period", "init_time")
TARGET_CHUNK_BYTES = 2 * 1024 * 1024
MAXIMUM_TIME_CHUNK = 24 * 92
TILE = 256
#: Elements per chunk of a time coordinate (512 KiB of int64): one chunk holds 7 years of
#: hourly times, so opening a store reads its time axis in one request, and appended
#: times fill that chunk rather than adding one per append.
TIME_COORDINATE_CHUNK_ELEMENTS = 65_536
KEEP_VERSIONS = 2
OPEN_ARGUMENTS = {"engine": "zarr", "consolidated": True, "zarr_format": 3, "chunks": {}}


@dataclass
class StoreSummary:
    product: str
    family: str
    path: str
    time_steps: int
    bytes: int
    action: str


@dataclass
class PublishSummary:
    root: str
    stores: list[StoreSummary] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    #: transient storage errors retried during the publish (each also logged as a warning)
    retries: int = 0

    @property
    def total_bytes(self) -> int:
        return sum(s.bytes for s in self.stores)


# -- layout ----------------------------------------------------------------------


def store_path(root: str | Path, entry: ProductEntry) -> Path:
    return Path(root) / entry.family / f"{entry.id}.zarr"


def _versions_directory(root: Path, entry: ProductEntry) -> Path:
    return root / entry.family / "_versions" / entry.id


def chunk_layout(
    sizes: dict[str, int], profile: str = "balanced", itemsize: int = 4
) -> dict[str, int]:
    """Chunks for a product, chosen for map reads and point time series alike.

    The horizontal plane is split into tiles of at most 256×256 cells; the time chunk
    then grows until a chunk holds about 2 MiB (at most a quarter of hourly steps), so a
    point series reads as few chunks as that budget allows and a map reads one chunk per
    tile. Forecast products hold one run per chunk (``init_time`` = 1: a new run is
    appended without rewriting a chunk) and grow along ``lead_time``. Profiles ``map``
    (one time step per chunk, whole plane) and ``series`` (small tiles, long time chunks)
    are for products read mostly one way. ``benchmarks/bench_chunk_layout.py`` measures
    the trade-off (chunks and bytes per map and per series) behind these numbers.
    """
    dims = list(sizes)
    chunks = dict(sizes)
    if "init_time" in sizes:
        chunks["init_time"] = 1
    grow = "lead_time" if "init_time" in sizes and "lead_time" in sizes else None
    grow = grow or next((d for d in dims if d in TIME_DIMENSIONS), None)
    horizontal = dims[-2:]
    tile = {"balanced": TILE, "map": 4096, "series": 64}[profile]
    for dim in horizontal:
        chunks[dim] = min(sizes[dim], tile)
    if grow is not None:
        per_step = itemsize * int(np.prod([chunks[d] for d in dims if d != grow]))
        steps = 1 if profile == "map" else max(1, TARGET_CHUNK_BYTES // max(per_step, 1))
        cap = MAXIMUM_TIME_CHUNK * (8 if profile == "series" else 1)
        chunks[grow] = int(min(steps, cap, sizes[grow]) if sizes[grow] else 1)
    return chunks


def _encoding(data: xr.Dataset, entry: ProductEntry) -> dict:
    variable = data[entry.id]
    chunks = chunk_layout(dict(variable.sizes), entry.chunks)
    compressor = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    encoding = {
        entry.id: {
            "chunks": tuple(chunks[d] for d in variable.dims),
            "compressors": (compressor,),
        }
    }
    if entry.categories is not None:
        # -1 marks missing unless it is a level itself (human_comfort_level's "cool").
        levels = {category.value for category in entry.categories}
        encoding[entry.id].update({"dtype": "int8", "_FillValue": -128 if -1 in levels else -1})
    else:
        encoding[entry.id]["_FillValue"] = np.float32("nan")
    for name, coord in data.coords.items():
        if coord.ndim == 0:
            continue
        # Along time: TIME_COORDINATE_CHUNK_ELEMENTS per chunk, shared with the other
        # dimensions (valid_time is init_time × lead_time). A fixed 10⁶ steps made
        # valid_time's chunk 10⁶ × 73 leads = 584 MB, allocated in full by every write
        # and every read of the coordinate.
        others = int(np.prod([s for d, s in coord.sizes.items() if d not in TIME_DIMENSIONS]))
        along_time = max(1, TIME_COORDINATE_CHUNK_ELEMENTS // max(others, 1))
        enc = {
            "chunks": tuple(
                max(s, 1) if d not in TIME_DIMENSIONS else along_time
                for d, s in coord.sizes.items()
            )
        }
        if np.issubdtype(coord.dtype, np.datetime64):
            enc.update(
                {
                    "units": "seconds since 1970-01-01",
                    "calendar": "proleptic_gregorian",
                    "dtype": "int64",
                }
            )
        elif np.issubdtype(coord.dtype, np.timedelta64):
            enc.update({"units": "seconds", "dtype": "int64"})
        encoding[name] = enc
    return encoding


# -- locking ---------------------------------------------------------------------


@contextlib.contextmanager
def publisher_lock(root: Path, wait: float = 0.0):
    """Hold ``ROOT/.weatherdata.lock``; a second publisher waits ``wait`` s, then fails clearly."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / ".weatherdata.lock"
    handle = open(path, "a+")
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise PublishError(
                    f"{root}: another publisher is writing here ({holder}); retry later or pass --wait SECONDS"
                ) from None
            time.sleep(0.2)
    handle.seek(0)
    handle.truncate()
    # Who holds the lock is for the message above only: a full disk must not fail here
    # (unbuffered, so that a failed write leaves nothing to flush later).
    with contextlib.suppress(OSError):
        holder = f"pid {os.getpid()} since {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}"
        os.pwrite(handle.fileno(), holder.encode(), 0)
    try:
        yield
    finally:
        handle.seek(0)
        handle.truncate()
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


# -- atomic file operations --------------------------------------------------------


def _fsync_directory(path: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _write_temporaries(documents: list[tuple[Path, str | bytes]]) -> list[tuple[Path, Path]]:
    """Write each ``(path, text or bytes)`` to a temporary file beside its path:
    ``[(temporary, path)]`` for :func:`_rename_temporaries` once they are durable. On an
    error the temporaries written are removed."""
    temporaries = []
    try:
        for path, content in documents:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
            temporaries.append((temporary, path))
            if isinstance(content, bytes):
                temporary.write_bytes(content)
            else:
                temporary.write_text(content, encoding="utf-8")
    except BaseException:
        _remove_temporaries(temporaries)
        raise
    return temporaries


def _rename_temporaries(temporaries: list[tuple[Path, Path]]) -> None:
    """Each temporary renamed over its path, in order (a rename is atomic)."""
    try:
        for temporary, path in temporaries:
            os.replace(temporary, path)
    except BaseException:
        _remove_temporaries(temporaries)
        raise


def _remove_temporaries(temporaries: list[tuple[Path, Path]]) -> None:
    for temporary, _ in temporaries:
        temporary.unlink(missing_ok=True)


def _atomic_write_texts(documents: list[tuple[Path, str]]) -> None:
    """Write each ``(path, text)`` atomically, in the order given: every text to a
    temporary file beside its path, all of them made durable at once
    (:func:`_flush_to_disk`), then each renamed over its path. An fsync per file cost
    ~0.6 ms on disk (the index of a 243-product root is ~250 documents)."""
    temporaries = _write_temporaries(documents)
    try:
        _flush_to_disk([temporary for temporary, _ in temporaries])
    except BaseException:
        _remove_temporaries(temporaries)
        raise
    _rename_temporaries(temporaries)


def _atomic_symlink(link: Path, target: str) -> None:
    temporary = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}.link")
    os.symlink(target, temporary)
    os.replace(temporary, link)
    _fsync_directory(link.parent)


def _hardlink_copy(source: Path, destination: Path) -> None:
    """Copy a store with hard links: zarr replaces files by rename, never in place."""

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, destination, copy_function=link, symlinks=True)


def _fsync_file(path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(path: Path) -> None:
    for directory, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                _fsync_file(os.path.join(directory, name))
        _fsync_directory(Path(directory))


def _syncfs():
    """Linux's ``syncfs(2)`` from the C library, or None where there is none."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        return None


def _flush_to_disk(paths: list[Path]) -> None:
    """Make ``paths`` durable before any new store version is swapped in: directories
    (new versions) with every file and directory under them, and single files (the
    index's temporaries). On Linux one ``syncfs`` per file system: fsync of every file
    (~20 a store) cost ~3.5 ms a store, 0.85 s of the 0.2° demo's 243 stores, against
    ~20 ms for one syncfs; elsewhere, or if it fails, each file and directory is
    fsynced."""
    syncfs, synced = _syncfs(), set()
    for path in paths:
        device = os.stat(path).st_dev
        if device in synced:
            continue
        if syncfs is not None:
            descriptor = os.open(path, os.O_RDONLY)
            try:
                if syncfs(descriptor) == 0:
                    synced.add(device)
                    continue
            finally:
                os.close(descriptor)
        if os.path.isdir(path):
            _fsync_tree(path)
        else:
            _fsync_file(path)


def _directory_bytes(path: Path) -> int:
    """The bytes of the files under ``path`` (``os.scandir``'s entries carry their type, so
    only files are stat'ed: ~5x faster than ``Path.rglob`` with a ``stat`` per path)."""
    total, directories = 0, [path]
    while directories:
        with os.scandir(directories.pop()) as entries:
            for item in entries:
                if item.is_dir(follow_symlinks=False):
                    directories.append(item.path)
                elif item.is_file(follow_symlinks=False):
                    total += item.stat(follow_symlinks=False).st_size
    return total


def _clean_stale(root: Path, entry: ProductEntry) -> None:
    """Remove versions no symlink points at (left by a killed run), keeping the last few."""
    versions = _versions_directory(root, entry)
    if not versions.is_dir():
        return
    link = store_path(root, entry)
    current = os.readlink(link).rsplit("/", 1)[-1] if link.is_symlink() else None
    candidates = sorted((p for p in versions.iterdir() if p.is_dir()), key=lambda p: p.name)
    keep = {current}
    finished = [p for p in candidates if (p / ".complete").exists() and p.name != current]
    keep |= {p.name for p in finished[-(KEEP_VERSIONS - 1) :]} if KEEP_VERSIONS > 1 else set()
    for candidate in candidates:
        if candidate.name not in keep:
            shutil.rmtree(candidate, ignore_errors=True)


def _version_directories(root: Path) -> set[Path]:
    return {p for p in root.glob("*/_versions/*/*") if p.is_dir() and not p.is_symlink()}


def _storage_failure_message(root, exc: BaseException) -> str:
    """One line for a storage failure: where, the errno name (ENOSPC, EFBIG, …), what to do."""
    code = errno.errorcode.get(getattr(exc, "errno", None) or 0)
    reason = getattr(exc, "strerror", None) or " ".join(str(exc).split()) or type(exc).__name__
    hint = {
        "ENOSPC": "free some space and run again",
        "EDQUOT": "raise the quota or free some space and run again",
        "EFBIG": "a file-size limit (ulimit -f) stopped the write; raise it and run again",
    }.get(code, "run again when the storage is healthy")
    where = getattr(exc, "filename", None)
    return (
        f"{root}: {reason}{f' ({code})' if code else ''}"
        f"{f' writing {where}' if where else ''}; nothing was published, every store keeps its "
        f"previous version: {hint}"
    )


@contextlib.contextmanager
def _clean_up_on_failure(root: Path, catalog: Catalog):
    """Under the lock: if the publish fails, remove what it wrote but did not publish.

    Versions this run created and did not swap in, and temporary files, are deleted (a full
    disk gets its space back at once); storage errors (``ENOSPC``, ``EFBIG``, ``EDQUOT``,
    permissions) become one :class:`PublishError` line naming the errno.
    """

    def links():
        return {p: os.readlink(p) for p in root.glob("*/*.zarr") if p.is_symlink()}

    before, linked = _version_directories(root), links()
    try:
        yield
    except Exception as exc:
        # Dask's threads may still finish a chunk or two after the first error (re-creating
        # a directory just removed): remove until nothing new appears for a moment.
        quiet = 0
        for _ in range(50):
            leftovers = [
                directory
                for directory in _version_directories(root) - before
                if not (
                    (link := directory.parents[2] / f"{directory.parent.name}.zarr").is_symlink()
                    and os.path.realpath(link) == os.path.realpath(directory)
                )
            ]
            quiet = 0 if leftovers else quiet + 1
            if quiet == 3:
                break
            for directory in leftovers:
                shutil.rmtree(directory, ignore_errors=True)
                for parent in directory.parents[:3]:  # <id>, _versions, <family> if now empty
                    with contextlib.suppress(OSError):
                        parent.rmdir()
            time.sleep(0.05)
        if links() != linked:  # some stores were swapped: describe them as they now are
            with contextlib.suppress(Exception):
                write_stac(root, catalog)
        for pattern in (".*.tmp", "*/.*.tmp", "*/*/.*.tmp", "*/.*.link"):
            for leftover in root.glob(pattern):
                leftover.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise PublishError(_storage_failure_message(root, exc)) from exc
        raise


# -- provenance -------------------------------------------------------------------


def file_checksums(paths: Iterable[str | Path]) -> list[dict[str, str]]:
    out = []
    for path in sorted({str(p) for p in paths}):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        out.append({"file": os.path.basename(path), "sha256": digest.hexdigest()})
    return out


# -- publication -------------------------------------------------------------------


def _time_dimension(variable: xr.DataArray) -> str | None:
    return next((d for d in variable.dims if d in TIME_DIMENSIONS), None)


def _variable_length_labels(data: xr.Dataset) -> dict[str, xr.DataArray]:
    """Label coordinates (district and city names, signal ids, vector components) as
    variable-length UTF-8 strings, which Zarr v3 stores as the ``string`` data type.

    NumPy's fixed-width ``<U`` labels would be written as ``fixed_length_utf32``: zarr-python
    warns it may change, and neither zarrita.js nor tensorstore reads it. ``string`` (with the
    ``vlen-utf8`` codec) is specified in zarr-extensions and read by zarr-python (no
    warning), zarrita.js, zarrs and GDAL ≥ 3.13, and plain ``xr.open_zarr`` gives the same
    labels (as NumPy's ``StringDType``, so ``.sel(district="Tianhe")`` works unchanged).
    tensorstore reads no string data type at all (google/tensorstore#103); its users get
    every numeric array. Integer codes with the names in attributes would serve tensorstore
    too, but every researcher would lose label selection in plain xarray: we keep labels.
    """
    text = np.dtypes.StringDType()
    return {
        name: coordinate.astype(text)
        for name, coordinate in data.coords.items()
        if coordinate.dtype.kind == "U"
    }


def _product_dataset(
    derived: dict[str, xr.DataArray], entry: ProductEntry, provenance: dict
) -> xr.Dataset:
    variable = derived[entry.id]
    if entry.undefined_where:  # missing by definition in places (the catalog says where)
        variable = variable.assign_attrs(weatherdata_undefined_where=entry.undefined_where)
    data = variable.to_dataset()
    # (each xarray step copies the dataset's indexes: taken only where there is work)
    foreign = [c for c in data.coords if c not in variable.coords]
    if foreign:
        data = data.drop_vars(foreign)
    # Coordinates are small: load lazy ones (e.g. a forecast's reference time per
    # observation time) so each becomes one chunk, read in one request.
    lazy = {
        name: coordinate.compute()
        for name, coordinate in data.coords.items()
        if coordinate.chunks is not None
    }
    if lazy:
        data = data.assign_coords(lazy)
    data.attrs = {
        "Conventions": "CF-1.10",
        "title": f"{entry.name.en} ({entry.name.zh})",
        "summary": entry.description,
        "institution": "weatherdata",
        "source": "weatherdata derive",
        "weatherdata_product": entry.id,
        "weatherdata_family": entry.family,
        "weatherdata_version": __version__,
        "weatherdata_catalog_entry_sha256": entry.entry_hash(),
        **provenance,
    }
    return data


def _derive_for_publication(
    observations,
    products,
    forecast,
    parameters,
    catalog,
    since,
    until,
    input_files,
    skipped,
    skip_missing,
    published=None,
    must_read_back=(),
    carried=None,
):
    """The products to write (each on its own axes, cut to the time range), provenance,
    and ``{product: (time dimension, first time)}`` of each derivation before the cut;
    ``skipped`` is filled with the products the inputs do not allow and why."""
    derived = derive_arrays(
        observations,
        products,
        forecast=forecast,
        parameters=parameters,
        catalog=catalog,
        skip_missing=skip_missing,
        # Too short a record is not an error in an hourly run: the product waits for
        # its first complete day (or window) and the summary says so.
        skip_insufficient=True,
        skipped=skipped,
        published=published,
        must_read_back=must_read_back,
        carried=carried,
    )
    now = dt.datetime.now(dt.UTC)
    provenance = {
        "date_created": now.isoformat(timespec="seconds"),
        "weatherdata_inputs": json.dumps(file_checksums(input_files)) if input_files else "[]",
        "history": f"{now:%Y-%m-%dT%H:%M:%SZ} weatherdata {__version__} publish",
    }
    _check_time_range(observations, forecast, since, until)
    first_labels = {
        name: (dim, variable[dim].values.min())
        for name, variable in derived.items()
        if (dim := _time_dimension(variable)) and variable.sizes[dim]
    }
    return _select_time(derived, since, until), provenance, first_labels


def _check_time_range(observations, forecast, since, until) -> None:
    """A ``since`` after the inputs' last time (or an ``until`` before their first) would
    publish nothing new: say so instead of rewriting every store unchanged."""
    times = [
        np.asarray(dataset[name].values).ravel()
        for dataset, name in ((observations, "time"), (forecast, "valid_time"))
        if dataset is not None and name in dataset.coords and dataset[name].size
    ]
    if not times:
        return
    first, last = min(t.min() for t in times), max(t.max() for t in times)
    if since is not None and np.datetime64(since) > last:
        raise PublishError(
            f"--since {_iso(since)} is after the inputs' last time {_iso(last)}: nothing to publish"
        )
    if until is not None and np.datetime64(until) < first:
        raise PublishError(
            f"--until {_iso(until)} is before the inputs' first time {_iso(first)}: nothing to publish"
        )


def _chunk_like_encoding(data: xr.Dataset, entry: ProductEntry, encoding: dict) -> xr.Dataset:
    """Dask chunks of the product equal to its Zarr chunks; coordinates stay in memory,
    labels as variable-length strings (also when merged with a store's older labels)."""
    variable = data[entry.id]
    chunks = tuple(encoding[entry.id]["chunks"])
    if isinstance(variable.data, dask.array.Array):
        # Its values replaced in a shallow copy: assigning the variable would merge the
        # dataset with it (~1 ms a store, 0.3 s of the catalog's planning).
        values = {name: array.data for name, array in data.data_vars.items()}
        values[entry.id] = variable.data.rechunk(chunks)
        data = data.copy(data=values)
    else:
        data[entry.id] = variable.chunk(dict(zip(variable.dims, chunks, strict=True)))
    computed = {name: c.compute() for name, c in data.coords.items() if c.chunks is not None}
    if computed:
        data = data.assign_coords(computed)
    labels = _variable_length_labels(data)
    return data.assign_coords(labels) if labels else data


def _plan_store(
    root: Path, entry: ProductEntry, new: xr.Dataset, completeness=None, cache: dict | None = None
):
    """Decide how the new version is built: ``create``, ``append`` or ``replace``; or
    ``keep`` the store as it is, when what it holds is more complete than ``new``
    (:func:`_without_incomplete`), with the reason as the data. Returns ``(action,
    target, data, time dimension, stored times)`` (None where nothing is stored).
    ``cache``: a dict kept for one publish (stores share their time axes)."""
    link = store_path(root, entry)
    version_id = f"v{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"
    target = _versions_directory(root, entry) / version_id
    time_dim = _time_dimension(new[entry.id])
    if not link.exists():
        return "create", target, new, time_dim, None
    old_times = _stored_times(link, time_dim, cache) if time_dim else None
    if old_times is None:
        return "replace", target, new, time_dim, None
    new, reason = _without_incomplete(new, time_dim, old_times, completeness)
    if reason:
        return "keep", target, reason, time_dim, old_times
    new_times = new[time_dim].values
    if old_times.size and new_times.size and new_times.min() > old_times.max():
        return "append", target, new, time_dim, old_times
    current = xr.open_zarr(link, consolidated=True, zarr_format=3, chunks={})
    keep = current.drop_sel({time_dim: np.intersect1d(old_times, new_times)})
    keep = keep[[entry.id]]
    merged = xr.concat(
        [keep, new],
        dim=time_dim,
        data_vars="all",
        coords="minimal",
        compat="override",
        join="outer",
    )
    merged = merged.sortby(time_dim)
    merged.attrs = new.attrs
    merged[entry.id].attrs = new[entry.id].attrs
    return "replace", target, merged, time_dim, old_times


def _requested_ids(catalog: Catalog, products) -> list[str]:
    """The product ids asked for (default: every published product of the catalog)."""
    if products is not None:
        return list(products)
    return [pid for pid, entry in catalog.products.items() if entry.family != "intermediate"]


def _split_where_lookbacks_start(
    observations: xr.Dataset | None, catalog: Catalog, products, parameters, since
) -> xr.Dataset | None:
    """``observations`` whose time chunks also end where a requested product's inputs
    start for a publish from ``since`` (:meth:`Lookback.inputs_start`, a step and
    :data:`WINDOW_MARGIN` earlier too), so that computing a product from ``since`` leaves
    out the chunks before its look-back instead of computing the whole record.

    Inputs are read in chunks of ~64 MiB, which hold many days of a small grid: an hourly
    run with ``since`` = the new hour computed every product over all of them (0.2° demo,
    5 days: 28 s for one hour, 20 s after). Chunks only decide what is computed, never a
    value: stores are bit-identical either way.
    """
    if observations is None or "time" not in observations.dims or observations.sizes["time"] < 2:
        return observations
    times = observations["time"].values
    step = pd.Timedelta(np.diff(times).min())
    starts: set[pd.Timestamp] = set()
    for pid in _requested_ids(catalog, products):
        if pid not in catalog.products:
            continue
        start = catalog.lookback(pid, parameters).inputs_start(since)
        if start is not None:
            starts |= {start, start - step, start - WINDOW_MARGIN}
    positions = set(np.searchsorted(times, np.array(sorted(starts), dtype=times.dtype)).tolist())
    out = observations.copy()
    for name, variable in observations.data_vars.items():
        if "time" not in variable.dims or variable.chunks is None:
            continue
        sizes = variable.chunksizes["time"]
        edges = sorted((set(np.cumsum(sizes).tolist()) | positions) & set(range(1, len(times) + 1)))
        split = tuple(np.diff([0, *edges]).tolist())
        if split != tuple(sizes):
            out[name] = variable.chunk(time=split)
    return out


def _carried_series(catalog: Catalog, products, open_store) -> dict[str, xr.DataArray]:
    """The published series that hold the state of the recursions ``products`` are built
    from (the catalog's ``time.carry``), ``{product_id: DataArray}`` (lazy), for those
    ``open_store(entry)`` finds (it returns the opened store or None)."""
    ids = _requested_ids(catalog, products)
    wanted = {
        source
        for pid in catalog.closure([pid for pid in ids if pid in catalog])
        for source in catalog[pid].time.carry.values()
    }
    out = {}
    for pid in sorted(wanted):
        store = open_store(catalog[pid])
        if store is not None:
            out[pid] = store[pid]
    return out


def _open_local_store(root: Path):
    def open_store(entry: ProductEntry) -> xr.Dataset | None:
        link = store_path(root, entry)
        if not link.exists():
            return None
        # the version itself, not the link a concurrent publisher may swap
        return xr.open_zarr(os.path.realpath(link), consolidated=True, zarr_format=3, chunks={})

    return open_store


@dataclass(frozen=True)
class _Completeness:
    """Which of a product's times a publish derives from inputs that reach as far back as
    they need (its look-back): where the inputs start later than a store's times did,
    those stored times must not be replaced by values derived without their look-back
    (a 72 h total from 24 h of rain, a fire-weather code restarted from its start-up
    value)."""

    #: Times before this lack part of their look-back (None: every time is complete).
    complete_from: np.datetime64 | None = None
    #: A recursion over the record (``lookback: record``): the first time this derivation
    #: starts from; a store holding earlier times was started on an earlier record.
    record_from: np.datetime64 | None = None


def _label_reach(lookback: Lookback, inputs_first: pd.Timestamp, time_dim: str) -> pd.Timestamp:
    """The first time label whose look-back, plus :data:`WINDOW_MARGIN` as the windows
    add it, inputs starting at ``inputs_first`` cover. The inverse of
    :meth:`Lookback.inputs_start`: a time ``t`` is covered when ``inputs_start(t) - margin``
    is not before ``inputs_first``; a day label (written by runs up to a day after it,
    see :func:`_select_time`) as the time a day later."""
    start = inputs_first + WINDOW_MARGIN
    for alias in lookback.periods:  # the first period that starts after the inputs do
        start = pd.tseries.frequencies.to_offset(alias).rollforward(start.ceil("D"))
    start = start + lookback.duration
    return start - pd.Timedelta(days=1) if time_dim == "day" else start


def _completeness(
    catalog: Catalog, ids, parameters, published, observations, forecast, first_labels, carried=()
) -> dict[str, _Completeness]:
    """:class:`_Completeness` of each product in ``ids``, for inputs ``observations`` and
    ``forecast`` (what a product reads of them is from the catalog). A product whose
    recursions over the record all continue the published record (``carried`` holds the
    stores of their ``time.carry``) is complete as far as the record goes."""
    starts = {}
    if observations is not None and "time" in observations.dims and observations.sizes["time"]:
        starts["dataset"] = pd.Timestamp(observations["time"].values.min())
    if forecast is not None and "init_time" in forecast.dims and forecast.sizes["init_time"]:
        starts["forecast"] = pd.Timestamp(forecast["init_time"].values.min())
    published = frozenset(published or ())
    out = {}
    for pid in ids:
        if pid not in first_labels:
            continue
        lookback = catalog.lookback(pid, parameters, published)
        time_dim, first = first_labels[pid]
        if lookback.record:
            recursions = [
                catalog[name]
                for name in catalog.closure([pid])
                if name not in published and catalog[name].time.lookback == "record"
            ]
            continued = all(
                entry.time.carry and set(entry.time.carry.values()) <= set(carried)
                for entry in recursions
            )
            if not continued:
                out[pid] = _Completeness(record_from=first)
                continue
            lookback = Lookback(lookback.duration, lookback.periods)
        closure = [catalog[name] for name in catalog.closure([pid]) if name not in published]
        # A value at a time from inputs at that time only (no look-back, no previous
        # frame): complete wherever it is derived, so new inputs replace it.
        if lookback == Lookback() and not any(e.time.kind == "nowcast" for e in closure):
            continue
        sources = {
            catalog.split_reference(reference)[0]
            for entry in closure
            for reference in entry.inputs.values()
        }
        reached = [starts[source] for source in sources if source in starts]
        if not reached:
            continue
        out[pid] = _Completeness(
            complete_from=np.datetime64(_label_reach(lookback, max(reached), time_dim), "ns")
        )
    return out


#: How a reason in ``PublishSummary.skipped`` starts when the store was left as it is
#: because it is more complete than what the inputs derive (not for want of inputs).
KEPT_AS_PUBLISHED = "kept as published"


def _without_incomplete(new: xr.Dataset, time_dim: str, old_times, completeness):
    """``new`` without the times a store holds (``old_times``) that ``new`` derived without
    their whole look-back (:class:`_Completeness`): those stay as published. Returns
    ``(new, None)``, or ``(None, reason)`` when nothing of ``new`` may be written."""
    if completeness is None or not old_times.size:
        return new, None
    if completeness.record_from is not None:
        if old_times.min() < completeness.record_from:
            return None, (
                f"its store starts at {_iso(old_times.min())}, these inputs at "
                f"{_iso(completeness.record_from)}: the recursion would restart there "
                "(publish inputs from the store's first time)"
            )
        return new, None
    new_times = new[time_dim].values
    stale = new_times[(new_times < completeness.complete_from) & np.isin(new_times, old_times)]
    if stale.size == new_times.size:
        return None, (
            f"{KEPT_AS_PUBLISHED}: these inputs do not reach the look-back of the times they "
            "would rewrite"
        )
    return (new.drop_sel({time_dim: stale}) if stale.size else new), None


def _contiguous(values) -> np.ndarray:
    """``values`` as a C-contiguous array of the same shape (``np.ascontiguousarray`` makes
    a 0-d array, such as a grid mapping's ``crs``, 1-d: its chunk then failed to encode)."""
    values = np.asarray(values)
    return values if values.flags.c_contiguous else values.copy(order="C")


def _decoded_times(name: str, values: np.ndarray, attributes, cache: dict | None = None):
    """Stored (CF-encoded) times decoded as ``xr.open_zarr`` decodes them.

    ``cache``: a dict kept for one publish. xarray's CF decoding costs ~1.5 ms, and the
    stores of an hourly run hold a few time axes between them (299 decodings, ~0.4 s)."""
    attributes = {k: v for k, v in attributes.items() if k in ("units", "calendar")}
    key = None
    if cache is not None and all(isinstance(v, str) for v in attributes.values()):
        values = _contiguous(values)
        described = tuple(sorted(attributes.items()))
        key = ("CF decoding", name, values.dtype.str, values.shape, values.tobytes(), described)
        if key in cache:
            return cache[key].copy()
    decoded = xr.decode_cf(xr.Dataset({name: (name, values, attributes)}))[name].values
    if key is not None:
        cache[key] = decoded.copy()
    return decoded


def _stored_times(store: Path, name: str, cache: dict | None = None) -> np.ndarray | None:
    """The time coordinate ``name`` of a local store (None if it has none), read without
    xarray: an hourly run decides append or replace for every product, and opening each
    store with xarray to read one coordinate cost ~15 ms a store; through zarr, ~2 ms
    (opening the group builds every member's metadata). A time axis stored as this
    package stores it (one chunk, little-endian bytes, Zstandard) is read as its
    ``zarr.json`` and one file; any other layout through zarr."""
    stored = _read_time_chunk(Path(store, name))
    if stored is None:
        group = zarr.open_group(store=str(store), mode="r", zarr_format=3, use_consolidated=True)
        if name not in group:
            return None
        array = group[name]
        stored = array[...], array.attrs
    return _decoded_times(name, *stored, cache)


def _read_time_chunk(array_path: Path) -> tuple[np.ndarray, dict] | None:
    """The values and attributes of a 1-D Zarr v3 array of one chunk whose codecs are
    ``bytes`` (little-endian) then ``zstd``; None for any other array (or none)."""
    try:
        metadata = json.loads((array_path / "zarr.json").read_text())
        (size,) = metadata["shape"]
        dtype = np.dtype(metadata["data_type"]).newbyteorder("<")
        grid, keys = metadata["chunk_grid"], metadata["chunk_key_encoding"]
        (chunk,) = grid["configuration"]["chunk_shape"]
        codecs = metadata["codecs"]
        simple = (
            metadata.get("node_type") == "array"
            and grid["name"] == "regular"
            and keys["name"] == "default"
            and dtype.kind in "iuf"
            and 0 < size <= chunk
            and [codec["name"] for codec in codecs] == ["bytes", "zstd"]
            and codecs[0].get("configuration", {}).get("endian", "little") == "little"
            and not metadata.get("storage_transformers")
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not simple:
        return None
    separator = keys.get("configuration", {}).get("separator", "/")
    try:
        encoded = (array_path / f"c{separator}0").read_bytes()
    except FileNotFoundError:  # never written (all fill values): zarr knows
        return None
    from numcodecs import Zstd

    values = np.frombuffer(Zstd().decode(encoded), dtype=dtype)[:size]
    return values, metadata.get("attributes", {})


def _select_time(derived: dict[str, xr.DataArray], since, until) -> dict[str, xr.DataArray]:
    if since is None and until is None:
        return derived
    window = slice(
        np.datetime64(since) if since is not None else None,
        np.datetime64(until) if until is not None else None,
    )
    # A day is labelled by its start and complete one day later: an hourly run with
    # ``since`` = the new hour must still write the day that this hour completes. A
    # period (a year, a season, a month) likewise: the one in progress at that day.
    days = slice(window.start - np.timedelta64(1, "D") if since is not None else None, window.stop)
    out = {}
    for name, variable in derived.items():
        selection = {}
        for dim in TIME_DIMENSIONS:
            if dim not in variable.dims:
                continue
            selection[dim] = window
            if dim == "day":
                selection[dim] = days
            elif dim == "period" and days.start is not None:
                labels = variable[dim].values
                started = labels[labels <= days.start]
                first = started.max() if started.size else days.start
                selection[dim] = slice(first, window.stop)
        out[name] = variable.sel(selection)
    return out


class _TaskProgress(dask.callbacks.Callback):
    """Report finished dask tasks to a progress callback."""

    def __init__(self, report):
        super().__init__()
        self.report = report
        self.total = 0
        self.done = 0

    def _start_state(self, dsk, state):
        self.total = (
            len(state["ready"])
            + len(state["waiting"])
            + len(state["running"])
            + len(state["finished"])
        )
        self.report("compute", 0, self.total)

    def _posttask(self, key, result, dsk, state, worker_id):
        self.done += 1
        if self.done % 25 == 0 or self.done == self.total:
            self.report("compute", self.done, self.total)


def _aligned_to_store(variable: xr.DataArray, array_path: Path, append_dim: str) -> xr.DataArray:
    """Dask chunks of values to append that meet the stored array's Zarr chunks: the first
    fills the last, partly written chunk, the rest are whole chunks. Two tasks never write
    one Zarr chunk (the writes take no lock)."""
    chunks = {}
    for dim, size, chunk in zip(*_stored_grid(array_path), strict=True):
        if dim != append_dim:
            chunks[dim] = chunk
            continue
        length = variable.sizes[dim]
        first = min(length, chunk - size % chunk)
        rest = length - first
        chunks[dim] = (
            first,
            *([chunk] * (rest // chunk)),
            *([rest % chunk] if rest % chunk else []),
        )
    return variable.chunk(chunks)


def _stored_grid(array_path: Path) -> tuple[list[str], list[int], list[int]]:
    """A local Zarr v3 array's dimension names, shape and chunk shape, from its
    ``zarr.json`` (a JSON read, ~20 times faster than opening the array with zarr); zarr
    reads arrays whose chunk grid is not the regular one."""
    metadata = json.loads((array_path / "zarr.json").read_text())
    grid = metadata.get("chunk_grid", {})
    if grid.get("name") == "regular" and metadata.get("dimension_names"):
        chunk_shape = grid["configuration"]["chunk_shape"]
        return metadata["dimension_names"], metadata["shape"], chunk_shape
    stored = zarr.open_array(store=str(array_path.parent), path=array_path.name, mode="r")
    return stored.metadata.dimension_names, stored.shape, stored.chunks


def _extend_store(data: xr.Dataset, target: Path, append_dim: str) -> list[tuple]:
    """Extend the store at ``target`` along ``append_dim`` now (its arrays' metadata) and
    return the lazy writes of ``data``, as :func:`_lay_out_store` does for a new store:
    xarray's append path, for stores :func:`_extend_in_place` leaves to it."""
    from xarray.backends.common import ArrayWriter
    from xarray.backends.writers import dump_to_store, get_writable_zarr_store

    store = get_writable_zarr_store(
        str(target), consolidated=False, zarr_format=3, mode="a", append_dim=append_dim
    )
    writer = ArrayWriter()
    dump_to_store(data, store, writer)
    return list(zip(writer.sources, writer.targets, writer.regions, strict=True))


def _encoded_for_zarr(variable: xr.Variable, name: str) -> tuple[xr.Variable, dict]:
    """``variable`` CF-encoded for a Zarr v3 array as xarray's writer encodes it (its
    ``encoding`` applied: dtype, ``_FillValue``, time units), and the array's attributes
    as they are stored (``_FillValue`` in the array's dtype): what
    ``ZarrStore.set_variables`` does, for a new store's layout and an append alike."""
    from xarray.backends.zarr import FillValueCoder, encode_zarr_variable

    variable = encode_zarr_variable(variable, name=name, zarr_format=3)
    attrs = variable.attrs.copy()
    if attrs.get("_FillValue") is not None:
        attrs["_FillValue"] = FillValueCoder.encode(attrs["_FillValue"], variable.dtype)
    else:
        attrs.pop("_FillValue", None)
    return variable, _stored_attributes(attrs)


def _encoded_times_for_zarr(
    variable: xr.Variable, name: str, cache: dict | None
) -> tuple[xr.Variable, dict]:
    """:func:`_encoded_for_zarr`, kept in ``cache`` (a dict for one publish) for in-memory
    times and time spans: xarray's CF encoding of a datetime coordinate costs ~1 ms (a
    12-store publish encoded the same three time axes 14 times: ~14 ms of ~300). The key
    is everything the encoding reads: name, dimensions, values, encoding and attributes;
    each use gets its own copy (the layout pops the encoding's fill value)."""
    values = variable.data
    if cache is None or not isinstance(values, np.ndarray) or values.dtype.kind not in "mM":
        return _encoded_for_zarr(variable, name)
    described = []
    for mapping in (variable.encoding, variable.attrs):
        items = []
        for key, value in mapping.items():
            if not _plain(value):
                return _encoded_for_zarr(variable, name)  # not a key to trust: encode it
            items.append((key, type(value).__name__, repr(value)))
        described.append(tuple(sorted(items)))
    values = _contiguous(values)
    key = (
        "CF encoding",
        name,
        variable.dims,
        values.dtype.str,
        values.shape,
        values.tobytes(),
        *described,
    )
    if key not in cache:
        cache[key] = _encoded_for_zarr(variable, name)
    encoded, attrs = cache[key]
    return encoded.copy(deep=False), dict(attrs)


def _plain(value) -> bool:
    """Whether ``repr(value)`` is all of ``value`` (a number, text, data type, or a short
    tuple or list of them): a NumPy array's is shortened, an object's may be its id."""
    if isinstance(value, tuple | list):
        return len(value) <= 32 and all(_plain(item) for item in value)
    return isinstance(value, str | int | float | bool | np.generic | np.dtype | type(None))


def _stored_attributes(attributes) -> dict:
    """Attributes as zarr stores them (xarray's ``encode_zarr_attr_value``: JSON-ready)."""
    from xarray.backends.zarr import encode_zarr_attr_value

    return {key: encode_zarr_attr_value(value) for key, value in attributes.items()}


def _extend_in_place(
    data: xr.Dataset, target: Path, append_dim: str, encoding: dict, cache: dict | None = None
) -> list[tuple] | None:
    """:func:`_extend_store` in one zarr call: each stored array along ``append_dim``
    resized, the new in-memory values (times) written, the group's attributes replaced and
    its metadata consolidated, and the lazy writes of ``data`` returned. ``encoding`` is
    :func:`_encoding`'s: the new values are encoded as a new store's are, so only where
    every array is stored as that encoding lays it out (dimensions, dtype, CF attributes,
    fill value) — else None, and xarray's append path (which reads the stored encoding
    back) does it. ``cache``: a dict kept for one publish (shared time axes).

    xarray's path makes ~10 synchronous calls through zarr's event loop a store (opening
    the group, decoding the stored times, resizing each array, writing values): ~13 ms a
    store, ~2 s of an hourly run's 180 appends. A test appends every demo product both
    ways and compares the stores file by file.
    """
    return _extend_all_in_place([(data, target, append_dim, encoding)], cache)[0]


def _extend_all_in_place(jobs: list[tuple], cache: dict | None = None) -> list[list | None]:
    """:func:`_extend_in_place` of every ``(data, target, append_dim, encoding)``, in one
    call through zarr's event loop (an hourly run extends ~180 stores; the work is zarr's
    Python, so it takes as long as one call a store, less the hand-offs). The metadata is
    consolidated with the extension, before the data is written: the version is invisible
    until its link swaps, and its metadata does not depend on its chunks."""
    from zarr.core.sync import sync

    extensions = [_extension(*job, cache) for job in jobs]
    direct = [None if e is None else _extend_directly(*e) for e in extensions]
    through_zarr = [e for e, d in zip(extensions, direct, strict=True) if e and d is None]

    async def extend_all():
        return await asyncio.gather(*(_extend_async(*extension) for extension in through_zarr))

    with _quiet_consolidation():
        extended = iter(sync(extend_all()) if through_zarr else ())
    return [
        None if e is None else (d if d is not None else next(extended))
        for e, d in zip(extensions, direct, strict=True)
    ]


def _extension(data: xr.Dataset, target: Path, append_dim: str, encoding: dict, cache):
    """What :func:`_extend_async` writes: ``(target, append_dim, {name: (encoded variable,
    stored attributes)}, group attributes)``; None where a variable lacks ``append_dim``."""
    from xarray import conventions

    variables, attributes = conventions.encode_dataset_coordinates(data)
    expected = {}
    for name, variable in variables.items():
        if append_dim not in variable.dims:
            return None  # a variable without the time axis: xarray rewrites it
        variable = variable.copy(deep=False)
        variable.encoding = {
            k: v for k, v in encoding.get(name, {}).items() if k not in ("chunks", "compressors")
        }
        expected[name] = _encoded_times_for_zarr(variable, name, cache)
    return target, append_dim, expected, _stored_attributes(attributes)


def _extend_directly(
    target: Path, append_dim: str, expected: dict, group_attributes: dict
) -> list[tuple] | None:
    """:func:`_extend_async` as files, where the store is laid out as this package lays it
    out: the arrays' and the group's ``zarr.json`` (the group's consolidated metadata
    holding every array) rewritten with the new shapes and attributes, and each in-memory
    array (the new times) a 1-D array of one chunk, little-endian bytes then Zstandard,
    which the new values still fit. Else None before anything is written, and zarr does
    it. Through zarr, an extension costs ~4 ms a store (its metadata objects built, its
    files written one thread hand-off at a time); this writes the same bytes (a test
    compares the stores file by file with xarray's append) in a fraction of that. Files
    are replaced, never written in place: a version's chunks are hard links to the
    previous version's."""
    from xarray.namedarray.pycompat import is_chunked_array
    from zarr.core.metadata import ArrayV3Metadata

    try:
        group = json.loads((target / "zarr.json").read_text())
        members = group["consolidated_metadata"]["metadata"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if group.get("node_type") != "group" or not isinstance(members, dict):
        return None
    store = zarr.storage.LocalStore(str(target))
    documents, chunks, arrays, regions = {}, {}, {}, {}
    for name, (variable, attrs) in expected.items():
        member = members.get(name)
        if not isinstance(member, dict) or member.get("node_type") != "array":
            return None
        try:
            dtype = np.dtype(member["data_type"])
        except (TypeError, KeyError):
            return None
        if not _stored_as_expected(
            member.get("dimension_names"), dtype, member.get("attributes", {}), variable, attrs
        ):
            return None
        regions[name] = _appended_region(variable, append_dim, member["shape"])
        axis = variable.dims.index(append_dim)
        member["shape"][axis] += variable.shape[axis]
        documents[Path(target, name, "zarr.json")] = member
        arrays[name] = zarr.AsyncArray(
            ArrayV3Metadata.from_dict(copy.deepcopy(member)), zarr.storage.StorePath(store, name)
        )
        if not is_chunked_array(variable.data):  # the new times: their one chunk again
            stored = _read_time_chunk(Path(target, name))
            if stored is None or variable.ndim != 1 or not _ChunkEncoder.can_encode(arrays[name]):
                return None
            encoder = _ChunkEncoder(arrays[name])
            if encoder.shape[0] > encoder.chunk_shape[0]:
                return None
            encoded = encoder.encode((0,), np.concatenate([stored[0], variable.values]))
            if encoded is None:
                return None
            chunks[Path(target, name, encoder.key((0,)))] = encoded.to_bytes()
    group["attributes"] = group_attributes
    documents[target / "zarr.json"] = group
    indent = zarr.config.get("json_indent")
    texts = {
        path: json.dumps(doc, allow_nan=True, indent=indent) for path, doc in documents.items()
    }
    _rename_temporaries(_write_temporaries([*chunks.items(), *texts.items()]))
    return [
        (variable.data, zarr.Array(arrays[name]), regions[name])
        for name, (variable, _) in expected.items()
        if is_chunked_array(variable.data)
    ]


def _stored_as_expected(dimensions, dtype, attributes: dict, variable, attrs: dict) -> bool:
    """Whether a stored array (its dimension names, data type and attributes) holds
    ``variable`` as an extension encodes it (``attrs``: its stored attributes)."""
    return (
        tuple(dimensions or ()) == variable.dims
        and dtype == variable.dtype
        and all(attributes.get(k) == attrs[k] for k in _STORED_ENCODING if k in attrs)
        and not any(k in attributes for k in _STORED_ENCODING if k not in attrs)
    )


def _appended_region(variable, append_dim: str, stored_shape) -> tuple[slice, ...]:
    """The region of an extended array that ``variable`` fills: after the stored end."""
    start = stored_shape[variable.dims.index(append_dim)]
    return tuple(slice(start, None) if dim == append_dim else slice(None) for dim in variable.dims)


async def _extend_async(
    target: Path, append_dim: str, expected: dict, group_attributes: dict
) -> list[tuple] | None:
    """Extend one store (:func:`_extend_in_place`); None if it is not stored as expected."""
    import zarr.api.asynchronous
    from xarray.namedarray.pycompat import is_chunked_array

    store = zarr.storage.LocalStore(str(target))
    group = await zarr.api.asynchronous.open_group(store=store, mode="r+", zarr_format=3)
    arrays = {}
    for name, (variable, attrs) in expected.items():
        try:
            array = await group.getitem(name)
        except KeyError:
            return None
        if not isinstance(array, zarr.AsyncArray) or not _stored_as_expected(
            array.metadata.dimension_names, array.dtype, array.metadata.attributes, variable, attrs
        ):
            return None
        arrays[name] = array
    regions, shapes = {}, {}
    for name, array in arrays.items():
        variable = expected[name][0]
        regions[name] = _appended_region(variable, append_dim, array.shape)
        axis = variable.dims.index(append_dim)
        shapes[name] = list(array.shape)
        shapes[name][axis] += variable.shape[axis]
    await asyncio.gather(*(array.resize(tuple(shapes[name])) for name, array in arrays.items()))
    await _set_values(
        (array, regions[name], expected[name][0].values)
        for name, array in arrays.items()
        if not is_chunked_array(expected[name][0].data)
    )
    await _save_extended_group(store, group, group_attributes, arrays)
    return [
        (expected[name][0].data, zarr.Array(array), regions[name])
        for name, array in arrays.items()
        if is_chunked_array(expected[name][0].data)
    ]


async def _save_extended_group(store, group, attributes: dict, resized: dict) -> None:
    """The extended group's ``zarr.json``: the new version's attributes (replacing the old
    ones, as xarray puts them) and its consolidated metadata, which is the copy's with the
    resized arrays' new metadata: what ``zarr.consolidate_metadata`` writes after reading
    every member's metadata back (~5 ms a store, half of an extension). A group whose
    consolidated metadata is absent or holds groups is consolidated by zarr."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.group import ConsolidatedMetadata
    from zarr.core.metadata import ArrayV3Metadata

    consolidated = group.metadata.consolidated_metadata
    members = {} if consolidated is None else dict(consolidated.metadata)
    if not members or not all(isinstance(m, ArrayV3Metadata) for m in members.values()):
        group.metadata.attributes.clear()  # update_attributes merges into what it is given
        await group.update_attributes(attributes)
        await zarr.api.asynchronous.consolidate_metadata(store, zarr_format=3)
        return
    members.update({name: array.metadata for name, array in resized.items()})
    metadata = dataclasses.replace(
        group.metadata,
        attributes=attributes,
        consolidated_metadata=ConsolidatedMetadata(metadata=members),
    )
    for key, document in metadata.to_buffer_dict(default_buffer_prototype()).items():
        await store.set(key, document)


async def _set_values(assignments) -> None:
    """``array[region] = values`` for every ``(array, region, values)`` (zarr
    ``AsyncArray``s), concurrently: the in-memory values (coordinates, new times) of a
    new store's layout or of an append."""
    await asyncio.gather(*(array.setitem(region, values) for array, region, values in assignments))


#: Attributes that say how a stored array's values are encoded: an append encodes its
#: values as the store holds them, or leaves the append to xarray.
_STORED_ENCODING = ("units", "calendar", "_FillValue", "scale_factor", "add_offset", "dtype")


def _lay_out_store(
    data: xr.Dataset,
    location: str,
    encoding: dict,
    storage_options: dict | None = None,
    chunk_cache: dict | None = None,
) -> tuple[list[tuple], dict]:
    """A new store for ``data`` at ``location``, laid out in memory: its lazy writes
    ``[(source, array, region)]`` (the encoded Dask data and the arrays at ``location``
    it goes to, for the one ``dask.array.store`` of the publish) and its documents
    ``{key: zarr Buffer}`` — the in-memory coordinates' chunks and every ``zarr.json``,
    the root's with the consolidated metadata — that :func:`_write_documents` writes
    after the data (the index describes the store from ``data``: :func:`_describe_dataset`).

    Why not ``to_zarr(compute=False)``: it wraps each store's writes in a Delayed, which
    materializes and optimizes that store's whole upstream graph, so the shared inputs
    and intermediates were optimized again for every product (0.1 s per store: 26 s of
    the 0.5° demo's 52 s of store planning). Why in memory: written in place, every
    array's metadata went to disk twice (created, then its attributes) and was read back
    to consolidate it, ~20 ms a store of a publish's fixed cost (0.2° demo: 243 stores,
    ~5 s); in memory the store's files are written once.
    How: :func:`_lay_out_in_memory`, or for labels (variable-length strings) xarray's
    own writer, :func:`_lay_out_with_xarray`. ``chunk_cache``: the coordinates' encoded
    chunks, shared by the stores of one publish (:func:`_lay_out_in_memory`).
    """
    if any(variable.dtype.kind in "OSUT" for variable in data.variables.values()):
        arrays, documents = _lay_out_with_xarray(data, encoding)
    else:
        arrays, documents = _lay_out_in_memory(data, encoding, chunk_cache)
    remote = is_remote(location)
    if remote:
        destination = zarr.storage.FsspecStore.from_url(
            location, storage_options=storage_options, read_only=False
        )
    else:
        destination = zarr.storage.LocalStore(location)
    writes = []
    for source, array, region in arrays:
        target = zarr.Array(
            zarr.AsyncArray(
                array.metadata, zarr.storage.StorePath(destination, array.path), array.config
            )
        )
        if not remote and _ChunkFiles.can_write(target):
            target = _ChunkFiles(target, Path(location, array.path))
        writes.append((source, target, region))
    return writes, documents


class _ChunkEncoder:
    """An array's chunks encoded by its own zarr codecs, synchronously: what
    ``BatchedCodecPipeline.write_batch`` does for a region that is one whole chunk (or
    the array's edge of one), without the round trip through zarr's event loop (its
    thread, a task per codec). ``array``: a zarr ``Array`` or ``AsyncArray``.

    As zarr encodes a chunk: the values in the array's data type; an edge chunk filled
    out to the chunk's shape with the fill value; a chunk all fill value (NaN included)
    not stored (zarr's default ``write_empty_chunks=False``); the codecs in order (array
    to array, array to bytes, bytes to bytes), each given the chunk's specification as
    the codecs before it left it. Tests write every demo product both ways and compare
    the bytes.
    """

    def __init__(self, array):
        from zarr.core.buffer import default_buffer_prototype

        array = getattr(array, "_async_array", array)
        self.shape = array.shape
        self.metadata = array.metadata
        self._config = array.config
        self._pipeline = array.codec_pipeline
        self._prototype = default_buffer_prototype()
        self.chunk_shape = self.metadata.chunk_grid.chunk_shape

    @staticmethod
    def can_encode(array) -> bool:
        """Whether ``array``'s chunks can be encoded here: Zarr v3 on a regular chunk
        grid, every codec with zarr's synchronous encoding, no sharding. False where a
        zarr release no longer has the internals this uses: zarr writes."""
        try:
            from zarr.abc.codec import SupportsSyncCodec
            from zarr.core.chunk_grids import RegularChunkGrid
            from zarr.core.codec_pipeline import BatchedCodecPipeline

            pipeline = getattr(array, "_async_array", array).codec_pipeline
        except (ImportError, AttributeError):
            return False
        return (
            array.metadata.zarr_format == 3
            and isinstance(array.metadata.chunk_grid, RegularChunkGrid)
            and isinstance(pipeline, BatchedCodecPipeline)
            and not pipeline.supports_partial_encode
            and all(
                isinstance(codec, SupportsSyncCodec)
                for codec in (
                    *pipeline.array_array_codecs,
                    pipeline.array_bytes_codec,
                    *pipeline.bytes_bytes_codecs,
                )
            )
        )

    def chunk_at(self, region) -> tuple[int, ...] | None:
        """The coordinates of the chunk ``region`` covers whole (up to the array's edge)."""
        if not isinstance(region, tuple) or len(region) != len(self.shape):
            return None
        coordinates = []
        for part, size, chunk in zip(region, self.shape, self.chunk_shape, strict=True):
            if not isinstance(part, slice):
                return None
            start, stop, step = part.indices(size)
            if step != 1 or start % chunk or stop != min(start + chunk, size):
                return None
            coordinates.append(start // chunk)
        return tuple(coordinates)

    def chunks(self):
        """Every chunk of the array: ``(coordinates, region)``."""
        counts = [
            -(-size // chunk) for size, chunk in zip(self.shape, self.chunk_shape, strict=True)
        ]
        for coordinates in np.ndindex(*counts):
            yield (
                coordinates,
                tuple(
                    slice(index * chunk, min((index + 1) * chunk, size))
                    for index, chunk, size in zip(
                        coordinates, self.chunk_shape, self.shape, strict=True
                    )
                ),
            )

    def encode(self, coordinates: tuple[int, ...], values):
        """The stored bytes (a zarr ``Buffer``) of the chunk at ``coordinates`` holding
        ``values``, or None where zarr stores nothing."""
        native = self.metadata.data_type.to_native_dtype()
        values = np.asarray(values)
        if values.dtype.name != native.name:
            values = values.astype(native, order="A")
        spec = self.metadata.get_chunk_spec(coordinates, self._config, self._prototype)
        if values.shape != spec.shape:  # the array's edge: the rest of the chunk is fill
            chunk = self._prototype.nd_buffer.create(
                shape=spec.shape, dtype=native, order=spec.order, fill_value=spec.fill_value
            )
            chunk[tuple(slice(0, n) for n in values.shape)] = values
        else:
            chunk = self._prototype.nd_buffer.from_ndarray_like(values)
        if not spec.config.write_empty_chunks and chunk.all_equal(spec.fill_value):
            return None  # zarr leaves such a chunk out: a reader gets the fill value
        pipeline = self._pipeline
        for codec in pipeline.array_array_codecs:
            chunk = codec._encode_sync(chunk, spec)
            spec = codec.resolve_metadata(spec)
        encoded = pipeline.array_bytes_codec._encode_sync(chunk, spec)
        spec = pipeline.array_bytes_codec.resolve_metadata(spec)
        for codec in pipeline.bytes_bytes_codecs:
            if encoded is None:  # as zarr: a codec may leave nothing to store
                return None
            encoded = codec._encode_sync(encoded, spec)
            spec = codec.resolve_metadata(spec)
        return encoded

    def key(self, coordinates: tuple[int, ...]) -> str:
        return self.metadata.encode_chunk_key(coordinates)


class _ChunkFiles:
    """The data chunks of an array of a new local store, each encoded by
    :class:`_ChunkEncoder` and written as its file at the metadata's chunk key: what
    ``zarr.Array.__setitem__`` does for a region that is one whole chunk (or the array's
    edge of one), ~0.4 ms a 0.37 MB chunk against ~1.8 ms (zarr's event loop, a task per
    codec, a temporary file and a rename per chunk). A new store's version directory is
    the publish's own until its link is swapped, so a file is written in place rather
    than renamed over (appends, whose stores share files with the previous version by
    hard links, write through zarr). Any other region goes to the zarr array.
    """

    def __init__(self, array: zarr.Array, directory: Path):
        self.array = array
        self.directory = directory
        self.shape = array.shape
        self.dtype = array.dtype
        self._encoder = _ChunkEncoder(array)

    def __reduce__(self):  # for Dask's distributed workers: rebuilt from the array
        return _ChunkFiles, (self.array, self.directory)

    def __dask_tokenize__(self):
        """Its directory (a new version's: one array there per publish), rather than
        Dask pickling the array to name each store's writes (~0.3 ms a store)."""
        return type(self).__name__, str(self.directory)

    can_write = staticmethod(_ChunkEncoder.can_encode)

    def __setitem__(self, region, values) -> None:
        coordinates = self._encoder.chunk_at(region)
        if coordinates is None:
            self.array[region] = values
            return
        encoded = self._encoder.encode(coordinates, values)
        if encoded is None:
            return
        path = self.directory / self._encoder.key(coordinates)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as file:
            file.write(encoded.as_buffer_like())


def _consolidate_quietly(store) -> None:
    with _quiet_consolidation():
        zarr.consolidate_metadata(store, zarr_format=3)


@contextlib.contextmanager
def _quiet_consolidation():
    """zarr-python notes that consolidated metadata is its own v3 extension; we publish
    it deliberately (one request per store). ``warnings.catch_warnings`` is not
    thread-safe: threads that consolidate run inside one such block, not each in its own."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        yield


def _lay_out_with_xarray(data: xr.Dataset, encoding: dict) -> tuple[list[tuple], dict]:
    """:func:`_lay_out_store` with the writer of ``Dataset.to_zarr`` (xarray's
    ``dump_to_store``) into a zarr ``MemoryStore``: ``([(source, array, region)],
    documents)``. Its lazy writes are returned rather than computed."""
    from xarray.backends.common import ArrayWriter
    from xarray.backends.writers import dump_to_store, get_writable_zarr_store

    documents: dict = {}
    memory = zarr.storage.MemoryStore(documents)
    store = get_writable_zarr_store(memory, consolidated=False, zarr_format=3, mode="w-")
    store._validate_encoding(encoding)
    writer = ArrayWriter()
    dump_to_store(data, store, writer, encoding=encoding)
    _consolidate_quietly(memory)
    return list(zip(writer.sources, writer.targets, writer.regions, strict=True)), documents


def _lay_out_in_memory(
    data: xr.Dataset, encoding: dict, chunk_cache: dict | None = None
) -> tuple[list[tuple], dict]:
    """:func:`_lay_out_with_xarray`'s store, made with xarray's encoding and zarr's metadata.

    xarray's writer creates each array, then sets its attributes, then writes each
    in-memory coordinate, every step a synchronous call through zarr's event loop:
    ~11 ms a store, the largest part of planning (a 243-product publish: ~3 s). Here the
    variables and attributes are encoded by the same xarray functions (CF times,
    ``_FillValue``, dtype, chunk checks), as ``ZarrStore.set_variables`` does for a new
    store; each array's metadata is made as zarr's ``create_array`` makes it, without a
    store (:func:`_array_metadata`); the in-memory coordinates' chunks are encoded in one
    zarr call; the documents are those chunks, the arrays' metadata and the group's with
    them consolidated: ~4 ms a store, against ~7 ms with the group, arrays and
    consolidation made through zarr's asynchronous API (its stores' reads, writes and
    checks). (The coordinates written with the data instead, as Dask arrays, cost the
    compute more than the layout saved: their files were no longer created by the
    finishing threads.) The stores of a publish mostly share their coordinates (one grid,
    a few time axes): with a ``chunk_cache`` (a dict kept for one publish) a coordinate's
    chunks are encoded once for every store with the same values, data type, chunks and
    codecs (encoding them was a third of a store's layout: ~1.6 ms of 4.6 ms). A test
    lays out every demo product both ways and compares the stores they write. Labels
    (variable-length strings) are left to xarray's writer, whose string handling this
    does not repeat.
    """
    from xarray import conventions
    from xarray.backends.chunks import validate_grid_chunks_alignment
    from xarray.backends.zarr import extract_zarr_variable_encoding
    from xarray.namedarray.pycompat import is_chunked_array

    variables, attributes = conventions.encode_dataset_coordinates(data)
    for name, variable_encoding in encoding.items():
        variables[name].encoding = variable_encoding
    specifications = []
    for name, variable in variables.items():
        variable, attrs = _encoded_times_for_zarr(variable, name, chunk_cache)
        fill_value = variable.encoding.pop("fill_value", None)
        if fill_value is None and variable.dtype.kind == "f":
            fill_value = np.nan  # xarray's default for floating point (not zarr's 0)
        if variable.encoding.get("_FillValue", None) is not None:
            raise ValueError(f"{name}: Zarr does not support _FillValue in encoding")
        variable.encoding.pop("_FillValue", None)
        options = extract_zarr_variable_encoding(
            variable, raise_on_invalid=name in encoding, name=name, zarr_format=3
        )
        region = (slice(None),) * variable.ndim
        if isinstance(options["chunks"], tuple):
            validate_grid_chunks_alignment(
                nd_v_chunks=variable.chunks,
                enc_chunks=options["chunks"],
                backend_shape=variable.shape,
                region=region,
                allow_partial_chunks=True,
                name=name,
            )
        options["config"] = {
            k: options.pop(k) for k in ("write_empty_chunks", "order") if k in options
        }
        options.pop("fill_value", None)
        options.update(
            name=name,
            shape=variable.shape,
            dtype=variable.dtype,
            fill_value=fill_value,
            dimension_names=variable.dims,
            attributes=attrs,
        )
        specifications.append((options, variable.data, region))
    from zarr.buffer import default_buffer_prototype
    from zarr.core.group import ConsolidatedMetadata, GroupMetadata  # as consolidation makes it

    documents: dict = {}
    memory = zarr.storage.MemoryStore(documents)
    writes, in_memory, metadata = [], [], {}
    for options, values, region in specifications:
        name = options["name"]
        metadata[name] = _array_metadata(options)
        array = zarr.AsyncArray(
            metadata[name], zarr.storage.StorePath(memory, name), options["config"]
        )
        if is_chunked_array(values):
            writes.append((values, array, region))
        else:
            in_memory.append((array, region, values))
    _encode_in_memory(in_memory, documents, chunk_cache)
    group = GroupMetadata(
        attributes=_stored_attributes(attributes),
        consolidated_metadata=ConsolidatedMetadata(metadata=metadata),
    )
    prototype = default_buffer_prototype()
    for name, array in metadata.items():
        documents[f"{name}/zarr.json"] = array.to_buffer_dict(prototype)["zarr.json"]
    documents["zarr.json"] = group.to_buffer_dict(prototype)["zarr.json"]
    return writes, documents


def _encode_in_memory(in_memory: list[tuple], documents: dict, chunk_cache: dict | None) -> None:
    """Write the chunks of the in-memory arrays ``[(array, region, values)]`` (zarr
    ``AsyncArray``s in the memory store over ``documents``), each whole array's encoded
    by :class:`_ChunkEncoder` (zarr's event loop cost ~0.5 ms a call and contended for
    the GIL) and any other in one zarr call, or copy them from ``chunk_cache`` where the
    same values were encoded the same way before.

    The key is everything a chunk's bytes depend on: the array's metadata but its name,
    attributes and dimension names (data type, shape, chunk grid and key encoding,
    codecs, fill value, which decides the chunks left out), the region and the values.
    """
    from zarr.core.sync import sync

    chunk_cache = {} if chunk_cache is None else chunk_cache  # one store: its own cache
    keys, missing = [], []
    for array, region, values in in_memory:
        described = array.metadata.to_dict()
        for own in ("attributes", "dimension_names"):
            described.pop(own, None)
        values = _contiguous(values)
        key = (
            json.dumps(described, sort_keys=True, default=str),
            repr(region),
            values.dtype.str,
            values.shape,
            values.tobytes(),
        )
        keys.append(key)
        if key not in chunk_cache:
            missing.append((array, region, values))
    through_zarr = []
    for array, region, values in missing:
        whole = region == (slice(None),) * values.ndim
        if not (whole and _ChunkEncoder.can_encode(array)):
            through_zarr.append((array, region, values))
            continue
        encoder = _ChunkEncoder(array)
        for coordinates, part in encoder.chunks():
            encoded = encoder.encode(coordinates, values[part])
            if encoded is not None:
                documents[f"{array.path}/{encoder.key(coordinates)}"] = encoded
    if through_zarr:
        sync(_set_values(through_zarr))
    for (array, _, _), key in zip(in_memory, keys, strict=True):
        prefix = f"{array.path}/"
        if key not in chunk_cache:
            chunk_cache[key] = {
                name[len(prefix) :]: value
                for name, value in documents.items()
                if name.startswith(prefix)
            }
        for suffix, value in chunk_cache[key].items():
            documents[prefix + suffix] = value


@functools.lru_cache(maxsize=64)
def _zarr_data_type(dtype: np.dtype):
    """zarr's data type of a NumPy dtype (zarr matches it against its whole registry of
    data types: ~0.15 ms a call, four calls a store)."""
    from zarr.dtype import parse_dtype

    return parse_dtype(dtype, zarr_format=3)


def _zarr_metadata_steps():
    """zarr's internal steps of ``init_array`` for Zarr v3, or None where a zarr release
    no longer has them."""
    try:
        from zarr.core.array import (
            AsyncArray,
            _parse_chunk_encoding_v3,
            _parse_chunk_key_encoding,
        )
        from zarr.core.chunk_grids import _auto_partition

        create_metadata = AsyncArray._create_metadata_v3
    except (ImportError, AttributeError):
        return None
    return _auto_partition, _parse_chunk_encoding_v3, _parse_chunk_key_encoding, create_metadata


def _array_metadata(options: dict):
    """The metadata ``zarr.create_array(**options)`` makes, made without a store: the steps
    of zarr's ``init_array`` for Zarr v3 (data type, chunks, codecs, chunk key encoding),
    ~0.1 ms an array. Those steps are zarr's internals (:func:`_zarr_metadata_steps`);
    where a zarr release no longer has them, or for a sharded array (whose codecs they
    would have to nest), the array is created in a throwaway memory store (~1 ms)."""
    steps = _zarr_metadata_steps() if options.get("shards") is None else None
    if steps is None:
        options = {key: value for key, value in options.items() if key != "config"}
        return zarr.create_array(zarr.storage.MemoryStore(), **options).metadata
    partition, codecs_of, chunk_key_encoding, create_metadata = steps
    data_type = _zarr_data_type(np.dtype(options["dtype"]))
    shape = tuple(options["shape"])
    _, chunks = partition(
        array_shape=shape,
        shard_shape=None,
        chunk_shape=options.get("chunks", "auto"),
        item_size=getattr(data_type, "item_size", 1),
    )
    array_array, array_bytes, bytes_bytes = codecs_of(
        compressors=options.get("compressors", "auto"),
        filters=options.get("filters", "auto"),
        serializer=options.get("serializer", "auto"),
        dtype=data_type,
    )
    return create_metadata(
        shape=shape,
        dtype=data_type,
        chunk_shape=chunks,
        fill_value=options["fill_value"],
        chunk_key_encoding=chunk_key_encoding(None, zarr_format=3),
        codecs=(*array_array, array_bytes, *bytes_bytes),
        dimension_names=options["dimension_names"],
        attributes=options["attributes"],
    )


def _document_order(key: str) -> tuple[int, str]:
    """Chunks first, then each array's ``zarr.json``, the root's (consolidated) last."""
    return (key == "zarr.json") + key.endswith("zarr.json"), key


def _write_documents(documents: dict, location, storage_options: dict | None = None) -> None:
    """Write :func:`_lay_out_store`'s documents to the store at ``location``, data first and
    metadata last (remote: one batch of concurrent requests per step)."""
    ordered = sorted(documents, key=_document_order)
    if is_remote(location):
        import fsspec

        fs, path = fsspec.core.url_to_fs(str(location), **(storage_options or {}))
        for step in (0, 1, 2):
            batch = {
                f"{path}/{key}": documents[key].to_bytes()
                for key in ordered
                if _document_order(key)[0] == step
            }
            if batch:
                _retry(lambda batch=batch: fs.pipe(batch), what=f"writing metadata of {location}")
        return
    for key in ordered:
        path = Path(location, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(documents[key].to_bytes())


#: Stores whose metadata files are written at once (:func:`_for_each_store`).
FILE_WRITERS = 8

#: Threads writing new versions' documents while the data is computed (:func:`publish`).
DOCUMENT_WRITERS = 2


def _for_each_store(function, items) -> None:
    """``function(item)`` for every item, ``FILE_WRITERS`` at a time; the first error is
    raised. Each store's metadata is a handful of small files, and creating a file costs
    ~0.5 ms on this kind of disk whatever its size: one store after another, writing the
    documents of 243 new stores took ~1 s; creations in flight at once overlap (~3× on
    this machine). ``.complete`` comes last in each store, after its data and documents."""
    items = list(items)
    if len(items) < 2:
        for item in items:
            function(item)
        return
    with concurrent.futures.ThreadPoolExecutor(min(FILE_WRITERS, len(items))) as pool:
        for _ in pool.map(function, items):
            pass


#: NumPy's warnings about reducing only missing values (``nanmax``, ``nanmean`` of an
#: all-NaN slice): a product is missing where its inputs are, by design. Dask silences
#: them in each chunk with ``warnings.catch_warnings``, which is not thread-safe before
#: Python 3.14 (CPython gh-128384): one thread restores the filters another had just
#: added, and a warning from xclim's run lengths (consecutive dry days) reached the
#: output of one publish in six (0.2° demo).
ALL_MISSING_WARNINGS = (
    "All-NaN slice encountered",
    "All-NaN axis encountered",
    "Mean of empty slice",
)


def _write_all(writes: list[tuple]) -> None:
    """Compute and write every product's lazy data, ``(source, array, region)`` from
    :func:`_lay_out_store`, as one graph (shared inputs and intermediates optimized once).

    :data:`ALL_MISSING_WARNINGS` are ignored meanwhile: set by this (the main) thread
    before the compute starts, the filter is in the list every worker thread's
    ``catch_warnings`` saves and restores, and it is removed after the last task."""
    if writes:
        sources, targets, regions = (list(column) for column in zip(*writes, strict=True))
        stored = dask.array.store(sources, targets, regions=regions, lock=False, compute=False)
        with _collecting_as_before(), warnings.catch_warnings():
            for message in ALL_MISSING_WARNINGS:
                warnings.filterwarnings("ignore", message, RuntimeWarning)
            dask.compute(stored)


#: The first generation's threshold of Python's cyclic garbage collector during a publish
#: (:func:`_collecting_less`); Python's default is 700.
COLLECTION_THRESHOLD = 10_000

_collecting = threading.Lock()
_collecting_depth = 0
_collecting_saved: tuple | None = None


@contextlib.contextmanager
def _collecting_less():
    """Run Python's cyclic garbage collector less often while a publish plans; as before after.

    Building the graphs of the whole catalog allocates millions of small objects (xarray
    variables, Dask tasks, metadata): with the default thresholds the collector ran ~1,400
    times in a 0.2° demo publish, three of them full collections over every object of the
    process (the imported libraries included), ~1.6 s in all, the other threads waiting
    on the GIL meanwhile. Here the first generation is collected every
    :data:`COLLECTION_THRESHOLD` allocations, and the objects that exist when the publish
    starts (modules, catalog, inputs) are set aside with :func:`gc.freeze` (unless
    something else froze objects already): ~85 collections, ~0.55 s. While the data is
    computed the usual thresholds apply (:func:`_collecting_as_before`). Garbage without
    cycles is freed as before (reference counting). Nested and concurrent publishes
    share one setting; the last to finish restores the thresholds and unfreezes.
    """
    global _collecting_depth, _collecting_saved
    with _collecting:
        if _collecting_depth == 0:
            freeze = gc.get_freeze_count() == 0
            _collecting_saved = (gc.get_threshold(), freeze)
            if freeze:
                gc.freeze()
            threshold = gc.get_threshold()
            gc.set_threshold(max(threshold[0], COLLECTION_THRESHOLD), *threshold[1:])
        _collecting_depth += 1
    try:
        yield
    finally:
        with _collecting:
            _collecting_depth -= 1
            if _collecting_depth == 0:
                threshold, froze = _collecting_saved
                gc.set_threshold(*threshold)
                if froze:
                    gc.unfreeze()


@contextlib.contextmanager
def _collecting_as_before():
    """Inside :func:`_collecting_less`, the collector's own thresholds again (the objects
    frozen at the start stay frozen), for the computation of the data: it makes few
    objects, but large arrays can be held in reference cycles (Dask's tasks and results),
    and memory must stay bounded there. (With the raised threshold through the compute,
    one 16-day demo publish peaked 9 % higher; repeated runs vary by ±5 %, so this is
    caution, not a measured need.)"""
    with _collecting:
        if _collecting_depth == 0:
            raised = None
        else:
            raised = gc.get_threshold()
            gc.set_threshold(*_collecting_saved[0])
    try:
        yield
    finally:
        if raised is not None:
            with _collecting:
                gc.set_threshold(*raised)


def publish(
    observations: xr.Dataset | None,
    root: str | Path,
    products: Iterable[str] | None = None,
    *,
    forecast: xr.Dataset | None = None,
    parameters=None,
    input_files: Iterable[str | Path] = (),
    catalog: Catalog | None = None,
    wait: float = 0.0,
    progress: Callable[[str, int, int], None] | None = None,
    before_swap: Callable[[], None] | None = None,
    since=None,
    until=None,
    storage_options: dict | None = None,
    window=None,
    skip_missing: bool | None = None,
    published=None,
    must_read_back=(),
) -> PublishSummary:
    """Derive and publish products as Zarr v3 stores under ``root``, atomically.

    Inputs that start later than a store's times did (a run that reads only the last days)
    never replace a stored time whose look-back they do not reach (:meth:`Catalog.lookback`
    plus :data:`WINDOW_MARGIN`): those times stay as published, the later ones are written.
    A recursion over the record (``lookback: record``) whose store started on an earlier
    record continues it from the published products that hold its state (the catalog's
    ``time.carry``); without them it is skipped with the reason, not restarted on it.

    Parameters
    ----------
    observations, forecast
        Canonical datasets (``weatherdata.open_observations`` / ``open_forecast``).
    root
        Output directory.
    products
        Product ids, or one id (default: everything the inputs allow).
    input_files
        Recorded with their SHA-256 in each store's provenance attributes.
    wait
        Seconds to wait for another publisher's lock before failing.
    progress
        Called as ``progress(stage, done, total)``.
    before_swap
        Test hook, called after all data is written and before any store is swapped.
    since, until
        Publish only this time range (inclusive) of products; inputs before ``since``
        still feed the windows (an hourly run passes all inputs and ``since`` = the new hour).
    storage_options
        For remote roots (``s3://bucket/prefix``): passed to fsspec (credentials, endpoint).
    window
        Publish the time range in consecutive windows of this length (``"7 days"``), each
        derived from the inputs it needs only (:func:`publish_in_windows`): memory then
        follows the window, not the record. Default: the whole range at once.
    skip_missing
        Skip products whose inputs are absent (default: when ``products`` is None).
    published
        ``{product_id: DataArray}`` of values already published (read back from their
        stores), used instead of deriving those products where they hold every time
        the derivation would (:func:`weatherdata.derive`); those in ``must_read_back``
        are an error if they do not.
    """
    catalog = catalog or shipped_catalog()
    if isinstance(products, str):  # one id, as one naturally writes it
        products = [products]
    passed_on = {
        "forecast": forecast,
        "parameters": parameters,
        "input_files": input_files,
        "catalog": catalog,
        "wait": wait,
        "progress": progress,
        "since": since,
        "until": until,
        "storage_options": storage_options,
        "skip_missing": skip_missing,
        "published": published,
        "must_read_back": must_read_back,
    }
    with _collecting_less():
        if window is not None:
            return publish_in_windows(observations, root, products, window=window, **passed_on)
        return _publish(observations, root, products, passed_on, before_swap)


def _publish(observations, root, products, passed_on: dict, before_swap) -> PublishSummary:
    """:func:`publish` of one time range (its arguments in ``passed_on``)."""
    forecast, parameters = passed_on["forecast"], passed_on["parameters"]
    input_files, catalog = passed_on["input_files"], passed_on["catalog"]
    wait, progress = passed_on["wait"], passed_on["progress"]
    since, until = passed_on["since"], passed_on["until"]
    skip_missing = passed_on["skip_missing"]
    published, must_read_back = passed_on["published"], passed_on["must_read_back"]
    started = time.monotonic()
    if since is not None:
        observations = _split_where_lookbacks_start(
            observations, catalog, products, parameters, since
        )
    if skip_missing is None:
        skip_missing = products is None
    if is_remote(root):
        return _publish_remote(
            observations, str(root), products, **{**passed_on, "skip_missing": skip_missing}
        )
    root = Path(root)
    summary = PublishSummary(root=str(root))
    carried = _carried_series(catalog, products, _open_local_store(root))
    derived, provenance, first_labels = _derive_for_publication(
        observations,
        products,
        forecast,
        parameters,
        catalog,
        since,
        until,
        input_files,
        summary.skipped,
        skip_missing,
        published,
        must_read_back,
        carried,
    )
    completeness = _completeness(
        catalog, derived, parameters, published, observations, forecast, first_labels, carried
    )
    with publisher_lock(root, wait=wait), _clean_up_on_failure(root, catalog):
        writes, plans, descriptions, chunk_cache, appends = [], [], {}, {}, []
        ids = list(derived)
        for index, product_id in enumerate(ids):
            entry = catalog[product_id]
            _clean_stale(root, entry)
            new = _product_dataset(derived, entry, provenance)
            action, target, data, time_dim, old_times = _plan_store(
                root, entry, new, completeness.get(product_id), chunk_cache
            )
            if action == "keep":
                summary.skipped[product_id] = data
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            encoding = _encoding(data, entry)
            if action == "append":
                _hardlink_copy(Path(os.path.realpath(store_path(root, entry))), target)
                (target / ".complete").unlink(missing_ok=True)
                # Coordinates without the time dimension are already in the copy: leave
                # their (hard-linked) chunks alone. ``data`` (with its grid) is kept for
                # the index's description.
                extension = data.drop_vars([c for c in data.coords if time_dim not in data[c].dims])
                extension[entry.id] = _aligned_to_store(
                    extension[entry.id], target / entry.id, time_dim
                )
                appends.append((len(plans), extension, data, encoding, old_times))
                documents = None  # until extended in place (below)
            else:
                data = _chunk_like_encoding(data, entry, encoding)
                target.mkdir()  # a version from its start, for the clean-up of a failed run
                store_writes, documents = _lay_out_store(
                    data, str(target), encoding, chunk_cache=chunk_cache
                )
                writes += store_writes
                descriptions[entry.id] = _describe_dataset(data, entry)
            plans.append((entry, action, target, time_dim, documents))
            if progress:
                progress("prepare", index + 1, len(ids))
        extensions = _extend_all_in_place(
            [
                (extension, plans[at][2], plans[at][3], encoding)
                for at, extension, _, encoding, _ in appends
            ],
            chunk_cache,
        )
        for (at, extension, appended, _, old_times), extended in zip(
            appends, extensions, strict=True
        ):
            entry, action, target, time_dim, _ = plans[at]
            if extended is None:  # xarray's path: consolidated and described from disk later
                extended = _extend_store(extension, target, time_dim)
            else:  # the stored layout (dimensions included) is the one appended
                descriptions[entry.id] = _describe_appended(appended, entry, time_dim, old_times)
                plans[at] = (entry, action, target, time_dim, {})  # consolidated: no documents
            writes += extended
        sizes: dict[str, int] = {}

        def finish(plan):
            entry, _action, target, _, documents = plan
            if documents is None:  # extended by xarray: its metadata is written
                zarr.consolidate_metadata(str(target), zarr_format=3)
            descriptions[entry.id] = _described_version(
                target, entry, description=descriptions.get(entry.id)
            )
            (target / ".complete").write_text(__version__)
            sizes[entry.id] = _directory_bytes(target)

        # A new version's metadata and coordinates (its documents) are written by threads
        # while the data is computed: the version is invisible until its link swaps, so
        # the order within it does not matter, and the compute mostly waits on reads
        # (which release the GIL) while the main thread only schedules. The same threads
        # then finish each new version (its ``.complete`` after its data and documents),
        # and each version extended in place (consolidated with its extension). Versions
        # extended by xarray's path, consolidated now, have more threads.
        new_versions = [plan for plan in plans if plan[-1] is not None]
        with concurrent.futures.ThreadPoolExecutor(DOCUMENT_WRITERS) as pool:
            documents_written = [
                pool.submit(_write_documents, documents, target)
                for _, _, target, _, documents in new_versions
            ]
            with _TaskProgress(progress) if progress else contextlib.nullcontext():
                _write_all(writes)
            for written in documents_written:
                written.result()
            for _ in pool.map(finish, new_versions):
                pass
        with _quiet_consolidation():
            _for_each_store(finish, [plan for plan in plans if plan[-1] is None])
        # The index as it will be once the versions are swapped in, written beside it and
        # made durable with them: after the swap only renames remain (a full disk cannot
        # strike between the stores and their index).
        index = _write_temporaries(
            _stac_texts(root, catalog, {e.id: (e, descriptions[e.id]) for e, *_ in plans})
        )
        _flush_to_disk([*(target for *_, target, _, _ in plans), *(t for t, _ in index)])
        if before_swap:
            before_swap()
        for entry, action, target, time_dim, _ in plans:
            link = store_path(root, entry)
            relative = os.path.relpath(target, link.parent)
            _atomic_symlink(link, relative)
            described = descriptions[entry.id]
            steps = described["shape"][described["dimensions"].index(time_dim)] if time_dim else 1
            summary.stores.append(
                StoreSummary(entry.id, entry.family, str(link), steps, sizes[entry.id], action)
            )
        _rename_temporaries(index)
        for entry, *_ in plans:
            _clean_stale(root, entry)
    summary.seconds = time.monotonic() - started
    return summary


# -- windowed publication -------------------------------------------------------------

#: Inputs reach this much further back than the catalog's look-backs: a day definition
#: that starts before its label (Beijing 20–20 days start at 12 UTC the day before), the
#: previous frame of a nowcast, the step before a window's first.
WINDOW_MARGIN = pd.Timedelta(days=1)


def _time_values(observations, forecast) -> np.ndarray:
    values = []
    if observations is not None and "time" in observations.dims:
        values.append(observations["time"].values)
    if forecast is not None and "init_time" in forecast.dims:
        values.append(forecast["init_time"].values)
    return np.concatenate(values) if values else np.array([], dtype="datetime64[ns]")


def _inputs_from(start):
    """The first input time read for products whose inputs start at ``start`` (None: the
    record's start): :data:`WINDOW_MARGIN` earlier."""
    return None if start is None else start - WINDOW_MARGIN


def _window_inputs(observations, forecast, start, until):
    """The inputs from ``start`` (None: the record's start) to ``until``; forecast runs
    from the longest lead before ``start`` (an older run no longer reaches it)."""
    first = _inputs_from(start)
    if observations is not None and "time" in observations.dims:
        observations = observations.sel(time=slice(first, until))
    if forecast is not None and "init_time" in forecast.dims:
        runs_from = first
        if first is not None and "lead_time" in forecast.dims and forecast.sizes["lead_time"]:
            runs_from = first - pd.Timedelta(forecast["lead_time"].values.max())
        forecast = forecast.sel(init_time=slice(runs_from, until))
    return observations, forecast


def _has_times(observations, forecast, since, until) -> bool:
    times = _time_values(observations, forecast)
    return bool(((times >= since) & (times <= until)).any())


def _overrides_a_duration(catalog: Catalog, product_id: str, parameters) -> bool:
    """A parameter override that changes a duration (a window) of the product or of
    anything it is built from."""
    hour = parse_units("h").dimensionality
    for dependency in catalog.closure([product_id]):
        declared = catalog[dependency].parameters
        for name, value in ((parameters or {}).get(dependency) or {}).items():
            value = parameter_value(value)
            if getattr(value, "dimensionality", None) != hour:
                continue
            default = parameter_value(declared[name]) if name in declared else None
            if default is None or value.m_as("s") != default.m_as("s"):
                return True
    return False


def _grouped_start(
    lookback, since: pd.Timestamp, record_start: pd.Timestamp, window: pd.Timedelta
) -> pd.Timestamp:
    """Where a product's inputs start in a window, rounded so that few groups form (each
    group is one derive and one write): the look-back rounded up to a power of two days
    (1, 2, 4, … d) up to the window's length, to a multiple of the window beyond it, and
    never before the record's start (where all early groups meet)."""
    day = pd.Timedelta(days=1)
    rounded = day
    while rounded < lookback.duration and rounded < window:
        rounded *= 2
    if rounded < lookback.duration:
        rounded = window * int(np.ceil(lookback.duration / window))
    start = Lookback(rounded, lookback.periods).inputs_start(since)
    return max(start, record_start)


def _continues_in_windows(catalog: Catalog, pid: str, ids, root, from_record_start) -> bool:
    """Whether ``pid``'s recursions over the record can continue, window after window, the
    stores the windows publish: the products holding their state (``time.carry``) are
    published in the same run, and either the run starts with the record (its first
    window starts the recursions up, as one publish of the range would) or they are
    already published under a local ``root`` (the first window continues them)."""
    carriers = {
        carried for name in catalog.closure([pid]) for carried in catalog[name].time.carry.values()
    }
    if not carriers <= set(ids):
        return False
    if from_record_start:
        return True
    return not is_remote(root) and all(
        store_path(Path(root), catalog[carried]).exists() for carried in carriers
    )


def publish_in_windows(
    observations: xr.Dataset | None,
    root: str | Path,
    products: Iterable[str] | None = None,
    *,
    window,
    forecast: xr.Dataset | None = None,
    parameters=None,
    catalog: Catalog | None = None,
    since=None,
    until=None,
    progress: Callable[[str, int, int], None] | None = None,
    skip_missing: bool | None = None,
    sources=None,
    check_inputs: Callable[[xr.Dataset | None, xr.Dataset | None], None] | None = None,
    **keywords,
) -> PublishSummary:
    """Publish a time range window by window, each from the inputs it needs only.

    The range (``since``…``until``, default: the inputs' first to last time) is cut into
    consecutive windows of ``window`` (a duration: ``"7 days"``, ``"12h"``), aligned to
    midnight UTC. Each window is an ordinary atomic :func:`publish` (``since``/``until``
    = the window), so a later window appends and a day or period that two windows share
    is replaced by the later, complete one. Its inputs start where the catalog says the
    products need them (:meth:`Catalog.lookback`: the longest rolling window, daily
    window or period in progress, through every input product) plus
    :data:`WINDOW_MARGIN`; products are grouped by that start (rounded, so that a window
    makes a handful of groups), so a 33-day heat index does not make the hourly
    products read 33 days. Dask's graph, and memory,
    then follow the window, not the record.

    Per-period totals (a year's growing degree days, a season's chill units) are
    published after the windows, one pass per period from the period's start: memory
    follows the period (at most a year), and the year is not read again in every
    window. Recursions over the record that carry their state (``time.carry``: the
    Canadian fire weather codes, KBDI, the rain-process total) follow the windows too,
    each window continuing what the one before published, when the products holding
    their state are published in the same run and the range starts with the record or
    they are already published under a local root. Products whose value depends on the
    whole record otherwise (Thornthwaite's PET, which uses the whole year, under the
    drought indices) are published once over the whole range, reading what they are
    built from back from the windows' stores. What depends on the record only through
    them (the drought signal, the district and city tables) then follows in windows
    again, with them read back (``derive(published=...)``). Read-back needs a local root
    and a range that starts with the inputs; otherwise those products are derived over
    the record.

    With ``sources`` (files, globs, directories) instead of ``observations`` and
    ``forecast``, each window *opens* only the files that hold its times
    (:func:`weatherdata.ingest.index_inputs`), so the opened inputs follow the window too
    (a lazily opened record costs memory per file: its Dask graph, and HDF5's metadata
    cache of each of the up to 128 files xarray keeps open); ``check_inputs(observations,
    forecast)`` is then called on each window's inputs, and each store's provenance lists
    the files of its window.

    The result equals one :func:`publish` of the whole range (tests/test_windows.py).
    Other keywords are passed to :func:`publish`.
    """
    started = time.monotonic()
    catalog = catalog or shipped_catalog()
    length = pd.Timedelta(window)
    if length <= pd.Timedelta(0):
        raise PublishError(f"window {window!r}: must be a positive duration")
    if skip_missing is None:
        skip_missing = products is None
    ids = _requested_ids(catalog, products)
    if sources is not None:
        from . import ingest

        input_index = ingest.index_inputs(sources)
        times = np.array(
            [
                value
                for entry in input_index
                if entry.kind != "always"
                for value in (
                    (entry.first, entry.last) if entry.kind == "observations" else (entry.first,)
                )
            ],
            dtype="datetime64[ns]",
        )

        opened: dict[str, xr.Dataset] = {}  # files still needed, reused by later windows

        def open_window(start, until):
            files = [entry for entry in input_index if entry.overlaps(_inputs_from(start), until)]
            if all(entry.kind == "always" for entry in files):
                return None, None, []
            paths = [entry.path for entry in files]
            opened_observations, opened_forecast = ingest.open_inputs(paths, opened=opened)
            if check_inputs:
                check_inputs(opened_observations, opened_forecast)
            return (*_window_inputs(opened_observations, opened_forecast, start, until), paths)

        def forget_before(start):
            """Drop the opened files a window from ``start`` on no longer reads."""
            for entry in input_index:
                if entry.path in opened and not entry.overlaps(_inputs_from(start), None):
                    ingest.forget_qc(opened.pop(entry.path))
    else:
        times = _time_values(observations, forecast)

        def open_window(start, until):
            return (*_window_inputs(observations, forecast, start, until), None)

        def forget_before(start):
            pass

    if not times.size:
        raise PublishError("the inputs have no time axis: nothing to publish in windows")
    first = pd.Timestamp(since) if since is not None else pd.Timestamp(times.min())
    last = pd.Timestamp(until) if until is not None else pd.Timestamp(times.max())
    lookbacks = {pid: catalog.lookback(pid, parameters) for pid in ids}
    # A look-back declared for the catalog's windows (the excess heat factor's 30 days,
    # the huinantian 48 h) does not follow a --set of such a window: safe side.
    forced = {pid for pid in ids if _overrides_a_duration(catalog, pid, parameters)}
    for pid in forced:
        lookbacks[pid] = Lookback(record=True)
    record_start = pd.Timestamp(times.min())
    # A recursion over the record that continues its published record (``time.carry``)
    # follows the windows like any product: each window continues what the one before it
    # published, so neither memory nor a later run grows with the record.
    for pid in ids:
        if lookbacks[pid].record and pid not in forced:
            continued = catalog.lookback(pid, parameters, carried=True)
            if not continued.record and _continues_in_windows(
                catalog, pid, ids, root, first <= record_start
            ):
                lookbacks[pid] = continued
    whole = [pid for pid in ids if lookbacks[pid].record or len(lookbacks[pid].periods) > 1]
    periodic: dict[str, list[str]] = {}  # per-period totals, by their period (YS, MS, …)
    for pid in ids:
        if pid not in whole and lookbacks[pid].periods:
            periodic.setdefault(next(iter(lookbacks[pid].periods)), []).append(pid)
    windowed = [pid for pid in ids if pid not in whole and not lookbacks[pid].periods]
    period_passes = []
    for alias, group in periodic.items():
        offset = pd.tseries.frequencies.to_offset(alias)
        for start in pd.date_range(offset.rollback(first.normalize()), last, freq=alias):
            pass_since, pass_until = (
                max(first, start),
                min(last, start + offset - pd.Timedelta(1, "ns")),
            )
            inputs_start = min(lookbacks[pid].inputs_start(pass_since) for pid in group)
            period_passes.append((group, max(inputs_start, record_start), pass_since, pass_until))
    windows = [
        (max(first, start), min(last, start + length - pd.Timedelta(1, "ns")))
        for start in pd.date_range(first.floor("D"), last, freq=length)
    ]
    summary = PublishSummary(root=str(root))
    stores: dict[str, StoreSummary] = {}
    skipped: dict[str, str] = {}
    # A product too short of record in a window (a daily index that needs three
    # complete days) waits: the next window publishes it from the same ``since``.
    waiting: dict[str, pd.Timestamp] = {}

    # Products a window skipped: their stores may not hold this run's values for every time.
    incomplete: set[str] = set()

    def run(group, inputs_start, window_since, window_until, ahead=False, **extra):
        # A day labelled inside the window may end after it (a Beijing day from 12 UTC):
        # the window at the range's end reads a day past it, as one publish of the range
        # does (its inputs are not cut at ``until``); so does a window whose products hold,
        # at an hour, the day it is in (``ahead``). Earlier windows need not: the next
        # window publishes their last day again, complete.
        reach = window_until + WINDOW_MARGIN if ahead or window_until >= last else window_until
        window_observations, window_forecast, files = open_window(inputs_start, reach)
        if not _has_times(window_observations, window_forecast, window_since, window_until):
            return  # a gap in the record: nothing to publish in this window
        if files is not None:
            keywords["input_files"] = files
        part = publish(
            window_observations,
            root,
            group,
            forecast=window_forecast,
            parameters=parameters,
            catalog=catalog,
            since=window_since,
            until=window_until,
            progress=progress,
            skip_missing=skip_missing,
            **{**keywords, **extra},
        )
        stores.update({store.product: store for store in part.stores})
        for pid in group:
            if pid in part.skipped:
                incomplete.add(pid)
                skipped[pid] = part.skipped[pid]
                if not part.skipped[pid].startswith("missing input"):
                    waiting.setdefault(pid, window_since)
            else:
                waiting.pop(pid, None)

    # Whole-record products that are recursions themselves (FWI codes, KBDI, the drought
    # indices on Thornthwaite's year) run once over the record; what is built on them only
    # through published products (the district tables on the drought signal, McArthur's
    # index on KBDI) then follows in windows again, reading them back from their stores.
    reading_back = bool(whole) and first <= record_start and not is_remote(root)

    def split_whole(complete: set[str]) -> tuple[list[str], list[str]]:
        """(record pass, windows after it), if everything else in ``complete`` and the
        record pass is read back."""
        after = []
        for pid in whole:
            given = catalog.lookback(pid, parameters, (complete | set(whole)) - {pid})
            if reading_back and pid not in forced and not given.record and not given.periods:
                after.append(pid)
        return [pid for pid in whole if pid not in after], after

    total = len(windows) + len(period_passes) + bool(whole)
    total += len(windows) * bool(split_whole(set(windowed))[1])

    def in_windows(products, lookback_of, offset, **extra):
        for index, (window_since, window_until) in enumerate(windows):
            if progress:
                progress("window", offset + index, total)
            groups: dict[tuple, list[str]] = {}
            for pid in products:
                since_here = waiting.get(pid, window_since)
                start = _grouped_start(lookback_of[pid], since_here, record_start, length)
                groups.setdefault((start, since_here), []).append(pid)
            forget_before(min(start for start, _ in groups) if groups else window_since)
            for (inputs_start, since_here), group in sorted(groups.items()):
                run(group, inputs_start, since_here, window_until, **extra)

    def read_back(products) -> dict[str, xr.DataArray]:
        return {pid: open_published(root, pid, catalog)[pid] for pid in sorted(products)}

    in_windows(windowed, lookbacks, 0)
    # A per-period total (a year's growing degree days) needs its period's inputs from the
    # period's start: one pass per period, after the windows, rather than every window
    # reading the year so far again.
    for index, (group, inputs_start, pass_since, pass_until) in enumerate(period_passes):
        if progress:
            progress("window", len(windows) + index, total)
        forget_before(inputs_start)
        run(group, inputs_start, pass_since, pass_until)
    if whole:
        if progress:
            progress("window", len(windows) + len(period_passes), total)
        complete = set(stores) - incomplete
        record_pass, after = split_whole(complete)
        # What the record pass is built from and the windows have just published over
        # the whole record (KBDI's and the drought indices' daily series) is read back,
        # not derived again over the record.
        extra = (
            {"published": read_back(set(catalog.closure(record_pass)) & complete)}
            if reading_back
            else {}
        )
        run(record_pass, None, first, last, **extra)
        if after:
            complete = set(stores) - incomplete
            readable = (set(catalog.closure(after)) - set(after)) & complete
            lookback_after = {pid: catalog.lookback(pid, parameters, readable) for pid in after}
            # built on a record product the record pass could not publish: over the record
            late = [
                pid for pid in after if lookback_after[pid].record or lookback_after[pid].periods
            ]
            if late:
                run(late, None, first, last)
            # Their inputs reach a day past the window: an hour's district table holds the
            # drought signal of the Beijing day the hour is in, which ends after it (read
            # back, the day is in the store; derived on the window, it would be missing).
            in_windows(
                [pid for pid in after if pid not in late],
                lookback_after,
                len(windows) + len(period_passes) + 1,
                ahead=True,
                published=read_back(readable),
                must_read_back=readable,
            )
    if progress:
        progress("window", total, total)
    summary.stores = [stores[pid] for pid in ids if pid in stores]
    summary.skipped = {pid: reason for pid, reason in skipped.items() if pid not in stores}
    summary.seconds = time.monotonic() - started
    return summary


# -- discovery (STAC) ---------------------------------------------------------------

STAC_VERSION = "1.1.0"


def _published_entries(root: Path, catalog: Catalog) -> list[ProductEntry]:
    """The catalog's products with a store under ``root`` (its link resolving): each
    family's directory listed once, rather than a ``stat`` per catalog entry."""
    names: dict[str, set] = {}
    for family in {entry.family for entry in catalog.products.values()}:
        try:
            with os.scandir(Path(root) / family) as entries:
                names[family] = {item.name for item in entries}
        except (FileNotFoundError, NotADirectoryError):
            names[family] = set()
    return [
        entry
        for entry in catalog.products.values()
        if f"{entry.id}.zarr" in names[entry.family] and store_path(root, entry).exists()
    ]


async def _read_description(location, product_id: str, storage_options) -> tuple:
    """The product's array and its coordinate values (latitude, longitude, time axes),
    read concurrently: the nodes come from the consolidated metadata, the coordinate
    chunks in one round of requests."""
    import asyncio

    import zarr.api.asynchronous

    group = await zarr.api.asynchronous.open_group(
        store=location,
        mode="r",
        zarr_format=3,
        use_consolidated=True,
        storage_options=storage_options,
    )
    nodes = {name: node async for name, node in group.members()}
    variable = nodes[product_id]
    time_axes = [d for d in variable.metadata.dimension_names or () if d in TIME_DIMENSIONS]
    wanted = [name for name in ("latitude", "longitude", *time_axes[:1]) if name in nodes]
    values = await asyncio.gather(*(nodes[name].getitem(...) for name in wanted))
    return variable, {name: nodes[name] for name in wanted}, dict(zip(wanted, values, strict=True))


def _describe_store(location, entry: ProductEntry, storage_options=None) -> dict:
    """Bounding box, time range, dimensions and shape of a published store, for STAC.

    Read with zarr from the consolidated metadata and the coordinate arrays only, in one
    round of concurrent requests: opening the store with xarray decoded every variable's
    metadata and times (~25 ms a store, 6 s of a 243-product publish), and reading the
    coordinates one by one still cost ~5 ms a store; only the time coordinate is decoded,
    with xarray's CF decoder. ``location``: a path, a URL, or a zarr store (a new version's
    documents in memory, :func:`_lay_out_store`).
    """
    from zarr.core.sync import sync

    variable, arrays, values = sync(
        _read_description(
            location if isinstance(location, zarr.abc.store.Store) else str(location),
            entry.id,
            storage_options if is_remote(location) else None,
        )
    )
    for name in set(values) & set(TIME_DIMENSIONS):  # the one time axis read: decoded
        if np.size(values[name]):
            values[name] = _decoded_times(name, values[name], arrays[name].metadata.attributes)
    return _description(list(variable.metadata.dimension_names or ()), variable.shape, values)


def _describe_dataset(data: xr.Dataset, entry: ProductEntry) -> dict:
    """:func:`_describe_store` of the store that :func:`_lay_out_store` makes of ``data``,
    from ``data`` itself: the values its documents hold, without reading them back
    through zarr (~4 ms a store). A test compares the two on every demo product."""
    variable = data[entry.id]
    return _description(list(variable.dims), variable.shape, _described_values(data, variable))


def _described_values(data: xr.Dataset, variable: xr.DataArray) -> dict:
    """The coordinates a description reads: latitude, longitude, the first time axis."""
    wanted = ("latitude", "longitude", *[d for d in variable.dims if d in TIME_DIMENSIONS][:1])
    return {name: data[name].values for name in wanted if name in data.variables}


def _describe_appended(
    new: xr.Dataset, entry: ProductEntry, time_dim: str, stored_times: np.ndarray
) -> dict:
    """:func:`_describe_store` of a store after ``new`` (with its coordinates) is appended
    along ``time_dim`` to one holding ``stored_times``: the same grid, the times joined,
    without reading the extended store back (~4 ms a store, ~0.8 s of an hourly run). A
    test compares it with the description read back after every demo product's append."""
    variable = new[entry.id]
    values = _described_values(new, variable)
    values[time_dim] = np.concatenate([stored_times, values[time_dim]])
    shape = list(variable.shape)
    shape[variable.dims.index(time_dim)] = values[time_dim].size
    return _description(list(variable.dims), shape, values)


def _description(dims: list, shape, values: dict) -> dict:
    """The index's description of a product array with ``dims`` and ``shape`` and its
    coordinate ``values`` (latitude, longitude, the first time axis, decoded)."""

    def coordinate(name, fallback):
        return np.asarray(values[name], dtype="float64") if name in values else fallback

    latitude = coordinate("latitude", np.array([-90.0, 90.0]))
    longitude = coordinate("longitude", np.array([-180.0, 180.0]))
    time_dim = next((d for d in dims if d in TIME_DIMENSIONS), None)
    times = np.array([], dtype="datetime64[s]")
    if time_dim and time_dim in values and shape[dims.index(time_dim)]:
        times = values[time_dim]
    return {
        "bbox": [
            float(np.nanmin(longitude)),
            float(np.nanmin(latitude)),
            float(np.nanmax(longitude)),
            float(np.nanmax(latitude)),
        ],
        "start": _iso(times.min()) if times.size else None,
        "end": _iso(times.max()) if times.size else None,
        "dimensions": dims,
        "shape": [int(n) for n in shape],
    }


def build_stac(stores: dict[str, tuple[ProductEntry, str, dict]]) -> dict[str, dict]:
    """STAC documents (relative path → JSON) for published stores.

    ``stores`` maps a product id to ``(entry, href relative to the root, description)``.
    One collection per family, one item per product whose ``zarr`` asset carries the
    xarray open arguments (``xarray:open_kwargs``, as the xarray-assets extension has it);
    ``products.json`` lists everything in one request.
    """
    documents: dict[str, dict] = {}
    root_links = [{"rel": "root", "href": "./catalog.json", "type": "application/json"}]
    index = []
    for family in ("observation", "forecast_warning", "service"):
        members = sorted(
            (v for v in stores.values() if v[0].family == family), key=lambda v: v[0].id
        )
        if not members:
            continue
        item_links = []
        for entry, href, info in members:
            west, south, east, north = info["bbox"]
            item = {
                "type": "Feature",
                "stac_version": STAC_VERSION,
                "id": entry.id,
                "collection": family,
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[west, south], [east, south], [east, north], [west, north], [west, south]]
                    ],
                },
                "bbox": info["bbox"],
                "properties": {
                    "title": entry.name.en,
                    "description": entry.description,
                    "datetime": None if info["start"] else "1970-01-01T00:00:00Z",
                    "start_datetime": info["start"],
                    "end_datetime": info["end"],
                    "weatherdata:name_zh": entry.name.zh,
                    "weatherdata:units": entry.units,
                    "weatherdata:dimensions": info["dimensions"],
                    "weatherdata:shape": info["shape"],
                },
                "links": [
                    {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
                    {"rel": "parent", "href": "../collection.json", "type": "application/json"},
                    {"rel": "collection", "href": "../collection.json", "type": "application/json"},
                ],
                "assets": {
                    "zarr": {
                        "href": "../../" + href,
                        "type": "application/vnd+zarr",
                        "title": f"{entry.name.en} (Zarr v3)",
                        "roles": ["data"],
                        "xarray:open_kwargs": OPEN_ARGUMENTS,
                    }
                },
            }
            if not info["start"]:
                del item["properties"]["start_datetime"], item["properties"]["end_datetime"]
            documents[f"{family}/{entry.id}/item.json"] = item
            item_links.append(
                {
                    "rel": "item",
                    "href": f"./{entry.id}/item.json",
                    "type": "application/geo+json",
                    "title": entry.name.en,
                }
            )
            index.append(
                {
                    "id": entry.id,
                    "family": family,
                    "name": entry.name.en,
                    "name_zh": entry.name.zh,
                    "units": entry.units,
                    "href": href,
                    "start": info["start"],
                    "end": info["end"],
                    "dimensions": info["dimensions"],
                    "shape": info["shape"],
                    "bbox": info["bbox"],
                    "open_kwargs": OPEN_ARGUMENTS,
                }
            )
        boxes = [m[2]["bbox"] for m in members]
        starts = [m[2]["start"] for m in members if m[2]["start"]]
        ends = [m[2]["end"] for m in members if m[2]["end"]]
        documents[f"{family}/collection.json"] = {
            "type": "Collection",
            "stac_version": STAC_VERSION,
            "id": family,
            "title": family.replace("_", " ").capitalize(),
            "description": f"weatherdata {family.replace('_', ' ')} products",
            "license": "CC-BY-4.0",
            "extent": {
                "spatial": {
                    "bbox": [
                        [
                            min(b[0] for b in boxes),
                            min(b[1] for b in boxes),
                            max(b[2] for b in boxes),
                            max(b[3] for b in boxes),
                        ]
                    ]
                },
                "temporal": {
                    "interval": [[min(starts) if starts else None, max(ends) if ends else None]]
                },
            },
            "links": [
                {"rel": "root", "href": "../catalog.json", "type": "application/json"},
                {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
                *item_links,
            ],
        }
        root_links.append(
            {
                "rel": "child",
                "href": f"./{family}/collection.json",
                "type": "application/json",
                "title": family,
            }
        )
    documents["catalog.json"] = {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "weatherdata",
        "title": "weatherdata products",
        "description": "Weather products published by weatherdata as Zarr v3 stores.",
        "links": root_links,
    }
    documents["products.json"] = {"weatherdata_version": __version__, "products": index}
    return documents


#: Descriptions of the store versions this process has read, by version directory and
#: its metadata's inode and modification time: a publish writes a new version rather
#: than change one, so the index written after each of a windowed run's ~60 publishes
#: describes only the versions that publish made (describing all 243 took ~2 s).
_VERSION_DESCRIPTIONS: dict[tuple[str, int, int], dict] = {}


def _described_version(store: Path, entry: ProductEntry, description=None) -> dict:
    """:func:`_describe_store` of a local store, once per version. ``description``: the
    version's description already made (a version just written, from its dataset:
    :func:`_describe_dataset`)."""
    version = os.path.realpath(store)
    try:
        metadata = os.stat(os.path.join(version, "zarr.json"))
    except OSError:
        return _describe_store(store, entry)
    key = (version, metadata.st_ino, metadata.st_mtime_ns)
    if key not in _VERSION_DESCRIPTIONS:
        if len(_VERSION_DESCRIPTIONS) > 4096:
            _VERSION_DESCRIPTIONS.clear()
        _VERSION_DESCRIPTIONS[key] = (
            _describe_store(store, entry) if description is None else description
        )
    return copy.deepcopy(_VERSION_DESCRIPTIONS[key])


def write_stac(root: Path, catalog: Catalog) -> None:
    """Write the STAC documents for every store under a local root (items first, root last)."""
    _atomic_write_texts(_stac_texts(root, catalog))


def _stac_texts(root: Path, catalog: Catalog, pending: dict | None = None) -> list[tuple]:
    """The STAC documents of a local root as ``[(path, text)]``, items first and the root
    last: every store under it, and ``pending`` ``{product id: (entry, description)}``,
    the versions a publish is about to swap in (described as they will be)."""
    pending = pending or {}
    published = {e.id for e in _published_entries(root, catalog)}
    stores = {}
    for entry in catalog.products.values():
        if entry.id in pending:
            stores[entry.id] = (entry, f"{entry.family}/{entry.id}.zarr", pending[entry.id][1])
        elif entry.id in published:
            description = _described_version(store_path(root, entry), entry)
            stores[entry.id] = (entry, f"{entry.family}/{entry.id}.zarr", description)
    documents = build_stac(stores)
    ordered = sorted(
        documents, key=lambda r: (r in ("catalog.json", "products.json"), -r.count("/"))
    )
    return [
        (root / relative, json.dumps(documents[relative], indent=1, ensure_ascii=False))
        for relative in ordered
    ]


def _iso(value) -> str:
    return np.datetime_as_string(np.datetime64(value, "s"), unit="s") + "Z"


def open_published(root: str | Path, product_id: str, catalog: Catalog | None = None) -> xr.Dataset:
    """Open one published product with plain xarray (what researchers do remotely)."""
    catalog = catalog or shipped_catalog()
    return xr.open_zarr(
        store_path(root, catalog[product_id]),
        **{k: v for k, v in OPEN_ARGUMENTS.items() if k != "engine"},
    )


@dataclass
class ProductStatus:
    """One published store as ``weatherdata status`` sees it.

    Times are ISO labels of the store's time axis (UTC): an hour for ``time``, a run's
    initialisation for ``init_time``, and the day's START for ``day`` (the day is complete
    24 h later; ``covered_until`` holds its end).
    """

    product: str
    family: str
    first_time: str | None
    last_time: str | None
    #: the last step without a missing cell (None: no such step, or not checked)
    last_complete_time: str | None
    time_steps: int
    #: ``time``, ``day`` or ``init_time``; None for a store without one (``period``, static)
    time_dimension: str | None = None
    #: False when completeness is not judged cell by cell: the catalog declares the product
    #: missing by definition in places (``undefined_where``), or the store has no time axis
    completeness_checked: bool = True
    #: the end of what the stale check credits the product with: its last complete step (the
    #: end of the last complete day for daily products), or its last step when completeness
    #: is not checked
    covered_until: str | None = None
    #: what ``covered_until`` is compared with: the newest observation time of the root
    #: (``time``), the last day boundary at or before it (``day``), or the newest run among
    #: the root's forecast stores (``init_time``)
    reference_time: str | None = None
    #: ``reference_time − covered_until > stale_after``; None when not judged
    stale: bool | None = None


_DAY = np.timedelta64(1, "D")


def _datetime(text: str | None):
    return np.datetime64(text.rstrip("Z"), "s") if text else None


def _last_complete(variable: xr.DataArray, time_dim: str, times: np.ndarray):
    """The last step of ``time_dim`` without a missing cell (walking back one chunk at a
    time from the end: usually one chunk is read), or None."""
    step = max(1, (variable.encoding.get("chunks") or (len(times),))[variable.dims.index(time_dim)])
    end = len(times)
    while end > 0:
        start = max(0, end - step)
        block = variable.isel({time_dim: slice(start, end)}).notnull()
        full = block.all([d for d in variable.dims if d != time_dim]).values
        hits = np.flatnonzero(full)
        if hits.size:
            return times[start + hits[-1]]
        end = start
    return None


def _store_status(root: Path, entry: ProductEntry) -> ProductStatus:
    with xr.open_zarr(store_path(root, entry), consolidated=True, zarr_format=3, chunks={}) as data:
        variable = data[entry.id]
        time_dim = _time_dimension(variable)
        if time_dim in (None, "period"):  # a period's total so far: not judged as a series
            return ProductStatus(entry.id, entry.family, None, None, None, 1, None, False)
        times = data[time_dim].values
        checked = entry.undefined_where is None
        complete = _last_complete(variable, time_dim, times) if checked and times.size else None
        judged = complete if checked else (times.max() if times.size else None)
        covered = None
        if judged is not None:
            covered = np.datetime64(judged, "s")
            covered += _DAY if time_dim == "day" else np.timedelta64(0, "s")
        return ProductStatus(
            entry.id,
            entry.family,
            _iso(times.min()) if times.size else None,
            _iso(times.max()) if times.size else None,
            _iso(complete) if complete is not None else None,
            len(times),
            time_dim,
            checked,
            _iso(covered) if covered is not None else None,
        )


def _judge(rows: list[ProductStatus], stale_after) -> None:
    """Set ``reference_time`` and ``stale`` of each row with a time axis.

    Hourly stores are compared with the newest observation time of the root (the latest
    ``time`` label of its stores). A daily store can be complete only up to the last day
    boundary at or before that time (boundaries at the hour of its labels: 12 UTC for
    20–20 Beijing days), so it is compared with that boundary. Forecast stores are compared
    with the newest run among the root's forecast stores. Stores without a time axis are
    not judged.
    """
    from .compute import to_timedelta

    if not isinstance(stale_after, dt.timedelta | np.timedelta64):
        stale_after = to_timedelta(stale_after)
    limit = np.timedelta64(stale_after)
    ends = {
        axis: [_datetime(r.last_time) for r in rows if r.time_dimension == axis and r.last_time]
        for axis in TIME_DIMENSIONS
    }
    day_ends = [end + _DAY for end in ends["day"]]
    newest_observation = max(ends["time"] or day_ends, default=None)
    newest_run = max(ends["init_time"], default=None)
    for row in rows:
        if row.time_dimension is None:
            continue
        if row.time_dimension == "init_time":
            reference = newest_run
        elif row.time_dimension == "day":
            reference = newest_observation
            if row.last_time is not None and reference is not None:
                label = _datetime(row.last_time)
                offset = label - label.astype("M8[D]")  # the hour of the labels (12 h: 20–20 BJT)
                reference = (reference - offset).astype("M8[D]").astype("M8[s]") + offset
        else:
            reference = newest_observation
        covered = _datetime(row.covered_until)
        row.reference_time = _iso(reference) if reference is not None else None
        row.stale = covered is None or (reference is not None and reference - covered > limit)


def status(
    root: str | Path, catalog: Catalog | None = None, stale_after=None
) -> list[ProductStatus]:
    """The latest valid time and the latest *complete* time (no missing cell) per store.

    With ``stale_after`` (``"2 h"``, a timedelta), each store with a time axis is also
    judged: stale when what it covers ends more than that before the root's reference time
    for its axis (see :class:`ProductStatus`). Products the catalog declares missing by
    definition in places (``undefined_where``) are judged on their last step only.
    """
    catalog = catalog or shipped_catalog()
    root = Path(root)
    rows = [_store_status(root, entry) for entry in _published_entries(root, catalog)]
    if stale_after is not None:
        _judge(rows, stale_after)
    return rows


# -- remote roots (S3 and other object stores, through fsspec) ----------------------


def is_remote(root) -> bool:
    text = str(root)
    return "://" in text and not text.startswith("file://")


def _retry(
    operation, *, attempts: int = 5, first_delay: float = 0.2, what: str = "storage operation"
):
    """Retry transient storage errors with exponential backoff; the last error is raised."""
    delay = first_delay
    for attempt in range(attempts):
        try:
            return operation()
        except (OSError, TimeoutError) as exc:
            if isinstance(exc, FileNotFoundError | PermissionError) or attempt == attempts - 1:
                raise
            LOG.warning(
                "%s failed (%s); retrying in %.1f s",
                what,
                exc,
                delay,
                extra={"weatherdata_retry": True},
            )
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def _storage_errors() -> tuple[type[BaseException], ...]:
    """What object-store clients raise for storage failures (after their own retries)."""
    errors: list[type[BaseException]] = [OSError]
    with contextlib.suppress(ImportError):
        from botocore.exceptions import BotoCoreError, ClientError

        errors += [BotoCoreError, ClientError]
    with contextlib.suppress(ImportError):
        from aiohttp import ClientError as HTTPClientError

        errors.append(HTTPClientError)
    return tuple(errors)


class _RetryReport(logging.Filter):
    """Count and report the retries of transient storage errors during a remote publish.

    botocore and s3fs retry transient errors (HTTP 500/503, timeouts, dropped connections)
    with backoff, but log them at DEBUG level only. For the length of a publish this filter
    sits on their loggers: each retry becomes one warning on this module's logger (and one
    count in :attr:`PublishSummary.retries`), and their own records pass only if their
    loggers would have let them through before.
    """

    LOGGERS = ("botocore.endpoint", "botocore.retryhandler", "s3fs", __name__)

    def __init__(self, root: str):
        super().__init__()
        self.root = root
        self.count = 0
        self.reason = "transient error"
        self.levels: dict[str, tuple[int, int]] = {}  # logger: (own level, effective level)

    def __enter__(self):
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            self.levels[name] = (logger.level, logger.getEffectiveLevel())
            if name != __name__:
                logger.setLevel(logging.DEBUG)
            logger.addFilter(self)
        return self

    def __exit__(self, *exc_info):
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            logger.removeFilter(self)
            logger.setLevel(self.levels[name][0])

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.msg if isinstance(record.msg, str) else ""
        if record.name == __name__:
            self.count += bool(getattr(record, "weatherdata_retry", False))
        elif text.startswith(("retry needed:", "retry needed,")):  # botocore: why
            self.reason = record.getMessage().split(":", 1)[1].strip()
        elif text.startswith("Response received to retry"):  # botocore: the retry itself
            self.count += 1
            LOG.warning(
                "%s: transient storage error (%s); retrying in %.1f s",
                self.root,
                self.reason,
                float(record.args[0]) if record.args else 0.0,
            )
        elif text.startswith("Retryable error"):  # s3fs, after botocore
            self.count += 1
            detail = record.getMessage().removeprefix("Retryable error: ")
            LOG.warning("%s: transient storage error (%s); retrying", self.root, detail)
        return record.levelno >= self.levels.get(record.name, (0, logging.WARNING))[1]


@contextlib.contextmanager
def _remote_failure(root: str, summary: PublishSummary):
    """Report retries (``summary.retries``); turn a storage failure into one clear line."""
    with _RetryReport(root) as report:
        try:
            yield
        except _storage_errors() as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise PublishError(
                f"{root}: storage failed ({type(exc).__name__}: {reason}) after {report.count} "
                "retries; nothing was published, products.json still lists the previous version "
                "of every store: run again when the endpoint is healthy"
            ) from exc
        finally:
            summary.retries = report.count


#: Remote lock tokens this process holds right now.
_HELD_REMOTE_LOCKS: set[str] = set()


def _pid_alive(pid: int) -> bool:
    """Whether a process runs (a lock of this process that it no longer holds: no)."""
    if pid == os.getpid():
        return any(f" pid {pid} " in token for token in _HELD_REMOTE_LOCKS)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


@contextlib.contextmanager
def _remote_lock(fs, root: str, wait: float, stale_after: float = 3600.0):
    """A lock object at ``ROOT/.weatherdata.lock``. Object stores have no flock: a lock
    older than ``stale_after`` seconds (a crashed publisher) is taken over, and so is one
    left on this host by a process that no longer runs (a publish whose storage failed
    before it could remove its lock)."""
    path = f"{root.rstrip('/')}/.weatherdata.lock"
    host = socket.gethostname()
    token = f"{uuid.uuid4().hex} pid {os.getpid()} host {host} since {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}"
    deadline = time.monotonic() + wait
    while True:
        try:
            holder = fs.cat_file(path).decode()
        except FileNotFoundError:
            holder = None
        if holder is not None:
            try:
                since = dt.datetime.fromisoformat(holder.rsplit("since ", 1)[1])
                age = (dt.datetime.now(dt.UTC) - since).total_seconds()
            except (IndexError, ValueError):
                age = stale_after + 1
            words = holder.split()
            with contextlib.suppress(ValueError, IndexError):
                pid = int(words[words.index("pid") + 1])
                if f" host {host} " in holder and not _pid_alive(pid):
                    age = stale_after + 1
            if age <= stale_after:
                if time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                raise PublishError(
                    f"{root}: another publisher is writing here ({holder.split(' ', 1)[1]}); retry later or pass --wait SECONDS"
                )
        fs.pipe_file(path, token.encode())
        if fs.cat_file(path).decode() == token:
            break
    _HELD_REMOTE_LOCKS.add(token)
    try:
        yield
    finally:
        _HELD_REMOTE_LOCKS.discard(token)
        try:
            if fs.cat_file(path).decode() == token:
                fs.rm_file(path)
        except FileNotFoundError:
            pass
        except _storage_errors() as exc:
            LOG.warning(
                "%s: could not remove the lock object (%s); the next publish from this host "
                "takes it over, others after %.0f s",
                path,
                exc,
                stale_after,
            )


def _publish_remote(
    observations,
    root: str,
    products,
    *,
    forecast,
    parameters,
    input_files,
    catalog,
    wait,
    progress,
    since,
    until,
    storage_options,
    skip_missing,
    published,
    must_read_back,
):
    """Publish to an object store.

    Object stores have no symlinks, so every publish writes each product as a complete new
    version under ``<family>/_versions/<id>/<version>/`` (data first, consolidated metadata
    last) and then switches ``products.json`` and the STAC items to it — each a single PUT,
    atomic on S3. Readers who discover stores there (``weatherdata.open_product``, STAC)
    always see a complete version; older versions are deleted after the switch, keeping one.
    """
    import fsspec

    started = time.monotonic()
    storage_options = storage_options or {}
    fs, _ = fsspec.core.url_to_fs(root, **storage_options)
    root = root.rstrip("/")
    summary = PublishSummary(root=root)
    try:
        listed = {
            p["id"]: p["href"] for p in json.loads(fs.cat_file(f"{root}/products.json"))["products"]
        }
    except FileNotFoundError:
        listed = {}

    def open_store(entry: ProductEntry) -> xr.Dataset | None:
        if entry.id not in listed:
            return None
        return xr.open_zarr(
            f"{root}/{listed[entry.id]}",
            consolidated=True,
            zarr_format=3,
            chunks={},
            storage_options=storage_options,
        )

    carried = _carried_series(catalog, products, open_store)
    derived, provenance, first_labels = _derive_for_publication(
        observations,
        products,
        forecast,
        parameters,
        catalog,
        since,
        until,
        input_files,
        summary.skipped,
        skip_missing,
        published,
        must_read_back,
        carried,
    )
    completeness = _completeness(
        catalog, derived, parameters, published, observations, forecast, first_labels, carried
    )
    with _remote_failure(root, summary), _remote_lock(fs, root, wait):
        try:
            current = {
                p["id"]: p for p in json.loads(fs.cat_file(f"{root}/products.json"))["products"]
            }
        except FileNotFoundError:
            current = {}
        writes, plans, descriptions, chunk_cache = [], [], {}, {}
        for product_id in derived:
            entry = catalog[product_id]
            new = _product_dataset(derived, entry, provenance)
            time_dim = _time_dimension(new[entry.id])
            action = "create"
            data = new
            if product_id in current:
                action = "replace"
                old = xr.open_zarr(
                    f"{root}/{current[product_id]['href']}",
                    consolidated=True,
                    zarr_format=3,
                    chunks={},
                    storage_options=storage_options,
                )
                if time_dim and time_dim in old.dims:
                    new, reason = _without_incomplete(
                        new, time_dim, old[time_dim].values, completeness.get(product_id)
                    )
                    if reason:
                        summary.skipped[product_id] = reason
                        continue
                    overlap = np.intersect1d(old[time_dim].values, new[time_dim].values)
                    if new[time_dim].values.min() > old[time_dim].values.max():
                        action = "append"
                    keep = old[[entry.id]].drop_sel({time_dim: overlap})
                    data = xr.concat(
                        [keep, new],
                        dim=time_dim,
                        data_vars="all",
                        coords="minimal",
                        compat="override",
                        join="outer",
                    ).sortby(time_dim)
                    data.attrs = new.attrs
                    data[entry.id].attrs = new[entry.id].attrs
            version = f"v{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"
            href = f"{entry.family}/_versions/{entry.id}/{version}"
            encoding = _encoding(data, entry)
            data = _chunk_like_encoding(data, entry, encoding)
            for variable in data.variables.values():
                variable.encoding = {}
            store_writes, documents = _lay_out_store(
                data, f"{root}/{href}", encoding, storage_options, chunk_cache
            )
            writes += store_writes
            descriptions[entry.id] = _describe_dataset(data, entry)
            plans.append((entry, action, href, time_dim, documents))
        with _TaskProgress(progress) if progress else contextlib.nullcontext():
            _write_all(writes)
        for _entry, _action, href, _, documents in plans:  # metadata last
            _write_documents(documents, f"{root}/{href}", storage_options)
        stores = {}
        for product_id, previous in current.items():
            if product_id in catalog.products:
                info = {k: previous.get(k) for k in ("bbox", "start", "end", "dimensions", "shape")}
                stores[product_id] = (catalog[product_id], previous["href"], info)
        for entry, action, href, time_dim, _documents in plans:
            info = descriptions[entry.id]
            stores[entry.id] = (entry, href, info)
            size = sum(fs.du(f"{root}/{href}", total=False).values()) if hasattr(fs, "du") else 0
            steps = info["shape"][info["dimensions"].index(time_dim)] if time_dim else 1
            summary.stores.append(
                StoreSummary(entry.id, entry.family, f"{root}/{href}", steps, int(size), action)
            )
        documents = build_stac(stores)
        for relative in sorted(
            documents,
            key=lambda r: (
                r in ("catalog.json", "products.json"),
                r == "products.json",
                -r.count("/"),
            ),
        ):
            text = json.dumps(documents[relative], indent=1, ensure_ascii=False).encode()
            _retry(
                lambda relative=relative, text=text: fs.pipe_file(f"{root}/{relative}", text),
                what=f"writing {relative}",
            )
        # Garbage: versions no longer listed, except the one each store just replaced.
        for entry, _action, href, *_ in plans:
            directory = f"{root}/{entry.family}/_versions/{entry.id}"
            keep = {href.rsplit("/", 1)[-1]}
            if entry.id in current:
                keep.add(current[entry.id]["href"].rsplit("/", 1)[-1])
            try:
                fs.invalidate_cache(directory)  # a listing cached by an earlier run misses versions
                for path in fs.ls(directory, detail=False):
                    if path.rstrip("/").rsplit("/", 1)[-1] not in keep:
                        with contextlib.suppress(FileNotFoundError):
                            fs.rm(path, recursive=True)
            except _storage_errors() as exc:  # published: old versions wait for the next run
                LOG.warning("%s: old versions not deleted yet (%s)", directory, exc)
    summary.seconds = time.monotonic() - started
    return summary
