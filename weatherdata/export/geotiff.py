"""GeoTIFF export: Cloud-Optimized GeoTIFFs (GDAL ``COG`` driver) of gridded products.

What the files guarantee
------------------------
* **Georeferencing.** A latitude/longitude grid is written in EPSG:4326 (longitude, latitude
  degrees); a projected grid (``y``/``x`` in metres with a CF grid-mapping ``crs``
  variable, as ingest normalizes e.g. the NAM Lambert grid) keeps its CRS. The
  geotransform puts the cell *edges* half a spacing outside the outermost cell centres
  (``AREA_OR_POINT=Area``); the grid must be regular (constant spacing on each axis, at
  least two cells), otherwise the export stops with an error.
* **North up.** Rows run from north to south (negative y pixel size), whatever the order
  of the published latitude (ascending, south first) or ``y`` axis.
* **Bands.** One band per time step, in time order, described by the ISO valid time in UTC
  (``2026-07-27T06:00:00Z``; the start of the day/period for ``day``/``period``
  products). Other dimensions (vector ``component``, Corfidi ``motion``) multiply the
  bands and are appended to the description (``… component=eastward``). Each band also
  carries tags ``valid_time`` and one per dimension label.
* **Forecast runs** (``init_time`` x ``lead_time``): the file holds the **latest run** in
  the selection, one band per lead time, described by its valid time; the run is in the
  dataset tag ``forecast_reference_time`` and each band has ``lead_time_hours``.
  Another run: select it with ``--time <init time>``.
* **Missing values.** Continuous products are ``Float32`` with nodata NaN. Categorical
  products are ``Byte`` bands holding the level codes, nodata 255, with the catalog
  colours as the GDAL colour table (``categories[i].colour``; nodata transparent). TIFF
  stores a colour table only in a single-band file (a palette image has one sample per
  pixel), so a categorical product with several time steps is written as **one
  single-band file per time step**, ``<name>_<YYYYMMDDTHHMMSSZ>.tif`` beside the
  requested name. Levels a palette cannot index (negative, as in ``human_comfort_level``)
  are written as one multi-band ``Int16`` file, nodata -32768, colours only in the tags.
* **Layout.** DEFLATE with the predictor; square tiles of 512 pixels at most, smaller
  when the grid is small or the bands many (GDAL 3.10's COG driver interleaves bands by
  pixel, so a tile holds every band: it is kept under 16 MiB uncompressed, e.g. 128 x 128
  for 120 float bands; a reader of one band reads the others' bytes of that tile too);
  overviews when the grid is larger than a tile (nearest-neighbour for levels, average
  otherwise).
* **Provenance** in the dataset tags: product, names, units, ``history`` (the store's lines
  plus this export: time, weatherdata version, source, selection) and the store's inputs.

Products without a horizontal grid (per-district tables, index series) cannot be
GeoTIFFs: the export stops with an error that names the product and suggests CSV or
NetCDF.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from .._version import __version__
from ..catalog import ProductEntry
from ..errors import WeatherdataError
from . import Exporter, ExportOptions, atomic_output

__all__ = ["GeoTIFFExporter"]

_TIME_LABELS = ("time", "day", "period")
#: Read at most this many values at a time (512 MiB of float32) while writing bands.
_BLOCK_VALUES = 2**27
#: Largest uncompressed COG tile (all bands: GDAL 3.10 interleaves bands by pixel).
_TILE_BYTES = 16 * 2**20
_BYTE_NODATA = 255
_INT16_NODATA = -32768


class GeoTIFFExporter(Exporter):
    """Cloud-Optimized GeoTIFF (see the module docstring for what the files guarantee)."""

    name = "geotiff"
    suffix = ".tif"
    gridded_only = True
    description = (
        "Cloud-Optimized GeoTIFF, one band per time step (warning levels: one paletted "
        "file per time step)"
    )

    def write(
        self, data: xr.Dataset, entry: ProductEntry, destination: Path, options: ExportOptions
    ) -> list[Path]:
        variable = data[entry.id]
        grid = _Grid.of(data, entry)
        variable, run = _latest_run(variable)
        # Label coordinates (a forecast's valid_time) may be lazy: read each once.
        variable = variable.assign_coords(
            {name: c.compute() for name, c in variable.coords.items() if c.chunks is not None}
        )
        band_dims = [d for d in variable.dims if d not in (grid.y, grid.x)]
        variable = variable.transpose(*band_dims, grid.y, grid.x)
        bands = _band_labels(variable, band_dims)
        if not bands:
            raise WeatherdataError(f"{entry.id}: the selection holds no time step to write")
        tags = _dataset_tags(data, entry, run)
        categories = entry.categories
        levels = [c.value for c in categories] if categories else []
        # A TIFF palette indexes unsigned values; 255 is kept for nodata.
        paletted = bool(levels) and 0 <= min(levels) and max(levels) < _BYTE_NODATA
        if paletted:
            dtype, nodata = "uint8", _BYTE_NODATA
        elif categories:
            dtype, nodata = "int16", _INT16_NODATA
        else:
            dtype, nodata = "float32", float("nan")
        profile = {
            "dtype": dtype,
            "nodata": nodata,
            "crs": grid.crs,
            "transform": grid.transform,
            "width": variable.sizes[grid.x],
            "height": variable.sizes[grid.y],
        }
        colours = _colour_table(categories) if paletted else None
        groups = [[band] for band in bands] if paletted and len(bands) > 1 else [bands]
        targets = (
            [
                destination.with_name(f"{destination.stem}_{b.stamp}{destination.suffix}")
                for [b] in groups
            ]
            if len(groups) > 1
            else [destination]
        )
        with (
            contextlib.ExitStack() as stack,
            tempfile.TemporaryDirectory(prefix="weatherdata-geotiff-") as scratch,
        ):
            # All files of the product become visible together, or none does.
            temporaries = [stack.enter_context(atomic_output(target)) for target in targets]
            planes = _planes(variable, band_dims, grid, profile, bool(categories))
            if len(groups) == 1:
                source = Path(scratch) / "source.tif"
                _write_source(source, planes, bands, profile, tags, entry, colours)
                _to_cog(source, temporaries[0], bool(categories))
            else:
                for number, values in planes:
                    source = Path(scratch) / f"source-{number}.tif"
                    _write_source(
                        source, [(0, values)], [bands[number]], profile, tags, entry, colours
                    )
                    _to_cog(source, temporaries[number], bool(categories))
                    source.unlink()
        return targets


# -- grid ---------------------------------------------------------------------------


class _Grid:
    """Horizontal dims, CRS and north-up geotransform of a regular grid."""

    def __init__(self, y: str, x: str, crs, transform, flip: bool):
        self.y, self.x, self.crs, self.transform, self.flip = y, x, crs, transform, flip

    @classmethod
    def of(cls, data: xr.Dataset, entry: ProductEntry) -> _Grid:
        from rasterio.crs import CRS

        variable = data[entry.id]
        if "latitude" in variable.dims and "longitude" in variable.dims:
            y, x, crs = "latitude", "longitude", CRS.from_epsg(4326)
        elif "y" in variable.dims and "x" in variable.dims:
            y, x = "y", "x"
            crs = _projected_crs(data, entry)
        else:
            raise WeatherdataError(
                f"{entry.id}: no horizontal grid (dims {', '.join(map(str, variable.dims))}); "
                "a GeoTIFF needs latitude/longitude or projected y/x: use --format csv or netcdf"
            )
        if y not in data.coords or x not in data.coords:
            raise WeatherdataError(f"{entry.id}: the {y}/{x} dimensions have no coordinates")
        x_step = _spacing(data[x].values, x, entry)
        y_step = _spacing(data[y].values, y, entry)
        from rasterio.transform import from_origin

        x_values, y_values = data[x].values, data[y].values
        west = float(min(x_values[0], x_values[-1])) - abs(x_step) / 2
        north = float(max(y_values[0], y_values[-1])) + abs(y_step) / 2
        if x_step < 0:
            raise WeatherdataError(f"{entry.id}: {x} decreases; a GeoTIFF needs west to east")
        transform = from_origin(west, north, abs(x_step), abs(y_step))
        return cls(y, x, crs, transform, flip=y_step > 0)


def _projected_crs(data: xr.Dataset, entry: ProductEntry):
    from rasterio.crs import CRS

    if "crs" not in data.variables:
        raise WeatherdataError(
            f"{entry.id}: a projected y/x grid without a `crs` grid-mapping variable; "
            "its CRS is unknown, so it cannot be georeferenced"
        )
    attrs = dict(data["crs"].attrs)
    if attrs.get("crs_wkt"):
        return CRS.from_wkt(attrs["crs_wkt"])
    from pyproj import CRS as ProjCRS

    try:
        return CRS.from_wkt(ProjCRS.from_cf(attrs).to_wkt())
    except Exception as exc:
        raise WeatherdataError(f"{entry.id}: grid mapping `crs` not understood ({exc})") from exc


def _spacing(values: np.ndarray, name: str, entry: ProductEntry) -> float:
    values = np.asarray(values, dtype="float64")
    if values.size < 2:
        raise WeatherdataError(
            f"{entry.id}: only {values.size} cell along {name}; a GeoTIFF needs at least 2 "
            "to know the cell size (select a larger --bbox or --district)"
        )
    steps = np.diff(values)
    step = (values[-1] - values[0]) / (values.size - 1)
    # A geotransform places centre i at first + i * step: accept coordinates within 1 %
    # of a cell of that (decimal degrees stored in binary, float32 files), no more.
    regular = values[0] + step * np.arange(values.size)
    if step == 0 or np.max(np.abs(values - regular)) > 0.01 * abs(step):
        raise WeatherdataError(
            f"{entry.id}: {name} spacing is not constant ({steps.min():g} to {steps.max():g}); "
            "a GeoTIFF needs a regular grid"
        )
    return float(step)


# -- bands --------------------------------------------------------------------------


class _Band:
    """One output band: its valid time and its other labels (lead time, component…)."""

    def __init__(self, valid_time: np.datetime64 | None, labels: dict):
        self.valid_time = valid_time
        self.labels = labels

    @property
    def description(self) -> str:
        parts = [_iso(self.valid_time)] if self.valid_time is not None else []
        parts += [f"{k}={v}" for k, v in self.labels.items() if k != "lead_time_hours"]
        return " ".join(parts)

    @property
    def stamp(self) -> str:
        parts = [_compact(self.valid_time)] if self.valid_time is not None else []
        parts += [str(v) for k, v in self.labels.items() if k != "lead_time_hours"]
        return "_".join(parts) or "static"

    def tags(self) -> dict[str, str]:
        tags = {k: str(v) for k, v in self.labels.items()}
        if self.valid_time is not None:
            tags["valid_time"] = _iso(self.valid_time)
        return tags


def _latest_run(variable: xr.DataArray) -> tuple[xr.DataArray, np.datetime64 | None]:
    """A forecast grid's latest run (``init_time`` dropped), and that run's time."""
    if "init_time" not in variable.dims:
        return variable, None
    run = variable["init_time"].values.max()
    variable = variable.sel(init_time=run)
    if "valid_time" not in variable.coords:
        variable = variable.assign_coords(valid_time=run + variable["lead_time"])
    return variable, run


def _band_labels(variable: xr.DataArray, band_dims: list[str]) -> list[_Band]:
    bands = []
    ranges = [range(variable.sizes[d]) for d in band_dims]
    for position in itertools.product(*ranges):
        index = dict(zip(band_dims, position, strict=True))
        valid_time = None
        labels: dict[str, str] = {}
        for dim, at in index.items():
            label = variable[dim].values[at] if dim in variable.coords else at
            if dim in _TIME_LABELS:
                valid_time = label
            elif dim == "lead_time":
                valid_time = variable["valid_time"].values[at]
                hours = label / np.timedelta64(1, "h")
                labels["lead_time_hours"] = f"{hours:g}"
            else:
                labels[dim] = str(label)
        bands.append(_Band(valid_time, labels))
    return bands


def _iso(value) -> str:
    return np.datetime_as_string(np.datetime64(value, "s"), unit="s") + "Z"


def _compact(value) -> str:
    return _iso(value).replace("-", "").replace(":", "")


# -- metadata -----------------------------------------------------------------------


def _colour_table(categories) -> dict[int, tuple[int, int, int, int]]:
    table = {_BYTE_NODATA: (0, 0, 0, 0)}
    for category in categories:
        hex_colour = category.colour.lstrip("#")
        table[category.value] = (*(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4)), 255)
    return table


def _dataset_tags(data: xr.Dataset, entry: ProductEntry, run) -> dict[str, str]:
    attrs = data[entry.id].attrs
    now = dt.datetime.now(dt.UTC)
    line = (
        f"{now:%Y-%m-%dT%H:%M:%SZ} weatherdata {__version__} export --format geotiff "
        f"{entry.id}; source: {data.attrs.get('weatherdata_export_source', 'an in-memory dataset')}; "
        f"selection: {data.attrs.get('weatherdata_export_selection', 'everything given')}"
    )
    history = data.attrs.get("history")
    tags = {
        "product": entry.id,
        "title": f"{entry.name.en} ({entry.name.zh})",
        "long_name": attrs.get("long_name", entry.name.en),
        "long_name_zh": entry.name.zh,
        "units": entry.units or "",
        "standard_name": attrs.get("standard_name", ""),
        "time_kind": entry.time.kind,
        "history": f"{history}\n{line}" if history else line,
        "weatherdata_version": __version__,
        "weatherdata_inputs": str(data.attrs.get("weatherdata_inputs", "")),
        "weatherdata_catalog_entry_sha256": entry.entry_hash(),
    }
    if run is not None:
        tags["forecast_reference_time"] = _iso(run)
    if entry.categories:
        tags["flag_values"] = " ".join(str(c.value) for c in entry.categories)
        tags["flag_meanings"] = " ".join(c.meaning for c in entry.categories)
        tags["flag_colors"] = " ".join(c.colour for c in entry.categories)
        tags["flag_names_zh"] = " ".join(c.zh for c in entry.categories)
    return {k: v for k, v in tags.items() if v != ""}


# -- writing ------------------------------------------------------------------------


def _planes(
    variable: xr.DataArray, band_dims: list[str], grid: _Grid, profile: dict, categorical: bool
):
    """``(band number, plane)`` in band order, north up, in the output type.

    Reads blocks along the first band dim (up to ``_BLOCK_VALUES`` values each), so a
    store chunk is decompressed once per block rather than once per band.
    """
    if not band_dims:
        blocks = [(0, variable.values[np.newaxis])]
    else:
        first, inner = band_dims[0], int(np.prod([variable.sizes[d] for d in band_dims[1:]]))
        plane = profile["width"] * profile["height"]
        step = max(1, _BLOCK_VALUES // max(plane * inner, 1))
        blocks = (
            (start * inner, variable.isel({first: slice(start, start + step)}).values)
            for start in range(0, variable.sizes[first], step)
        )
    for offset, block in blocks:
        block = np.asarray(block, dtype="float64").reshape(-1, *block.shape[-2:])
        if grid.flip:
            block = block[:, ::-1, :]
        if categorical:
            block = np.where(np.isnan(block), profile["nodata"], np.rint(block))
        block = block.astype(profile["dtype"])
        yield from enumerate(block, start=offset)


def _write_source(
    path: Path,
    planes,
    bands: list[_Band],
    profile: dict,
    tags: dict,
    entry: ProductEntry,
    colours: dict | None,
) -> None:
    """An uncompressed tiled GeoTIFF of ``bands`` (``planes`` yields them in order)."""
    import rasterio

    options = {
        "driver": "GTiff",
        "count": len(bands),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "interleave": "band",  # one band's tile at a time in memory while writing
        "BIGTIFF": "IF_SAFER",
    }
    with (
        rasterio.Env(GDAL_PAM_ENABLED="NO"),
        rasterio.open(path, "w", **profile, **options) as out,
    ):
        out.update_tags(**tags)
        for position, (_, values) in enumerate(planes, start=1):
            out.write(values, position)
        for number, band in enumerate(bands, start=1):
            out.set_band_description(number, band.description)
            out.update_tags(number, **band.tags())
            out.set_band_unit(number, entry.units or "")
        if colours is not None:
            out.write_colormap(1, colours)


def block_size(width: int, height: int, bands: int, itemsize: int) -> int:
    """COG tile side: 512 at most, no larger than the grid needs (a multiple of 16), and
    small enough that one tile of all bands (pixel-interleaved) stays within 16 MiB."""
    needed = 16 * -(-max(width, height) // 16)
    for side in (512, 256, 128, 64, 32, 16):
        if side * side * bands * itemsize <= _TILE_BYTES or side == 16:
            return min(side, needed)
    raise AssertionError("unreachable")


def _to_cog(source: Path, target: Path, categorical: bool) -> None:
    import rasterio
    from rasterio.shutil import copy

    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(source) as opened:
        side = block_size(
            opened.width, opened.height, opened.count, np.dtype(opened.dtypes[0]).itemsize
        )
    with rasterio.Env(GDAL_PAM_ENABLED="NO"):
        copy(
            source,
            target,
            driver="COG",
            COMPRESS="DEFLATE",
            PREDICTOR="YES",
            BLOCKSIZE=side,
            OVERVIEWS="AUTO",
            RESAMPLING="NEAREST" if categorical else "AVERAGE",
            BIGTIFF="IF_SAFER",
        )
