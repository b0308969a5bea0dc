"""xclim, imported without replacing pint's application registry (see weatherdata.units)."""

from weatherdata.units import import_xclim


def xclim_indices():
    """``xclim.indices``, imported with MetPy's registry left as pint's application registry."""
    return import_xclim("xclim.indices")
