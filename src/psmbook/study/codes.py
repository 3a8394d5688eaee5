"""Level and arm codes as the study description writes them, whatever type the data file gave them."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import pandas as pd


def as_code(value: Any) -> Optional[str]:
    """A data value as a level code, the way the study description writes codes: text stripped,
    integer-valued numbers without a decimal point (1, 1.0 -> "1"); None for a missing value."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    return text if text else None
