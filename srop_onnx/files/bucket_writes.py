"""Writing to object storage (``s3://``, ``gs://``), beside :mod:`.remote`, which reads:

- :func:`write_bytes` writes one object in a single PUT of the complete file (S3 has no rename:
  an object is never seen half-written); a PUT the server fails is one line, in the read
  timeout's bounds (no ``Expect: 100-continue`` wait), naming an object that stands where a
  "folder" of the key should be;
- :func:`check_output_url` refuses, before a run, an output whose bucket does not exist or whose
  endpoint does not answer.
"""

from __future__ import annotations

from ..errors import OutputError, UsageError, spell
from .remote import _bucket_of, _call, _filesystem, _is_http, _why

__all__ = ["write_bytes", "check_output_url", "check_output_urls"]


def write_bytes(url: str, data: bytes) -> None:
    """One object, written in a single PUT of the complete bytes (never a partial object)."""
    if url.endswith("/"):
        raise OutputError(f"{url}: is a prefix (it ends in /), not an object; give the object's key, e.g. "
                          f"{url}profile.json")
    _not_http(url)
    try:
        _call(url, "write it", lambda fs, path: _without_expect(fs).pipe_file(path, bytes(data)), OutputError)
    except OutputError:
        above = _object_above(url)
        if above:
            raise OutputError(f"{url}: cannot write it: {above} is an object, and this storage keeps no key "
                              "below an object's name (a file-backed server such as rclone's); choose another "
                              "key") from None
        raise


def _object_above(url: str) -> str | None:
    """The URL of an object whose name is a "folder" of ``url``'s key (``s3://b/m.onnx`` for
    ``s3://b/m.onnx/p.json``), if one exists: asked only after a write failed."""
    scheme, bucket = _bucket_of(url)
    root = f"{url[:len(scheme) + 3]}{bucket}/"  # as given: s3://bucket/
    parts = url[len(root):].split("/")[:-1]
    for n in range(1, len(parts) + 1):
        above = root + "/".join(parts[:n])
        try:
            fs, path = _filesystem(above)
            if fs.isfile(path):
                return above
        except Exception:  # noqa: BLE001 - only a hint: the write's own error stands
            return None
    return None


def check_output_url(url: str) -> None:
    """Refuse, before a run, an output URL that cannot be written when the run ends: its bucket does
    not exist, or the storage endpoint does not answer. A refusal to look (access denied: a writer
    may not be allowed to list or stat) or any other answer lets the run go on; the write says."""
    _not_http(url)
    scheme, bucket = _bucket_of(url)
    if scheme not in ("s3", "s3a", "gs", "gcs"):
        return
    try:
        fs, _ = _filesystem(url)
        if scheme.startswith("s3"):  # the bucket alone: never a listing (an empty bucket is a bucket)
            fs.call_s3("head_bucket", Bucket=bucket)
        else:
            fs.call("GET", f"b/{bucket}", json_out=True)
    except (UsageError, OutputError):
        raise
    except Exception as exc:  # noqa: BLE001 - the filesystems raise many kinds; only two refuse
        why = _why(exc, url)
        if why in ("no such bucket", "no such object or bucket"):
            raise OutputError(f"{url}: cannot write there: no such bucket ({bucket}); create it or choose another "
                              "bucket") from None
        if why.startswith("the storage endpoint does not answer"):
            raise OutputError(f"{url}: cannot write there: {why}") from None


def _not_http(url: str) -> None:
    if _is_http(url):
        raise OutputError(f"{url}: an http(s) URL is read, never written; write to a local path or a bucket "
                          "(s3://, gs://)")


def _without_expect(fs):
    """``fs``, its S3 client set not to send ``Expect: 100-continue`` with a body. aiohttp waits for
    the server's interim ``100 Continue`` with no timeout at all; a server that answers a PUT with
    an error at once instead (``rclone serve s3`` refusing a key under an object: 500) left the
    write hanging for good. The header is not signed; without it the body goes with the request
    and the answer comes within the read timeout."""
    client = getattr(fs, "s3", None) if type(fs).__module__.startswith("s3fs") else None
    if client is not None:
        from botocore.handlers import add_expect_header

        client.meta.events.unregister("before-call.s3", add_expect_header)
    return fs


def check_output_urls(named: dict) -> None:
    """:func:`check_output_url` for each URL among ``{option or what: path}`` (local paths and None
    are passed over); a refusal names the option."""
    from .remote import is_url

    asked = set()
    for what, url in named.items():
        if url is None or not is_url(str(url)):
            continue
        bucket = _bucket_of(str(url))
        if bucket in asked:  # a sweep's 256 --profiles files in one bucket: one request
            continue
        asked.add(bucket)
        try:
            check_output_url(str(url))
        except OutputError as exc:
            raise OutputError(f"{spell(what)} {exc}") from None
