"""Command line: parses options and calls library functions, nothing more.

Errors raised on purpose (:class:`~srop_onnx.errors.SropError`) become one line
on stderr and exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import re
import sys
from typing import NamedTuple

import click

from . import __version__
from .errors import SropError, UsageError

EXIT_DRIFT = 1  # check: a layer drifted
EXIT_USAGE = 2  # a bad model, input, option or file: one line naming it
EXIT_INTERNAL = 3  # a bug in srop-onnx: one line and a hint to --debug
EXIT_RESOURCES = 4  # the machine ran out of memory: one line saying what to lower
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # the reader of standard output went away (128 + SIGPIPE), as other CLI tools exit
EXIT_TERMINATED = 143  # SIGTERM: timeout, Slurm, docker stop, CI cancellation (128 + SIGTERM)

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _one_line(text) -> str:
    """A message as one line of terminal text: whitespace collapsed, control characters (terminal
    escapes in a model's names, say) shown as ``\\xNN`` instead of acting on the terminal."""
    s = " ".join(str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace").split())
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s) or "no message"


def _pipe_closed() -> None:
    """Standard output's reader is gone: point stdout at the null device so nothing fails on exit."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class _Group(click.Group):
    def invoke(self, ctx):
        from .signals import Terminated

        def debug() -> bool:  # main() sets ctx.obj inside super().invoke
            return bool(ctx.obj and ctx.obj.get("debug"))

        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
            return result
        except click.exceptions.UsageError as exc:  # a bad option value of a command: one line too
            if debug():
                raise
            where = f" (see 'srop-onnx {exc.ctx.info_name} --help')" if exc.ctx is not None else ""
            click.echo(f"error: {_one_line(exc.format_message())}{where}", err=True)
            ctx.exit(EXIT_USAGE)
        except (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            _pipe_closed()
            ctx.exit(EXIT_BROKEN_PIPE)
        except SropError as exc:
            if debug():
                raise
            from .errors import ResourceError

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
            from .errors import memory_problem

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


#: a seed: a whole number >= 0, used whole
_SEED = click.IntRange(min=0)


def _floats(text: str | None, option: str):
    if text is None:
        return None
    try:
        return [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise UsageError(f"{option} expects comma-separated numbers, got {text!r}") from None


def _ops(text: str | None):
    return [o.strip() for o in text.split(",") if o.strip()] if text else None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="srop-onnx")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx, debug):
    """Spectral roll-off points (SROPs) of the feature maps of any ONNX model.

    \b
    Exit codes: 0 ok, 1 drift (check), 2 bad input or option, 3 internal error,
    4 out of memory, 130 interrupted, 141 output pipe closed, 143 terminated.
    The method and every option: docs/ in the srop-onnx repository.
    """
    import os

    from .limits import check_address_space
    from .signals import raise_on_sigterm

    # NumPy's BLAS runs single-threaded in the kernels anyway (the FFTs take the cores); one thread
    # also keeps OpenBLAS from reserving a buffer per core, which under a memory limit ends the
    # process with its own exit code 1 (set before NumPy is first imported)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    raise_on_sigterm()
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    check_address_space()


def _tap_options(f):
    f = click.option("--layers", "layers", metavar="REGEX", help="Only taps whose tensor, node or module name matches.")(f)
    f = click.option("--all", "all_tensors", is_flag=True, help="Tap every rank-3/4 float tensor (activations, Add, Concat).")(f)
    f = click.option("--ops", metavar="OP,OP", help="Op types to tap [default: Conv,ConvTranspose,ConvInteger,QLinearConv,MaxPool,AveragePool,LpPool].")(f)
    return f


_MEASURE_OPTIONS = [
    click.option("--input", "input_name", metavar="NAME", help="Model input to feed when it has several."),
    click.option("--preprocess", type=click.Choice(["imagenet", "unit", "symmetric", "raw", "caffe"]),
                 help="Image preset [default: imagenet for 3-channel models, else unit]."),
    click.option("--mean", metavar="M[,M,M]", help="Per-channel mean on the [0,1] pixel scale (overrides the preset's)."),
    click.option("--std", metavar="S[,S,S]", help="Per-channel std on the [0,1] pixel scale (overrides the preset's)."),
    click.option("--size", metavar="HxW|L", help="Image size (or waveform length) for models with dynamic dims."),
    click.option("--layout", type=click.Choice(["NCHW", "NHWC", "NCL", "NLC"], case_sensitive=False),
                 help="Override the detected input layout."),
    click.option("--kappa", type=_Finite(0, 1, low_open=True), default=0.85, show_default=True,
                 help="Energy fraction of the roll-off."),
    click.option("--units", type=click.Choice(["band", "input"]), default="band", show_default=True,
                 help="band: k/m per layer; input: k/m of the model input."),
    click.option("--no-baseline", is_flag=True, help="Skip the max-pooling baseline (docs/baseline-and-twin.md)."),
    click.option("--tf32", is_flag=True, help="Let CUDA compute convolutions in TF32 (faster, not exact; recorded)."),
    click.option("--sample-rate", type=click.IntRange(min=1), metavar="HZ",
                 help="WAV inputs must have this rate [default: the first WAV file's]; --size L sets the length."),
]
_RUN_OPTIONS = [
    click.option("--provider", type=click.Choice(["auto", "cpu", "cuda"]),
                 help="Where ONNX Runtime runs [default: $SROP_ONNX_PROVIDER, else auto: CUDA when usable]."),
    click.option("--batch-size", "-b", metavar="N|auto",
                 help="Samples per run; auto = the largest that fits the free memory [default: 8 on CPU, auto on CUDA]."),
    click.option("--limit", type=click.IntRange(min=1), help="Analyse at most N samples."),
    click.option("--strict", is_flag=True, help="A bad input file is an error instead of being skipped."),
    click.option("--shard", metavar="I/N",
                 help="Analyse only the I-th of N slices of the inputs (merge the parts with 'srop-onnx merge')."),
    click.option("--max-memory", metavar="SIZE",
                 help="Bound on one run's tap outputs (e.g. 2GB, 512MB): taps are split into passes."),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar and no table."),
    click.option("--verbose", "-v", is_flag=True, help="More notes (e.g. why CUDA is not used)."),
    click.option("--record-run", is_flag=True,
                 help="Record facts of this run (peak memory, time, host) in the files; off, two runs give "
                      "identical files."),
]


def _options(options):
    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f
    return decorate


def _measurement(o: dict):
    """The :class:`~srop_onnx.settings.Measurement` of a command's options."""
    from .options import parse_size
    from .settings import Measurement

    return Measurement(kappa=o["kappa"], units=o["units"], ops=_ops(o["ops"]), all_tensors=o["all_tensors"],
                       layers=o["layers"], input_name=o["input_name"], layout=o["layout"], preprocess=o["preprocess"],
                       mean=_floats(o["mean"], "--mean"), std=_floats(o["std"], "--std"), size=parse_size(o["size"]),
                       baseline=not o["no_baseline"], tf32=o["tf32"], sample_rate=o["sample_rate"])


def _execution(o: dict, **more):
    """The :class:`~srop_onnx.settings.Execution` of a command's options."""
    from .options import parse_bytes, parse_shard
    from .settings import Execution

    return Execution(provider=o["provider"], batch_size=o["batch_size"], limit=o["limit"], strict=o["strict"],
                     shard=parse_shard(o["shard"]), max_memory=parse_bytes(o["max_memory"], "--max-memory"),
                     record_run=o["record_run"], **more)


def _notes(quiet: bool):
    """One-line notes on stderr; with ``-q`` only warnings about skipped inputs still show."""
    from .report import safe

    err = _console(stderr=True)
    if quiet:
        return lambda msg: err.print("warning: " + safe(msg)) if msg.startswith("skipped") else None
    return lambda msg: err.print(safe(msg), style="dim")


def _hooks(o: dict, progress=None):
    """The :class:`~srop_onnx.settings.Hooks` of a command: progress, notes, and with ``-v`` details."""
    from .settings import Hooks

    notify = _notes(o["quiet"])
    return Hooks(progress, notify, notify if o["verbose"] and not o["quiet"] else None)


@main.command(short_help="Analyse a model over images or arrays; print a layer report.")
@click.argument("model", type=click.Path(dir_okay=False, path_type=str))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=str))
@_tap_options
@_options(_MEASURE_OPTIONS)
@_options(_RUN_OPTIONS)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the profile (JSON, docs/format.md).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write one row per layer (CSV).")
@click.option("--kernels", "kernels_path", type=click.Path(dir_okay=False), help="Write per-map roll-off bins (NPZ).")
@click.option("--check", "golden", type=click.Path(dir_okay=False), help="Check the result against a golden profile (exit 1 on drift).")
@click.option("--tol", type=_Finite(0), default=0.02, show_default=True, help="Tolerance for --check.")
@click.option("--metric", type=click.Choice(["mean", "median", "w1"]), default="mean", show_default=True, help="Metric for --check.")
@click.option("--match", type=click.Choice(["name", "position"]), default="name", show_default=True,
              help="For --check: pair layers by name only, or also by position (listed).")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="With --check: write a JUnit XML report.")
