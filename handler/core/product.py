"""What a Sentinel-2 product's own metadata says about a scene (SAFE `MTD_MSIL2A.xml` / `MTD_MSIL1C.xml`
and `GRANULE/*/MTD_TL.xml`): the facts attributes, rendering and STAC Items share."""

from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Mapping


@dataclass(frozen=True)
class ProductMetadata:
    """One product's identity and radiometry, parsed from its XML (never from its file name alone).

    `boa_offsets` maps band names ("B04") to the offset added to DNs before scaling (-1000 from
    processing baseline 04.00 on, empty before); `quantification` is the DN per unit reflectance
    (10000). `footprint` is a GeoJSON Polygon in WGS84 (lon, lat)."""

    product_id: str  # S2B_MSIL2A_20220609T101559_N0400_R065_T32TQM_20220609T131744
    product_type: str  # S2MSI2A | S2MSI1C
    level: str  # L2A | L1C
    spacecraft: str  # sentinel-2a | sentinel-2b | sentinel-2c
    sensing_time: datetime  # timezone-aware UTC
    tile_id: str  # 32TQM (MGRS, without the leading T)
    relative_orbit: int
    processing_baseline: str  # "04.00"
    cloud_cover: float | None = None  # percent
    nodata_pixel_percentage: float | None = None  # percent
    footprint: Mapping[str, Any] | None = None
    quantification: float = 10000.0
    boa_offsets: Mapping[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready: `sensing_time` as RFC 3339 UTC ("2020-02-19T11:24:36.467000Z"), the
        footprint as parsed, `boa_offsets` as a plain dict."""
        values = {item.name: getattr(self, item.name) for item in fields(self)}
        sensing_time = self.sensing_time.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        return {**values, "sensing_time": sensing_time, "boa_offsets": dict(self.boa_offsets)}
