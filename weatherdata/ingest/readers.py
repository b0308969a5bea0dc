"""Readers: one small plugin interface per file format.

A reader is any object (usually a class instantiated without arguments) with

* ``name``: a short identifier (``"netcdf"``, ``"grib"``, …),
* ``can_open(path_or_url) -> bool``: a cheap check by extension and magic bytes,
* ``open(path_or_url) -> xarray.Dataset``: the *raw* dataset, lazy and chunked with Dask.

Readers do not rename or convert anything: that is the normalizer's job
(:mod:`weatherdata.ingest.normalize`). They only add provenance the normalizer needs
(e.g. ``GRIB_shortName``/``GRIB_typeOfLevel``/``GRIB_level`` attributes on GRIB variables).

Readers are discovered from the ``weatherdata.readers`` entry-point group; the built-in
readers below are the fallback (a built-in is used unless a plugin of the same ``name``
replaces it), so adding a format never touches the engine.
"""

from __future__ import annotations

# pyproj first: with some eccodes wheels, loading pyproj after eccodes crashes the
# interpreter at exit (see tests/data/README.md). We pin eccodes<2.48; this is belt and braces.
import pyproj  # noqa: F401  isort: skip

import contextlib
import logging
import os
import re
import struct
import sys
import tempfile
import warnings
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError, WeatherdataError

__all__ = [
    "ENTRY_POINT_GROUP",
    "BaseReader",
    "GribReader",
    "NetCDFReader",
    "Reader",
    "TrackCSVReader",
    "ZarrReader",
    "find_reader",
    "get_readers",
    "is_candidate",
    "open_raw",
    "register_reader",
]

ENTRY_POINT_GROUP = "weatherdata.readers"
LOG = logging.getLogger(__name__)
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@runtime_checkable
class Reader(Protocol):
    """The reader plugin interface (compare xarray's ``BackendEntrypoint``)."""

    name: str

    def can_open(self, path_or_url: str | os.PathLike) -> bool: ...

    def open(self, path_or_url: str | os.PathLike) -> xr.Dataset: ...


def is_url(path_or_url: str | os.PathLike) -> bool:
    return isinstance(path_or_url, str) and bool(_URL.match(path_or_url))


def _head(path: str | os.PathLike, size: int = 16) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


class BaseReader:
    """Convenience base class: extension and magic-byte checks."""

    name: ClassVar[str] = "base"
    #: lower-case file-name endings this format uses (a directory scan picks these up
    #: even when their content turns out to be broken, so that the user hears about it)
    extensions: ClassVar[tuple[str, ...]] = ()
    #: accepted leading bytes
    magic: ClassVar[tuple[bytes, ...]] = ()

    def can_open(self, path_or_url: str | os.PathLike) -> bool:
        if is_url(path_or_url) or not os.path.isfile(path_or_url):
            return False
        head = _head(path_or_url, 16)
        return any(head.startswith(m) for m in self.magic)

    def open(self, path_or_url: str | os.PathLike) -> xr.Dataset:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


# --------------------------------------------------------------------------------------
# NetCDF
# --------------------------------------------------------------------------------------
class NetCDFReader(BaseReader):
    """NetCDF-3 (classic, 64-bit offset, CDF-5) and NetCDF-4/HDF5 files, via netCDF4."""

    name = "netcdf"
    extensions = (".nc", ".nc4", ".netcdf", ".cdf", ".h5", ".hdf5")
    magic = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")

    def open(self, path_or_url: str | os.PathLike) -> xr.Dataset:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=xr.SerializationWarning)
            source = path_or_url if is_url(path_or_url) else _netcdf_store(path_or_url)
            # The backend named, never guessed: to guess one (engine=None, even for a
            # data store) xarray loads every installed backend's entry point — MetPy's
            # imports its plots and Matplotlib, ~1.8 s of a command's first open.
            ds = xr.open_dataset(
                source,
                engine="store" if isinstance(source, xr.backends.AbstractDataStore) else "netcdf4",
                chunks=None,
                decode_timedelta=False,
                cache=False,
            )
        ds = ds.chunk(file_chunks(ds))
        ds.attrs["weatherdata_reader"] = self.name
        return ds