@click.option("--vs-random", is_flag=True, help="Also analyse the randomized twin (docs/baseline-and-twin.md) and compare.")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed of the randomized twin (>= 0).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write a self-contained HTML report.")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False), help="Save running statistics here; rerunning resumes.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=10, show_default=True, metavar="K", help="Batches between checkpoints.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True, help="ray: shards as Ray tasks, merged.")
@click.option("--shards", type=click.IntRange(min=1, max=4096), help="--engine ray: number of shards [default: the cluster's CPUs/GPUs].")
@click.option("--ray-address", metavar="ADDR", help="--engine ray: an existing cluster (else RAY_ADDRESS, else a local Ray).")
@click.pass_context
def analyze(ctx, model, inputs, **o):
    """Analyse MODEL over INPUTS (images, .npy/.npz arrays, folders) and print a layer report.

    \b
    Examples:
      srop-onnx analyze model.onnx images/ --json profile.json
      srop-onnx analyze model.onnx batch.npy --units input --kappa 0.9
      srop-onnx analyze model.onnx val/ --check golden.json --junit srop.xml
      srop-onnx analyze model.onnx val/ --vs-random --report report.html
    """
    given = [f"--{name}" for name in ("tol", "metric", "match")
             if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]
    if o["junit_path"]:
        given.append("--junit")
    if given and not o["golden"]:
        raise UsageError(f"{'/'.join(given)} needs --check GOLDEN.json (it only applies to a check); add --check "
                         "or drop it")
    if o["vs_random"] and (o["shard"] or o["checkpoint_path"] or o["engine"] == "ray"):
        raise UsageError("--vs-random runs both models locally in one go; drop --shard/--checkpoint/--engine ray")
    if o["kernels_path"] and (o["shard"] or o["engine"] == "ray"):
        raise UsageError("--kernels keeps per-map bins of one local run; they are not merged across shards")
    from .writes import guard_outputs, to_stdout

    outputs = {"--json": o["json_path"], "--csv": o["csv_path"], "--kernels": o["kernels_path"],
               "--report": o["report_path"], "--junit": o["junit_path"], "--checkpoint": o["checkpoint_path"]}
    guard_outputs(outputs, model=model, inputs=inputs, protected={"the golden profile": o["golden"]})
    if to_stdout(o["kernels_path"]) or to_stdout(o["checkpoint_path"]):
        raise UsageError("--kernels and --checkpoint write binary or state files; give a file path instead of '-'")
    if sum(to_stdout(v) for v in outputs.values()) > 1:
        raise UsageError("only one output can go to standard output ('-')")
    quiet_table = o["quiet"] or any(to_stdout(v) for v in outputs.values())  # stdout carries the file
    measure = _measurement(o)
    how = _execution(o, keep_bins=bool(o["kernels_path"]), checkpoint=o["checkpoint_path"],
                     checkpoint_every=o["checkpoint_every"])
    golden_profile = _load_profile(o["golden"]) if o["golden"] else None
    mode = _Mode(engine=o["engine"], vs_random=o["vs_random"], seed=o["seed"], shards=o["shards"],
                 ray_address=o["ray_address"], quiet=o["quiet"])
    profile, verdict = _run_analysis(model, list(inputs), measure, how, mode, _hooks(o))
    _after_analysis(ctx, profile, verdict, units=o["units"], quiet=quiet_table,
                    outputs={"profile": o["json_path"], "CSV": o["csv_path"], "kernels": o["kernels_path"],
                             "report": o["report_path"]})
    if golden_profile is not None:
        _run_check(ctx, profile, golden_profile,
                   _CheckOptions(o["tol"], o["metric"], None, o["junit_path"], o["match"],
                                 (o["json_path"] or "(this run)", o["golden"])),
                   _console(stderr=quiet_table))


