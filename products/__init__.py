"""Product recipes, one sub-package per family.

A recipe is a plain function of lazy ``xarray.DataArray`` inputs (plus parameters
as pint quantities) that returns a DataArray (or, for shared intermediates, a
Dataset) with ``units`` set and nothing else. Its ``catalog.yaml`` entry declares
everything else: names, inputs, thresholds and their sources, CF attributes,
chunking and map style. Installed, this package is ``weatherdata.products``.
"""
