"""The portal served as scripts/run serves it (gunicorn -c geo_portal/gunicorn_conf.py):
every worker listens on a socket of its own (SO_REUSEPORT), so a burst of keep-alive connections is
not left to whichever worker wakes first; and a second server on the same address is
refused instead of silently sharing its connections."""

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port, **env):
    cmd = [sys.executable, "-m", "gunicorn", "-c", "geo_portal/gunicorn_conf.py", "geo_portal.asgi:application",
           "-b", f"127.0.0.1:{port}", "--no-control-socket", "--access-logfile", "/dev/null"]
    environ = {**os.environ, "DEBUG": "0", "SECRET_KEY": "x" * 50, "WEB_WORKERS": str(WORKERS),
               "DJANGO_SETTINGS_MODULE": "geo_portal.settings", **env}
    return subprocess.Popen(cmd, cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def sockets_on(port):
    """{inode: state} of the TCP sockets whose local port is ``port`` (from /proc/net/tcp:
    0A listening, 01 established)."""
    out = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            out[fields[9]] = fields[3]
    return out


def inodes_of(pid):
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def children(pid):
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.fixture
def server():
    port = free_port()
    proc = serve(port)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/livez")
                answered = conn.getresponse().read() == b"ok"
                conn.close()
                if answered and len(children(proc.pid)) == WORKERS:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not answer /livez"
            time.sleep(0.3)
        time.sleep(1)  # the last worker's socket
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(20)


def test_every_worker_listens_on_its_own_socket_and_takes_connections(server):
    proc, port = server
    workers = children(proc.pid)
    listening = {inode for inode, state in sockets_on(port).items() if state == "0A"}
    # one per worker, none in the master
    assert len(listening) == WORKERS
    for pid in workers:
        assert len(inodes_of(pid) & listening) == 1, f"worker {pid} has no socket of its own"
    assert not inodes_of(proc.pid) & listening

    # A burst of keep-alive connections, all open at once, as a load balancer or a
    # benchmark opens them: more than one worker serves them.
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(24)]
    for conn in conns:
        conn.request("GET", "/livez")
    assert all(conn.getresponse().read() == b"ok" for conn in conns)
    established = {inode for inode, state in sockets_on(port).items() if state == "01"}
    held = {pid: len(inodes_of(pid) & established) for pid in workers}
    for conn in conns:
        conn.close()
    assert sum(held.values()) == 24, held
    assert sum(1 for n in held.values() if n) >= 2, held


def test_a_second_server_on_the_same_address_is_refused(server):
    _proc, port = server
    second = serve(port)
    out, _ = second.communicate(timeout=60)
    assert second.returncode != 0
    assert f"127.0.0.1:{port} is in use by another server" in out
    # the first one still answers
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/livez")
    assert conn.getresponse().read() == b"ok"
