"""Monthly returns in: read Excel/CSV/Parquet/GeoJSON, validate, preview, commit as a new version."""