class _Mode(NamedTuple):
    """Which analysis ``analyze`` runs: local, with the twin (``vs_random``), or on Ray."""

    engine: str
    vs_random: bool
    seed: int
    shards: int | None
    ray_address: str | None
    quiet: bool


def _run_analysis(model, inputs, measure, how, mode: _Mode, hooks):
    """``(profile, verdict or None)`` of one ``analyze`` command, with a progress bar on stderr."""
    from dataclasses import replace

    from .analysis import run_analysis, vs_random as run_vs_random
    from .report import ProgressHook

    bar = ProgressHook(None if mode.quiet else _console(stderr=True))
    hooks = replace(hooks, progress=bar)
    try:
        if mode.engine == "ray":
            from .distributed import ray_analysis

            profile = ray_analysis(model, inputs, measure, how, shards=mode.shards, address=mode.ray_address,
                                   progress=bar)
            return profile, None
        if mode.vs_random:
            profile, _twin, verdict = run_vs_random(model, inputs, measure, how, hooks, seed=mode.seed)
            return profile, verdict
        return run_analysis(model, inputs, measure, how, hooks), None
    finally:
        bar.stop()


def _after_analysis(ctx, profile, verdict, *, units, quiet, outputs: dict) -> None:
    """Print the report and write the requested files."""
    from .report import render_profile, render_verdict

    out, err = _console(), _console(stderr=True)
    if ctx.obj.get("debug"):
        err.print("run: " + ", ".join(f"{k} {v / 2**20:.0f} MiB" if k.endswith("bytes") and v is not None
                                      else f"{k} {v}" for k, v in profile.run.items()), highlight=False)
    if not quiet:
        render_profile(profile, out, units)
        if verdict is not None:
            render_verdict(verdict, out)
    writers = {"profile": profile.to_json, "CSV": profile.to_csv, "kernels": profile.write_kernels,
               "report": lambda path: _write_report([profile], path, units)}
    for what, path in outputs.items():
        if path:
            writers[what](path)
    for what, path in outputs.items():
        if path and not quiet and str(path) != "-":
            err.print(f"wrote {what}: {path}")


