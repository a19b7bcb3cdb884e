"""S3 for the benchmarks, on loopback: moto's server behind a reverse proxy that counts requests and bytes."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import logging
import threading
import time
from pathlib import Path

from bench.common import log


class CountingProxy:
    """A loopback HTTP/1.1 reverse proxy in front of moto that counts the response bytes GDAL gets."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.reset()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = getattr(self, "_upstream", None)
                if conn is None:
                    conn = self._upstream = http.client.HTTPConnection(*proxy.upstream, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                        self.send_header(key, value)
                # a HEAD's Content-Length is the object's size (boto3's head_object), not its empty body's
                head_length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", head_length or str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                with proxy.lock:
                    proxy.requests += 1
                    proxy.bytes += len(payload) if self.command != "HEAD" else 0
                    rng = self.headers.get("Range", "")
                    if "," in rng:
                        proxy.multirange += 1
                    proxy.log.append((self.command, rng, response.status, len(payload)))
                    proxy.paths.append(self.path)

            do_GET = do_HEAD = do_PUT = do_POST = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self):
        with self.lock:
            self.requests = 0
            self.bytes = 0
            self.multirange = 0
            self.log = []
            self.paths = []  # each request's path, in the order of `log`

    def stop(self):
        self.server.shutdown()


@contextlib.contextmanager
def remote_s3(cog: Path):
    """Start moto on 127.0.0.1, upload `cog`, yield (worker env additions, proxy, /vsis3/ path)."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines on stderr
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket, key = "bench", f"scenes/{cog.name}"
    s3.create_bucket(Bucket=bucket)
    t0 = time.perf_counter()
    s3.upload_file(str(cog), bucket, key)
    log(f"  uploaded {cog.name} to moto in {time.perf_counter() - t0:.0f} s")
    proxy = CountingProxy((host, port))
    env = {
        **creds,
        "AWS_S3_ENDPOINT": f"127.0.0.1:{proxy.port}",
        "AWS_HTTPS": "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
        "AWS_DEFAULT_REGION": "us-east-1",
        # never read real credential/config files, never go through a proxy
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    try:
        yield env, proxy, f"/vsis3/{bucket}/{key}"
    finally:
        proxy.stop()
        server.stop()
