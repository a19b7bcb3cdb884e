"""The test S3 server is one per process: mutmut runs each mutant's tests in a fork, two at a time, and
forks that shared their parent's server reset each other's buckets (the failures counted as kills)."""

import os
import socket
import time

import pytest

from tests.s3_helpers import _shared_store, moto_server


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _fork_using_s3(bucket: str, delay: float, report: int) -> int:
    """Fork a process that creates `bucket`, waits, and checks it is still there; it writes its server's
    port to `report` and exits 0 only if the bucket survived."""
    pid = os.fork()
    if pid:
        return pid
    ok = False
    try:
        time.sleep(delay)
        with pytest.MonkeyPatch.context() as monkeypatch, moto_server(monkeypatch) as s3:
            os.write(report, f"{_shared_store().rsplit(':', 1)[1]}\n".encode())
            s3.create_bucket(Bucket=bucket)
            time.sleep(1.5)
            ok = bucket in [found["Name"] for found in s3.list_buckets()["Buckets"]]
    finally:
        os._exit(0 if ok else 1)  # as mutmut's forks end: no exit handlers run


def test_forks_keep_their_own_buckets_and_their_servers_end_with_them():
    parent = int(_shared_store().rsplit(":", 1)[1])  # the parent's server's port, as mutmut's clean run leaves it
    read, write = os.pipe()
    children = [_fork_using_s3("first-fork", 0, write), _fork_using_s3("second-fork", 0.5, write)]
    codes = [os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) for child in children]
    os.close(write)
    with os.fdopen(read) as reports:
        ports = [int(line) for line in reports]
    assert codes == [0, 0]  # the second fork's reset emptied the first fork's bucket on a shared server
    assert len(set(ports)) == 2 and parent not in ports
    deadline = time.monotonic() + 10
    while any(map(_listening, ports)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_listening, ports)), "a fork's moto server outlived it"
    assert _listening(parent)
