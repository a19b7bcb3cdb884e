#!/usr/bin/env bash
# The arm64 (Graviton) image, checked for function under qemu-user emulation: `sam build
# --parameter-overrides Architecture=arm64` asks Docker for a linux/arm64 build; the Dockerfile built on an
# arm64 base image, its pip layers checked for aarch64 wheels; then the API function run in that image
# under the Runtime Interface Emulator with events/http-api-attributes.json and http-api-thumbnail.json:
# both 200, the same attributes and the same thumbnail as the x86_64 image gives. Emulated timings are
# printed to size the check only: they say nothing about arm64's speed on Lambda.
#
# Called by .ci/sam.sh (with ARM64=1) after its x86_64 checks, which set up dockerd, the host-network
# Docker proxy (DOCKER_HOST), the SAM CLI on PATH, the x86_64 image and the variables ROOT STATE LOG APP_PY.
# Skips with a message (exit 0) where aarch64 programs cannot run: no binfmt_misc, no qemu-aarch64.
# `ARM64=1 bash .ci/sam.sh` runs it (about 23 minutes on a fresh 2-core machine, 10 with the arm64 base
# image built, 1 when the requirements did not change either: not in CI). Both images are kept as cache.
#
# Locally here, with no registry: the stand-in base image is Debian trixie arm64 with Debian's Python 3.13
# (Debian has no 3.12 for arm64), tagged public.ecr.aws/lambda/python:3.12-arm64, which the copy's FROM
# names (the classic image store keeps one platform per tag). Docker 20.10's classic builder (the one
# SAM drives through the API) cannot build a Dockerfile with a COPY after a RUN for another platform
# (it records RUN steps as the host's platform, then refuses the COPY), so the image is built by
# `docker build` without --platform: its programs are aarch64 (checked), its label says amd64. With a
# current Docker and registry access, `sam build --parameter-overrides Architecture=arm64` builds it.
set -euo pipefail
: "${ROOT:?} ${STATE:?} ${LOG:?} ${APP_PY:?}"
cd "$ROOT"
T0=$(date +%s)
lap() { echo "### arm64 [$(( $(date +%s) - T0 ))s] $*"; }
die() { echo "FAIL (arm64): $*" >&2; exit 1; }
show() { echo "--- $1"; tail -n "${2:-25}" "$1"; }
ARM_BASE=public.ecr.aws/lambda/python:3.12-arm64
TAG=arm64-check                       # the copy's DockerTag: the x86_64 image keeps its own
IMAGE=apifunction:$TAG X86_IMAGE=apifunction:python3.12-v1
CTX=$LOG/arm64; mkdir -p "$CTX"
CONTAINERS=()
cleanup() {  # the containers this script started; its exit status stays the script's
  local rc=$?
  set +e
  for c in "${CONTAINERS[@]}"; do [ -n "$c" ] && docker rm -f "$c" > /dev/null 2>&1; done
  exit $rc
}
trap cleanup EXIT

lap "qemu-user for aarch64 (binfmt_misc)"
binfmt_ok() { [ "$(head -1 /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null)" = enabled ]; }
if ! binfmt_ok; then
  if [ -z "${SKIP_APT:-}" ] && ! command -v qemu-aarch64-static > /dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static binfmt-support \
      > "$LOG/apt-qemu.log" 2>&1 || echo "apt-get install qemu-user-static failed (see $LOG/apt-qemu.log)"
  fi
  [ -e /proc/sys/fs/binfmt_misc/register ] \
    || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2> /dev/null || true
  command -v update-binfmts > /dev/null && update-binfmts --enable qemu-aarch64 > /dev/null 2>&1 || true
fi
if ! binfmt_ok; then
  echo "SKIP arm64: this machine cannot run aarch64 programs (no binfmt_misc entry for qemu-aarch64);"
  echo "  the manual check is in README.md (Deploy > arm64 (Graviton))."
  exit 0
fi
# F: the kernel opens the interpreter at registration, so it works inside containers too.
grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
  || { echo "SKIP arm64: qemu-aarch64 is registered without the F flag (containers cannot reach it)"; exit 0; }
grep -E '^(interpreter|flags)' /proc/sys/fs/binfmt_misc/qemu-aarch64 | tr '\n' ' '; echo

