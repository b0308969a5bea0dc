"""Send library objects that cannot be copied to Dask distributed workers by reference.

Dask distributed pickles task functions with cloudpickle, which copies a local function
*and the module globals it uses* by value. Two kinds of globals break that way:

- pint registries (weak references, caches): handled in :mod:`weatherdata.units`;
- numba ufuncs (``GUFunc`` from ``@guvectorize``, ``DUFunc`` from ``@vectorize``), e.g.
  xclim's ``_keetch_byram_drought_index``, which xclim's local wrappers use: the copy
  rebuilt on a worker called a null function pointer and killed the worker (segfault).

Both are importable module attributes, so we pickle them as "the object of that name in
that module", and the worker imports it (and compiles it, as any import would).
"""

from __future__ import annotations

import copyreg
import importlib


def _by_name(module: str, name: str):
    return getattr(importlib.import_module(module), name)


def _reduce_numba_ufunc(ufunc):
    module, name = getattr(ufunc, "__module__", None), getattr(ufunc, "__name__", None)
    if module and name:
        try:
            if getattr(importlib.import_module(module), name, None) is ufunc:
                return _by_name, (module, name)
        except ImportError:
            pass
    # Not reachable by name (built at run time): numba's own reduction.
    return ufunc.__reduce__()


def register() -> None:
    """Register the reducers (idempotent; done on ``import weatherdata.engine``)."""
    try:
        from numba.np.ufunc.dufunc import DUFunc
        from numba.np.ufunc.gufunc import GUFunc
    except ImportError:  # pragma: no cover - numba is a dependency
        return
    for kind in (GUFunc, DUFunc):
        copyreg.pickle(kind, _reduce_numba_ufunc)


def worker_setup_plugin():
    """A Dask ``WorkerPlugin`` that prepares each worker process as ``weatherdata`` does.

    Importing xclim (through cf_xarray) replaces pint's application registry. In one
    process :func:`weatherdata.units.import_xclim` puts MetPy's back; on a worker xclim
    arrives while unpickling a task, and MetPy's constants then no longer mix with the
    task's quantities ("different registries"). The plugin imports xclim once up front
    and restores MetPy's registry; later imports find xclim loaded and change nothing.
    pyproj is imported before anything loads eccodes (see ``weatherdata.ingest.readers``).
    """
    from distributed import WorkerPlugin

    class WeatherdataWorkerSetup(WorkerPlugin):
        name = "weatherdata-worker-setup"

        def setup(self, worker):
            import pyproj  # noqa: F401

            from weatherdata import engine  # noqa: F401  (registers the reducers)
            from weatherdata.units import ensure_registry, import_xclim

            import_xclim("xclim.indices")
            ensure_registry()

    return WeatherdataWorkerSetup()
