"""Whole-number columns of user input files (catalogue, site_locations): which values fit a key's range."""

from __future__ import annotations

import numpy as np
import pandas as pd


def outside_whole_range(values: pd.Series, low: int, high: int) -> pd.Series:
    """True where a value is null, not a number (numeric text counts as its number), not whole, or
    outside [low, high). Integer columns are compared as integers, so 2^64 - 1 is not 2^64 here."""
    numbers = pd.to_numeric(values, errors="coerce")
    if pd.api.types.is_integer_dtype(numbers):
        largest = np.iinfo(getattr(numbers.dtype, "numpy_dtype", numbers.dtype)).max
        fits = numbers.ge(low) & (numbers.lt(high) if high <= largest else True)
    else:
        fits = numbers.mod(1).eq(0) & numbers.ge(low) & numbers.lt(float(high))
    return ~fits.fillna(False).astype(bool)


def power_of_two(value: int) -> str:
    """2^k for a power of two (how ranges read in messages), else the number."""
    return f"2^{value.bit_length() - 1}" if value > 0 and value & (value - 1) == 0 else str(value)


def plain(value):
    """A numpy scalar as the Python value it holds, so messages read 91.0, not np.float64(91.0)."""
    return value.item() if isinstance(value, np.generic) else value
