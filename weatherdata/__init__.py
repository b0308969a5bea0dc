"""weatherdata: from observation and forecast grids to 243 published weather products.

Quick start::

    import weatherdata
    obs = weatherdata.open_observations("demo-data/")
    products = weatherdata.derive(obs, ["heat_index", "precipitation_accumulation_24h"])
"""

from ._version import __version__
from .catalog import load_catalog
from .engine import derive
from .errors import WeatherdataError

__all__ = [
    "WeatherdataError",
    "__version__",
    "derive",
    "list_products",
    "load_catalog",
    "open_catalog",
    "open_forecast",
    "open_inputs",
    "open_observations",
    "open_product",
    "publish",
    "status",
    "write_demo",
]


#: Names imported on first use, by module: `import weatherdata` stays fast and ingest
#: (cfgrib, eccodes) loads only when used.
_LAZY = {
    "ingest": ("open_observations", "open_forecast", "open_inputs"),
    "access": ("open_product", "open_catalog", "list_products"),
    "demo": ("write_demo",),
    "publication": ("publish", "status"),
}


def __getattr__(name):
    for module, names in _LAZY.items():
        if name in names:
            import importlib

            return getattr(importlib.import_module(f".{module}", __name__), name)
    raise AttributeError(f"module 'weatherdata' has no attribute {name!r}")


def __dir__():
    # What Jupyter's tab completion lists: the lazy names too, before their first use.
    return sorted({*globals(), *(name for names in _LAZY.values() for name in names)})
