# One image, two Lambda functions (template.yaml): the HTTP API (CMD below) and the S3 trigger
# (ImageConfig.Command ["handler.s3_trigger.handler"]). Build context: the repository root.
FROM public.ecr.aws/lambda/python:3.12

# Layer 1, the heavy geo stack (rasterio with its bundled GDAL, numpy, pillow; ~200 MB). Its own layer,
# keyed only on layers/geo/requirements.txt: editing handler/ or requirements.txt does not rebuild it.
COPY layers/geo/requirements.txt /tmp/geo-requirements.txt
# (Console scripts and numpy's test suite are never used on Lambda: dropped.)
RUN pip install --no-cache-dir --only-binary=:all: -r /tmp/geo-requirements.txt --target "${LAMBDA_TASK_ROOT}" \
 && rm -rf /tmp/geo-requirements.txt "${LAMBDA_TASK_ROOT}/bin" \
 && find "${LAMBDA_TASK_ROOT}/numpy" -depth -type d -name tests -exec rm -rf {} +

# Layer 2, the light runtime dependencies (FastAPI, Mangum, Powertools, a pinned boto3).
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --only-binary=:all: -r /tmp/requirements.txt --target "${LAMBDA_TASK_ROOT}" \
 && rm -rf /tmp/requirements.txt "${LAMBDA_TASK_ROOT}/bin"

# Layer 3, the code: the only layer a handler change rebuilds. COPY keeps the checkout's modes, and Lambda
# runs the image as a non-root user: a checkout made under umask 077 would fail only on AWS, so make
# everything readable (and directories searchable) by all.
COPY handler/ ${LAMBDA_TASK_ROOT}/handler/
RUN chmod -R a+rX "${LAMBDA_TASK_ROOT}/handler" \
 && python3 -m compileall -q "${LAMBDA_TASK_ROOT}/handler"

CMD ["handler.api.handler"]
