"""Units at the boundary: parse, check and convert with MetPy's pint registry.

Inside recipes values are plain (Dask) arrays; the boundary is where a unit string
is read from a file or the catalog. Nothing here guesses: a missing or unparsable
unit raises :class:`~weatherdata.errors.UnitsError`.
"""

from __future__ import annotations

import copyreg
import functools
import importlib
import sys

import numpy as np
import pint
from metpy.units import units as unit_registry

from .errors import UnitsError

__all__ = [
    "convert_dataarray",
    "ensure_registry",
    "import_xclim",
    "linear_conversion",
    "parse_quantity",
    "parse_units",
    "unit_registry",
    "units_equal",
]

# Spellings met in real files that pint does not read as meant.
_SPELLINGS = {
    "%": "percent",
    "percent": "percent",
    "(0 - 1)": "dimensionless",
    "0-1": "dimensionless",
    "1": "dimensionless",
    "": None,
    "-": "dimensionless",
    "fraction": "dimensionless",
    "proportion": "dimensionless",
    "dBZ": "dBZ",
    "dbz": "dBZ",
    "dB": "dBZ",
    "kg m**-2": "kg m^-2",
    "kg m-2": "kg m^-2",
    "gpm": "m",
    "deg C": "degC",
    "deg_C": "degC",
    "degrees_Celsius": "degC",
    "celsius": "degC",
    "Celsius": "degC",
    "deg F": "degF",
    "knots": "knot",
    "kt": "knot",
    "kts": "knot",
    "degrees": "degree",
    "degrees_north": "degree",
    "degrees_east": "degree",
    "ug m-3": "microgram m^-3",
    "µg m-3": "microgram m^-3",
    "µg/m3": "microgram m^-3",
}

# MetPy's `units` is pint's *application registry* proxy. Importing xclim (through
# cf_xarray) replaces the application registry with its own, after which MetPy and this
# module would silently switch registries (units defined here vanish, and quantities
# made before and after no longer mix). Keep a handle on MetPy's registry and put it
# back whenever something replaced it.
_METPY_REGISTRY = unit_registry.get()


def ensure_registry() -> None:
    """Make MetPy's registry pint's application registry again if an import replaced it."""
    if pint.get_application_registry().get() is not _METPY_REGISTRY:
        pint.set_application_registry(_METPY_REGISTRY)


#: The :func:`weatherdata.cache.machine_lock` held while numba kernels are compiled.
NUMBA_COMPILE_LOCK = "numba-compile"


def import_xclim(module: str = "xclim.indices"):
    """Import an xclim module without letting it replace pint's application registry.

    xclim converts with its own registry object, so restoring MetPy's is safe for both.
    The first import in a process holds a lock shared by the machine's processes: it loads
    (or compiles and caches) xclim's numba gufuncs (the fire indices'), which two processes
    compiling at once can corrupt (:func:`weatherdata.cache.machine_lock`), as Dask workers
    or parallel test processes starting together would.
    """
    if module in sys.modules:
        imported = sys.modules[module]
    else:
        from .cache import machine_lock

        with machine_lock(NUMBA_COMPILE_LOCK):
            imported = importlib.import_module(module)
    ensure_registry()
    _cache_xclim_kernels()
    return imported


@functools.cache
def _cache_xclim_kernels() -> None:
    """Keep the machine code of xclim's numba kernels on disk, as ours are (``cache=True``).

    xclim compiles its run-length kernels (``@njit`` without ``cache=True``) in every
    process, for each dtype and dimension it meets: consecutive dry days alone spent 5.4 s
    of each publish compiling them (0.2° demo), 0.4 s once cached. numba keeps the cache
    next to xclim's source, or in the user's cache directory where that is read-only.
    """
    run_length = importlib.import_module("xclim.indices.run_length")
    for name in ("_cumsum_reset_np", "_rle_1d"):
        kernel = getattr(run_length, name, None)
        if hasattr(kernel, "enable_caching"):  # a numba dispatcher
            kernel.enable_caching()


def _metpy_registry():
    """The registry to unpickle into (restores it as pint's application registry)."""
    ensure_registry()
    return unit_registry