@main.command(short_help="Analyse at several levels of a blended image or noise (the paper's input checks).")
@click.argument("model", type=click.Path(dir_okay=False, path_type=str))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--blend", metavar="IMAGE", type=click.Path(dir_okay=False),
              help="Blend this image (or a .npy sample) into every input: (1 - w) x + w I.")
@click.option("--noise", type=click.Choice(["gaussian", "uniform"]),
              help="Add seeded noise: x + w * std(x) * e (e of unit variance).")
@click.option("--levels", required=True, metavar="W,W,...",
              help="Levels w, e.g. 0,0.5,1 or 0,0.1,...,1 (at most 256, each in [0, 1e6]).")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed of the noise (>= 0).")
@click.option("--output", "output_name", metavar="NAME", help="Model output compared with w = 0 [default: the first].")
@click.option("--change", type=click.Choice(["auto", "top1", "relative"]), default="auto", show_default=True,
              help="Output change shown: auto = top-1 agreement for a probability output, else the relative "
                   "change; both are recorded.")
@_tap_options
@_options(_MEASURE_OPTIONS)
@_options(_RUN_OPTIONS)
@click.option("-o", "--json", "json_path", type=click.Path(dir_okay=False), help="Write the sweep (JSON).")
@click.option("--profiles", "profiles_dir", type=click.Path(file_okay=False),
              help="Also write one profile per level here (level-W.json) for check/compare.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Draw the sweep (.png/.svg/.pdf).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write a self-contained HTML report.")
