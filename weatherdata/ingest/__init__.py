"""Ingest: read observation/forecast files of any supported format into canonical datasets.

Public API::

    obs = open_observations("data/")            # analyses/observations, static, climatology, TC
    fc = open_forecast("runs/*.grib2")          # forecasts: init_time x lead_time
    obs, fc = open_inputs(["data/", "runs/"])   # both, scanning the sources once
    check_inputs(obs, ["air_temperature_2m"])   # the explicit all-NaN check (computes)
    require(obs, products={"heat_index": ["air_temperature_2m", "relative_humidity_2m"]})
    qc_report(obs)                              # the QC report, masked counts computed

``sources`` is a path, a glob, a URL (Zarr), a directory (scanned recursively for files a
reader recognises), or a list of these. Each file is opened by the first reader that can
(:mod:`weatherdata.ingest.readers`), normalized (:mod:`weatherdata.ingest.normalize`), then
the files are combined: analyses along ``time``, forecasts along ``init_time`` (and
``lead_time``), static and climatology fields merged in, tropical-cyclone tracks turned
into the gridded ``tropical_cyclone_*`` inputs. Everything stays lazy (Dask); chunks are
whole horizontal and vertical extents, one forecast run, and as many steps along time axes
as keep the largest variable's chunk near :data:`TARGET_CHUNK_BYTES` (see
:func:`default_chunks`).
"""

from __future__ import annotations

# pyproj before anything loads eccodes (see readers.py)
import pyproj  # noqa: F401  isort: skip

import glob
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError
from .normalize import (
    QC_ATTR,
    check_inputs,
    combine_reports,
    forget_qc,
    missing_inputs,
    normalize_dataset,
    normalize_track,
    qc_report,
    read_report,
    require,
    source_files,
    tropical_cyclone_inputs,
)
from .readers import (
    BaseReader,
    GribReader,
    NetCDFReader,
    Reader,
    TrackCSVReader,
    ZarrReader,
    find_reader,
    get_readers,
    is_candidate,
    is_url,
    open_raw,
    register_reader,
)

__all__ = [
    "DEFAULT_CHUNKS",
    "QC_ATTR",
    "TARGET_CHUNK_BYTES",
    "BaseReader",
    "GribReader",
    "InputFile",
    "NetCDFReader",
    "Reader",
    "TrackCSVReader",
    "ZarrReader",
    "check_inputs",
    "default_chunks",
    "find_reader",
    "forget_qc",
    "get_readers",
    "index_inputs",
    "input_files",
    "missing_inputs",
    "normalize_dataset",
    "normalize_track",
    "open_file",
    "open_forecast",
    "open_inputs",
    "open_observations",
    "open_raw",
    "qc_report",
    "read_report",
    "register_reader",
    "require",
    "source_files",
    "tropical_cyclone_inputs",
]

#: Dimensions chunked by :func:`default_chunks`; every other dimension (horizontal,
#: vertical) stays whole, so column/profile and plane computations see whole columns and
#: planes in one chunk. ``init_time`` is one run per chunk.
DEFAULT_CHUNKS: dict[str, int] = {
    "time": 24,
    "init_time": 1,
    "lead_time": 24,
    "history_time": 24,
    "dayofyear": 24,
}
#: Bytes of the largest variable's chunk that the step count along time axes aims at. Large
#: enough that a demo-sized input is a few chunks (Dask's per-task overhead, ~1 ms, would
#: otherwise dominate: 24-step chunks made ~460 chunks of 30 years of daily history), small
#: enough that memory stays bounded on inputs larger than RAM.
TARGET_CHUNK_BYTES = 64 * 1024 * 1024