def _open_netcdf_without_chunk_cache(path: str, mode: str = "r"):
    """``netCDF4.Dataset(path)`` with netCDF-C's per-variable chunk cache turned off.

    netCDF-C keeps a chunk cache for every variable of every open file (64 MiB each by
    default) and xarray keeps up to 128 files open: once read, a file's decompressed
    variables stayed cached while the file was open, so memory followed the record
    (reading every input of 16 demo days: 1.7 GB resident, 0.6 GB without the cache).
    Dask reads each stored chunk once (:func:`file_chunks` cuts along whole stored
    chunks), so the cache saves nothing. Set per variable, not with the process-wide
    ``netCDF4.set_chunk_cache``: the user's own files (and our NetCDF writers) keep theirs.
    Called again by xarray's file manager whenever it reopens the file.
    """
    import netCDF4

    dataset = netCDF4.Dataset(path, mode=mode)
    for variable in dataset.variables.values():
        if variable.chunking() != "contiguous":
            variable.set_var_chunk_cache(size=0)
    return dataset


def _netcdf_store(path: str | os.PathLike):
    """An xarray NetCDF4 data store for a local file, opened without chunk caches."""
    from xarray.backends import CachingFileManager
    from xarray.backends.netCDF4_ import NETCDF4_PYTHON_LOCK, NetCDF4DataStore

    manager = CachingFileManager(
        _open_netcdf_without_chunk_cache, os.fspath(path), mode="r", lock=NETCDF4_PYTHON_LOCK
    )
    return NetCDF4DataStore(manager, lock=NETCDF4_PYTHON_LOCK)


