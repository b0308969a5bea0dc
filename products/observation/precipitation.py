"""Precipitation accumulations over true trailing windows."""

from weatherdata.compute import rolling_window


def accumulation(precipitation, window):
    """Precipitation accumulated over the trailing ``window``: :math:`\\sum_{t-w < s \\le t} P_s`.

    A window with a missing step is missing (never a shorter sum); works for any input
    step that divides the window (MRMS QPE windows 01H…72H).
    """
    return rolling_window(precipitation, window, how="sum")
