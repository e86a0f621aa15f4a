"""Segment 1B site placement: geography, tiles, allocation, jitter, realism."""