def file_chunks(ds: xr.Dataset) -> dict[str, int]:
    """Dask chunks for a freshly opened file: each variable's leading dimension (the record
    axis in NetCDF files: time, or the run) cut so that a chunk holds about
    ``TARGET_CHUNK_BYTES``, in whole multiples of the file's own chunks along it; every
    other dimension whole.

    Opening with the file's own chunks (``chunks={}``) gives a task per stored chunk:
    producers (and the demo) store one time step per chunk, so a day's file made 24 reads
    and 24 quality-control tasks per variable, merged again later — on the demo ~60 % of
    all task time went to these. One read per ~64 MiB keeps memory bounded as before.
    """
    from . import TARGET_CHUNK_BYTES

    spec: dict[str, int] = {dim: -1 for dim in ds.dims}
    for variable in ds.data_vars.values():
        if variable.ndim < 2:
            continue
        leading = variable.dims[0]
        step_bytes = variable.dtype.itemsize * int(np.prod(variable.shape[1:]))
        steps = max(1, min(variable.shape[0], TARGET_CHUNK_BYTES // max(step_bytes, 1)))
        stored = (variable.encoding.get("chunksizes") or (None,))[0]
        if stored and steps > stored:
            steps -= steps % stored
        current = spec[leading]
        spec[leading] = steps if current == -1 else min(current, steps)
    return spec


# --------------------------------------------------------------------------------------
# Zarr
# --------------------------------------------------------------------------------------
class ZarrReader(BaseReader):
    """Zarr stores (v2 or v3), local directories or URLs (``s3://…/x.zarr``, ``https://…``)."""

    name = "zarr"
    extensions = (".zarr",)
    _markers = ("zarr.json", ".zgroup", ".zarray", ".zmetadata")

    def can_open(self, path_or_url: str | os.PathLike) -> bool:
        if is_url(path_or_url):
            return ".zarr" in str(path_or_url).rstrip("/").lower()
        path = Path(path_or_url)
        return path.is_dir() and any((path / m).is_file() for m in self._markers)

    def open(self, path_or_url: str | os.PathLike) -> xr.Dataset:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            warnings.simplefilter("ignore", category=xr.SerializationWarning)
            ds = xr.open_zarr(str(path_or_url), chunks={}, decode_timedelta=False)
        ds.attrs["weatherdata_reader"] = self.name
        return ds


# --------------------------------------------------------------------------------------
# GRIB
# --------------------------------------------------------------------------------------
def check_grib_messages(path: str | os.PathLike) -> int:
    """Walk the GRIB message headers; raise ValueError if a message is truncated.

    Returns the number of messages. eccodes silently skips a truncated last message;
    this catches it without decoding anything.
    """
    size = os.path.getsize(path)
    count = 0
    with open(path, "rb") as fh:
        data = fh.read(min(size, 1 << 16))
        offset = data.find(b"GRIB")
        if offset < 0:
            raise ValueError("no GRIB message found")
        while offset < size:
            fh.seek(offset)
            head = fh.read(16)
            if head.startswith(b"GRIB") and len(head) < 16:
                raise ValueError(f"message {count + 1} at byte {offset} is truncated")
            if not head.startswith(b"GRIB"):
                # trailing padding (zeros, WMO envelope) after the last message is fine
                rest = head + fh.read(1 << 16)
                nxt = rest.find(b"GRIB")
                if nxt < 0:
                    break
                offset += nxt
                continue
            edition = head[7]
            if edition == 2:
                length = struct.unpack(">Q", head[8:16])[0]
            elif edition == 1:
                length = int.from_bytes(head[4:7], "big")
                if length & 0x800000:  # large GRIB1 message: length is encoded elsewhere
                    return count + 1
            else:
                raise ValueError(f"unknown GRIB edition {edition} at byte {offset}")
            if length < 16 + 4:  # shorter than its own header and end marker
                raise ValueError(
                    f"message {count + 1} at byte {offset} has an invalid length {length}"
                )
            end = offset + length
            if end > size:
                raise ValueError(
                    f"message {count + 1} at byte {offset} is truncated "
                    f"({size - offset} of {length} bytes present)"
                )
            fh.seek(end - 4)
            if fh.read(4) != b"7777":
                raise ValueError(f"message {count + 1} at byte {offset} has no end marker")
            count += 1
            offset = end
    if count == 0:
        raise ValueError("no GRIB message found")
    return count


@contextlib.contextmanager
def _eccodes_messages_held_back():
    """eccodes prints its own errors ("ECCODES ERROR : ...") straight to file descriptor 2.
    While a file is indexed they are held back: a corrupt file then gives the reader's one
    clear line only. Anything else written to descriptor 2 meanwhile is passed on."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines = sink.read().decode("utf-8", "replace").splitlines(keepends=True)
            other = [line for line in lines if not line.startswith("ECCODES")]
            held = len(lines) - len(other)
            if held:
                LOG.debug("held back %d eccodes message(s): %s", held, "".join(lines).strip())
            if other and sys.stderr is not None:
                sys.stderr.write("".join(other))


def _grib_store(cfds, lock=None):
    """An xarray data store around an already-built ``cfgrib.Dataset``."""
    from cfgrib.xarray_plugin import ECCODES_LOCK, CfGribDataStore
    from xarray.backends.locks import ensure_lock

    store = CfGribDataStore.__new__(CfGribDataStore)
    store.lock = ensure_lock(lock or ECCODES_LOCK)
    store.ds = cfds
    return store


def _decode_grib_store(store) -> xr.Dataset:
    variables, attrs = store.load()
    variables, attrs, coord_names = xr.conventions.decode_cf_variables(
        variables, attrs, decode_timedelta=True
    )
    ds = xr.Dataset(variables, attrs=attrs)
    return ds.set_coords(coord_names.intersection(variables))


class GribReader(BaseReader):
    """GRIB edition 1 and 2 via cfgrib/eccodes, every hypercube in one dataset.

    The file is indexed once (in memory: no ``.idx`` file is written anywhere) and split
    into hypercubes by ``paramId`` and ``typeOfLevel`` (and further by whatever key cfgrib
    finds ambiguous). Each variable is named ``<cfgrib name>__<typeOfLevel>`` so that, e.g.,
    temperature on pressure levels (``t__isobaricInhPa``) and at 2 m
    (``t2m__heightAboveGround``) coexist; the GRIB ``shortName``, ``typeOfLevel`` and, for
    single-level cubes, the level value (``GRIB_level``) stay in the variable attributes.
    Vertical coordinates keep their cfgrib names (``isobaricInhPa``, …) as dimensions and
    are joined (outer) across variables.
    """

    name = "grib"
    extensions = (".grib", ".grib1", ".grib2", ".grb", ".grb1", ".grb2", ".gb2", ".gr2")
    #: ``cfgrib`` open equivalent, for reference: ``cfgrib.open_datasets(path,
    #: backend_kwargs={"indexpath": ""})`` (same hypercubes, but ~50x slower here
    #: because it re-scans the file once per parameter)
    backend_kwargs: ClassVar[dict[str, Any]] = {"indexpath": ""}
    #: extra GRIB keys (read from the first message of the grid) copied to the variable
    #: attributes as ``GRIB_<key>``: the normalizer needs the figure of the Earth to build
    #: the CRS of projected grids
    read_keys: ClassVar[tuple[str, ...]] = (
        "shapeOfTheEarth",
        "radius",
        "earthMajorAxis",
        "earthMinorAxis",
        "projectionCentreFlag",
    )

    #: level types kept as a (length-1) dimension when a cube has a single level, so that
    #: e.g. temperature at 500 hPa alone still has its pressure coordinate
    vertical_level_types: ClassVar[tuple[str, ...]] = ("isobaricInhPa", "isobaricInPa")

    @staticmethod
    def _own_level_set(da: xr.DataArray, dim: str, level_sets: dict) -> xr.DataArray:
        """Variables on different sets of levels of one type get distinct dimensions
        (``isobaricInhPa``, ``isobaricInhPa_2``, …): merging them on one dimension would
        pad every variable with the levels only others have."""
        values = tuple(np.asarray(da[dim].values).tolist())
        known = level_sets.setdefault(dim, [])
        name = next((n for n, levels in known if levels == values), None)
        if name is None:
            name = dim if not known else f"{dim}_{len(known) + 1}"
            known.append((name, values))
        return da if name == dim else da.rename({dim: name})

    def can_open(self, path_or_url: str | os.PathLike) -> bool:
        if is_url(path_or_url) or not os.path.isfile(path_or_url):
            return False
        head = _head(path_or_url, 4096)
        if head.startswith(b"GRIB"):
            return True
        # a WMO bulletin envelope (or some other short header) before the first message
        pos = head.find(b"GRIB")
        return 0 < pos < 256 and (
            Path(path_or_url).suffix.lower() in self.extensions or head[:1] in (b"\x01", b"*")
        )

    #: "index": index the file once and build every hypercube from that in-memory index
    #: (what ``cfgrib.open_datasets`` does, but it re-scans the whole file once per
    #: parameter: 15 s instead of 1 s for the NAM test file, 50 s instead of 1.5 s for the
    #: GFS one); "open_datasets": ``cfgrib.open_datasets(path, backend_kwargs={"indexpath":
    #: ""})`` itself. "index" falls back to "open_datasets" if cfgrib's internals change.
    method: ClassVar[str] = "index"

    def open(self, path_or_url: str | os.PathLike) -> xr.Dataset:
        path = os.fspath(path_or_url)
        check_grib_messages(path)
        failed: dict[str, str] = {}
        cubes = None
        with _eccodes_messages_held_back():
            if self.method == "index":
                try:
                    cubes = self._cubes_from_index(path, failed)
                except (ImportError, AttributeError, TypeError) as exc:  # cfgrib API drift
                    LOG.warning("cfgrib index path failed (%s); using cfgrib.open_datasets", exc)
            if cubes is None:
                cubes = self._cubes_from_open_datasets(path)
        if not cubes:
            raise ValueError(f"no decodable GRIB message ({'; '.join(failed.values())})")
        return self._merge(cubes, failed)

    def _cubes_from_index(self, path: str, failed: dict[str, str]) -> list[xr.Dataset]:
        from cfgrib import cfmessage, dataset, messages

        stream = messages.FileStream(path, errors="raise")
        keys = dataset.compute_index_keys(("time", "step"), {})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            index = messages.FileIndex.from_indexpath_or_filestream(
                stream, keys, **self.backend_kwargs, computed_keys=cfmessage.COMPUTED_KEYS
            )
        cubes: list[tuple[Any, Any]] = []

        def build(sub, depth=0):
            try:
                cubes.append((dataset.open_from_index(sub, errors="raise", squeeze=True), sub))
            except dataset.DatasetBuildError as exc:
                key = exc.args[1] if len(exc.args) > 1 else None
                if key is None or depth > 6 or len(sub[key]) < 2:
                    failed[repr(sub.filter_by_keys)] = _short(exc)
                    return
                for value in sub[key]:
                    build(sub.subindex({key: value}), depth + 1)
            except Exception as exc:  # one undecodable hypercube must not hide the others
                failed[repr(sub.filter_by_keys)] = _short(exc)

        for param_id in index["paramId"]:
            by_param = index.subindex(paramId=param_id)
            for level_type in by_param["typeOfLevel"]:
                build(by_param.subindex(typeOfLevel=level_type))
        out = []
        per_grid: dict[Any, dict[str, Any]] = {}  # reading a key decodes a message: once per grid
        for cfds, sub in cubes:
            ds = _decode_grib_store(_grib_store(cfds))
            first = next(iter(ds.data_vars.values()), None)
            grid = (
                None
                if first is None
                else (
                    first.attrs.get("GRIB_gridType"),
                    first.attrs.get("GRIB_numberOfPoints"),
                )
            )
            if grid not in per_grid:
                per_grid[grid] = {}
                message = sub.first()
                for key in self.read_keys:
                    try:
                        value = message[key]
                    except Exception:
                        continue
                    if value not in (None, "MISSING", "undef"):
                        per_grid[grid][f"GRIB_{key}"] = value
            for var in ds.data_vars:
                ds[var].attrs.update(per_grid[grid])
            out.append(ds)
        if out:
            out[0].attrs["GRIB_edition"] = ",".join(str(v) for v in index["edition"])
            out[0].attrs["GRIB_centre"] = ",".join(str(v) for v in index["centre"])
        return out

    def _cubes_from_open_datasets(self, path: str) -> list[xr.Dataset]:
        import cfgrib

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cfgrib.open_datasets(
                path, backend_kwargs={**self.backend_kwargs, "read_keys": list(self.read_keys)}
            )

    def _merge(self, cubes: list[xr.Dataset], failed: dict[str, str]) -> xr.Dataset:
        def grid_key(da):
            return (da.attrs.get("GRIB_gridType"), da.attrs.get("GRIB_numberOfPoints"))

        # keep the horizontal grid most variables are on
        grids: dict[Any, int] = {}
        for ds in cubes:
            for da in ds.data_vars.values():
                grids[grid_key(da)] = grids.get(grid_key(da), 0) + 1
        main_grid = max(grids, key=grids.get)

        parts, dropped, used = [], {}, set()
        level_sets: dict[str, list[tuple[str, tuple]]] = {}
        for ds in cubes:
            for var in list(ds.data_vars):
                da = ds[var]
                level_type = da.attrs.get("GRIB_typeOfLevel", "unknown")
                name = f"{var}__{level_type}"
                if name in used and da.attrs.get("GRIB_stepType"):
                    name = f"{name}__{da.attrs['GRIB_stepType']}"
                base, n = name, 1
                while name in used:
                    n += 1
                    name = f"{base}__{n}"
                if grid_key(da) != main_grid:
                    dropped[name] = f"on a second grid {grid_key(da)} (file grid: {main_grid})"
                    continue
                used.add(name)
                da = da.copy(deep=False)
                if level_type in da.coords and da[level_type].ndim == 0:
                    da.attrs["GRIB_level"] = float(da[level_type].values)
                    if level_type in self.vertical_level_types:
                        da = da.expand_dims(level_type)
                    else:
                        da = da.drop_vars(level_type)
                if level_type in da.dims:
                    da = self._own_level_set(da, level_type, level_sets)
                parts.append(da.rename(name).to_dataset())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)
            out = xr.merge(parts, join="outer", compat="override", combine_attrs="drop_conflicts")
        # chunk the data, not the (small, in-memory) coordinates
        out = out.assign({name: out[name].variable.chunk({}) for name in out.data_vars})
        out.attrs = {"weatherdata_reader": self.name}
        for key in ("GRIB_edition", "GRIB_centre"):
            if key in cubes[0].attrs:
                out.attrs[key] = cubes[0].attrs[key]
        dropped.update(failed)
        if dropped:
            out.attrs["weatherdata_reader_dropped"] = repr(dropped)
        return out


# --------------------------------------------------------------------------------------
# Tropical-cyclone track CSV
# --------------------------------------------------------------------------------------
class TrackCSVReader(BaseReader):
    """A tropical-cyclone best-track/forecast-track CSV.

    Columns (header required, order free, extra columns ignored): ``time`` (ISO 8601;
    UTC unless an offset is given), ``latitude`` (degrees north), ``longitude`` (degrees
    east), ``maximum_wind_speed_m_s`` (m s-1), ``minimum_pressure_hpa`` (hPa). Returns the
    track on a ``track_time`` dimension; the units are those the column names state.
    """

    name = "tc_track"
    extensions = ()
    columns: ClassVar[tuple[str, ...]] = (
        "time",
        "latitude",
        "longitude",
        "maximum_wind_speed_m_s",
        "minimum_pressure_hpa",
    )
    units: ClassVar[dict[str, str]] = {
        "latitude": "degrees_north",
        "longitude": "degrees_east",
        "maximum_wind_speed_m_s": "m s-1",
        "minimum_pressure_hpa": "hPa",
    }

    def can_open(self, path_or_url: str | os.PathLike) -> bool:
        if is_url(path_or_url) or not os.path.isfile(path_or_url):
            return False
        if Path(path_or_url).suffix.lower() not in (".csv", ".txt"):
            return False
        header = _head(path_or_url, 1024).split(b"\n", 1)[0].decode("utf-8", "replace")
        names = {c.strip().lower() for c in header.lstrip("\ufeff").split(",")}
        return set(self.columns) <= names

    def open(self, path_or_url: str | os.PathLike) -> xr.Dataset:
        table = pd.read_csv(path_or_url, skipinitialspace=True)
        table.columns = [c.strip().lower() for c in table.columns]
        missing = [c for c in self.columns if c not in table.columns]
        if missing:
            raise ValueError(f"missing column(s) {', '.join(missing)}")
        times = pd.to_datetime(table["time"], utc=True).dt.tz_convert(None)
        data_vars = {}
        for column, units in self.units.items():
            values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype="float64")
            data_vars[column] = ("track_time", values, {"units": units})
        ds = xr.Dataset(
            data_vars,
            coords={"track_time": ("track_time", times.to_numpy().astype("datetime64[ns]"))},
            attrs={
                "weatherdata_reader": self.name,
                "weatherdata_content": "tropical_cyclone_track",
            },
        )
        return ds.assign({name: ds[name].variable.chunk({}) for name in ds.data_vars})


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------
BUILTIN_READERS: tuple[type[BaseReader], ...] = (
    NetCDFReader,
    GribReader,
    ZarrReader,
    TrackCSVReader,
)
_registered: list[Reader] = []
_cache: list[Reader] | None = None


def _instantiate(obj) -> Reader:
    return obj() if isinstance(obj, type) else obj


def register_reader(reader: Reader | type, *, first: bool = True) -> None:
    """Add a reader at run time (tried before the discovered and built-in ones)."""
    global _cache
    instance = _instantiate(reader)
    if not isinstance(instance, Reader):
        raise TypeError(f"{reader!r} does not implement name/can_open/open")
    _registered.insert(0 if first else len(_registered), instance)
    _cache = None


def _discover() -> list[Reader]:
    found: list[Reader] = []
    try:
        eps = entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # pragma: no cover - broken metadata
        eps = []
    for ep in eps:
        try:
            found.append(_instantiate(ep.load()))
        except Exception as exc:  # a broken plugin must not break ingest
            warnings.warn(
                f"weatherdata reader plugin {ep.name!r} could not be loaded: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
    return found


def get_readers(refresh: bool = False) -> list[Reader]:
    """Readers in the order they are tried: run-time, entry points, then built-ins."""
    global _cache
    if _cache is None or refresh:
        readers: list[Reader] = []
        names: set[str] = set()
        for reader in [*_registered, *_discover(), *(cls() for cls in BUILTIN_READERS)]:
            if reader.name not in names:
                names.add(reader.name)
                readers.append(reader)
        _cache = readers
    return list(_cache)


def find_reader(path_or_url: str | os.PathLike) -> Reader | None:
    for reader in get_readers():
        try:
            if reader.can_open(path_or_url):
                return reader
        except Exception:  # a plugin's can_open must not break the scan
            continue
    return None


def known_extensions(readers: Iterable[Reader] | None = None) -> set[str]:
    out: set[str] = set()
    for reader in readers or get_readers():
        out.update(e.lower() for e in getattr(reader, "extensions", ()))
    return out


def is_candidate(path: str | os.PathLike) -> bool:
    """Whether a directory scan should pick this file (or store) up."""
    if find_reader(path) is not None:
        return True
    name = os.fspath(path).lower()
    return any(name.endswith(ext) for ext in known_extensions())


def _describe_unknown(path: str | os.PathLike) -> str:
    if is_url(path):
        return "unknown URL scheme or format"
    if os.path.isdir(path):
        return "a directory that is not a Zarr store"
    size = os.path.getsize(path)
    if size == 0:
        return "empty file"
    head = _head(path, 8)
    return f"unknown format, {size} bytes starting with {head!r}"


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def open_raw(path_or_url: str | os.PathLike) -> tuple[xr.Dataset, Reader]:
    """Open a file with the first reader that can; raise InputError otherwise."""
    where = os.fspath(path_or_url)
    if not is_url(where) and not os.path.exists(where):
        raise InputError(f"{where}: no such file or directory")
    reader = find_reader(where)
    if reader is None:
        raise InputError(f"{where}: not a NetCDF, GRIB or Zarr file ({_describe_unknown(where)})")
    try:
        ds = reader.open(where)
    except WeatherdataError:
        raise
    except Exception as exc:
        raise InputError(
            f"{where}: not a NetCDF, GRIB or Zarr file "
            f"(unreadable, truncated or corrupt {reader.name} data: {_short(exc)})"
        ) from exc
    ds.attrs.setdefault("weatherdata_reader", reader.name)
    ds.attrs["weatherdata_source"] = where
    return ds, reader
