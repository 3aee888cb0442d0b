"""Issue 41, item 6: a message names an option the way the person wrote it - the keyword
(``kappa``, ``shard=(3, 2)``) when srop-onnx is called from Python, ``--kappa`` on the command line."""

from __future__ import annotations

import inspect
import io
import re
import tokenize

import click
import pytest
from click.testing import CliRunner

import srop_onnx
from conftest import EXAMPLE, EXAMPLE_IMAGES, REPO
from srop_onnx import UsageError
from srop_onnx.cli import main
from srop_onnx.errors import on_command_line, option, spell, spell_for_command_line


@pytest.fixture(scope="module")
def profile():
    return srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES, limit=4)


def _analyze(**kw):
    return lambda tmp: srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES, **kw)


# (call, the keyword the message must start from, a regular expression for the message)
PYTHON_CASES = [
    (_analyze(kappa=2), "kappa", r"^kappa must be in \(0, 1\], got 2"),
    (_analyze(batch_size=0), "batch_size", r"^batch_size must be from 1 to"),
    (_analyze(preprocess="foo"), "preprocess", r"^preprocess must be one of imagenet"),
    (_analyze(size=(1, 1)), "size", r"^size must be H x W"),
    (_analyze(size="1x"), "size", r"^size must look like 224 or 224x320"),
    (_analyze(layers="("), "layers", r"^layers: invalid regular expression"),
    (_analyze(shard=(3, 2)), "shard", r"^shard=\(3, 2\): need 1 <= I <= N"),
    (_analyze(shard="3/2"), "shard", r"^shard='3/2': need 1 <= I <= N"),
    (_analyze(limit=2, shard=(1, 2)), "limit", r"^limit and shard cannot be combined"),
    (lambda tmp: srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES, keep_bins=True, checkpoint=tmp / "c.ckpt"),
     "keep_bins", r"^keep_bins cannot be combined with checkpoint:"),
    (_analyze(std=(0, 1, 1)), "std", r"^std values must be > 0"),
    (_analyze(max_memory="lots"), "max_memory", r"^max_memory must look like 2GB"),
    (_analyze(checkpoint_every=0), "checkpoint_every", r"^checkpoint_every must be a whole number"),
    (_analyze(labels="cats"), "labels", r"^labels takes 'folders'"),
    (_analyze(input_name="nope"), "input_name", r"^input_name: model has no input 'nope'"),
    (_analyze(provider="tpu"), "provider", r"^provider must be one of"),
    (_analyze(crop=2), "crop", r"^crop must be in \(0, 1\]"),
    (lambda tmp: srop_onnx.sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,1"), "blend",
     r"^sweep needs exactly one of blend='IMAGE' or noise='gaussian\|uniform'$"),
    (lambda tmp: srop_onnx.sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,1", noise="pink"), "noise",
     r"^noise must be one of"),
]


@pytest.mark.parametrize("call, keyword, message", PYTHON_CASES, ids=[c[2][1:30] for c in PYTHON_CASES])
def test_python_calls_are_answered_in_keywords(call, keyword, message, tmp_path):
    with pytest.raises(UsageError, match=message) as info:
        call(tmp_path)
    text = str(info.value)
    assert "--" not in text, text
    functions = (srop_onnx.analyze, srop_onnx.sweep)
    assert any(keyword in inspect.signature(f).parameters for f in functions), keyword


def test_results_and_plots_are_answered_in_keywords(profile):
    cases = [
        (lambda: srop_onnx.check(profile, profile, tol={"nolayer": 0.1}), srop_onnx.check,
         r"^tol=\{'nolayer': \.\.\.\}: no layer of"),
        (lambda: srop_onnx.check(profile, profile, tol={"x": -1}), srop_onnx.check,
         r"^tol=\{'x': \.\.\.\} must be a finite number >= 0"),
        (lambda: srop_onnx.check(profile, profile, match="x"), srop_onnx.check, r"^match must be one of"),
        (lambda: srop_onnx.plot.kde(profile, layers="zzz"), srop_onnx.plot.plot_kde,
         r"^layers 'zzz' matches no layer"),
        (lambda: profile.outliers(top=0), srop_onnx.Profile.outliers, r"^top must be at least 1"),
    ]
    for call, function, message in cases:
        with pytest.raises(UsageError, match=message) as info:
            call()
        assert "--" not in str(info.value)
        keyword = re.match(r"[a-z_]+", str(info.value)).group(0)
        assert keyword in inspect.signature(function).parameters


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("args, message", [
    (["--shard", "3/2"], "error: --shard 3/2: need 1 <= I <= N"),
    (["--limit", "2", "--shard", "1/2"], "error: --limit and --shard cannot be combined"),
    (["--labels", "cats"], "error: --labels takes 'folders'"),
    (["--layers", "("], "error: --layers: invalid regular expression"),
    (["--input", "nope"], "error: --input: model has no input 'nope'"),
    (["--max-memory", "lots"], "error: --max-memory must look like 2GB"),
])
def test_the_command_line_is_answered_in_options(args, message):
    res = _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, *args)
    assert res.exit_code == 2, res.output
    assert message in res.output


def test_a_command_leaves_python_spelling_behind(tmp_path):
    res = _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "--shard", "3/2")
    assert res.exit_code == 2 and "--shard 3/2" in res.output
    assert not on_command_line()
    with pytest.raises(UsageError, match=r"^shard=\(3, 2\)"):
        srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES, shard=(3, 2))


