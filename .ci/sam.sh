#!/usr/bin/env bash
# The deployment artifact, exercised locally: sam validate --lint + cfn-lint, the container image built by
# `sam build` (Dockerfile, template.yaml), `sam local invoke` of both functions, `sam local start-api` with
# the README's two curl commands, a Docker-free run of the handler under the Lambda Runtime Interface
# Emulator, and, with ARM64=1, the Architecture=arm64 image run under qemu-user emulation (.ci/arm64.sh).
# Asserts on every output (sam local invoke exits 0 even when the function failed or timed out).
#
# For a clean Debian machine, as root, with no container registry and a dockerd without a bridge network:
#   * public.ecr.aws/lambda/python:3.12 is replaced by a local stand-in built with debootstrap and a host
#     CPython 3.12 (.ci/sam-local/standin/), unless an image of that name is already there;
#   * SAM's containers and builds get host networking through .ci/sam-local/tools/docker-hostnet-proxy.py.
# Every server binds 127.0.0.1; only PyPI and Debian's mirrors are contacted; all is stopped on exit.
#
#   bash .ci/sam.sh
# Env: SAM_CI_STATE  venvs + debootstrap rootfs, reused by later runs (default /tmp/sam-ci)
#      PYTHON        a CPython 3.12 (default: python3.12 or pyenv's 3.12.*)
#      APP_PYTHON    a Python with requirements-dev.txt installed (default: .venv from `make`, else built)
#      SKIP_APT=1    docker.io, debootstrap and curl are installed already
#      ARM64=1       also build the arm64 image and run it under qemu-user (.ci/arm64.sh; ~20 min, not in CI)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
HERE=$ROOT/.ci/sam-local
STATE=${SAM_CI_STATE:-/tmp/sam-ci}
LOG=$(mktemp -d /tmp/sam-ci-logs.XXXXXX)
WORK=$LOG/work                      # the synthetic GeoTIFF, curl outputs
mkdir -p "$STATE" "$WORK"
API_PORT=3000 RIE_PORT=8080
BASE_IMAGE=public.ecr.aws/lambda/python:3.12
IMAGE=apifunction:python3.12-v1     # what `sam build` tags (one build for both functions)
export SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
T0=$(date +%s)
lap() { echo "### [$(( $(date +%s) - T0 ))s] $*"; }
ms() { date +%s%3N; }
die() { echo "FAIL: $*" >&2; exit 1; }

PIDS=() STARTED_DOCKERD=""
stop() {  # stop PID [SECONDS]: TERM, then KILL after 5 s; only processes this script started (its children)
  local p=$1 rest=()
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 $(( ${2:-5} * 4 ))); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null || true
  for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || rest+=("$q"); done
  PIDS=("${rest[@]}")
}
cleanup() {
  local rc=$?
  set +e
  for p in "${PIDS[@]}"; do stop "$p"; done
  if docker info >/dev/null 2>&1; then   # containers SAM started from this build's image, if any are left
    ids=$(DOCKER_HOST= docker ps -aq --filter ancestor=apifunction:rapid-x86_64 2>/dev/null)
    [ -n "$ids" ] && DOCKER_HOST= docker rm -f $ids >/dev/null 2>&1
  fi
  [ -n "$STARTED_DOCKERD" ] && stop "$STARTED_DOCKERD" 30
  echo "logs: $LOG"
  [ $rc -eq 0 ] || echo "### .ci/sam.sh FAILED (exit $rc)"
  exit $rc
}
trap cleanup EXIT
show() { echo "--- $1"; tail -n "${2:-25}" "$1"; }   # the end of a log, on failure

# ------------------------------------------------------------------ 0. prerequisites
if [ -z "${SKIP_APT:-}" ] && ! { command -v dockerd && command -v debootstrap && command -v curl; } >/dev/null; then
  lap "apt-get install docker.io debootstrap curl"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap curl >/dev/null
