"""The derivation engine: resolve, check, compute once, attach metadata — lazily.

``derive(observations, products)`` walks the catalog's dependency graph, calls each
recipe once (shared intermediates such as dewpoint, wind speed or the parcel ascent
are computed once and reused), converts every output to its declared units, masks
values outside the declared valid range, and attaches CF metadata and provenance.
Nothing is computed until the caller writes or loads the result.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import dask.array
import numpy as np
import pandas as pd
import xarray as xr

from . import _pickling
from ._version import __version__
from .catalog import Catalog, ProductEntry, parameter_value, shipped_catalog
from .errors import (
    CatalogError,
    InputError,
    InsufficientDataError,
    UnitsError,
    WeatherdataError,
)
from .units import apply_linear, convert_dataarray, ensure_registry, linear_conversion, parse_units
from .variables import canonical_variables

_pickling.register()

__all__ = ["derive", "derive_arrays", "missing_inputs", "product_attributes"]

#: How often each recipe was called in this process (tests check sharing with it).
recipe_calls: Counter = Counter()


def missing_inputs(
    catalog: Catalog, product_ids: Iterable[str], observations, forecast=None
) -> dict[str, set[str]]:
    """Canonical inputs each product lacks, ``{product: {variable, …}}`` (empty if none)."""
    present = (
        set(observations.data_vars) | set(observations.coords)
        if observations is not None
        else set()
    )
    present_forecast = set(forecast.data_vars) if forecast is not None else set()
    out = {}
    for pid in product_ids:
        lacking = set()
        for name in catalog.canonical_inputs(pid):
            if name.startswith("forecast:"):
                if name.split(":", 1)[1] not in present_forecast:
                    lacking.add(name)
            elif name not in present:
                lacking.add(name)
        if lacking:
            out[pid] = lacking
    return out


def product_attributes(entry: ProductEntry, catalog: Catalog | None = None) -> dict[str, Any]:
    """CF attributes and provenance that the engine attaches to a product."""
    attrs: dict[str, Any] = {}
    if entry.cf.standard_name:
        attrs["standard_name"] = entry.cf.standard_name
    attrs["long_name"] = entry.cf.long_name or entry.name.en
    attrs["units"] = entry.units or "1"
    attrs["long_name_zh"] = entry.name.zh
    if entry.cf.cell_methods:
        attrs["cell_methods"] = entry.cf.cell_methods
    if entry.cf.comment:
        attrs["comment"] = entry.cf.comment
    if entry.categories:
        attrs["flag_values"] = np.array([c.value for c in entry.categories], dtype=np.int8)
        attrs["flag_meanings"] = " ".join(c.meaning for c in entry.categories)
        attrs["flag_colors"] = " ".join(c.colour for c in entry.categories)
        attrs["flag_names_zh"] = " ".join(c.zh for c in entry.categories)
        attrs["units"] = "1"
    if entry.valid_range is not None:
        attrs["valid_min"], attrs["valid_max"] = entry.valid_range
    attrs["weatherdata_product"] = entry.id
    attrs["weatherdata_family"] = entry.family
    attrs["weatherdata_time_kind"] = entry.time.kind
    if entry.time.window:
        attrs["weatherdata_window"] = entry.time.window
    attrs["weatherdata_catalog_entry_sha256"] = entry.entry_hash()
    attrs["weatherdata_version"] = __version__
    if entry.parameters:
        attrs["weatherdata_parameters"] = "; ".join(
            f"{k}={p.value!s}{'' if p.verified else ' (unverified)'}"
            for k, p in entry.parameters.items()
        )
    sources = sorted({p.source for p in entry.parameters.values()} | set(entry.references))
    if sources:
        attrs["references"] = "; ".join(
            f"{key}: {catalog.references[key]}" if catalog and key in catalog.references else key
            for key in sources
        )
    return attrs


def _check_canonical(data: xr.DataArray, name: str) -> xr.DataArray:
    """Inputs arrive in canonical units; a different but convertible unit is converted."""
    spec = canonical_variables()[name]
    units = data.attrs.get("units")
    if units is None:
        raise UnitsError(f"input variable {name}: units are missing")
    if parse_units(units) != parse_units(spec.units):
        data = convert_dataarray(data, spec.units, where=f"input variable {name}")
    return data


def _resolve_parameters(entry: ProductEntry, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    values = {name: parameter_value(p) for name, p in entry.parameters.items()}
    for name, value in (overrides or {}).items():
        if name not in entry.parameters:
            raise CatalogError(
                f"product {entry.id}: unknown parameter {name!r} (known: {', '.join(entry.parameters) or 'none'})"
            )
        values[name] = parameter_value(value)
        declared = values[name]
        default = parameter_value(entry.parameters[name])
        if (
            hasattr(default, "dimensionality")
            and getattr(declared, "dimensionality", None) != default.dimensionality
        ):
            raise UnitsError(
                f"product {entry.id}: parameter {name}={value!r} does not have the units of {entry.parameters[name].value!r}"
            )
    return values


_KEPT_COORDINATES = {
    "latitude",
    "longitude",
    "crs",
    "x",
    "y",
    "valid_time",
    "forecast_reference_time",
}


def _keep_coordinate(result: xr.DataArray, name: str) -> bool:
    """Dimension coordinates, geolocation, forecast times and labels of one dimension
    (e.g. district names) belong to a product; anything else a library left behind
    (e.g. distribution-fit diagnostics) does not."""
    coordinate = result.coords[name]
    if name in result.dims or name in _KEPT_COORDINATES:
        return True
    return (
        coordinate.ndim == 1
        and coordinate.dims[0] in result.dims
        and coordinate.dims[0] not in ("latitude", "longitude", "x", "y")
    )


def _input_time_step(observations) -> str | None:
    """The observation time step, recorded on window products ("windows work for any step")."""
    if observations is None or "time" not in observations.dims or observations.sizes["time"] < 2:
        return None
    steps = np.unique(np.diff(observations["time"].values))
    if steps.size != 1:
        return None
    import pandas as pd

    minutes = pd.Timedelta(steps[0]).total_seconds() / 60
    return f"{minutes / 60:g} hour" if minutes % 60 == 0 else f"{minutes:g} minute"


def _published_values(
    result: xr.DataArray, valid_range=None, allowed=None, linear=None
) -> xr.DataArray:
    """``result`` as published: converted by ``linear`` ``(scale, offset)``
    (:func:`~weatherdata.units.linear_conversion` to the catalog's units, as
    :func:`~weatherdata.units.convert_dataarray` converts), missing (NaN) outside
    ``valid_range`` ``(low, high)`` or where not one of the ``allowed`` category values,
    as float32 — in one pass over each block (:func:`_published_block`) rather than an
    xarray operation per step, each aligning its operands while the graph is built
    (~4 ms a product, ~1 s of the catalog's; the conversion and its cast back were
    another ~0.5 ms a product). Block by block, because a Dask array whose metadata
    already say float32 is left alone by ``astype``, and some kernels (xclim's KBDI)
    return float64 blocks under float32 metadata: published stores hold float32, so
    without this a product built on one computed from the float64 values, and one built
    on its store from the float32 ones."""
    arguments = {"valid_range": valid_range, "allowed": allowed, "linear": linear}
    if isinstance(result.data, dask.array.Array):
        data = result.data.map_blocks(
            _published_block, **arguments, dtype=np.float32, meta=np.array((), np.float32)
        )
    else:
        data = _published_block(np.asarray(result.data), **arguments)
    return result.copy(data=data)


def _published_block(block: np.ndarray, valid_range=None, allowed=None, linear=None) -> np.ndarray:
    """One block of :func:`_published_values`: the conversion in the block's own floating
    type (as :func:`~weatherdata.units.convert_dataarray` casts it back), the tests on the
    converted values, then the cast (as ``where`` then ``astype`` did)."""
    if linear is not None:
        converted = apply_linear(block, *linear)
        block = converted.astype(block.dtype, copy=False) if block.dtype.kind == "f" else converted
    keep = None
    if valid_range is not None:
        low, high = valid_range
        keep = (block >= low) & (block <= high)
    if allowed is not None:
        known = np.isin(block, allowed)
        keep = known if keep is None else keep & known
    if keep is not None:
        block = np.where(keep, block, np.nan)
    return block.astype(np.float32, copy=False)


def _finish(entry: ProductEntry, result, catalog: Catalog) -> xr.DataArray | xr.Dataset:
    if entry.family == "intermediate":
        if not isinstance(result, xr.Dataset | xr.DataArray):
            raise TypeError(f"recipe {entry.recipe} returned {type(result).__name__}, not xarray")
        return result
    if isinstance(result, xr.Dataset):
        raise TypeError(
            f"recipe {entry.recipe} of product {entry.id} returned a Dataset; products return a DataArray"
        )
    if not isinstance(result, xr.DataArray):
        raise TypeError(
            f"recipe {entry.recipe} of product {entry.id} returned {type(result).__name__}"
        )
    units = result.attrs.get("units")
    if units is None:
        raise UnitsError(
            f"recipe {entry.recipe} of product {entry.id} returned values without units"
        )
    if entry.categories is None:
        linear = linear_conversion(units, entry.units, where=f"product {entry.id}")
        result = _published_values(result, valid_range=entry.valid_range, linear=linear)
    else:
        result = _published_values(result, allowed=[c.value for c in entry.categories])
    result = result.drop_vars(
        [name for name in result.coords if not _keep_coordinate(result, name)]
    )
    result.attrs = product_attributes(entry, catalog)
    result.name = entry.id
    return result


def _read_back(derived: xr.DataArray, stored: xr.DataArray) -> xr.DataArray:
    """``derived`` with its values read from ``stored`` (a published store of the same
    product), if ``stored`` holds every coordinate value of ``derived`` on the same
    dimensions — along one dimension, values after the store's last one (the hours past
    a publication's end that a window's inputs reach) are kept from the derivation —;
    else ``derived`` unchanged. Stores keep the derived dtype (float32, categories as
    int8 that decode to float32 with NaN), so the values are the same."""
    if stored.dims != derived.dims or stored.dtype != derived.dtype:
        return derived
    positions = {}
    beyond = None  # (dimension, position of the first value after the store's end)
    for dim in derived.dims:
        if dim not in derived.coords or dim not in stored.coords:
            return derived
        wanted, held = derived[dim].values, stored[dim].values
        if wanted.dtype != held.dtype:
            return derived
        if np.array_equal(wanted, held):
            continue
        index = pd.Index(held)
        if not index.is_unique or not held.size:
            return derived
        found = index.get_indexer(wanted)
        missing = found < 0
        if missing.any():
            first = int(np.argmax(missing))
            after_end = (wanted[first:] > held.max()).all() and missing[first:].all()
            if beyond is not None or first == 0 or not after_end:
                return derived
            beyond, found = (dim, first), found[:first]
        positions[dim] = found
    values = stored.isel(positions) if positions else stored
    if beyond is None:
        return derived.copy(data=values.data)
    dim, first = beyond
    head = derived.isel({dim: slice(None, first)}).copy(data=values.data)
    tail = derived.isel({dim: slice(first, None)})
    return xr.concat([head, tail], dim=dim, combine_attrs="override")


def _coordinate_range(values: xr.DataArray) -> str:
    """``first … last`` of the first dimension's coordinate, for messages."""
    dim = values.dims[0] if values.dims else None
    if dim is None or dim not in values.coords or not values.sizes[dim]:
        return "no coordinate"
    coordinate = values[dim].values
    return f"{dim} {coordinate[0]} … {coordinate[-1]}"