def test_option_spells_both_ways():
    try:
        spell_for_command_line()
        assert option("batch-size") == "--batch-size"
        assert option("shard", "2/7", py=(2, 7)) == "--shard 2/7"
        assert spell("--input") == "--input"
        spell_for_command_line(False)
        assert option("batch-size") == "batch_size"
        assert option("shard", "2/7", py=(2, 7)) == "shard=(2, 7)"
        assert option("layout", "NHWC") == "layout='NHWC'"
        assert option("input") == "input_name" and spell("--all") == "all_tensors"
        assert spell("track folder") == "track folder" and spell("--tol layer4=") == "--tol layer4="
    finally:
        spell_for_command_line(False)


def _command_line_options() -> set[str]:
    names: set[str] = set()

    def walk(command):
        names.update(o[2:] for p in command.params if isinstance(p, click.Option) for o in p.opts
                     if o.startswith("--"))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(main)
    return names


_DASHED = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")


def _hand_spelled(source: str, ours: set[str]) -> list[str]:
    """The strings of ``source`` (docstrings aside) that spell one of ``ours`` as ``--name`` by hand."""
    lines = source.splitlines()
    found = []
    for row, literal in _string_literals(source):
        text = literal.lstrip("rbfuRBFU")
        if text.startswith(('"""', "'''")):
            continue
        body = text[1:-1]
        if re.fullmatch(r"--[a-z][a-z0-9-]*( ray)?", body) or "srop-onnx " in body:
            continue
        if "on_command_line()" in lines[row - 1] or "on_command_line()" in body:
            continue
        if any(name in ours for name in _DASHED.findall(body)):
            found.append(f"{row}: {body[:80]}")
    return found


def _string_literals(source: str):
    """``(line, literal)`` of each string literal of ``source`` as written, an f-string whole: Python
    3.12 tokenizes one as FSTRING_START, its parts and FSTRING_END (PEP 701), where 3.11 gives one
    STRING token; the strings inside its braces are part of it."""
    lines = source.splitlines(keepends=True)
    start, depth = None, 0
    fstart, fend = getattr(tokenize, "FSTRING_START", None), getattr(tokenize, "FSTRING_END", None)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and depth == 0:
            yield tok.start[0], tok.string
        elif fstart is not None and tok.type == fstart:
            start = tok.start if depth == 0 else start
            depth += 1
        elif fend is not None and tok.type == fend:
            depth -= 1
            if depth == 0:
                (r0, c0), (r1, c1) = start, tok.end
                text = lines[r0 - 1][c0:] if r0 == r1 else lines[r0 - 1][c0:] + "".join(lines[r0:r1 - 1])
                yield r0, (lines[r0 - 1][c0:c1] if r0 == r1 else text + lines[r1 - 1][:c1])


def test_no_library_message_spells_a_command_line_option_by_hand():
    """Messages go through ``option()``/``spell()``; a literal ``--kappa`` in the library would be
    wrong from Python. Left alone: an option's bare name handed to a helper that spells it, a shell
    command quoted whole (``'srop-onnx analyze --json'``), another tool's options (tf2onnx) and
    text chosen for the command line on purpose (``on_command_line()``)."""
    ours = _command_line_options()
    found = []
    for path in sorted((REPO / "srop_onnx").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith("srop_onnx/cli/") or rel == "srop_onnx/model/notonnx.py":
            continue
        found += [f"{rel}:{hit}" for hit in _hand_spelled(path.read_text(encoding="utf-8"), ours)]
    assert found == []


def test_the_scan_finds_a_message_spelled_by_hand():
    ours = _command_line_options()
    assert {"kappa", "shard", "batch-size", "labels"} <= ours
    bad = 'def f(k):\n    """Uses --kappa."""\n    raise ValueError(f"--kappa must be in (0, 1], got {k}")\n'
    assert _hand_spelled(bad, ours) == ["3: --kappa must be in (0, 1], got {k}"]
    fine = ('def f(k):\n    check(k, "--kappa")\n    raise ValueError(f"{option(\'kappa\')} must be in (0, 1]")\n'
            '    say("run \'srop-onnx analyze --json\'")\n')
    assert _hand_spelled(fine, ours) == []


@pytest.mark.parametrize("options, message", [
    ({"endpoint_url": "127.0.0.1:9"}, r"^storage_options=\{'endpoint_url': '127.0.0.1:9'\}: give the endpoint with "
                                      r"its scheme, e.g. storage_options=\{'endpoint_url': 'http://127.0.0.1:9'\}$"),
    ({"client_kwargs": "x"}, r"^storage_options=\{'client_kwargs': \.\.\.\}: give a dict, e.g. "
                             r"storage_options=\{'client_kwargs': \{'region_name': 'eu-west-1'\}\}$"),
    ({"aws_secret_access_key": "x"}, r"^storage_options=\{'aws_secret_access_key': \.\.\.\}: credentials are never "
                                     r"given in storage_options"),
    ({"read_timeout": -1}, r"^storage_options=\{'read_timeout': -1\}: give a positive number of seconds$"),
])
def test_storage_options_from_python_are_answered_as_a_dict(options, message):
    with pytest.raises(UsageError, match=message):
        srop_onnx.Track.load("s3://bucket/run1/", storage_options=options)


def test_no_credentials_says_where_they_come_from(monkeypatch):
    pytest.importorskip("s3fs", reason="needs the s3 extra: pip install -e '.[s3]'")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(srop_onnx.SropError, match=r"no credentials \(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or "
                                                  r"AWS_PROFILE in the environment; a public bucket takes "
                                                  r"storage_options=\{'anon': True\}\)"):
        srop_onnx.Track.load("s3://bucket/run1/", storage_options={"endpoint_url": "http://127.0.0.1:7"})  # its own
        # endpoint: fsspec keeps a file system per set of options, and botocore rewrites its retry settings in place
