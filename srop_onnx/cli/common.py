"""The command line's shared parts: the ``srop-onnx`` group with its error handling and exit codes,
and helpers the commands share (consoles, option types, the check and its CI reports).

Errors raised on purpose (:class:`~srop_onnx.errors.SropError`) become one line on stderr and exit
code 2 (4 for memory); ``--debug`` shows the traceback instead. The commands live in
:mod:`srop_onnx.cli` and :mod:`srop_onnx.cli.files`; they parse options and call library
functions, nothing more.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import click

from .._version import version
from ..errors import SropError, UsageError, spell_for_command_line

EXIT_DRIFT = 1  # check: a layer drifted
EXIT_USAGE = 2  # a bad model, input, option or file: one line naming it
EXIT_INTERNAL = 3  # a bug in srop-onnx: one line and a hint to --debug
EXIT_RESOURCES = 4  # the machine ran out of memory: one line saying what to lower
EXIT_NO_GOLDEN = 5  # check: the golden is missing or unreadable (an analysis still ran and wrote its outputs)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # the reader of standard output went away (128 + SIGPIPE), as other CLI tools exit
EXIT_TERMINATED = 143  # SIGTERM: timeout, Slurm, docker stop, CI cancellation (128 + SIGTERM)

def _one_line(text) -> str:
    """A message as one line of terminal text: whitespace collapsed, control characters (terminal
    escapes in a model's names, say) and bidirectional controls shown as ``\\xNN``/``\\uNNNN``."""
    from ..show.text import one_line

    return one_line(text) or "no message"


def _pipe_closed(stream=None) -> None:
    """Standard output's reader is gone (or its device is full): point the stream's file descriptor
    at the null device so nothing fails on exit."""
    import os

    try:
        fd = (stream if stream is not None else sys.stdout).fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _encoding_of(raw) -> str:
    """The encoding ``raw`` writes in (UTF-8 when it does not say, or names one Python lacks)."""
    import codecs

    name = getattr(raw, "encoding", None) or "utf-8"
    try:
        return codecs.lookup(name).name
    except (LookupError, TypeError):
        return "utf-8"


class _Stream:
    """Standard output (or error) as the commands see it: a write that fails for want of room
    (``> /dev/full``) or a stream that is closed (``>&-``, where Python's ``sys.stdout`` is None) is
    recorded, later writes are dropped, and the command goes on, so the files it names are still
    written. A closed pipe (EPIPE) still raises ``BrokenPipeError`` (exit 141)."""

    errors = "replace"

    def __init__(self, raw):
        self.raw = raw
        self.failed: str | None = None if raw is not None else "closed"
        self.encoding = _encoding_of(raw)
        #: a stream that cannot carry every character (ASCII in a minimal container, a legacy code
        #: page): rich draws ASCII boxes for it, and what else it cannot carry is written escaped
        self._narrow = not self.encoding.replace("-", "").replace("_", "").lower().startswith("utf")

    def _guard(self, call, *args):
        if self.failed:
            return None
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:  # ENOSPC, EIO, a stream closed under us
            self.failed = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            _pipe_closed(self.raw)  # later flushes (at exit too) go to the null device
            return None

    def write(self, text: str) -> int:
        if self.raw is not None:
            shown = text.encode(self.encoding, "backslashreplace").decode(self.encoding) if self._narrow else text
            self._guard(self.raw.write, shown)
        return len(text)

    def flush(self) -> None:
        self._guard(self.raw.flush) if self.raw is not None else None

    def isatty(self) -> bool:
        try:
            return bool(self.raw is not None and not self.failed and self.raw.isatty())
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self.raw is None:
            raise OSError("standard stream is closed")
        return self.raw.fileno()

    def writable(self) -> bool:
        return True


class _Group(click.Group):
    def format_help_text(self, ctx, formatter) -> None:
        """The group's help, with the docs' address read from the package metadata only when shown."""
        if self.help and "DOCS_URL" in self.help:
            self.help = self.help.replace("DOCS_URL", _docs_url())
        super().format_help_text(ctx, formatter)

    def main(self, *args, **kwargs):
        """Run with guarded standard streams: a full or closed standard output is an output error
        (exit 2, one line on standard error when it is open) once the command has done its work;
        a command that exits otherwise keeps its own code (1 for drift, say)."""
        out, err = _Stream(sys.stdout), _Stream(sys.stderr)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        spell_for_command_line()  # messages name --kappa, not Python's kappa=
        try:
            super().main(*args, **kwargs)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
            if out.failed and code == 0:
                err.write(f"error: standard output could not be written ({_one_line(out.failed)}); the command ran "
                          "and wrote the files it names; send standard output to a file or a pipe with room\n")
                err.flush()
                code = EXIT_USAGE
            raise SystemExit(code) from None
        finally:
            sys.stdout, sys.stderr = saved
            spell_for_command_line(False)

    def parse_args(self, ctx, args):
        """The group's own options: a bad one is one line too (click prints its usage block)."""
        try:
            return super().parse_args(ctx, args)
        except click.exceptions.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # no command at all: the help, as click shows it
                raise
            click.echo(f"error: {_one_line(exc.format_message()).rstrip('.')} (see 'srop-onnx --help')", err=True)
            ctx.exit(EXIT_USAGE)

    def invoke(self, ctx):
        from ..run.signals import Terminated

        def debug() -> bool:  # main() sets ctx.obj inside super().invoke
            return bool(ctx.obj and ctx.obj.get("debug"))

        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
            return result
        except click.exceptions.UsageError as exc:  # a bad option value of a command: one line too
            if debug():
                raise
            # a command's option, or the group's; click's parser gives no context for an option that lacks
            # its value (``--json`` last), and then the command is the one being invoked
            sub = exc.ctx.info_name if exc.ctx is not None and exc.ctx.parent is not None else (
                ctx.invoked_subcommand if exc.ctx is None else None)
            where = f" (see 'srop-onnx {sub} --help')" if sub else " (see 'srop-onnx --help')"
            if sub and "--storage-option" in exc.format_message():
                where = (f"; --storage-option goes before the command: srop-onnx --storage-option KEY=VALUE "
                         f"{sub} ...")
            click.echo(f"error: {_one_line(exc.format_message()).rstrip('.')}{where}", err=True)
            ctx.exit(EXIT_USAGE)
        except (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            _pipe_closed()
            ctx.exit(EXIT_BROKEN_PIPE)
        except SropError as exc:
            if debug():
                raise
            from ..errors import ResourceError

            click.echo(f"error: {_one_line(exc)}", err=True)
            ctx.exit(EXIT_RESOURCES if isinstance(exc, ResourceError) else EXIT_USAGE)
        except Terminated:
            click.echo("terminated", err=True)
            ctx.exit(EXIT_TERMINATED)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except MemoryError as exc:
            if debug():
                raise
            click.echo(f"error: {_one_line(_out_of_memory(exc))}", err=True)
            ctx.exit(EXIT_RESOURCES)
        except Exception as exc:  # a bug: never exit 1, which means drift to CI
            if debug():
                raise
            from ..errors import memory_problem

            if memory_problem(exc):
                click.echo(f"error: {_one_line(_out_of_memory(exc))}", err=True)
                ctx.exit(EXIT_RESOURCES)
            click.echo(f"error: internal error ({type(exc).__name__}: {_one_line(exc)}); rerun with "
                       "'srop-onnx --debug ...' to see the traceback, and please report it", err=True)
            ctx.exit(EXIT_INTERNAL)


def _out_of_memory(exc: BaseException) -> str:
    detail = f" ({type(exc).__name__}: {exc})" if str(exc) else ""
    return (f"out of memory{detail}; lower the batch (-b 1), bound the tap outputs (--max-memory 500MB), "
            "tap fewer layers (--layers/--ops), or give the process more memory")


def _console(stderr: bool = False):
    import os

    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich's own exits 1, which means drift to CI
            _pipe_closed()
            raise SystemExit(EXIT_BROKEN_PIPE)

    stream = sys.stderr if stderr else sys.stdout
    # Not a terminal (pipes, CI logs): do not squeeze tables into 80 columns.
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return _Console(stderr=stderr, highlight=False, width=160 if wide else None)


class _Finite(click.ParamType):
    """A finite number in a range (click's FloatRange lets nan and inf through)."""

    name = "number"

    def __init__(self, low: float | None = None, high: float | None = None, low_open: bool = False):
        self.low, self.high, self.low_open = low, high, low_open

    def convert(self, value, param, ctx):
        import math

        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        below = self.low is not None and (number <= self.low if self.low_open else number < self.low)
        if not math.isfinite(number) or below or (self.high is not None and number > self.high):
            lo = "" if self.low is None else f"{'>' if self.low_open else '>='} {self.low:g}"
            hi = "" if self.high is None else f"<= {self.high:g}"
            self.fail(f"{value!r} is not a finite number {' and '.join(x for x in (lo, hi) if x)}", param, ctx)
        return number


def _tolerances(ctx, param, values):
    """``--tol X`` (every layer) and ``--tol LAYER=X`` (repeatable) as what ``check`` takes: a number
    when only one plain value is given, else ``{"LAYER": X, ..., "*": X}``."""
    import math

    rule: dict[str, float] = {}
    for text in values or ():
        key, sep, number = text.rpartition("=") if "=" in text else ("*", "", text)
        key = key.strip() or "*"
        try:
            value = float(number)
        except ValueError:
            raise click.BadParameter(f"{text!r} is not X or LAYER=X with X a number", ctx, param) from None
        if not math.isfinite(value) or value < 0:
            raise click.BadParameter(f"{text!r}: the tolerance must be a finite number >= 0", ctx, param)
        rule[key] = value
    if not rule:
        return 0.02
    return rule["*"] if list(rule) == ["*"] else rule


#: a seed: a whole number >= 0, used whole
_SEED = click.IntRange(min=0)


def _floats(text: str | None, option: str):
    if text is None:
        return None
    try:
        return [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise UsageError(f"{option} expects comma-separated numbers, got {text!r}") from None


def _print_version(ctx, _param, value) -> None:
    """``--version``: read from the package metadata only when asked (not on every command's start)."""
    if value and not ctx.resilient_parsing:
        click.echo(f"srop-onnx, version {version()}")
        ctx.exit()


def _ops(text: str | None):
    return [o.strip() for o in text.split(",") if o.strip()] if text else None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("--storage-option", "storage", multiple=True, metavar="KEY=VALUE",
              help="Settings for s3:// and gs:// URLs, e.g. endpoint_url=http://127.0.0.1:9000 or region_name=eu-west-1 "
                   "(never credentials: they come from the environment or your AWS profile). Repeatable.")
@click.pass_context
def main(ctx, debug, storage):
    """Spectral roll-off points (SROPs) of the feature maps of any ONNX model.

    \b
    Exit codes: 0 ok, 1 drift (check), 2 bad input or option, 3 internal error,
    4 out of memory, 5 golden missing or unreadable (check; the analysis still ran),
    130 interrupted, 141 output pipe closed, 143 terminated.
    The method and every option: DOCS_URL
    """
    import os

    from ..run.limits import check_address_space
    from ..run.signals import raise_on_sigterm

    # NumPy's BLAS runs single-threaded in the kernels anyway (the FFTs take the cores); one thread
    # also keeps OpenBLAS from reserving a buffer per core, which under a memory limit ends the
    # process with its own exit code 1 (set before NumPy is first imported)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    raise_on_sigterm()
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    from ..files.remote import restore_storage_options, set_storage_options, storage_options

    # a command's --storage-option holds for that command only: invoked in one process (a notebook,
    # a test runner), the settings from before it are back when it ends
    before = storage_options()
    set_storage_options(list(storage))
    ctx.call_on_close(lambda: restore_storage_options(before))
    if not debug:
        ctx.call_on_close(_quiet_loggers())
    check_address_space()


#: libraries that log to stderr what a command says in its own words, or what is no matter of the
#: user's: the storage clients a failure with its traceback (gcsfs: "_request out of retries") before
#: the command's one-line error; matplotlib two lines when the home folder cannot hold its cache (a
#: read-only home in a container: it makes a temporary one and goes on)
_QUIET_LOGGERS = ("gcsfs", "s3fs", "fsspec", "matplotlib")


def _quiet_loggers():
    """Silence :data:`_QUIET_LOGGERS` for one command (``--debug`` keeps them); returns the
    function that gives them their levels back."""
    import logging

    levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    return lambda: [logging.getLogger(name).setLevel(level) for name, level in levels.items()]




def _write_report(profiles, path, units) -> None:
    from ..show.htmlreport import html_report
    from ..files.writes import atomic_write_text

    comparison = None
    if len(profiles) == 2:
        from ..results.comparison import compare

        comparison = compare(profiles[0], profiles[1], check_settings=False,
                             names=tuple(p.origin or str(p.model.get("path")) for p in profiles))
    sections = ()
    if all(p.labels is not None for p in profiles):  # labelled (analyze --labels): the per-class section
        from ..show.classhtml import classes_section

        sections = (classes_section(profiles, units or profiles[0].units),)
    atomic_write_text(path, html_report(profiles, units=units, comparison=comparison, sections=sections))


def _load_profile(path):
    from ..results.profile import Profile

    return Profile.load(path)


class _CheckOptions(NamedTuple):
    tol: "float | dict[str, float]"
    metric: str
    units: str | None
    junit_path: str | None
    match: str = "name"
    names: tuple[str, str] | None = None  # the profile and golden files


def _load_golden(path) -> tuple[object, str | None]:
    """``(golden profile, None)``, or ``(None, why)`` when the golden is missing or unreadable: the
    run still goes on (an analysis writes its outputs, the very profile a first golden is made
    from) and the refusal reaches CI (:func:`_refuse_check`)."""
    from ..errors import SropError

    try:
        return _load_profile(path), None
    except SropError as exc:
        return None, (f"the golden profile cannot be used: {_one_line(exc)} (to make it, run with --json and commit "
                      "that file as the golden)")


def _refuse_check(ctx, opts: _CheckOptions, message: str, code: int = EXIT_NO_GOLDEN) -> None:
    """A check that could not run, told to CI as one: an errored JUnit case, an annotation under
    GitHub Actions, the job summary's line, and one ``error:`` line; exit ``code``."""
    import os

    from ..files.writes import atomic_write_text
    from ..show.cireport import github_error, in_github_actions, junit_error, step_summary

    kind = "SropGoldenMissing" if code == EXIT_NO_GOLDEN else "SropCheckRefused"
    if opts.junit_path:
        atomic_write_text(opts.junit_path, junit_error(message, kind=kind))
    if in_github_actions(os.environ):
        click.echo(github_error(message))
    _append_summary(step_summary(None, message, "golden missing" if code == EXIT_NO_GOLDEN else "refused"))
    click.echo(f"error: {message}", err=True)
    ctx.exit(code)


def _run_check(ctx, profile, golden, opts: _CheckOptions, console, refusal: str | None = None) -> None:
    """Check, print, write the JUnit file, annotate under GitHub Actions; exit 1 on drift. A golden
    that cannot be used (``refusal``: missing, broken; exit 5) or that was made with other settings
    (exit 2) is still reported to CI: an errored test case, an annotation, the summary's line."""
    from ..show.cireport import github_annotations, junit_xml, step_summary
    from ..results.comparison import check as run_check
    from ..show.report import render_check

    if refusal is not None:
        _refuse_check(ctx, opts, refusal)
    try:
        result = run_check(profile, golden, tol=opts.tol, metric=opts.metric, units=opts.units, match=opts.match,
                           names=opts.names)
    except UsageError as exc:
        _refuse_check(ctx, opts, _one_line(exc), EXIT_USAGE)
    render_check(result, console)
    _report_to_ci(ctx, result.passed, opts.junit_path, lambda: junit_xml(result), lambda: github_annotations(result),
                  step_summary(result))


def _report_to_ci(ctx, passed: bool, junit_path, junit, annotations, summary: str) -> None:
    """What a check gives CI: the JUnit file (``junit()``'s text), GitHub Actions annotations
    (``annotations()``) and job summary, and exit 1 when it did not pass."""
    import os

    from ..files.writes import atomic_write_text
    from ..show.cireport import in_github_actions

    if junit_path:
        atomic_write_text(junit_path, junit())
    if in_github_actions(os.environ):
        for line in annotations():
            click.echo(line)
    _append_summary(summary)
    if not passed:
        ctx.exit(EXIT_DRIFT)


def _append_summary(markdown: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions sets it (a best-effort extra)."""
    import os

    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as f:
            f.write(markdown + "\n")
    except OSError as exc:
        click.echo(f"note: cannot append the job summary to {path} ({exc.strerror or exc})", err=True)


def _docs_url() -> str:
    """Where the docs are: the ``Documentation`` address of the installed package's metadata."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("srop-onnx").get_all("Project-URL") or []
    except PackageNotFoundError:  # pragma: no cover - a bare source tree
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "documentation":
            return url.strip()
    return "the docs/ folder of the srop-onnx repository"