def _reduce_registry(registry):
    # A registry holds weak references and caches, so pickle cannot copy it. Dask
    # distributed pickles recipes' closures by value (cloudpickle), registry included:
    # send a reference to "MetPy's registry in the receiving process" instead.
    if registry is unit_registry or registry is _METPY_REGISTRY:
        return _metpy_registry, ()
    raise TypeError("only MetPy's pint registry can be sent to Dask workers")


copyreg.pickle(pint.ApplicationRegistry, _reduce_registry)
copyreg.pickle(type(_METPY_REGISTRY), _reduce_registry)


if "dBZ" not in unit_registry:
    # Reflectivity is logarithmic; we never convert it, only check it is labelled.
    unit_registry.define("dBZ = [radar_reflectivity_db]")


@functools.lru_cache(maxsize=512)
def parse_units(text: str | None, *, where: str = "") -> pint.Unit:
    """Parse a unit string as found in files or the catalog.

    Raises UnitsError (naming ``where``) when the string is missing or unknown.
    """
    ensure_registry()  # an xclim import after ours would leave a registry without dBZ
    spelled = _SPELLINGS.get(text.strip(), text.strip()) if isinstance(text, str) else None
    if spelled is None:
        raise UnitsError(f"{where}: units are missing" if where else "units are missing")
    try:
        return unit_registry.parse_units(spelled)
    except Exception:
        try:
            return unit_registry.Quantity(1, spelled).units
        except Exception as exc:
            msg = f"units {text!r} are not understood"
            raise UnitsError(f"{where}: {msg}" if where else msg) from exc


def parse_quantity(text: str | float | int) -> pint.Quantity:
    """Parse a catalog quantity such as ``"35 degC"`` or ``"50 mm"``."""
    ensure_registry()
    if isinstance(text, int | float):
        return unit_registry.Quantity(text, "dimensionless")
    parts = str(text).strip().split(maxsplit=1)
    try:
        magnitude = float(parts[0])
    except ValueError as exc:
        raise UnitsError(f"quantity {text!r} does not start with a number") from exc
    unit = parse_units(parts[1]) if len(parts) > 1 else unit_registry.dimensionless
    return unit_registry.Quantity(magnitude, unit)


def units_equal(a: str, b: str) -> bool:
    return parse_units(a) == parse_units(b)


def linear_conversion(source: str, target: str, *, where: str = "") -> tuple[float, float] | None:
    """``(scale, offset)`` with ``target = source * scale + offset``, or None for the same
    units. Affine conversions (degC <-> K) are handled; incompatible units raise UnitsError.
    """
    src, dst = parse_units(source, where=where), parse_units(target, where=where)
    if src == dst:
        return None
    ensure_registry()
    try:
        one = unit_registry.Quantity(np.array([0.0, 1.0]), src).to(dst).magnitude
    except pint.DimensionalityError as exc:
        msg = f"units {source!r} cannot be converted to {target!r}"
        raise UnitsError(f"{where}: {msg}" if where else msg) from exc
    return float(one[1] - one[0]), float(one[0])


def apply_linear(values, scale: float, offset: float):
    """``values * scale + offset`` as :func:`conversion` applies it (no addition of a zero
    offset, so the values are those of the same arithmetic)."""
    return values * scale + offset if offset else values * scale


def conversion(source: str, target: str, *, where: str = ""):
    """Return ``f(array) -> array`` converting values from ``source`` to ``target``.

    Affine conversions (degC <-> K) are handled; incompatible units raise UnitsError.
    """
    linear = linear_conversion(source, target, where=where)
    if linear is None:
        return None
    scale, offset = linear
    return lambda values: apply_linear(values, scale, offset)


def convert_dataarray(data, target: str, *, where: str = ""):
    """Convert an xarray.DataArray (lazy or not) to ``target`` units, setting attrs."""
    source = data.attrs.get("units")
    if source is None:
        raise UnitsError(f"{where}: units are missing" if where else "units are missing")
    convert = conversion(source, target, where=where)
    out = data if convert is None else convert(data)
    out = out.astype(data.dtype) if np.issubdtype(data.dtype, np.floating) else out
    out.attrs = dict(data.attrs)
    out.attrs["units"] = target
    return out
