"""Segment 1B inputs: offline geography, the surrogate 1A outlet catalogue, governed policies, the 1A freeze guard."""
