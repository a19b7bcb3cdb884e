"""Sentinel-2 thumbnail and attributes service: a pure raster core plus thin Lambda adapters."""