def default_chunks(ds: xr.Dataset) -> dict[str, int]:
    """Chunks per dimension: time axes sized so the largest variable's chunk is ~64 MiB.

    Along each time axis (``time``, ``lead_time``, ``history_time``, ``dayofyear``) the
    step count is ``TARGET_CHUNK_BYTES // (bytes of one step of the largest variable)``,
    at least 1, at most the axis length, rounded down to whole days (24 steps) when above a
    day; ``init_time`` is 1; every other dimension is whole.
    """
    spec = {dim: -1 for dim in ds.dims}
    if "init_time" in ds.dims:
        spec["init_time"] = DEFAULT_CHUNKS["init_time"]
    for dim in ("time", "lead_time", "history_time", "dayofyear"):
        if dim not in ds.dims:
            continue
        step_bytes = 1
        for variable in ds.data_vars.values():
            if dim in variable.dims:
                others = [1 if d == "init_time" else ds.sizes[d] for d in variable.dims if d != dim]
                step_bytes = max(step_bytes, variable.dtype.itemsize * int(np.prod(others)))
        steps = max(1, min(ds.sizes[dim], TARGET_CHUNK_BYTES // step_bytes))
        if steps >= 24 and steps < ds.sizes[dim]:
            steps -= steps % 24
        spec[dim] = int(steps)
    return spec


# --------------------------------------------------------------------------------------
# finding files
# --------------------------------------------------------------------------------------
def _scan(directory: str) -> list[str]:
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in list(dirs):
            path = os.path.join(root, name)
            if name.startswith("."):
                dirs.remove(name)
            elif find_reader(path) is not None:  # a Zarr store (or a plugin's directory format)
                found.append(path)
                dirs.remove(name)
        for name in sorted(files):
            if name.startswith(".") or name.endswith(".idx"):
                continue
            path = os.path.join(root, name)
            if is_candidate(path):
                found.append(path)
    return sorted(found)


def input_files(sources) -> list[str]:
    """The files (and stores/URLs) ``sources`` designates, in a deterministic order."""
    if sources is None:
        raise InputError("no input given")
    items = [sources] if isinstance(sources, str | os.PathLike) else list(sources)
    if not items:
        raise InputError("no input given (empty list of sources)")
    out: list[str] = []
    for item in items:
        item = os.fspath(item)
        if is_url(item):
            out.append(item)
            continue
        if any(ch in item for ch in "*?["):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise InputError(f"{item}: no file matches this pattern")
            for match in matches:
                if os.path.isdir(match) and find_reader(match) is None:
                    out.extend(_scan(match))
                elif os.path.isfile(match) and not is_candidate(match):
                    continue  # a glob such as data/* also matches READMEs
                else:
                    out.append(match)
            continue
        if not os.path.exists(item):
            raise InputError(f"{item}: no such file or directory")
        if os.path.isdir(item) and find_reader(item) is None:
            found = _scan(item)
            if not found:
                raise InputError(f"{item}: no NetCDF, GRIB, Zarr or track file in this directory")
            out.extend(found)
        else:
            out.append(item)
    out = list(dict.fromkeys(out))
    if not out:
        raise InputError(f"{', '.join(map(str, items))}: no input files found")
    return out


# --------------------------------------------------------------------------------------
# opening and combining
# --------------------------------------------------------------------------------------
@dataclass
class _Item:
    path: str
    ds: xr.Dataset
    report: dict[str, Any]  # this file's report

    @property
    def kind(self) -> str:
        return self.report["kind"]


def open_file(path: str | os.PathLike) -> xr.Dataset:
    """One file, opened and normalized (no combining, no rechunking)."""
    raw, reader = open_raw(path)
    return normalize_dataset(raw, source=os.fspath(path), reader=reader.name)


def _load(sources, opened: dict[str, xr.Dataset] | None = None) -> list[_Item]:
    items = []
    for path in input_files(sources):
        ds = opened.get(path) if opened is not None else None
        if ds is None:
            ds = open_file(path)
        items.append(_Item(path, ds, read_report(ds)["files"][0]))
    return items


@dataclass(frozen=True)
class InputFile:
    """One input file and the times it holds (:func:`index_inputs`).

    ``kind`` is ``observations`` (``first``/``last``: its first and last ``time``),
    ``forecast`` (its first run and its last valid time) or ``always`` (static,
    climatology and track files: every window reads them).
    """

    path: str
    kind: str
    first: np.datetime64 | None = None
    last: np.datetime64 | None = None

    def overlaps(self, start, end) -> bool:
        """Holds times within ``[start, end]`` (None: unbounded), or is read always."""
        if self.kind == "always":
            return True
        return (start is None or self.last >= np.datetime64(start)) and (
            end is None or self.first <= np.datetime64(end)
        )


def index_inputs(sources) -> list[InputFile]:
    """Every input file with the times it holds: each is opened, read for its time
    coordinates only, and closed. Lets a long record be opened a time window at a time
    (``weatherdata publish --window``): each window then opens the files it needs only."""
    index = []
    for path in input_files(sources):
        ds = open_file(path)
        try:
            kind = read_report(ds)["files"][0]["kind"]
            dims = {dim for variable in ds.data_vars.values() for dim in variable.dims}
            if kind in ("track", "static", "climatology"):
                index.append(InputFile(path, "always"))
            elif "init_time" in dims and "valid_time" in ds.coords:
                valid = np.asarray(ds["valid_time"].values)
                runs = np.asarray(ds["init_time"].values)
                index.append(InputFile(path, "forecast", runs.min(), valid.max()))
            elif "time" in dims:
                times = np.asarray(ds["time"].values)
                index.append(InputFile(path, "observations", times.min(), times.max()))
            else:
                index.append(InputFile(path, "always"))
        finally:
            ds.close()
            forget_qc(ds)
    return index


def _grid(ds: xr.Dataset) -> dict[str, np.ndarray]:
    return {
        name: np.asarray(ds[name].values, dtype="float64")
        for name in ("latitude", "longitude", "y", "x")
        if name in ds.coords
    }


def _describe_grid(grid: Mapping[str, np.ndarray]) -> str:
    parts = []
    for name in ("latitude", "longitude"):
        if name in grid:
            values = grid[name]
            parts.append(
                f"{name} {'x'.join(map(str, values.shape))} points "
                f"{np.nanmin(values):.4g}..{np.nanmax(values):.4g}"
            )
    return ", ".join(parts)


def _first_var(item: _Item) -> str:
    for name, entry in item.report.get("variables", {}).items():
        raw = entry.get("from")
        if raw and raw not in ("derived", "track") and raw != name:
            return f"{raw!r} ({name})"
        if name in item.ds.data_vars:
            return repr(name)
    return repr(next(iter(item.ds.data_vars), "?"))


def _check_grids(items: list[_Item]) -> None:
    reference = None
    for item in items:
        if item.kind == "track":
            continue
        grid = _grid(item.ds)
        if reference is None:
            reference = (item, grid)
            continue
        ref_item, ref_grid = reference
        same = set(grid) == set(ref_grid) and all(
            grid[k].shape == ref_grid[k].shape
            and np.allclose(grid[k], ref_grid[k], rtol=0, atol=1e-3 if k in ("x", "y") else 1e-5)
            for k in grid
        )
        if not same:
            raise InputError(
                f"{item.path}: variable {_first_var(item)} is on a different grid from "
                f"{ref_item.path} (variable {_first_var(ref_item)}): "
                f"{_describe_grid(grid)} vs {_describe_grid(ref_grid)}"
            )


def _dedupe(da: xr.DataArray | xr.Dataset, dim: str, log: list, name: str | None):
    index = pd.Index(da[dim].values)
    duplicated = index.duplicated(keep="last")
    if duplicated.any():
        log.append(
            {
                "variable": name,
                "dim": dim,
                "count": int(duplicated.sum()),
                "values": sorted({str(v) for v in index[duplicated]})[:20],
                "kept": "last (in file order)",
            }
        )
        da = da.isel({dim: np.flatnonzero(~duplicated)})
    if not pd.Index(da[dim].values).is_monotonic_increasing:
        da = da.sortby(dim)
    return da


def _concat(arrays: list[xr.DataArray], dim: str) -> xr.DataArray:
    if len(arrays) == 1:
        return arrays[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        return xr.concat(
            arrays,
            dim=dim,
            join="outer",
            coords="minimal",
            compat="override",
            combine_attrs="override",
        )


def _concat_together(
    items: list[_Item], series: dict[str, list[xr.DataArray]], sources: dict[str, list[int]]
) -> dict[str, tuple]:
    """The time series of variables that come from the same files with the same
    dimensions and coordinates, concatenated along ``time`` and de-duplicated together
    as :func:`_concat` and :func:`_dedupe` do each: ``{name: (array, log notes)}``.

    Concatenating each variable on its own aligned the same time and grid coordinates
    once per variable; the variables of a file mostly share them (the demo's observations
    come from three kinds of daily file). Variables alone in their group are left out
    (the caller concatenates them on their own).
    """
    groups: dict[tuple, list[str]] = {}
    for name, arrays in series.items():
        key = tuple(
            (index, array.dims, tuple(sorted((c, v.dims) for c, v in array.coords.items())))
            for index, array in zip(sources[name], arrays, strict=True)
        )
        groups.setdefault(key, []).append(name)
    out = {}
    for names in groups.values():
        if len(names) < 2:
            continue
        datasets = [
            items[index].ds[names].drop_vars("crs", errors="ignore") for index in sources[names[0]]
        ]
        together = datasets[0]
        if len(datasets) > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=FutureWarning)
                together = xr.concat(
                    datasets,
                    dim="time",
                    data_vars="minimal",
                    join="outer",
                    coords="minimal",
                    compat="override",
                    combine_attrs="override",
                )
        notes: list[dict] = []
        together = _dedupe(together, "time", notes, None)
        for name in names:
            out[name] = (together[name], notes)
    return out


def _combine_forecast(arrays: list[xr.DataArray], log: list, name: str) -> xr.DataArray:
    groups: dict[tuple, list[xr.DataArray]] = {}
    for da in arrays:
        da = da.drop_vars("valid_time", errors="ignore")
        groups.setdefault(tuple(da["init_time"].values.tolist()), []).append(da)
    runs = [_dedupe(_concat(g, "lead_time"), "lead_time", log, name) for g in groups.values()]
    out = _dedupe(_concat(runs, "init_time"), "init_time", log, name)
    return out


def _combine(items: list[_Item], axis: str, log: list) -> xr.Dataset:
    """Combine normalized files: per variable along ``axis`` ('time' or 'forecast')."""
    series: dict[str, list[xr.DataArray]] = {}
    sources: dict[str, list[int]] = {}  # the items each series comes from
    fixed: dict[str, xr.DataArray] = {}
    crs = None
    for index, item in enumerate(items):
        if crs is None and "crs" in item.ds.coords:
            crs = item.ds["crs"].variable
        for name, da in item.ds.data_vars.items():
            da = da.drop_vars("crs", errors="ignore")
            if (axis == "time" and "time" in da.dims) or (
                axis == "forecast" and "init_time" in da.dims
            ):
                series.setdefault(name, []).append(da)
                sources.setdefault(name, []).append(index)
            elif not set(da.dims) & {"time", "init_time"}:
                if name in fixed:
                    log.append({"variable": name, "kept": f"last (from {item.path})"})
                fixed[name] = da
    combined = []
    together = _concat_together(items, series, sources) if axis == "time" else {}
    for name, arrays in series.items():
        if name in together:
            concatenated, notes = together[name]
            combined.append(concatenated)
            log.extend({**note, "variable": name} for note in notes)
        elif axis == "time":
            combined.append(_dedupe(_concat(arrays, "time"), "time", log, name))
        else:
            combined.append(_combine_forecast(arrays, log, name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        out = xr.merge(
            [*combined, *fixed.values()], join="outer", compat="override", combine_attrs="override"
        )
    if "pressure" in out.dims and not pd.Index(out["pressure"].values).is_monotonic_decreasing:
        out = out.sortby("pressure", ascending=False)
    for dim in ("time", "init_time", "lead_time", "latitude", "longitude", "height"):
        if dim in out.dims and not pd.Index(out[dim].values).is_monotonic_increasing:
            out = out.sortby(dim)
    if "init_time" in out.dims:
        out = out.assign_coords(valid_time=out["init_time"] + out["lead_time"])
    if crs is not None:
        out = out.assign_coords(crs=crs)
        for name in out.data_vars:
            if "y" in out[name].dims:
                out[name].encoding["grid_mapping"] = "crs"
    return out


def _rechunk(ds: xr.Dataset, chunks: Mapping[str, Any] | None) -> xr.Dataset:
    spec = default_chunks(ds)
    spec.update({k: v for k, v in (chunks or {}).items() if k in ds.dims})
    return ds.assign(
        {
            name: ds[name].variable.chunk({d: spec[d] for d in ds[name].dims})
            for name in ds.data_vars
        }
    )


def _assemble(
    items: list[_Item], which: str, chunks, *, strict: bool
) -> tuple[xr.Dataset | None, list[dict]]:
    """The observation ('time') or forecast ('forecast') dataset from loaded files."""
    axis = "time" if which == "time" else "init_time"
    other = "forecast" if which == "time" else "analysis"

    def has_axis(item: _Item) -> bool:
        return any(axis in da.dims for da in item.ds.data_vars.values())

    main = [i for i in items if i.kind not in ("track", "static", "climatology") and has_axis(i)]
    extras = [i for i in items if i.kind in ("static", "climatology")]
    tracks = [i for i in items if i.kind == "track"]
    skipped = [
        {
            "file": i.path,
            "reason": f"{other} file: read by "
            + ("open_forecast" if other == "forecast" else "open_observations"),
        }
        for i in items
        if i.kind not in ("track", "static", "climatology") and not has_axis(i)
    ]
    if not main and not (which == "time" and extras):
        return None, skipped
    gridded = main + extras
    if strict:
        _check_grids(gridded)
    else:
        # open_inputs: static/climatology files join the datasets whose grid they share
        reference = main[:1] or extras[:1]
        kept = []
        for item in extras:
            try:
                _check_grids([*reference, item])
                kept.append(item)
            except InputError:
                skipped.append(
                    {"file": item.path, "reason": f"not on the grid of the {which} files"}
                )
        _check_grids(main)
        gridded = main + kept
    log: list[dict] = []
    ds = _combine(gridded, which, log)
    used = gridded
    if tracks:
        has_time = "time" in ds.dims if which == "time" else "valid_time" in ds.coords
        if not has_time and not strict:
            skipped += [{"file": t.path, "reason": f"no {which} time axis"} for t in tracks]
            tracks = []
        elif not has_time:
            raise InputError(
                f"{tracks[0].path}: variable 'time': no gridded {'observations' if which == 'time' else 'forecasts'} "
                "with a time axis to place the tropical-cyclone track on"
            )
        if tracks:
            tc = tropical_cyclone_inputs([t.ds for t in tracks], ds)
            ds = ds.merge(tc, join="left", compat="override")
            used = used + tracks
    ds = _rechunk(ds, chunks)
    names = set(ds.data_vars)
    report = combine_reports(
        [
            {
                **i.report,
                "variables": {k: v for k, v in i.report["variables"].items() if k in names},
            }
            for i in used
        ],
        skipped=skipped,
        extra={
            "dataset": "observations" if which == "time" else "forecast",
            "combined": {"duplicates_across_files": log},
        },
    )
    ds.attrs = {QC_ATTR: _json(report)}
    return ds, skipped


def _json(report) -> str:
    import json

    from .normalize import _to_json

    return json.dumps(report, default=_to_json)


def _label(sources) -> str:
    items = [sources] if isinstance(sources, str | os.PathLike) else list(sources)
    return ", ".join(os.fspath(s) for s in items[:3]) + (" …" if len(items) > 3 else "")


def open_observations(sources, *, chunks: Mapping[str, Any] | None = None) -> xr.Dataset:
    """Canonical observations (analyses) from ``sources`` (see the module docstring).

    Analysis files are concatenated along ``time``; static and climatology fields are
    merged in; track CSV files become ``tropical_cyclone_distance`` /
    ``tropical_cyclone_maximum_wind_speed`` on the observation grid and times. Forecast
    files are skipped (and listed in the report): use :func:`open_forecast`.
    """
    items = _load(sources)
    ds, skipped = _assemble(items, "time", chunks, strict=True)
    if ds is None:
        detail = f" ({len(skipped)} forecast file(s): use open_forecast)" if skipped else ""
        raise InputError(f"{_label(sources)}: no observation (analysis) file{detail}")
    return ds


def open_forecast(sources, *, chunks: Mapping[str, Any] | None = None) -> xr.Dataset:
    """Canonical forecasts: dims ``init_time``, ``lead_time``, … and ``valid_time``.

    Runs are concatenated along ``init_time`` (files of the same run along
    ``lead_time``); static and climatology fields are merged in.
    """
    items = _load(sources)
    ds, skipped = _assemble(items, "forecast", chunks, strict=True)
    if ds is None:
        detail = f" ({len(skipped)} analysis file(s): use open_observations)" if skipped else ""
        raise InputError(f"{_label(sources)}: no forecast file{detail}")
    return ds


def open_inputs(
    sources,
    *,
    chunks: Mapping[str, Any] | None = None,
    opened: dict[str, xr.Dataset] | None = None,
) -> tuple[xr.Dataset | None, xr.Dataset | None]:
    """``(observations or None, forecast or None)``, reading every file once.

    Static and climatology files are merged into whichever of the two shares their grid.
    ``opened``: files already opened (:func:`open_file`), by path, used instead of opening
    them again (consecutive time windows share files); the files opened here are added.
    """
    items = _load(sources, opened)
    if opened is not None:
        opened.update({item.path: item.ds for item in items})
    observations, _ = _assemble(items, "time", chunks, strict=False)
    forecast, _ = _assemble(items, "forecast", chunks, strict=False)
    if observations is None and forecast is None:
        raise InputError(f"{_label(sources)}: no observation or forecast data in the inputs")
    return observations, forecast