def sweep(model, inputs, **o):
    """Analyse MODEL over INPUTS at every level of a blended image or of noise (paper Sec. 4.1, Figs. 2-3).

    \b
    Examples:
      srop-onnx sweep model.onnx images/ --blend frog.png --levels 0,0.1,...,1 -o sweep.json --plot sweep.png
      srop-onnx sweep model.onnx images/ --noise gaussian --levels 0,0.25,...,2 --report sweep.html
    """
    from .report import ProgressHook, render_sweep
    from .sweepresult import profile_paths
    from .sweeps import Noise, SweepPlan, parse_levels, run_sweep
    from .writes import guard_outputs

    if (o["blend"] is None) == (o["noise"] is None):
        raise UsageError("sweep needs exactly one of --blend IMAGE or --noise gaussian|uniform")
    plan = SweepPlan(Noise(o["noise"], o["seed"]) if o["noise"] else o["blend"], parse_levels(o["levels"]),
                     o["output_name"], o["change"])
    outputs = {"-o": o["json_path"], "--plot": o["plot_path"], "--report": o["report_path"]}
    if o["profiles_dir"]:
        outputs.update({f"--profiles {path}": path for path in profile_paths(o["profiles_dir"], plan.levels)})
    guard_outputs(outputs, model=model, inputs=inputs, protected={"the blend image": o["blend"]})
    bar = ProgressHook(None if o["quiet"] else _console(stderr=True))
    try:
        result = run_sweep(model, list(inputs), _measurement(o), _execution(o), plan, _hooks(o, bar))
    finally:
        bar.stop()
    if not o["quiet"]:
        render_sweep(result, _console(), o["units"])
    _write_sweep(result, o)


def _write_sweep(result, o: dict) -> None:
    from .htmlreport import sweep_report
    from .writes import atomic_write_text
    from .plot import plot_sweep, save_figure

    err = _console(stderr=True)
    if o["json_path"]:
        result.to_json(o["json_path"])
    if o["profiles_dir"]:
        result.write_profiles(o["profiles_dir"])
    if o["plot_path"]:
        save_figure(plot_sweep([result], o["units"]), o["plot_path"])
    if o["report_path"]:
        atomic_write_text(o["report_path"], sweep_report(result, units=o["units"]))
    for what in ("json_path", "profiles_dir", "plot_path", "report_path"):
        if o[what] and not o["quiet"]:
            err.print(f"wrote {what.split('_')[0]}: {o[what]}", highlight=False)


@main.command(short_help="List the layers that would be tapped, without running.")
@click.argument("model", type=click.Path(dir_okay=False, path_type=str))
@_tap_options
@click.option("--input", "input_name", metavar="NAME", help="Model input, when it has several (for layouts).")
def layers(model, ops, all_tensors, layers, input_name):
    """List the layers MODEL would be analysed at (without running it), and what cannot be tapped."""
    from .report import render_taps, safe
    from .settings import Measurement
    from .stages import load_stage, plan_model

    measure = Measurement(ops=_ops(ops), all_tensors=all_tensors, layers=layers, input_name=input_name)
    plan = plan_model(load_stage(model), measure, require_taps=False)
    console = _console()
    for note in plan.notes:
        console.print(safe(note))
    if plan.taps:
        render_taps(plan.taps, console)
    for s in plan.skipped_taps:
        console.print(f"skipped {safe(s.get('name') or s['tensor'])} ({safe(s['op'])}): {safe(s['reason'])}")
    if not plan.taps:  # the reasons are listed above; the error says what to try
        plan_model(load_stage(model), measure)


def _write_report(profiles, path, units) -> None:
    from .htmlreport import html_report
    from .writes import atomic_write_text

    comparison = None
    if len(profiles) == 2:
        from .comparison import compare

        comparison = compare(profiles[0], profiles[1], check_settings=False,
                             names=tuple(p.origin or str(p.model.get("path")) for p in profiles))
    atomic_write_text(path, html_report(profiles, units=units, comparison=comparison))


def _load_profile(path):
    from .profile import Profile

    return Profile.load(path)


class _CheckOptions(NamedTuple):
    tol: float
    metric: str
    units: str | None
    junit_path: str | None
    match: str = "name"
    names: tuple[str, str] | None = None  # the profile and golden files


def _run_check(ctx, profile, golden, opts: _CheckOptions, console) -> None:
    """Check, print, write the JUnit file, annotate under GitHub Actions; exit 1 on drift. A refused
    golden (other settings) is still reported to CI: an errored test case and an annotation."""
    import os

    from .cireport import github_annotations, github_error, in_github_actions, junit_error, junit_xml, step_summary
    from .comparison import check as run_check
    from .report import render_check
    from .writes import atomic_write_text

    try:
        result = run_check(profile, golden, tol=opts.tol, metric=opts.metric, units=opts.units, match=opts.match,
                           names=opts.names)
    except UsageError as exc:
        if opts.junit_path:
            atomic_write_text(opts.junit_path, junit_error(_one_line(exc)))
        if in_github_actions(os.environ):
            click.echo(github_error(_one_line(exc)))
        _append_summary(step_summary(None, _one_line(exc)))
        raise
    render_check(result, console)
    if opts.junit_path:
        atomic_write_text(opts.junit_path, junit_xml(result))
    if in_github_actions(os.environ):
        for line in github_annotations(result):
            click.echo(line)
    _append_summary(step_summary(result))
    if not result.passed:
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


