"""Pre-aggregated tables live here (see heatmaps/aggregates.py)."""
