"""The gunicorn worker class of scripts/run (geo_portal/gunicorn_conf.py): uvicorn, with
uvloop and httptools when installed, and WITHOUT uvicorn's X-Forwarded-For handling:
the client address Django sees is the socket's, as it was under gunicorn's own workers.
(uvicorn would otherwise trust the header from 127.0.0.1, and any local client could
choose the address the per-IP rate limits count.)

Connections go to the least busy worker. All workers accept from the one listening
socket the master bound; a worker holding ``DEFER_MARGIN`` or more open connections
more than another worker that accepts leaves a waiting connection to it for up to
``DEFER_S`` before it takes it itself. Left to the kernel, connections were spread by a
hash of their addresses (a socket per worker, SO_REUSEPORT): 8 keep-alive connections
landed 4/2/2, 5/2/1 or 4/3/1 on three workers in four tries of five (3/3/2 in five of
five now), and the requests of the busiest worker waited for each other: the p99 of a
point lookup at 8 connections went from 7.6 to 5.1-5.7 ms with keep-alive and from 8.4
to 6.0-6.1 ms with a connection a request (bench/peers.py). On one shared socket
without this, the first worker to wake accepted every connection waiting (libuv
accepts until none is left): 7 of 8 on one worker."""

import asyncio
import gc
import logging
import multiprocessing
import sys

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

log = logging.getLogger("uvicorn.error")

# The open connections of each worker, one slot a worker, shared by the master and the
# workers it forks (created when the master loads this class). A slot's owner is the
# worker's age (gunicorn numbers each worker it starts); 0: free. Open connections -1:
# the worker is not accepting (still starting, or stopping): no one waits for it.
MAX_WORKERS = 64
OWNERS = multiprocessing.RawArray("l", MAX_WORKERS)
OPEN = multiprocessing.RawArray("l", MAX_WORKERS)
# How long a busier worker leaves a waiting connection to the others (looking again
# every DEFER_STEP_S): long enough for a less busy worker to be scheduled, wake and take
# it on two busy cores, short against the wait in a busy worker's queue.
DEFER_S = 0.02
DEFER_STEP_S = 0.001
# A worker defers only to one with at least this many fewer open connections.
DEFER_MARGIN = 2


def claim_slot(age) -> int:
    """In the master, before the fork: a free slot for the worker of this age."""
    for i in range(MAX_WORKERS):
        if OWNERS[i] == 0:
            OWNERS[i], OPEN[i] = age, -1
            return i
    return -1  # more workers than slots: this one accepts without asking


def release_slot(age):
    """In the master, once the worker of this age has exited (gunicorn_conf.child_exit)."""
    for i in range(MAX_WORKERS):
        if OWNERS[i] == age:
            OWNERS[i], OPEN[i] = 0, 0


def fewest_elsewhere(slot) -> int:
    return min((OPEN[i] for i in range(MAX_WORKERS) if OWNERS[i] and OPEN[i] >= 0 and i != slot),
               default=sys.maxsize)


class LeastBusyAcceptor:
    """Accepts the connections of one listening socket for this worker's uvicorn server,
    leaving them first to a worker with fewer open connections; stands for asyncio's
    Server in uvicorn's shutdown (close, wait_closed)."""

    def __init__(self, sock, protocol_factory, connections, slot):
        self.sock, self.protocol_factory, self.connections, self.slot = sock, protocol_factory, connections, slot
        self.sock.setblocking(False)
        if slot >= 0:
            OPEN[slot] = 0
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def readable(self):
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_reader(self.sock.fileno(), lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            loop.remove_reader(self.sock.fileno())

    async def run(self):
        loop = asyncio.get_running_loop()
        while True:
            await self.readable()
            if self.slot >= 0:
                waited = 0.0
                OPEN[self.slot] = len(self.connections)
                while len(self.connections) >= fewest_elsewhere(self.slot) + DEFER_MARGIN and waited < DEFER_S:
                    await asyncio.sleep(DEFER_STEP_S)
                    waited += DEFER_STEP_S
                    OPEN[self.slot] = len(self.connections)
            try:
                conn, _address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another worker took it
            except OSError as exc:  # out of file descriptors, say: try again shortly
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            try:
                await loop.connect_accepted_socket(self.protocol_factory, conn)
            except OSError:
                conn.close()
            await asyncio.sleep(0)  # the protocol's connection_made: counted in connections
            if self.slot >= 0:
                OPEN[self.slot] = len(self.connections)

    def close(self):
        if self.slot >= 0:
            OPEN[self.slot] = -1
        self.task.cancel()

    async def wait_closed(self):
        await asyncio.gather(self.task, return_exceptions=True)


class LeastBusyServer(Server):
    """uvicorn's server with its listening sockets served by LeastBusyAcceptor."""

    def __init__(self, config, slot):
        super().__init__(config=config)
        self.slot = slot

    async def startup(self, sockets=None):
        await super().startup(sockets=[])  # the application's start-up, no listener
        config = self.config

        def create_protocol(_loop=None):
            return config.http_protocol_class(config=config, server_state=self.server_state,
                                              app_state=self.lifespan.state, _loop=_loop)

        self.servers = [LeastBusyAcceptor(getattr(s, "sock", s), create_protocol, self.server_state.connections,
                                          self.slot) for s in sockets or []]


class Worker(UvicornWorker):
    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "proxy_headers": False}

    def __init__(self, age, *args, **kwargs):
        super().__init__(age, *args, **kwargs)
        self.slot = claim_slot(age)

    def load_wsgi(self):
        super().load_wsgi()
        # Django, GeoDjango and DRF leave ~300,000 long-lived objects behind at start-up;
        # every full collection would walk them again in the middle of a request. Frozen,
        # the collector only looks at what requests allocate (the p99 of short requests).
        gc.collect()
        gc.freeze()

    async def _serve(self):
        self.config.app = self.wsgi
        server = LeastBusyServer(self.config, self.slot)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
