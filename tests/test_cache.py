"""The on-disk geometry cache (weatherdata.cache): cnmaps' boundaries, read back from disk,
are the geometries cnmaps gives, coordinate for coordinate, without calling cnmaps."""

from __future__ import annotations

import cnmaps
import numpy as np
import pytest
import shapely
from weatherdata.products.forecast_warning import districts

from weatherdata import cache, plot


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """An empty cache directory, and no layer cached in this process (before and after)."""
    monkeypatch.setenv(cache.CACHE_DIRECTORY_VARIABLE, str(tmp_path / "cache"))
    plot.boundary_geometries.cache_clear()
    districts._boundaries.cache_clear()
    yield tmp_path / "cache"
    plot.boundary_geometries.cache_clear()
    districts._boundaries.cache_clear()


def _without_cnmaps(monkeypatch):
    def refuse(**query):
        raise AssertionError(f"cnmaps was asked for {query}")

    monkeypatch.setattr(cnmaps, "get_adm_maps", refuse)


def _assert_same_geometries(got, expected):
    assert len(got) == len(expected)
    assert [g.geom_type for g in got] == [g.geom_type for g in expected]
    assert shapely.equals_exact(np.asarray(got), np.asarray(expected), tolerance=0).all()


def test_a_boundary_layer_is_read_back_from_disk_as_cnmaps_gave_it(own_cache, monkeypatch):
    fresh = plot._load_boundary_lines(plot.BOUNDARY_KINDS["city"])
    lines, bounds = plot.boundary_geometries("city")
    _assert_same_geometries(lines, fresh)
    (kept,) = (own_cache / "geometries").glob("boundary-city-*.wkb")
    plot.boundary_geometries.cache_clear()
    _without_cnmaps(monkeypatch)
    again, again_bounds = plot.boundary_geometries("city")
    _assert_same_geometries(again, fresh)
    np.testing.assert_array_equal(again_bounds, bounds)
    assert list((own_cache / "geometries").iterdir()) == [kept]


def test_district_areas_are_read_back_from_disk_in_the_region_order(own_cache, monkeypatch):
    fresh = districts._boundaries("guangzhou_districts")
    districts._boundaries.cache_clear()
    _without_cnmaps(monkeypatch)
    again = districts._boundaries("guangzhou_districts")
    assert [(zh, en) for zh, en, _ in again] == [(zh, en) for zh, en, _ in fresh]
    assert [zh for zh, _, _ in again] == list(districts._REGIONS["guangzhou_districts"][0])
    _assert_same_geometries([g for *_, g in again], [g for *_, g in fresh])


def test_an_unreadable_cache_file_is_rebuilt(own_cache, monkeypatch):
    fresh, _ = plot.boundary_geometries("district")
    (kept,) = (own_cache / "geometries").glob("boundary-district-*.wkb")
    for damaged in (kept.read_bytes()[:100], b"not a geometry", b""):
        kept.write_bytes(damaged)
        plot.boundary_geometries.cache_clear()
        lines, _ = plot.boundary_geometries("district")
        _assert_same_geometries(lines, fresh)
        assert kept.read_bytes() != damaged  # written again
    plot.boundary_geometries.cache_clear()
    _without_cnmaps(monkeypatch)
    _assert_same_geometries(plot.boundary_geometries("district")[0], fresh)


def test_a_cache_that_cannot_be_written_is_skipped(tmp_path, monkeypatch, own_cache):
    blocked = tmp_path / "a file"
    blocked.write_text("")
    monkeypatch.setenv(cache.CACHE_DIRECTORY_VARIABLE, str(blocked / "cache"))
    lines, _ = plot.boundary_geometries("district")
    _assert_same_geometries(lines, plot._load_boundary_lines(plot.BOUNDARY_KINDS["district"]))
    assert blocked.read_text() == "" and not list(tmp_path.glob("**/*.wkb"))


def test_the_cache_file_name_follows_what_the_geometries_depend_on(own_cache, monkeypatch):
    name = cache._geometry_file("layer", ["lines", 0.005])
    assert name.parent == own_cache / "geometries" and name.name.startswith("layer-")
    assert cache._geometry_file("layer", ["lines", 0.005]) == name
    assert cache._geometry_file("layer", ["lines", 0.01]) != name
    real_version = cache.importlib.metadata.version

    for distribution in cache._GEOMETRY_SOURCES:
        monkeypatch.setattr(
            cache.importlib.metadata,
            "version",
            lambda d, changed=distribution: "0.0" if d == changed else real_version(d),
        )
        assert cache._geometry_file("layer", ["lines", 0.005]) != name, distribution


def _lock_is_held(directory, name) -> bool:
    """Whether another open file description holds ``name``'s machine lock (``flock``
    locks belong to the open file, so this process can test its own)."""
    import fcntl

    with open(directory / f"{name}.lock", "a") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(other, fcntl.LOCK_UN)
        return False


def test_xclim_is_first_imported_under_the_machine_lock(own_cache, monkeypatch):
    """Its first import loads or compiles xclim's cached numba gufuncs, which two processes
    doing at once can corrupt (numba #10128): held, then released; a module already
    imported takes no lock; without a usable cache directory, no lock and no error."""
    import types

    from weatherdata import units

    held = []

    def imported(name):
        held.append((name, _lock_is_held(own_cache, units.NUMBA_COMPILE_LOCK)))
        return types.ModuleType(name)

    monkeypatch.setattr(units.importlib, "import_module", imported)
    assert units.import_xclim("weatherdata_test_xclim").__name__ == "weatherdata_test_xclim"
    assert held[0] == ("weatherdata_test_xclim", True)
    assert not _lock_is_held(own_cache, units.NUMBA_COMPILE_LOCK)
    held.clear()
    assert units.import_xclim("json") is __import__("json")
    assert not [name for name, _ in held if name == "json"]
    not_a_directory = own_cache / "file"
    not_a_directory.write_text("")
    monkeypatch.setenv(cache.CACHE_DIRECTORY_VARIABLE, str(not_a_directory / "cache"))
    assert units.import_xclim("weatherdata_test_other").__name__ == "weatherdata_test_other"