if [ "$(docker run --rm --network host --entrypoint /bin/uname "$ARM_BASE" -m 2> /dev/null)" = aarch64 ]; then
  lap "base image $ARM_BASE: present (aarch64), reused"
else
  lap "build the arm64 stand-in for the base image (debootstrap trixie arm64 under qemu)"
  WORK="$STATE/standin-arm64" ARCH=arm64 TAG="$ARM_BASE" SAM_PYTHON="$(command -v python)" \
    bash .ci/sam-local/standin/build-standin.sh > "$LOG/standin-arm64.log" 2>&1 \
    || { show "$LOG/standin-arm64.log" 40; exit 1; }
  grep -E '^TIMING|^3\.' "$LOG/standin-arm64.log"
fi

lap "sam build --parameter-overrides Architecture=arm64 asks Docker for linux/arm64"
# On a copy of the project: SAM passes the functions' architecture to Docker as the platform, and Docker
# answers that the x86_64 base image here is not linux/arm64. That answer is the check. Docker 20.10
# looks a step's parent up for the platform only when the step misses its cache (a cached build reuses
# the x86_64 layers whatever the platform), so the copy's first COPY gets a file no build has seen.
mkdir -p "$CTX/sam/layers/geo"
cp -a Dockerfile .dockerignore requirements.txt handler template.yaml "$CTX/sam/"
cp -a layers/geo/requirements.txt "$CTX/sam/layers/geo/"
echo "# .ci/arm64.sh $(date +%s%N)" >> "$CTX/sam/layers/geo/requirements.txt"
sed -i "s/DockerTag: python3.12-v1/DockerTag: $TAG/" "$CTX/sam/template.yaml"
(cd "$CTX/sam" && sam build --parameter-overrides Architecture=arm64) > "$LOG/sam-build-arm64.log" 2>&1 || true
# (Where the base image exists for linux/arm64, as with registry access, the build succeeds instead.)
grep -m1 -o 'does not match the specified platform: wanted linux/arm64[^"]*' "$LOG/sam-build-arm64.log" \
  || { grep -q 'Build Succeeded' "$LOG/sam-build-arm64.log" \
       && [ "$(docker image inspect "$IMAGE" --format '{{.Architecture}}')" = arm64 ]; } \
  || { show "$LOG/sam-build-arm64.log" 20; die "sam build with Architecture=arm64 did not build for linux/arm64"; }

lap "the Dockerfile on the arm64 base image (docker build; pip under qemu)"
cp -a layers/geo/requirements.txt "$CTX/sam/layers/geo/"   # as it is (the geo layer's cache key)
sed "s#^FROM public.ecr.aws/lambda/python:3.12\$#FROM $ARM_BASE#" Dockerfile > "$CTX/sam/Dockerfile.arm64"
grep -q "^FROM $ARM_BASE\$" "$CTX/sam/Dockerfile.arm64" || die "the Dockerfile's FROM line is not the one this script rewrites"
t=$(date +%s)
DOCKER_BUILDKIT=0 docker build --network host -f "$CTX/sam/Dockerfile.arm64" -t "$IMAGE" "$CTX/sam" \
  > "$LOG/build-arm64.log" 2>&1 || { show "$LOG/build-arm64.log" 40; exit 1; }
BUILD_S=$(( $(date +%s) - t ))
echo "$IMAGE: $(( $(docker image inspect "$IMAGE" --format '{{.Size}}') / 1000000 )) MB, built in ${BUILD_S}s"
# What runs is aarch64, and pip chose aarch64 wheels for the geo stack (their WHEEL files name the platform).
docker run --rm --network host --entrypoint /bin/sh "$IMAGE" -c 'uname -m; grep -h "^Tag:" \
  /var/task/numpy-*.dist-info/WHEEL /var/task/rasterio-*.dist-info/WHEEL /var/task/pillow-*.dist-info/WHEEL' \
  | tee "$LOG/arm64-wheels.txt"
[ "$(head -1 "$LOG/arm64-wheels.txt")" = aarch64 ] && [ "$(grep -c '^Tag:.*aarch64' "$LOG/arm64-wheels.txt")" -ge 3 ] \
  && ! grep -q x86_64 "$LOG/arm64-wheels.txt" || die "the image or its geo stack's wheels are not aarch64"