@main.command(short_help="Compare two profiles side by side.")
@click.argument("profile_a", type=click.Path(dir_okay=False))
@click.argument("profile_b", type=click.Path(dir_okay=False))
@click.option("--units", type=click.Choice(["band", "input"]), help="Units of mean/median/IQR [default: A's].")
def compare(profile_a, profile_b, units):
    """Compare two profiles layer by layer (matched by tensor, module name, then position, listed).
    Differences are B - A (the second file minus the first: new minus golden)."""
    from .comparison import compare as run_compare
    from .report import render_comparison

    a, b = _load_profile(profile_a), _load_profile(profile_b)
    comp = run_compare(a, b, names=(profile_a, profile_b))
    render_comparison(comp, _console(), units or a.units)


@main.command(short_help="Merge the partial profiles (or sweeps) of all shards.")
@click.argument("parts", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Merged profile or sweep (JSON).")
def merge(parts, output):
    """Merge the partial profiles (analyze --shard I/N) or sweeps (sweep --shard I/N) of all shards into one."""
    from .merge import merge_profiles
    from .sweeps import Sweep, load_result, merge_sweeps

    from .writes import guard_outputs

    guard_outputs({"-o": output}, protected={f"the part {p}": p for p in parts})
    loaded = [load_result(p) for p in parts]
    if all(isinstance(x, Sweep) for x in loaded):
        result = merge_sweeps(loaded, list(parts))
        count = result.points[0].profile.analyzed
    elif any(isinstance(x, Sweep) for x in loaded):
        raise UsageError("merge takes only profiles or only sweeps, not both")
    else:
        result = merge_profiles(loaded, list(parts))
        count = result.analyzed
    result.to_json(output)
    _console(stderr=True).print(f"wrote {output}: {count} input(s) from {len(parts)} shard(s)", highlight=False)


@main.command(short_help="Check a profile against a golden one (exit 1 on drift).")
@click.argument("profile", type=click.Path(dir_okay=False))
@click.option("--against", "golden", required=True, type=click.Path(dir_okay=False), help="Golden profile.")
@click.option("--tol", type=_Finite(0), default=0.02, show_default=True, help="Largest allowed difference.")
@click.option("--metric", type=click.Choice(["mean", "median", "w1"]), default="mean", show_default=True,
              help="What is compared per layer (w1: 1-Wasserstein distance, band units).")
@click.option("--match", type=click.Choice(["name", "position"]), default="name", show_default=True,
              help="name: layers pair by tensor or module name, and layers that would pair only by position are "
                   "refused; position: accept pairing the rest by position (listed).")
@click.option("--units", type=click.Choice(["band", "input"]), help="Units for mean/median [default: the golden's].")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write a JUnit XML report.")
@click.pass_context
def check(ctx, profile, golden, tol, metric, units, junit_path, match):
    """Exit 0 when every layer of PROFILE is within --tol of the golden profile, 1 on drift, 2 when
    a file or option is bad (or the golden was made with other settings), 3 on an internal error."""
    from .writes import guard_outputs, to_stdout

    guard_outputs({"--junit": junit_path}, protected={f"the profile {profile}": profile, f"the golden {golden}": golden})
    _run_check(ctx, _load_profile(profile), _load_profile(golden),
               _CheckOptions(tol, metric, units, junit_path, match, (str(profile), str(golden))),
               _console(stderr=to_stdout(junit_path)))


@main.command(short_help="Plot profiles or sweeps: by depth, boxes, KDEs, channel heatmap, sweep curves.")
@click.argument("profiles", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Image file: .png, .svg or .pdf.")
@click.option("--kind", type=click.Choice(["depth", "box", "kde", "kernels", "sweep"]), default=None,
              help="[default: depth for profiles, sweep for sweeps]")
@click.option("--units", type=click.Choice(["band", "input"]), help="[default: input for depth, band otherwise]")
@click.option("--layers", metavar="REGEX", help="kde: layers to draw (default: up to 12 spread over depth).")
@click.option("--label", "labels", multiple=True, help="Legend label per profile, in order (repeatable).")
@click.option("--level", "levels", metavar="W[,W...]", help="Sweeps: the level(s) to draw (kde: one curve each).")
@click.option("--by", type=click.Choice(["third", "layer"]), default="third", show_default=True,
              help="--kind sweep: one line per depth third or per layer.")
def plot(profiles, output, kind, units, layers, labels, levels, by):
    """Draw PROFILES (or sweeps): SROP by depth, per-layer boxes, per-sample KDEs, channel heatmap, or
    the mean SROP against a sweep's level with the model's output change (--kind sweep)."""
    from .plot import plot as make_plot
    from .plot import plot_sweep, plot_sweep_kde, save_figure
    from .sweeps import Sweep, load_result, parse_levels

    from .writes import guard_outputs

    guard_outputs({"-o": output}, protected={f"the input {p}": p for p in profiles})
    loaded = [load_result(p) for p in profiles]
    wanted = parse_levels(levels) if levels else None
    sweeps = [x for x in loaded if isinstance(x, Sweep)]
    kind = kind or ("sweep" if sweeps else "depth")
    if sweeps and len(sweeps) != len(loaded):
        raise UsageError("plot takes only profiles or only sweeps, not both")
    if kind == "sweep" and not sweeps:
        raise UsageError("--kind sweep draws sweep files (srop-onnx sweep -o FILE), not profiles")
    if kind == "sweep":
        fig = plot_sweep(sweeps, units or "band", list(labels) or None, by)
    elif kind == "kde" and sweeps:
        fig = plot_sweep_kde(sweeps[0], wanted, units or "band", layers)
    else:
        if sweeps:
            if not wanted or len(wanted) != 1:
                raise UsageError(f"--kind {kind} of a sweep draws one level: add --level W")
            loaded = [sw.profile(wanted[0]) for sw in sweeps]
        fig = make_plot(loaded, kind, units=units, labels=list(labels) or None, layers=layers)
    save_figure(fig, output)
    _console(stderr=True).print(f"wrote {kind} plot: {output}", highlight=False)


@main.command(short_help="Write a self-contained HTML report.")
@click.argument("profiles", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="HTML file to write.")
@click.option("--units", type=click.Choice(["band", "input"]), help="[default: the first profile's]")
def report(profiles, output, units):
    """Write a self-contained HTML report of one profile, two side by side, or one sweep."""
    from .sweeps import Sweep, load_result
    from .writes import guard_outputs

    guard_outputs({"-o": output}, protected={f"the input {p}": p for p in profiles})
    loaded = [load_result(p) for p in profiles]
    if any(isinstance(x, Sweep) for x in loaded):
        if len(loaded) != 1:
            raise UsageError("report takes one sweep")
        from .htmlreport import sweep_report
        from .writes import atomic_write_text

        atomic_write_text(output, sweep_report(loaded[0], units=units or "band"))
    elif len(profiles) > 2:
        raise UsageError("report takes one profile, or two to compare")
    else:
        _write_report(loaded, output, units)
    _console(stderr=True).print(f"wrote report: {output}", highlight=False)


@main.command(short_help="Write the randomized twin of a model (docs/baseline-and-twin.md).")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write the twin (.onnx).")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed of the generator (>= 0).")
def randomize(model, output, seed):
    """Write the randomized twin of MODEL (docs/baseline-and-twin.md); MODEL itself is untouched."""
    from .modelio import load_model_with_weights, save_model
    from .report import safe
    from .twin import randomize as make_twin
    from .twin import require_changed

    loaded = load_model_with_weights(model)
    twin, report = make_twin(loaded.proto, seed=seed)
    require_changed(report, str(model))
    save_model(twin, output, protect=[loaded.path, *loaded.external_files])
    console = _console(stderr=True)
    console.print(f"wrote {safe(output)}: {report.describe()}; {len(report.weights)} weight(s) He-normal, "
                  f"{len(report.biases)} bias(es) zeroed, {len(report.batchnorm)} BatchNorm tensor(s) set to "
                  f"identity (seed {seed})", highlight=False)
    for left in report.left:
        console.print(f"note: left as it was: {safe(left)}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
