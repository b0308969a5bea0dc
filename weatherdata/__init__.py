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
    "open_observations",
    "open_product",
    "publish",
]


def __getattr__(name):
    # Imported lazily so that `import weatherdata` stays fast and ingest (cfgrib,
    # eccodes) loads only when used.
    if name in ("open_observations", "open_forecast", "open_inputs"):
        from . import ingest

        return getattr(ingest, name)
    if name in ("open_product", "open_catalog", "list_products"):
        from . import access

        return getattr(access, name)
    if name in ("write_demo",):
        from . import demo

        return demo.write_demo
    if name in ("publish", "status"):
        from . import publication

        return getattr(publication, name)
    raise AttributeError(f"module 'weatherdata' has no attribute {name!r}")
