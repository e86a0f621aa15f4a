"""Global nearest-neighbour distances between sites, as the 1B realism scorers define them (§2).

Each (lat, lon) becomes a unit-sphere vector; a k-d tree query with k = 2 finds the nearest *other*
point; the chord c becomes the great-circle arc 2·asin(c/2)·R. Duplicate points have distance 0.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99)


def unit_vectors(lat_deg, lon_deg) -> np.ndarray:
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    cos_lat = np.cos(lat)
    return np.column_stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)])


def chord_to_arc_m(chord) -> np.ndarray:
    return 2.0 * np.arcsin(np.minimum(np.asarray(chord, dtype=np.float64) / 2.0, 1.0)) * EARTH_RADIUS_M


def nearest_neighbour_m(lat_deg, lon_deg, workers: int = -1) -> np.ndarray:
    """Distance in metres from each point to its nearest other point (NaN if there is no other point)."""
    xyz = unit_vectors(lat_deg, lon_deg)
    if len(xyz) < 2:
        return np.full(len(xyz), np.nan)
    tree = cKDTree(xyz, balanced_tree=False, compact_nodes=False)
    chord, _ = tree.query(xyz, k=2, workers=workers)
    del tree
    return chord_to_arc_m(chord[:, 1])


def nn_quantiles(distances_m, qs=DEFAULT_QUANTILES) -> dict[float, float]:
    """numpy linear-interpolation quantiles of the NN distances, keyed by q."""
    values = np.quantile(np.asarray(distances_m, dtype=np.float64), qs)
    return {float(q): float(v) for q, v in zip(qs, values)}
