"""Errors a user can act on.

Every error raised for bad input is a :class:`WeatherdataError`: the CLI prints its
one-line message and exits non-zero, without a traceback. Messages name the file,
the variable and the problem.
"""


class WeatherdataError(Exception):
    """Base class for user-facing errors (one line, no traceback in the CLI)."""

    exit_code = 2


class InputError(WeatherdataError):
    """An input file or dataset is unreadable, incomplete or inconsistent."""


class InsufficientDataError(InputError):
    """The input is valid but covers too little time for a product (no complete day, a
    single time step for a window). Publishing "everything the inputs allow" skips such
    products and says why; asking for one explicitly raises this error."""


class UnitsError(InputError):
    """Units are missing or cannot be converted to the canonical units."""


class CatalogError(WeatherdataError):
    """catalog.yaml does not validate, or a product id is unknown."""


class PublishError(WeatherdataError):
    """A store could not be published (lock held, storage failure)."""