fi
PY=${PYTHON:-$(for p in python3.12 /root/.pyenv/versions/3.12.*/bin/python3.12; do
  "$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { echo "$p"; break; }; done)}
[ -n "$PY" ] || die "a CPython 3.12 is needed (set PYTHON=...)"
PY_PREFIX=$("$PY" -c 'import sys; print(sys.base_prefix)')

lap "venvs: SAM CLI ($STATE/sam-venv), app deps, awslambdaric"
want_sam=$(cat .ci/requirements-sam.txt)
if [ "$(cat "$STATE/sam-venv/.installed" 2>/dev/null)" != "$want_sam" ]; then
  rm -rf "$STATE/sam-venv"
  "$PY" -m venv "$STATE/sam-venv"
  "$STATE/sam-venv/bin/pip" install -q -r .ci/requirements-sam.txt > "$LOG/pip-sam.log" 2>&1 || { show "$LOG/pip-sam.log"; exit 1; }
  echo "$want_sam" > "$STATE/sam-venv/.installed"
fi
export PATH=$STATE/sam-venv/bin:$PATH
RIE_BIN=$(python -c 'import samcli, os; print(os.path.join(os.path.dirname(samcli.__file__), "local/rapid/aws-lambda-rie-x86_64"))')
sam --version; cfn-lint --version
# The app's Python (for the synthetic GeoTIFF, moto's server and the Docker-free run): `make`'s .venv when
# it is complete, else a venv of requirements-dev.txt here. awslambdaric goes to its own --target folder.
APP_PY=${APP_PYTHON:-}
if [ -z "$APP_PY" ] && [ -x .venv/bin/python ] && .venv/bin/python -c 'import rasterio, fastapi, mangum, moto.server' 2>/dev/null; then
  APP_PY=$ROOT/.venv/bin/python
fi
if [ -z "$APP_PY" ]; then
  want_app=$(cat requirements.txt layers/geo/requirements.txt requirements-dev.txt)
  if [ "$(cat "$STATE/app-venv/.installed" 2>/dev/null)" != "$want_app" ]; then
    rm -rf "$STATE/app-venv"
    "$PY" -m venv "$STATE/app-venv"
    "$STATE/app-venv/bin/pip" install -q -r requirements-dev.txt > "$LOG/pip-app.log" 2>&1 || { show "$LOG/pip-app.log"; exit 1; }
    echo "$want_app" > "$STATE/app-venv/.installed"
  fi
  APP_PY=$STATE/app-venv/bin/python
fi
RIC=$STATE/ric
if [ "$(cat "$RIC/.installed" 2>/dev/null)" != "$(cat .ci/requirements-ric.txt)" ]; then
  rm -rf "$RIC"
  "$APP_PY" -m pip install -q --target "$RIC" -r .ci/requirements-ric.txt > "$LOG/pip-ric.log" 2>&1 || { show "$LOG/pip-ric.log"; exit 1; }
  cp .ci/requirements-ric.txt "$RIC/.installed"
fi
echo "python: $PY ($("$PY" -V)); app python: $APP_PY"

# ------------------------------------------------------------------ 1. dockerd, stand-in base image, proxy
if ! docker info >/dev/null 2>&1; then
  lap "start dockerd (--bridge=none --iptables=false)"
  dockerd --bridge=none --iptables=false > "$LOG/dockerd.log" 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { show "$LOG/dockerd.log"; die "dockerd did not start"; }
fi
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  lap "base image $BASE_IMAGE: present, reused"
else
  lap "build the stand-in for $BASE_IMAGE (debootstrap bookworm + CPython from $PY_PREFIX)"
  case "$PY_PREFIX" in /usr|/usr/local) die "the stand-in needs a self-contained CPython 3.12 prefix (pyenv), not $PY_PREFIX";; esac
  WORK="$STATE/standin" PY312="$PY_PREFIX" SAMRIE="$RIE_BIN" TAG="$BASE_IMAGE" \
    bash "$HERE/standin/build-standin.sh" > "$LOG/standin.log" 2>&1 || { show "$LOG/standin.log" 40; exit 1; }
  grep -E '^TIMING|^3\.12' "$LOG/standin.log"
fi

lap "start the host-network Docker API proxy"
PROXY_SOCK=$LOG/docker-hostnet.sock
"$PY" "$HERE/tools/docker-hostnet-proxy.py" "$PROXY_SOCK" > "$LOG/proxy.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 40); do [ -S "$PROXY_SOCK" ] && break; sleep 0.1; done
[ -S "$PROXY_SOCK" ] || { show "$LOG/proxy.log"; die "proxy did not start"; }
export DOCKER_HOST=unix://$PROXY_SOCK

# ------------------------------------------------------------------ 2. lint, build
lap "sam validate --lint; cfn-lint template.yaml"
sam validate --lint
cfn-lint template.yaml && echo "cfn-lint: clean"

lap "SAM's translator on template.yaml under each AuthMode (what sam deploy runs; lint does not catch all)"
"$STATE/sam-venv/bin/python" .ci/sam-local/translate-template.py template.yaml

lap "checkov on template.yaml (offline): zero failed checks, every skip justified in the template"
want_checkov=$(cat .ci/requirements-checkov.txt)
if [ "$(cat "$STATE/checkov-venv/.installed" 2>/dev/null)" != "$want_checkov" ]; then
  rm -rf "$STATE/checkov-venv"
  "$PY" -m venv "$STATE/checkov-venv"
  "$STATE/checkov-venv/bin/pip" install -q -r .ci/requirements-checkov.txt > "$LOG/pip-checkov.log" 2>&1 \
    || { show "$LOG/pip-checkov.log"; exit 1; }
  echo "$want_checkov" > "$STATE/checkov-venv/.installed"
fi
"$STATE/checkov-venv/bin/checkov" -f template.yaml --framework cloudformation --compact --quiet --skip-download \
  > "$LOG/checkov.log" 2>&1 || { show "$LOG/checkov.log" 40; die "checkov found failed checks"; }
grep -E 'Passed checks' "$LOG/checkov.log"

lap "sam deploy --guided on a fresh account, every prompt at its default (AWS = moto on 127.0.0.1)"
# Enter for every prompt must get past the questions (a missing auth setting aborts them with "Security
# Constraints Not Satisfied!") to "Looking for resources needed for deployment"; what follows needs a real
# account (moto's CloudFormation stops it there). Run on a copy: guided deploys save samconfig.toml.
GUIDED=$LOG/guided; mkdir -p "$GUIDED"; cp template.yaml samconfig.toml "$GUIDED/"
GUIDED_PORT=$("$APP_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$APP_PY" -m moto.server -H 127.0.0.1 -p "$GUIDED_PORT" > "$LOG/moto-guided.log" 2>&1 &
GUIDED_MOTO=$!; PIDS+=($GUIDED_MOTO)
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$GUIDED_PORT/" && break; sleep 0.2; done
(cd "$GUIDED" && yes "" | head -100 | AWS_ENDPOINT_URL="http://127.0.0.1:$GUIDED_PORT" AWS_ACCESS_KEY_ID=testing \
  AWS_SECRET_ACCESS_KEY=testing AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1 \
  timeout 120 sam deploy --guided) > "$LOG/guided.log" 2>&1 || true
stop "$GUIDED_MOTO"
tr '\t' '\n' < "$LOG/guided.log" | grep -E '\[|Looking for|Error' | head -30
grep -q 'Security Constraints Not Satisfied' "$LOG/guided.log" && die "sam deploy --guided aborts at its defaults"
grep -q 'AWS Region \[eu-west-1\]' "$LOG/guided.log" || die "the guided region default is not the environment's"
grep -q 'Looking for resources needed for deployment' "$LOG/guided.log" || die "sam deploy --guided stopped early"

lap "sam build"
t=$(ms)
sam build > "$LOG/sam-build.log" 2>&1 || { show "$LOG/sam-build.log" 40; exit 1; }
BUILD_MS=$(( $(ms) - t ))
grep -E '^Building codeuri|^Step [0-9]+/|Successfully tagged|Build Succeeded' "$LOG/sam-build.log"
SIZE=$(docker image inspect "$IMAGE" --format '{{.Size}}')
BASE_SIZE=$(docker image inspect "$BASE_IMAGE" --format '{{.Size}}')
echo "image $IMAGE: $((SIZE / 1000000)) MB ($(( (SIZE - BASE_SIZE) / 1000000 )) MB on top of the base image)"
docker history "$IMAGE" --format '{{.Size}}\t{{.CreatedBy}}' | head -8 | cut -c1-110

lap "layer cache: a handler/ change rebuilds only the code layer"
# The same sam build on a copy whose handler/ differs by one comment, tagged apart from the real image.
CTX=$LOG/layer-check; mkdir -p "$CTX/layers/geo"
cp -a Dockerfile .dockerignore requirements.txt handler "$CTX/"; cp -a layers/geo/requirements.txt "$CTX/layers/geo/"   # -a: modes are part of the layer cache key
chmod -R go-rwx "$CTX/handler"   # as a checkout under umask 077: the image must still be readable by Lambda's user
sed 's/DockerTag: python3.12-v1/DockerTag: layer-check/' template.yaml > "$CTX/template.yaml"
echo "# a code change" >> "$CTX/handler/__init__.py"
(cd "$CTX" && sam build) > "$LOG/layer-check.log" 2>&1 || { show "$LOG/layer-check.log"; exit 1; }
grep -E '^Step [2-6]/|Using cache' "$LOG/layer-check.log" | cut -c1-90
[ "$(grep -c 'Using cache' "$LOG/layer-check.log")" -ge 4 ] || die "the pip layers were rebuilt for a handler/ change"
# Lambda runs images as a non-root user (sam local runs them as root, so only this shows it).
docker run --rm --network host --user 993:990 -w /var/task --entrypoint /var/lang/bin/python3 apifunction:layer-check \
  -c 'import handler.api, handler.s3_trigger; print("imports as uid 993 from a umask-077 checkout: ok")' \
  || die "the image's code is not readable by a non-root user"
docker rmi apifunction:layer-check > /dev/null 2>&1 || true

lap "the image is one Lambda accepts: a single-platform manifest, no attestation index"
docker save "$IMAGE" | "$APP_PY" .ci/sam-local/check-image.py || die "Lambda would reject the image's manifest"

lap "import handler.api inside the image (its LAMBDA_TASK_ROOT; 5 fresh interpreters, informational)"
IMPORT_S=$(for _ in 1 2 3 4 5; do
  docker run --rm --network host -w /var/task --entrypoint /var/lang/bin/python3 "$IMAGE" \
    -c 'import time; t = time.perf_counter(); import handler.api; print(f"{time.perf_counter() - t:.3f}")'
done | sort -n | tr '\n' ' ')
echo "import handler.api: $IMPORT_S s (sorted)"

# ------------------------------------------------------------------ 3. sam local invoke
check_png() {  # check_png OUT: the Lambda result is a 200 HTTP response whose base64 body is a PNG
  "$APP_PY" - "$1" <<'EOF'
import base64, json, sys
raw = open(sys.argv[1]).read().strip()
try:
    out = json.loads(raw.splitlines()[-1] if raw else "{}")
except json.JSONDecodeError:
    sys.exit(f"not a JSON result: {raw[:300]!r}")
body = base64.b64decode(out.get("body", "")) if out.get("isBase64Encoded") else b""
is_png = body[:8] == b"\x89PNG\r\n\x1a\n"
ok = out.get("statusCode") == 200 and out.get("isBase64Encoded") is True and is_png
print(f"statusCode={out.get('statusCode')} isBase64Encoded={out.get('isBase64Encoded')} "
      f"content-type={out.get('headers', {}).get('content-type')} body={len(body)} bytes, PNG={is_png}")
sys.exit(0 if ok else f"not a PNG response: {raw[:500]!r}")
EOF
}
report_line() { grep -hoE 'REPORT RequestId.*' "$@" | tail -1 | tr '\t' ' '; }

lap "events/*.json match events/make_events.py"
"$APP_PY" events/make_events.py --out "$WORK/events" > /dev/null
for f in events/*.json; do cmp -s "$f" "$WORK/events/$(basename "$f")" || die "$f is stale: run python events/make_events.py"; done
echo "$(ls events/*.json | wc -l) events up to date"

lap "sam local invoke ApiFunction -e events/http-api-thumbnail.json"
t=$(ms)
sam local invoke ApiFunction -e events/http-api-thumbnail.json > "$LOG/invoke-api.out" 2> "$LOG/invoke-api.err" || true
INVOKE_MS=$(( $(ms) - t ))
check_png "$LOG/invoke-api.out" || { show "$LOG/invoke-api.err"; exit 1; }
report_line "$LOG/invoke-api.err"
echo "sam local invoke (new container each time, cold): ${INVOKE_MS} ms wall"

if [ -f handler/s3_trigger.py ]; then
  lap "sam local invoke S3TriggerFunction -e events/s3-put.json (S3 = moto server on 127.0.0.1)"
  MOTO_PORT=$("$APP_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$APP_PY" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" > "$LOG/moto.log" 2>&1 &
  PIDS+=($!)
  # The buckets and key the committed event names; the GeoTIFF is the synthetic one.
  read -r IN_BUCKET IN_KEY < <("$APP_PY" -c 'import json; r = json.load(open("events/s3-put.json"))["Records"][0]["s3"]; print(r["bucket"]["name"], r["object"]["key"])')
  OUT_BUCKET=sentinel2-thumbnails-output
  "$APP_PY" events/make_events.py --out "$WORK/events" --tiff "$WORK/scene.tiff" --tiff-size 600x400 > /dev/null
  # Python with boto3 pointed at the moto server (boto3 reads AWS_ENDPOINT_URL_S3).
  moto_py() {
    AWS_ENDPOINT_URL_S3="http://127.0.0.1:$MOTO_PORT" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
      AWS_DEFAULT_REGION=us-east-1 "$APP_PY" "$@"
  }
  moto_py - "$IN_BUCKET" "$IN_KEY" "$OUT_BUCKET" "$WORK/scene.tiff" <<'EOF'
import sys, time, boto3
bucket, key, out_bucket, path = sys.argv[1:]
s3 = boto3.client("s3")
for _ in range(50):
    try:
        s3.list_buckets(); break
    except Exception:
        time.sleep(0.2)
for name in (bucket, out_bucket):
    s3.create_bucket(Bucket=name)
s3.upload_file(path, bucket, key)
print(f"moto: s3://{bucket}/{key} uploaded; output bucket s3://{out_bucket}")
EOF
  # --env-vars overrides only variables the template declares: the four S3 endpoint ones are declared
  # (conditionally, absent on AWS) for this. boto3 reads AWS_ENDPOINT_URL_S3, GDAL the other three.
  cat > "$LOG/env-s3.json" <<EOF
{"S3TriggerFunction": {"INPUT_BUCKET": "$IN_BUCKET", "OUTPUT_BUCKET": "$OUT_BUCKET",
  "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:$MOTO_PORT", "AWS_S3_ENDPOINT": "127.0.0.1:$MOTO_PORT",
  "AWS_HTTPS": "NO", "AWS_VIRTUAL_HOSTING": "FALSE"}}
EOF
  cat "$LOG/env-s3.json"
  invoke_trigger() {  # invoke_trigger NAME EVENT PATTERN: sam local invoke; the result must contain PATTERN
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
      sam local invoke S3TriggerFunction -e "$2" --env-vars "$LOG/env-s3.json" \
        > "$LOG/$1.out" 2> "$LOG/$1.err" || true
    cat "$LOG/$1.out"; echo
    grep -q "$3" "$LOG/$1.out" || { show "$LOG/$1.err" 40; die "S3 trigger ($1): no $3 in its result"; }
    report_line "$LOG/$1.err"
  }
  invoke_trigger invoke-s3 events/s3-put.json '"status": "written"'
  moto_py - "$OUT_BUCKET" <<'EOF'
import sys, boto3
s3 = boto3.client("s3")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=sys.argv[1]).get("Contents", [])]
print("output bucket:", keys)
png = [k for k in keys if k.endswith(".png")]
assert png and s3.get_object(Bucket=sys.argv[1], Key=png[0])["Body"].read()[:8] == b"\x89PNG\r\n\x1a\n", keys
EOF
  # A replayed event (S3 delivers at least once) is recognised by the source ETag and not re-rendered.
  invoke_trigger invoke-s3-replay events/s3-put.json '"already_processed"'
  # The same object through the two other routes: S3 in an SQS message, S3 via EventBridge.
  invoke_trigger invoke-sqs events/sqs-s3-put.json '"batchItemFailures": \[\]'
  invoke_trigger invoke-eventbridge events/eventbridge-object-created.json '"already_processed"'
  # A backfill job's task for the same object (S3 Batch Operations, schema 2.0; python -m handler.backfill):
  # its outputs are current, a quick success; with the user argument force=true it is rendered again.
  invoke_trigger invoke-batch events/batch-operations-task.json \
    '"resultCode": "Succeeded", "resultString": "skipped:already_processed"'
  invoke_trigger invoke-batch-force events/batch-operations-force.json '"resultCode": "Succeeded", "resultString": "written"'

  lap "sam local invoke S3TriggerFunction: a 4200x4200 upload without overviews gets a COG copy in cogs/"
  BIG_KEY=uploads/no-overviews-4200.tif
  "$APP_PY" events/make_events.py --out "$WORK/events-big" --bucket "$IN_BUCKET" --key "$BIG_KEY" --etag "" > /dev/null
  moto_py - "$IN_BUCKET" "$BIG_KEY" "$WORK/no-overviews.tif" <<'EOF'
import sys, boto3, numpy as np, rasterio
from rasterio.transform import from_origin
bucket, key, path = sys.argv[1:]
rows, cols = np.mgrid[0:4200, 0:4200]
data = np.stack([800 + (rows // 7 + cols // 5 + 300 * b) % 1500 for b in range(3)]).astype("uint16")
with rasterio.open(path, "w", driver="GTiff", width=4200, height=4200, count=3, dtype="uint16", crs="EPSG:32633",
                   transform=from_origin(399960, 5000040, 10, 10), tiled=True, compress="deflate", nodata=0) as dst:
    dst.write(data)
boto3.client("s3").upload_file(path, bucket, key)
EOF
  invoke_trigger invoke-s3-cog "$WORK/events-big/s3-put.json" '"with_cog_copy"'
  grep -o '"message":"cog copy written"[^}]*' "$LOG/invoke-s3-cog.err" | head -1
  moto_py - "$OUT_BUCKET" "$WORK/copy.tif" <<'EOF'
import sys, boto3, rasterio
bucket, path = sys.argv[1:]
boto3.client("s3").download_file(bucket, "cogs/no-overviews-4200.tif", path)
with rasterio.open(path) as ds:
    layout, overviews = ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT"), ds.overviews(1)
print(f"cogs/no-overviews-4200.tif: layout {layout}, overviews {overviews}")
assert layout == "COG" and overviews, (layout, overviews)
EOF
else
  lap "S3 trigger: handler/s3_trigger.py not there yet, skipped"
fi

# ------------------------------------------------------------------ 4. sam local start-api + the README's curls
lap "sam local start-api on 127.0.0.1:$API_PORT + the README's curl commands"
curl -s -o /dev/null "http://127.0.0.1:$API_PORT/" && die "something already listens on 127.0.0.1:$API_PORT"
# sam local start-api base64-encodes binary request bodies only for a REST API's BinaryMediaTypes, which
# HttpApi lacks (aws/aws-sam-cli#3110): a local-only copy of the built template adds them.
"$STATE/sam-venv/bin/python" "$HERE/start-api-template.py" .aws-sam/build/template.yaml .aws-sam/build/template-start-api.yaml
# LAZY warm containers: the first request starts the container (a cold start), later ones reuse it.
sam local start-api -t .aws-sam/build/template-start-api.yaml --host 127.0.0.1 --port "$API_PORT" \
  --warm-containers LAZY > "$LOG/start-api.log" 2>&1 &
SAPI=$!; PIDS+=($SAPI)
for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$API_PORT/" && break; sleep 0.5; done
grep -E 'Mounting|Running on' "$LOG/start-api.log" || true
[ -f "$WORK/scene.tiff" ] || "$APP_PY" events/make_events.py --out "$WORK/events" --tiff "$WORK/scene.tiff" --tiff-size 600x400 > /dev/null
cp "$WORK/scene.tiff" "$WORK/S2L2A_2022-06-09.tiff"
(
  cd "$WORK"
  set -x
  curl -sS -w '  [HTTP %{http_code}, %{time_total}s]\n' -X POST -F "image_file=@S2L2A_2022-06-09.tiff" \
    http://127.0.0.1:$API_PORT/attributes > attributes.out
  curl -sS -w '[HTTP %{http_code}, %{time_total}s]\n' -X POST -F "image_file=@S2L2A_2022-06-09.tiff" -F "target_resolution=200" \
    http://127.0.0.1:$API_PORT/thumbnail --output output.png > thumbnail.status
) 2>&1 | sed 's/^+ /$ /'
head -c 200 "$WORK/attributes.out"; echo " ... $(grep -oE '\[HTTP [0-9]+, [0-9.]+s\]' "$WORK/attributes.out")"
cat "$WORK/thumbnail.status"
grep -q 'HTTP 200' "$WORK/attributes.out" && grep -q '"bands":12' "$WORK/attributes.out" \
  || { show "$LOG/start-api.log" 40; die "/attributes failed"; }
grep -q 'HTTP 200' "$WORK/thumbnail.status" || { show "$LOG/start-api.log" 40; die "/thumbnail failed"; }
"$APP_PY" -c 'import sys; from PIL import Image; im = Image.open(sys.argv[1]); print("output.png:", im.format, im.size, im.mode); assert im.format == "PNG" and max(im.size) == 200' "$WORK/output.png"
START_COLD=$(grep -oE '[0-9.]+s\]' "$WORK/attributes.out" | tr -d 's]')
curl -sS -w '  [HTTP %{http_code}]\n' "http://127.0.0.1:$API_PORT/health" | tee "$WORK/health.out"
# The viewer page at the root: the $default route reaches "/" too (a /{proxy+} route would not).
curl -sS -o "$WORK/root.html" "http://127.0.0.1:$API_PORT/"   # to a file: grep -q would close a pipe early
grep -q '<title>Sentinel-2 thumbnails' "$WORK/root.html" || die "GET / is not the viewer page"
echo "GET /: the viewer page"
grep -q 'HTTP 200' "$WORK/health.out" || die "/health failed"
WARM_API=()
for _ in 1 2 3; do
  WARM_API+=("$(cd "$WORK" && curl -sS -o /dev/null -w '%{time_total}' -X POST -F "image_file=@S2L2A_2022-06-09.tiff" \
    -F "target_resolution=200" "http://127.0.0.1:$API_PORT/thumbnail")")
done
echo "start-api: first request (cold container) ${START_COLD}s; warm /thumbnail: ${WARM_API[*]} s"
stop $SAPI

# ------------------------------------------------------------------ 5. no Docker: RIE + awslambdaric on the host
lap "Docker-free: aws-lambda-rie + awslambdaric (handler.api.handler) on 127.0.0.1:$RIE_PORT"
curl -s -o /dev/null "http://127.0.0.1:$RIE_PORT/" && die "something already listens on 127.0.0.1:$RIE_PORT"
RIE_API_PORT=$("$APP_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(
  cd "$ROOT"
  export PYTHONPATH=$RIC POWERTOOLS_SERVICE_NAME=sentinel2-thumbnails POWERTOOLS_METRICS_NAMESPACE=Sentinel2Thumbnails
  exec "$RIE_BIN" --log-level error --runtime-interface-emulator-address "127.0.0.1:$RIE_PORT" \
       --runtime-api-address "127.0.0.1:$RIE_API_PORT" "$APP_PY" -m awslambdaric handler.api.handler
) > "$LOG/rie.log" 2>&1 &
RIEPID=$!; PIDS+=($RIEPID)
URL=http://127.0.0.1:$RIE_PORT/2015-03-31/functions/function/invocations
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$RIE_PORT/" && break; sleep 0.1; done
"$APP_PY" - "$URL" events/http-api-thumbnail.json > "$LOG/rie-invoke.out" 2> "$LOG/rie-timing.txt" <<'EOF' \
  || { cat "$LOG/rie-invoke.out" "$LOG/rie-timing.txt"; show "$LOG/rie.log"; exit 1; }
import json, sys, time, urllib.request
url, body = sys.argv[1], open(sys.argv[2], "rb").read()
def invoke():
    t = time.perf_counter()
    out = urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=60).read()
    return out, (time.perf_counter() - t) * 1000
out, cold = invoke()
warm = sorted(invoke()[1] for _ in range(20))
print(json.dumps(json.loads(out)))  # the first result, checked below
print(f"first invoke (process init + import + render) {cold:.0f} ms; warm median {warm[10]:.1f} ms "
      f"(min {warm[0]:.1f}, max {warm[-1]:.1f}) over 20", file=sys.stderr)
EOF
check_png "$LOG/rie-invoke.out"
echo "RIE: $(cat "$LOG/rie-timing.txt")"
stop $RIEPID

# ------------------------------------------------------------------ 6. the arm64 image under qemu-user
# Opt-in: about 20 minutes on a fresh 2-core machine (everything arm64 runs emulated), over CI's budget.
if [ "${ARM64:-0}" = 1 ]; then
  lap "arm64: the Architecture=arm64 image, its API function run under qemu-user (.ci/arm64.sh)"
  ROOT=$ROOT STATE=$STATE LOG=$LOG APP_PY=$APP_PY bash "$ROOT/.ci/arm64.sh"
else
  lap "arm64 image check not run: ARM64=1 bash .ci/sam.sh runs it (README: arm64)"
fi

lap "summary"
cat <<EOF
image $IMAGE: $((SIZE / 1000000)) MB = base $((BASE_SIZE / 1000000)) MB + $(( (SIZE - BASE_SIZE) / 1000000 )) MB (geo stack, deps, code)
sam build: ${BUILD_MS} ms (Docker layer cache warm: $([ "$BUILD_MS" -lt 15000 ] && echo yes || echo no))
cold, sam local invoke (new container, init, render 96x64 -> 64 px): ${INVOKE_MS} ms wall, handler Duration $(report_line "$LOG/invoke-api.err" | sed -E 's/.*[^d] Duration: ([0-9.]+) ms.*/\1/') ms
start-api /attributes first request (container start + init): ${START_COLD} s; warm /thumbnail (600x400 -> 200 px): ${WARM_API[*]} s
RIE without Docker: $(cat "$LOG/rie-timing.txt")
import handler.api in the image: $IMPORT_S s (sorted, 5 runs)
EOF
lap "done: .ci/sam.sh passed"