def derive(
    observations: xr.Dataset | None,
    products: Iterable[str] | None = None,
    *,
    forecast: xr.Dataset | None = None,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
    catalog: Catalog | None = None,
    skip_missing: bool = False,
    skip_insufficient: bool | None = None,
    skipped: dict[str, str] | None = None,
    published: Mapping[str, xr.DataArray] | None = None,
    must_read_back: Iterable[str] = (),
    carried: Mapping[str, xr.DataArray] | None = None,
    _as_arrays: bool = False,
) -> xr.Dataset:
    """Derive products from canonical inputs, lazily.

    Parameters
    ----------
    observations
        A canonical dataset (``weatherdata.open_observations`` or a forecast grid from
        ``open_forecast``: products then run along ``lead_time``).
    products
        Product ids, or one id (default: every product whose inputs are present).
    forecast
        Optional forecast grids, for products that read ``forecast:`` inputs.
    parameters
        Overrides, ``{product_id: {parameter: value}}`` (e.g. ``{"heat_warning_signal":
        {"yellow_threshold": "36 degC"}}``); units are checked against the catalog.
    skip_missing
        Drop products whose inputs are absent instead of raising.
    skip_insufficient
        Drop products whose record is too short for them (no complete day, a single time
        step for a window: :class:`~weatherdata.errors.InsufficientDataError`) instead of
        raising. Default: like ``skip_missing`` (and on when ``products`` is None).
    skipped
        A dict filled with ``{product_id: reason}`` for every requested product dropped.
    published
        Values already published for some products, ``{product_id: DataArray}`` read
        back from their stores: a product (requested or an input of one) whose derivation
        returns coordinates the published values all hold is read from them instead, so
        what it is built from is never computed (a whole-record pass reads the warning
        signals its district tables need rather than deriving the record's signals again).
        Its metadata stay those of the derivation.
    must_read_back
        Ids of ``published`` that cannot be derived from these inputs (a whole-record
        recursion in a window): an :class:`InputError` if their published values do not
        hold what the derivation needs, rather than values from too short a record.
    carried
        Published series of the products that hold recursions' state (the catalog's
        ``time.carry``), ``{product_id: DataArray}`` read from their stores: a recursion
        whose derivation starts after such a store's record did continues that record from
        them (its recipe receives them), rather than restarting from its start-up values.

    Returns
    -------
    xarray.Dataset
        One variable per requested product, Dask-backed, with CF attributes.
    """
    ensure_registry()
    catalog = catalog or shipped_catalog()
    if isinstance(products, str):  # one id, as one naturally writes it
        products = [products]
    requested = list(products) if products is not None else list(catalog.products)
    for pid in requested:
        entry = catalog[pid]
        if entry.family == "intermediate":
            raise CatalogError(f"{pid!r} is an internal intermediate, not a published product")
    for pid in parameters or {}:
        catalog[pid]
    reasons: dict[str, str] = {}
    lacking = missing_inputs(catalog, catalog.closure(requested), observations, forecast)
    if lacking:
        if skip_missing or products is None:
            for pid in requested:
                needs = sorted({v for dep in catalog.closure([pid]) for v in lacking.get(dep, ())})
                if needs:
                    reasons[pid] = f"missing input(s) {', '.join(needs)}"
            requested = [pid for pid in requested if pid not in reasons]
        else:
            names = sorted({v for vs in lacking.values() for v in vs})
            affected = sorted(
                pid for pid in requested if set(catalog.closure([pid])) & set(lacking)
            )
            raise InputError(
                f"missing input variable(s) {', '.join(names)}: cannot compute {', '.join(affected)}"
            )
    computed: dict[str, Any] = {}
    step = _input_time_step(observations)
    checked: dict[tuple[str, str], xr.DataArray] = {}

    def fetch(reference: str):
        source, name, field = catalog.split_reference(reference)
        if source == "forecast":
            key = ("forecast", name)
            if key not in checked:
                checked[key] = _check_canonical(forecast[name], name)
            return checked[key]
        if name == "time" and name not in canonical_variables() and name not in catalog.entries:
            return observations["time"]
        if name in catalog.entries:
            value = computed[name]
            return value[field] if field else value
        key = ("dataset", name)
        if key not in checked:
            checked[key] = _check_canonical(observations[name], name)
        return checked[key]

    tolerant = skip_insufficient
    if tolerant is None:
        tolerant = skip_missing or products is None
    unavailable: dict[str, str] = {}  # computed id -> why it could not be
    for pid in catalog.closure(requested):
        entry = catalog[pid]
        function = entry.recipe_function()
        blocked_by = [
            ref for ref in entry.inputs.values() if catalog.split_reference(ref)[1] in unavailable
        ]
        if blocked_by:
            name = catalog.split_reference(blocked_by[0])[1]
            cause = unavailable[name]
            unavailable[pid] = cause if cause.startswith("needs ") else f"needs {name}: {cause}"
            continue
        arguments = {arg: fetch(ref) for arg, ref in entry.inputs.items()}
        # A recursion's published state (None where nothing is published: it starts up).
        arguments.update(
            {keyword: (carried or {}).get(source) for keyword, source in entry.time.carry.items()}
        )
        values = _resolve_parameters(entry, (parameters or {}).get(pid))
        accepted = inspect.signature(function).parameters
        unknown = [
            k
            for k in [*values, *entry.time.carry]
            if k not in accepted and not any(p.kind == p.VAR_KEYWORD for p in accepted.values())
        ]
        if unknown:
            raise CatalogError(
                f"product {pid}: recipe {entry.recipe} takes no parameter {unknown[0]!r}"
            )
        recipe_calls[pid] += 1
        try:
            result = function(**arguments, **values)
        except InsufficientDataError as exc:
            if not tolerant:
                raise InsufficientDataError(f"product {pid}: {exc}") from None
            unavailable[pid] = str(exc)
            continue
        except WeatherdataError as exc:  # a recipe's error names its product
            if str(exc).startswith(f"product {pid}"):
                raise
            raise type(exc)(f"product {pid}: {exc}") from exc
        computed[pid] = _finish(entry, result, catalog)
        if published and pid in published:
            derived = computed[pid]
            computed[pid] = _read_back(derived, published[pid])
            if computed[pid] is derived and pid in must_read_back:
                raise InputError(
                    f"product {pid}: its published values do not hold every "
                    f"{'/'.join(map(str, derived.dims))} value this derivation needs "
                    f"({_coordinate_range(derived)}): publish {pid} over the same range first"
                )
        if (
            step is not None
            and entry.time.kind in ("rolling_window", "daily", "period")
            and entry.family != "intermediate"
        ):
            computed[pid].attrs["weatherdata_input_time_step"] = step

    reasons.update({pid: unavailable[pid] for pid in requested if pid in unavailable})
    requested = [pid for pid in requested if pid not in unavailable]
    if skipped is not None:
        skipped.update(reasons)
    arrays = {pid: computed[pid] for pid in requested}
    if _as_arrays:
        return arrays
    # Products on different daily axes (another day definition) would be padded with
    # missing values by alignment: refuse rather than silently pad.
    try:
        out = xr.Dataset(
            arrays, attrs={"Conventions": "CF-1.10", "weatherdata_version": __version__}
        )
        xr.align(*arrays.values(), join="exact")
    except ValueError as exc:
        raise InputError(
            f"the requested products do not share their time axes ({exc}); derive them in separate "
            "calls or use derive_arrays()"
        ) from None
    return out


def derive_arrays(observations, products=None, **keywords) -> dict[str, xr.DataArray]:
    """Like :func:`derive`, but a dict of DataArrays: products keep their own axes."""
    return derive(observations, products, _as_arrays=True, **keywords)
