"""Files a Segment 1B run writes: validation bundles, GeoParquet and PNG maps."""
