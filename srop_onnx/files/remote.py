"""Object storage: ``s3://``, ``gs://`` (and ``memory://``, ``file://``) URLs wherever a path is
accepted, through fsspec (docs/scale.md, "Data in a bucket").

The one place URLs are read and written:

- :func:`is_url` tells a URL from a local path (``C:\\data`` is a path);
- :func:`list_objects` lists a prefix once (sizes and ETags from the listing, no request per
  object), skips folder markers, and keys each object by its path below the prefix, so a bucket
  and a local copy of it give the same keys;
- :func:`read_bytes` reads one object into memory (nothing is copied to local disk);
- writing is in :mod:`.bucket_writes` (one PUT of a complete object, outputs checked before a run);
- :func:`set_storage_options` takes the non-secret settings of ``--storage-option KEY=VALUE``
  (an endpoint, a region); a key, secret or token given there is refused: credentials come from
  the standard chains only (environment, AWS profile and config incl. ``AWS_ENDPOINT_URL``,
  instance roles; Google's default credentials), and never appear in a message of ours.

Errors are one line: access denied, no such bucket, no such key, an endpoint that does not answer
(within a timeout, no hang), a missing extra (``pip install 'srop-onnx[s3]'``).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Iterator

from ..errors import InputDataError, UsageError, on_command_line, option

__all__ = ["is_url", "RemoteFile", "list_objects", "read_bytes", "set_storage_options",
           "storage_options", "object_size", "exists", "is_remote", "local_path", "redacted", "using_storage_options"]

_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+)://")
#: the extra that brings each protocol's filesystem
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "http": "http", "https": "http"}
#: option names that carry a credential: never accepted on the command line
_SECRET = re.compile(r"key|secret|token|password|credential|session", re.IGNORECASE)
#: bounded waits for S3: an endpoint that does not answer, or accepts and never replies, is an error
#: within a minute, not a hang: each request waits at most ``connect_timeout + read_timeout`` (the
#: read timeout bounds the silence between bytes, not a transfer), botocore tries it twice, and s3fs
#: does not retry on top (it would, five times, on a read timeout); a lookup that falls back from one
#: request to another (an object's size: HEAD, then a listing) makes two of them
S3_TIMEOUTS = {"connect_timeout": 5.0, "read_timeout": 12.0, "max_attempts": 2}
#: the most GETs a run keeps in flight: a small object costs a round trip (10-50 ms to a bucket in a
#: data centre), so 64 at once read 1,300-6,400 objects a second where 8 read 160-800 (how many a
#: run uses follows its first read's round trip: srop_onnx.inputs.readahead)
CONCURRENT_READS = 64
#: --storage-option keys whose value is a JSON object (fsspec's nested settings)
_NESTED = ("client_kwargs", "config_kwargs", "s3_additional_kwargs")
_options: dict[str, str] = {}


def is_url(path) -> bool:
    """A URL with a scheme of two or more letters (``s3://``, ``gs://``, ``memory://``)."""
    return isinstance(path, str) and bool(_URL.match(path))


def local_path(url: str) -> str | None:
    """The local path a ``file://`` URL names (None for any other URL): such a file is checked as a
    local one before it is read (a FIFO, a device or a folder is refused, never read)."""
    from urllib.parse import unquote

    m = _URL.match(url)
    if not m or m.group(1).lower() not in ("file", "local"):
        return None
    return unquote(url[m.end():]) or "."


#: the user and password part of a URL's authority (``s3://KEY:SECRET@bucket``)
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+://)[^/@]*@")


def redacted(url: str) -> str:
    """``url`` with any ``user:password@`` part shown as ``***@``."""
    return _USERINFO.sub(r"\1***@", url)


def _no_credentials(url: str) -> None:
    if _USERINFO.match(url):
        raise UsageError(f"{redacted(url)}: a URL with credentials in it (user:secret@) would show them in logs, "
                         "shell history and process lists; drop them and set the credentials in the environment or "
                         "your AWS profile")


def set_storage_options(pairs: "list[str] | tuple[str, ...]", where: str = "--storage-option") -> None:
    """Non-secret filesystem settings from ``KEY=VALUE`` pairs (``endpoint_url=http://...``,
    ``region_name=eu-west-1``, ``anon=true``); a credential is refused."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = str(pair).partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"{where} {pair!r}: give KEY=VALUE (e.g. endpoint_url=http://127.0.0.1:9000)")
        if _SECRET.search(key):
            here = "on the command line" if where == "--storage-option" else "in storage_options"
            raise UsageError(f"{_said(where, key)}: credentials are never given {here} (they would show in the "
                             "shell's history, process lists and notebooks); set them in the environment or your "
                             "AWS profile")
        if key == "endpoint_url" and not re.match(r"^https?://[^/]", value.strip()):
            fixed = f"http://{value.strip() or '127.0.0.1:9000'}"
            raise UsageError(f"{_said(where, key, value)}: give the endpoint with its scheme, e.g. "
                             f"{_said(where, key, fixed)}")
        parsed[key] = _option_value(key, value, where)
    _options.clear()
    _options.update(parsed)


def _said(where: str, key: str, value: "str | None" = None, raw: bool = False) -> str:
    """One storage option as its caller wrote it: ``--storage-option key=value`` on the command line,
    ``storage_options={'key': 'value'}`` from Python (``raw``: the value already written as Python)."""
    if where != "storage_options":
        return f"{where} {key}" if value is None else f"{where} {key}={value}"
    number = value is not None and re.fullmatch(r"-?\d+(\.\d*)?", value)  # given as a number: shown as one
    shown = "..." if value is None else value if raw or number else repr(value)
    return f"storage_options={{{key!r}: {shown}}}"


def _option_value(key: str, value: str, where: str = "--storage-option"):
    """A ``--storage-option`` value: a JSON object for fsspec's nested settings, a number for the
    timeouts, else the text as given."""
    import json

    if key in _NESTED:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            example = "{'region_name': 'eu-west-1'}" if where == "storage_options" else \
                "'{\"region_name\": \"eu-west-1\"}'"
            raise UsageError(f"{_said(where, key)}: give {'a dict' if where == 'storage_options' else 'a JSON object'}"
                             f", e.g. {_said(where, key, example, raw=True)}")
        if any(_SECRET.search(str(k)) for k in parsed):
            raise UsageError(f"{_said(where, key)}: credentials are never given here; set them in the environment or "
                             "your AWS profile")
        return parsed
    if key in ("connect_timeout", "read_timeout", "max_attempts"):
        try:
            number = float(value) if key != "max_attempts" else int(value)
        except ValueError:
            number = -1
        if not number > 0:
            raise UsageError(f"{_said(where, key, value)}: give a positive number"
                             + (" of seconds" if key != "max_attempts" else " of tries"))
        return number
    return value


def storage_options() -> dict[str, str]:
    return dict(_options)


def restore_storage_options(saved: dict) -> None:
    """Put back the settings :func:`storage_options` returned (a command's own end there)."""
    _options.clear()
    _options.update(saved)


_ANON = "{'anon': True}"  # Python's spelling of --storage-option anon=true


def _hint(key: str) -> str:
    return _said("--storage-option" if on_command_line() else "storage_options", key, "...", raw=True)


@contextlib.contextmanager
def using_storage_options(options: "dict | None") -> Iterator[None]:
    """The non-secret settings of ``storage_options={...}`` (Python's spelling of
    ``--storage-option``: ``endpoint_url``, ``region_name``, ``anon``, ``read_timeout``,
    ``client_kwargs``...) for the calls inside; the settings before are restored after."""
    if not options:
        yield
        return
    import json

    pairs = [f"{k}={json.dumps(v) if isinstance(v, dict) else v}" for k, v in dict(options).items()]
    saved = dict(_options)
    set_storage_options(pairs, where="storage_options")
    try:
        yield
    finally:
        _options.clear()
        _options.update(saved)


def _filesystem(url: str):
    """``(fs, path inside it)`` for ``url``; a missing extra is one line naming it."""
    _no_credentials(url)
    protocol = _URL.match(url).group(1).lower()
    try:
        import fsspec
    except ImportError:
        extra = _EXTRAS.get(protocol, "s3")
        raise UsageError(f"{url}: URLs need fsspec, which is not installed; pip install 'srop-onnx[{extra}]'") from None
    opts: dict = dict(_options)
    if protocol in ("s3", "s3a"):
        import os

        endpoint = opts.pop("endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL_S3") or \
            os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:  # named, so fsspec's cached filesystem of another endpoint (the variable changed) is not reused
            opts.setdefault("client_kwargs", {}).setdefault("endpoint_url", endpoint)
        if "region_name" in opts:
            opts.setdefault("client_kwargs", {})["region_name"] = opts.pop("region_name")
        if "anon" in opts:
            opts["anon"] = str(opts["anon"]).lower() in ("1", "true", "yes")
        timeouts = {k: opts.pop(k, v) for k, v in S3_TIMEOUTS.items()}
        config = dict(opts.get("config_kwargs") or {})
        config.setdefault("connect_timeout", timeouts["connect_timeout"])
        config.setdefault("read_timeout", timeouts["read_timeout"])
        config.setdefault("retries", {"max_attempts": timeouts["max_attempts"], "mode": "standard"})
        config.setdefault("max_pool_connections", CONCURRENT_READS)  # botocore's default is 10
        opts["config_kwargs"] = config
    try:
        if protocol in ("gs", "gcs"):
            opts = _gcs_settings(opts)  # a refusal of its own, before the filesystem's errors are worded
        fs, path = _gcs_filesystem(url, opts) if protocol in ("gs", "gcs") else fsspec.core.url_to_fs(url, **opts)
    except ImportError:  # gcsfs, s3fs, or what they bring (aiohttp)
        extra = _EXTRAS.get(protocol)
        fix = f"pip install 'srop-onnx[{extra}]'" if extra else f"install the fsspec filesystem for {protocol}://"
        raise UsageError(f"{url}: {protocol}:// needs a package that is not installed; {fix}") from None
    except UsageError:  # _gcs_settings' own refusal, worded already
        raise
    except ValueError as exc:
        raise UsageError(f"{url}: not a URL srop-onnx can read ({_clean(exc)})") from None
    except TypeError as exc:
        raise UsageError(f"{url}: {'a --storage-option' if on_command_line() else 'a storage option'} that {protocol}:// does not take ({_clean(exc)}); see "
                         "docs/scale.md for the options") from None
    if protocol in ("s3", "s3a"):
        fs.retries = 1  # botocore's tries are the only ones: s3fs would retry a read timeout five times more
    return fs, path


def _gcs_settings(opts: dict) -> dict:
    """gcsfs's settings from the storage options: ``anon=true`` as its anonymous token, and the same
    bounds as for S3 on connecting and on silence between bytes (aiohttp's ``sock_connect`` and
    ``sock_read``; gcsfs has none by default, so an endpoint that accepts and never replies would
    hang). gcsfs tries each request 6 times, a number it does not let a caller change."""
    if "max_attempts" in opts:
        raise UsageError(f"{_hint('max_attempts')}: gs:// takes no max_attempts (gcsfs tries each request 6 times); "
                         "leave it out")
    import aiohttp

    opts = dict(opts)
    if str(opts.pop("anon", "")).lower() in ("1", "true", "yes"):
        opts["token"] = "anon"
    connect = opts.pop("connect_timeout", S3_TIMEOUTS["connect_timeout"])
    read = opts.pop("read_timeout", S3_TIMEOUTS["read_timeout"])
    opts.setdefault("requests_timeout", aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read))
    return opts


def _gcs_filesystem(url: str, opts: dict) -> tuple:
    """``(fs, path)`` for a ``gs://`` URL (``opts`` from :func:`_gcs_settings`): through gcsfs's plain (JSON API)
    filesystem when it goes to an endpoint of its own (an ``endpoint_url``, or an emulator's
    ``STORAGE_EMULATOR_HOST``), else through fsspec's (gcsfs's default). That one asks Google's gRPC
    control plane for each bucket's layout first, which such an endpoint does not serve: with an
    ``endpoint_url`` every bucket waited over two minutes and logged a warning before it fell back
    to the plain filesystem."""
    import os

    import fsspec

    if not (opts.get("endpoint_url") or os.environ.get("STORAGE_EMULATOR_HOST")):
        return fsspec.core.url_to_fs(url, **opts)
    from gcsfs.core import GCSFileSystem

    return GCSFileSystem(**opts), GCSFileSystem._strip_protocol(url)


def _is_gcs(url) -> bool:
    return str(url).lower().startswith(("gs://", "gcs://"))


def _is_http(url) -> bool:
    return str(url).lower().startswith(("http://", "https://"))


def _bucket_of(url: str) -> tuple[str, str]:
    """``(scheme, bucket)`` of a URL (``("s3", "data")`` for ``s3://data/val/a.png``)."""
    m = _URL.match(url)
    return m.group(1).lower(), url[m.end():].split("/", 1)[0]


def _clean(exc: BaseException) -> str:
    """An error's first line, without anything that looks like a credential."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"(?i)(signature|credential|secret|token|key)[^ ,;]*=[^ ,;]+", r"\1=...", text)
    return text[:200]


def _why(exc: BaseException, url: str) -> str:
    """What went wrong with ``url``, in words. An endpoint that does not answer is told first: its
    message quotes the endpoint's URL, whose port may hold "403" or "404"."""
    if isinstance(exc, FileNotFoundError) and exc.__cause__ is not None:
        deeper = _why(exc.__cause__, url)  # fsspec's http: "not found" raised from a connection error
        if "does not answer" in deeper:
            return deeper
    name = type(exc).__name__
    text = _clean(exc)
    if "Could not connect" in text or "Cannot connect to host" in text or "EndpointConnectionError" in name \
            or "ConnectTimeout" in name or "ServerTimeoutError" in name or "ServerDisconnectedError" in name \
            or "ReadTimeout" in name or "Read timeout" in text \
            or "Connection refused" in text or "timed out" in text.lower() or isinstance(exc, (ConnectionError, TimeoutError)):
        if _is_http(url):
            return "the server does not answer"
        variable = "STORAGE_EMULATOR_HOST" if _is_gcs(url) else "AWS_ENDPOINT_URL"
        return (f"the storage endpoint does not answer (check {_hint('endpoint_url')} or {variable}; a slow "
                f"one takes {_hint('read_timeout')})")
    if isinstance(exc, PermissionError) or "AccessDenied" in text or "Forbidden" in text or re.search(r"\b403\b", text) \
            or "SignatureDoesNotMatch" in text or "InvalidAccessKeyId" in text:
        if _is_gcs(url):
            return "access denied (check Google's application default credentials: gcloud auth application-default login)"
        return "access denied (check the credentials in your environment or AWS profile)"
    if "NoCredentials" in name or "NoCredentials" in text or "Unable to locate credentials" in text:
        return ("no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE in the environment; "
                f"a public bucket takes {option('storage-option', 'anon=true', py=_ANON)})")
    unexpected = re.search(r"unexpected keyword argument '([^']+)'", text)
    if isinstance(exc, TypeError) and unexpected:
        return f"{_hint(unexpected.group(1))}: not an option of this storage; drop it (docs/scale.md)"
    if "NoSuchBucket" in text or "bucket does not exist" in text.lower():
        return "no such bucket"
    if isinstance(exc, FileNotFoundError) or "NoSuchKey" in text or "Not Found" in text or re.search(r"\b404\b", text):
        return "no such file on the server" if _is_http(url) else "no such object or bucket"
    return f"{name}: {text}"


@dataclass(frozen=True)
class RemoteFile:
    """An object in a bucket, as an input file: its URL, its size and ETag from the listing."""

    url: str
    size: int
    etag: str = ""

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        name = self.name
        return "." + name.rsplit(".", 1)[-1] if "." in name else ""

    def __str__(self) -> str:
        return self.url

    def read(self) -> bytes:
        return read_bytes(self.url)


#: a listing that has taken this long says how far it is, and again each time as long again
LISTING_NOTICE_S = 10.0


def list_objects(url: str, suffixes, told=None) -> list[tuple[RemoteFile, str]]:
    """``(object, key)`` of every object under ``url`` whose suffix is in ``suffixes``, sorted by
    key (as local folders are): the key is the path below the prefix; one object given directly
    is keyed by its name. One listing, no request per object; folder markers are skipped. A long
    listing through obstore is told to ``told`` (one line every :data:`LISTING_NOTICE_S` seconds:
    a bucket of a million objects takes a thousand requests)."""
    fast = _fast_list(url, suffixes, told)
    if fast is not None:
        return fast
    fs, path = _filesystem(url)
    protocol = _URL.match(url).group(1)
    try:
        if not url.endswith("/") and fs.isfile(path):
            info = fs.info(path)
            f = RemoteFile(url, int(info.get("size") or 0), str(info.get("ETag", "")).strip('"'))
            return [(f, f.name)]
        found = fs.find(path, detail=True)
    except Exception as exc:  # noqa: BLE001 - the filesystems raise many kinds; one line each
        raise InputDataError(f"{url}: cannot list it: {_why(exc, url)}") from None
    prefix = path.rstrip("/") + "/"
    out = []
    for full, info in found.items():
        if info.get("type") == "directory" or full.endswith("/"):
            continue
        key = full[len(prefix):] if full.startswith(prefix) else full.rsplit("/", 1)[-1]
        if not _wanted(key, suffixes):
            continue
        out.append((RemoteFile(full if _URL.match(full) else f"{protocol}://{full}", int(info.get("size") or 0),
                               str(info.get("ETag", "")).strip('"')), key))
    if not out and not found:  # nothing there, or a listing that hid why (a server that does not answer)
        try:
            fs.info(path)
        except FileNotFoundError as exc:
            why = _why(exc, url)
            if "does not answer" in why:  # fsspec's http says "not found" for a server that does not answer
                raise InputDataError(f"{url}: cannot list it: {why}") from None
            raise InputDataError(f"{url}: no such object or prefix") from None
        except Exception as exc:  # noqa: BLE001
            raise InputDataError(f"{url}: cannot list it: {_why(exc, url)}") from None
    return sorted(out, key=lambda fk: fk[1])


def _wanted(key: str, suffixes) -> bool:
    """An object key that is a file with one of ``suffixes`` (a folder marker, ``dir/``, is not)."""
    return bool(key) and not key.endswith("/") and "." + key.rsplit(".", 1)[-1].lower() in suffixes


def _call(url: str, verb: str, op, error: type = InputDataError):
    """``op(fs, path)`` for ``url``; any failure of the filesystem is one ``error`` line saying why."""
    fs, path = _filesystem(url)
    try:
        return op(fs, path)
    except Exception as exc:  # noqa: BLE001 - the filesystems raise many kinds; one line each
        raise error(f"{url}: cannot {verb}: {_why(exc, url)}") from None


def exists(url: str) -> bool:
    """Whether the object exists (a missing bucket or key is False; other failures are one line)."""
    return bool(_call(url, "look it up", lambda fs, path: fs.exists(path)))


def object_size(url: str) -> int:
    local = local_path(url)
    if local is not None:
        return _local_size(url, local, InputDataError)
    return int(_call(url, "read it", lambda fs, path: fs.size(path)))


def _local_size(url: str, local: str, error: type) -> int:
    """The size of the regular file a ``file://`` URL names; anything else is one ``error`` line."""
    import os
    import stat

    try:
        st = os.stat(local)
    except OSError as exc:
        raise error(f"{url}: cannot read it: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{url}: not a regular file (a folder, device, FIFO or socket); give a file")
    return st.st_size


def read_bytes(url: str, error: type = InputDataError) -> bytes:
    """The whole object, in memory (a ``file://`` URL's file after the checks a local file gets).
    An ``s3://`` object is read through obstore when it is installed and the credentials are in the
    environment (a Rust client: a tenth of botocore's CPU per request); any failure there is read
    again through s3fs, which words the error."""
    local = local_path(url)
    if local is not None:
        _local_size(url, local, error)
    fast = _fast_read(url)
    if fast is not None:
        return fast
    return _call(url, "read it", lambda fs, path: fs.cat_file(path), error)


def reads_in_batches(url: str) -> bool:
    """Whether objects like ``url`` are best read many to a call (:func:`read_many`): those of an
    fsspec filesystem that runs on an event loop (gcsfs; s3fs where obstore does not serve),
    which reads a batch concurrently in one call at half the CPU of one call per object."""
    if local_path(url) is not None or _fast_store(url) is not None:
        return False
    try:
        fs, _path = _filesystem(url)
    except (UsageError, InputDataError):
        return False
    return bool(getattr(fs, "async_impl", False))


def read_many(urls: list[str], error: type = InputDataError) -> "list[bytes | Exception]":
    """The objects of ``urls`` (one filesystem's, see :func:`reads_in_batches`), read concurrently
    in one call; an object that cannot be read is its one-line ``error`` in its place."""
    import asyncio

    from fsspec.asyn import sync

    fs, _path = _filesystem(urls[0])
    paths = [type(fs)._strip_protocol(u) for u in urls]

    async def gather():
        return await asyncio.gather(*(fs._cat_file(p) for p in paths), return_exceptions=True)

    try:
        got = sync(fs.loop, gather)
    except Exception as exc:  # noqa: BLE001 - the filesystems raise many kinds; one line each
        got = [exc] * len(urls)
    return [error(f"{u}: cannot read it: {_why(v, u)}") if isinstance(v, BaseException) else bytes(v)
            for u, v in zip(urls, got)]


_stores: dict = {}


def _fast_store(url: str):
    """``(obstore store, key)`` for an ``s3://`` URL, or None: obstore not installed, credentials not
    in the environment (an AWS profile, an instance role: s3fs's chain serves those), or settings
    it does not take (nested client or config settings)."""
    import os

    _no_credentials(url)  # refused here too, before any client sees the URL
    m = _URL.match(url)
    if not m or m.group(1).lower() not in ("s3", "s3a") or set(_options) - {"endpoint_url", "region_name", "anon",
                                                                         *S3_TIMEOUTS}:
        return None
    anon = str(_options.get("anon", "")).lower() in ("1", "true", "yes")
    if not anon and not (os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")):
        return None
    try:
        from obstore.store import S3Store
    except ImportError:
        return None
    from datetime import timedelta

    bucket, _, key = url[m.end():].partition("/")
    endpoint = _options.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = _options.get("region_name") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    timeouts = {k: _options.get(k, v) for k, v in S3_TIMEOUTS.items()}
    ident = (bucket, endpoint, region, anon, tuple(sorted(timeouts.items())), os.environ.get("AWS_ACCESS_KEY_ID"))
    store = _stores.get(ident)
    if store is None:
        config = {"skip_signature": True} if anon else {}
        if endpoint:
            config.update(endpoint=endpoint, virtual_hosted_style_request=False)
        try:
            store = S3Store(bucket, region=region or "us-east-1", **config,
                            client_options={"allow_http": True, "timeout": f"{timeouts['read_timeout']}s",
                                            "connect_timeout": f"{timeouts['connect_timeout']}s"},
                            retry_config={"max_retries": int(timeouts["max_attempts"]) - 1,
                                          "retry_timeout": timedelta(seconds=float(timeouts["read_timeout"]))})
        except Exception:  # noqa: BLE001 - a setting it cannot take: s3fs serves
            return None
        _stores[ident] = store
    return store, key


def _fast_list(url: str, suffixes, told=None) -> "list[tuple[RemoteFile, str]] | None":
    """:func:`list_objects` through obstore for an ``s3://`` prefix ending in ``/`` (None: s3fs
    lists it, and words any error); the same objects, keys and order."""
    found = _fast_store(url) if url.endswith("/") else None
    if found is None:
        return None
    import time

    import obstore

    store, prefix = found
    root = url[: len(url) - len(prefix)]  # s3://bucket/
    out, seen, start = [], 0, time.monotonic()
    due = start + LISTING_NOTICE_S
    try:
        for batch in obstore.list(store, prefix=prefix.rstrip("/") or None):
            seen += len(batch)
            if told is not None and time.monotonic() >= due:
                told(f"listing {redacted(url)}: {seen:,} objects so far ({time.monotonic() - start:.0f} s)")
                due = time.monotonic() + LISTING_NOTICE_S
            for meta in batch:
                path = str(meta["path"])
                key = path[len(prefix):] if prefix and path.startswith(prefix) else path
                if _wanted(key, suffixes):
                    out.append((RemoteFile(root + path, int(meta["size"]), str(meta.get("e_tag") or "").strip('"')),
                                key))
    except Exception:  # noqa: BLE001 - s3fs lists it again and words what went wrong
        return None
    return sorted(out, key=lambda fk: fk[1]) if out else None  # nothing: s3fs says whether the prefix exists


def _fast_read(url: str) -> bytes | None:
    found = _fast_store(url)
    if found is None:
        return None
    import obstore

    try:
        return bytes(obstore.get(found[0], found[1]).bytes())
    except Exception:  # noqa: BLE001 - s3fs reads it again and words what went wrong
        return None


def is_remote(f) -> bool:
    """An input file that is an object in a bucket (:class:`RemoteFile`), not a local path."""
    return isinstance(f, RemoteFile)