# serve NAME IMAGE LABEL: the API function's image under the RIE, both events invoked, results in $LOG.
# (No --platform: the arm64 image's label is amd64, see above; binfmt_misc runs its aarch64 programs.)
serve() {
  local name=$1 image=$2 label=$3 port api_port
  port=$("$APP_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  api_port=$("$APP_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  CONTAINERS+=("$name-$$")
  docker run -d --name "$name-$$" --network host \
    -e _HANDLER=handler.api.handler -e POWERTOOLS_SERVICE_NAME=sentinel2-thumbnails \
    -e POWERTOOLS_METRICS_NAMESPACE=Sentinel2Thumbnails -e AWS_REGION=us-east-1 -e AWS_DEFAULT_REGION=us-east-1 \
    --entrypoint /usr/local/bin/aws-lambda-rie "$image" \
    --runtime-interface-emulator-address "127.0.0.1:$port" --runtime-api-address "127.0.0.1:$api_port" \
    /var/runtime/bootstrap > /dev/null
  "$APP_PY" - "http://127.0.0.1:$port/2015-03-31/functions/function/invocations" "$LOG/$name" "$label" <<'EOF' \
    || { docker logs "$name-$$" 2>&1 | tail -30; die "$name: the API function did not answer"; }
import json, sys, time, urllib.request
url, out, label = sys.argv[1:]
for _ in range(600):  # the RIE listens at once; the function's init runs on the first invoke
    try:
        urllib.request.urlopen(url.rsplit("/2015", 1)[0] + "/", timeout=1)
    except urllib.error.HTTPError:
        break
    except OSError:
        time.sleep(0.1)
times = []
for event in ("http-api-attributes", "http-api-thumbnail", "http-api-thumbnail"):
    t = time.perf_counter()
    body = urllib.request.urlopen(urllib.request.Request(url, data=open(f"events/{event}.json", "rb").read()),
                                  timeout=300).read()
    times.append(time.perf_counter() - t)
    open(f"{out}-{event}.json", "wb").write(body)
print(f"{label}: /attributes (first invoke: init + import + request) {times[0]:.2f} s, "
      f"/thumbnail {times[1]:.2f} s, again {times[2]:.2f} s")
EOF
  docker rm -f "$name-$$" > /dev/null
  CONTAINERS=("${CONTAINERS[@]/$name-$$}")
}

lap "the arm64 image under qemu-user: /attributes and /thumbnail through the RIE (emulated: not a speed)"
t=$(date +%s)
serve arm64 "$IMAGE" "arm64 (emulated)"
RUN_S=$(( $(date +%s) - t ))
serve x86 "$X86_IMAGE" "x86_64 (native)"
"$APP_PY" - "$LOG/arm64" "$LOG/x86" <<'EOF' || die "the arm64 image's answers are not the x86_64 image's"
import base64, io, json, sys
import numpy as np
from PIL import Image
arm, x86 = sys.argv[1:]
def result(prefix, event):
    out = json.load(open(f"{prefix}-{event}.json"))
    assert out.get("statusCode") == 200, (prefix, event, str(out)[:300])
    return base64.b64decode(out["body"]) if out.get("isBase64Encoded") else out["body"].encode()
attributes = [json.loads(result(p, "http-api-attributes")) for p in (arm, x86)]
assert attributes[0] == attributes[1], attributes
pngs = [result(p, "http-api-thumbnail") for p in (arm, x86)]
assert all(png[:8] == b"\x89PNG\r\n\x1a\n" for png in pngs)
images = [Image.open(io.BytesIO(png)) for png in pngs]
assert images[0].size == images[1].size and images[0].mode == images[1].mode, images
diff = np.abs(np.asarray(images[0], dtype=int) - np.asarray(images[1], dtype=int)).max()
print(f"/attributes: 200, equal to x86_64's ({len(attributes[0])} fields); /thumbnail: 200, PNG "
      f"{images[0].size} {images[0].mode}, largest pixel difference from x86_64's: {diff}")
assert diff <= 1, diff  # the same code and data; only floating-point rounding may differ between the two
EOF
lap "done: arm64 image built in ${BUILD_S}s, checked under emulation in ${RUN_S}s (whole arm64 step $(( $(date +%s) - T0 ))s)"
