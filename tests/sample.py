"""`make sample`: the README's sample scene, S2L2A_2022-06-09.tiff, shaped like the seed's EO Browser export
(12-band L2A, uint16 DN, 2186 x 1384, uncompressed, ~72 MB), so a newcomer can run the curl commands at once.

Built from the real 12-band BigEarthNet file in ../shared/data/sentinel2 when it is there (upsampled: a
real landscape, softened), synthetic otherwise; the command says which.

    python -m tests.sample [path]
"""

import sys
from pathlib import Path

from tests.rasters import REAL_12_BAND, seed_sized_export

DEFAULT = "S2L2A_2022-06-09.tiff"


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else DEFAULT)
    seed_sized_export(path)
    source = (
        f"real pixels of {REAL_12_BAND.name}, upsampled"
        if REAL_12_BAND.is_file()
        else ("synthetic pixels (../shared/data/sentinel2 is absent)")
    )
    print(f"{path}: 12-band L2A scene, 2186 x 1384, {path.stat().st_size / 1e6:.0f} MB, from {source}")


if __name__ == "__main__":
    main()
