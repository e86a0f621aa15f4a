"""Distances behind the 1B plausibility checks P-3 and P-4 (docs block `realism_plausibility`).

Great-circle distance in metres from each query point to the nearest of a set of reference points,
over all references or only those of the query's own group (country): unit-sphere vectors, a k-d tree,
chord -> arc as in `nearest`. The nearest distance is exact, so it does not depend on input order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from gatehouse.sites.kernels.nearest import chord_to_arc_m, unit_vectors


def nearest_reference_m(lat_deg, lon_deg, ref_lat_deg, ref_lon_deg, workers: int = -1) -> np.ndarray:
    """Distance (m) from each query point to the nearest reference point; NaN when there is none.

    A query point that coincides with a reference point gets 0 (a city is 0 m from itself).
    """
    query = unit_vectors(lat_deg, lon_deg)
    reference = unit_vectors(ref_lat_deg, ref_lon_deg)
    if len(reference) == 0:
        return np.full(len(query), np.nan)
    chord, _ = cKDTree(reference).query(query, k=1, workers=workers)
    return chord_to_arc_m(chord)


def nearest_reference_by_group_m(groups, lat_deg, lon_deg, ref_groups, ref_lat_deg, ref_lon_deg,
                                 workers: int = -1) -> np.ndarray:
    """As nearest_reference_m, each query point against the references of its own group only
    (NaN for a group without references)."""
    lat, lon = np.asarray(lat_deg, dtype=np.float64), np.asarray(lon_deg, dtype=np.float64)
    ref_lat, ref_lon = np.asarray(ref_lat_deg, dtype=np.float64), np.asarray(ref_lon_deg, dtype=np.float64)
    query_rows, ref_rows = _positions(groups), _positions(ref_groups)
    distances = np.full(len(lat), np.nan)
    for group in sorted(query_rows.keys() & ref_rows.keys()):
        rows, refs = query_rows[group], ref_rows[group]
        distances[rows] = nearest_reference_m(lat[rows], lon[rows], ref_lat[refs], ref_lon[refs], workers)
    return distances


def _positions(groups) -> dict:
    """group -> positions of its rows."""
    values = np.asarray(groups, dtype=object)
    return pd.Series(values).groupby(values, sort=False).indices


def parameter(parameters: pd.DataFrame, name: str) -> float:
    """One value of the seed plausibility_parameters (columns parameter, value)."""
    values = parameters.loc[parameters["parameter"] == name, "value"]
    if len(values) != 1:
        raise ValueError(f"seed plausibility_parameters: expected one row for {name!r}, found {len(values)}")
    return float(values.iloc[0])
