"""Segment 1B numeric kernels: RNG, tiles, weights, allocation, assignment, jitter, distances, metrics, lineage."""
