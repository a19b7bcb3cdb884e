"""Check that an image `sam build` made is one Lambda accepts: `docker save IMAGE | python check-image.py`.

Lambda takes a single-platform image manifest (Docker v2 schema 2 or OCI), not an index: builds that add
provenance or SBOM attestations (BuildKit's defaults with buildx) push an image index, which Lambda
rejects at deploy time only. Reads the saved archive as a stream; prints what it found.
"""

import json
import sys
import tarfile

SINGLE_MANIFESTS = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
INDEXES = {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}
SMALL = 1 << 20  # manifests and indexes are small; layers are skipped


def main() -> None:
    files = {}
    with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as archive:
        for member in archive:
            if member.isfile() and member.size < SMALL:
                files[member.name] = archive.extractfile(member).read()
    legacy = json.loads(files["manifest.json"])
    if len(legacy) != 1 or len(legacy[0].get("RepoTags") or []) < 1:
        sys.exit(f"expected one tagged image, found {legacy}")
    if "index.json" not in files:  # an engine without OCI layout output: one image, one config, no attestations
        print(f"one image, config {legacy[0]['Config']}, layers {len(legacy[0]['Layers'])} (no OCI index)")
        return
    descriptors = json.loads(files["index.json"])["manifests"]
    while len(descriptors) == 1 and descriptors[0]["mediaType"] in INDEXES:
        digest = descriptors[0]["digest"].replace(":", "/")
        descriptors = json.loads(files[f"blobs/{digest}"])["manifests"]
    kinds = [
        (d["mediaType"], d.get("annotations", {}).get("vnd.docker.reference.type", "image"), d.get("platform"))
        for d in descriptors
    ]
    print("manifests:", kinds)
    if len(descriptors) != 1 or descriptors[0]["mediaType"] not in SINGLE_MANIFESTS:
        sys.exit("Lambda needs exactly one single-platform image manifest (no attestation or platform index)")


if __name__ == "__main__":
    main()
