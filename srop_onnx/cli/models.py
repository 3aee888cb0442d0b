"""Command line: parses options and calls library functions, nothing more.

The group, its error handling and exit codes are in :mod:`srop_onnx.cli.common`; this module holds
the commands that run models (analyze, sweep, layers), :mod:`srop_onnx.cli.files` those over the
files they write. Importing :mod:`srop_onnx.cli` registers both on the group.
"""

from __future__ import annotations

from typing import NamedTuple

import click

from .common import (_tolerances, _CheckOptions, _Finite, _SEED, _console, _floats,
                     _load_golden, _ops, _run_check, _write_report, main)
from ..errors import UsageError

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
    click.option("--crop", type=_Finite(0, 1, low_open=True), metavar="RATIO",
                 help="Centre-crop ratio: the shorter side is resized to size / RATIO, then cropped [default: the "
                      "preset's, 0.875 for imagenet and caffe, else 1]. 1: the whole image (detection, OCR)."),
    click.option("--layout", type=click.Choice(["NCHW", "NHWC", "NCL", "NLC", "NHW", "NL", "NCDHW"],
                                           case_sensitive=False),
                 help="Override the input layout read from the graph and the shape (NHW: a one-channel image)."),
    click.option("--kappa", type=_Finite(0, 1, low_open=True), default=0.85, show_default=True,
                 help="Energy fraction of the roll-off."),
    click.option("--units", type=click.Choice(["band", "input"]), default="band", show_default=True,
                 help="band: k/m per layer; input: k/m of the model input."),
    click.option("--no-baseline", is_flag=True, help="Skip the max-pooling baseline (docs/baseline-and-twin.md)."),
    click.option("--tf32", is_flag=True, help="Let CUDA compute convolutions in TF32 (faster, not exact; recorded)."),
    click.option("--sample-rate", type=click.IntRange(min=1), metavar="HZ",
                 help="WAV inputs must have this rate [default: the first WAV file's]; --size L sets the length."),
]
_SHARD_OPTION = click.option("--shard", metavar="I/N", help="Analyse only the I-th of N slices of the inputs (merge the "
                             "parts with 'srop-onnx merge').")
_RUN_OPTIONS = [
    click.option("--provider", type=click.Choice(["auto", "cpu", "cuda"]),
                 help="Where ONNX Runtime runs [default: $SROP_ONNX_PROVIDER, else auto: CUDA when usable]."),
    click.option("--batch-size", "-b", metavar="N|auto",
                 help="Samples per run; auto = the largest that fits the free memory [default: 8 on CPU, auto on CUDA]."),
    click.option("--limit", type=click.IntRange(min=1), help="Analyse at most N samples."),
    click.option("--strict", is_flag=True, help="A bad input file is an error instead of being skipped."),
    _SHARD_OPTION,
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
    """The :class:`~srop_onnx.config.settings.Measurement` of a command's options."""
    from ..config.options import parse_size
    from ..config.settings import Measurement

    return Measurement(kappa=o["kappa"], units=o["units"], ops=_ops(o["ops"]), all_tensors=o["all_tensors"],
                       layers=o["layers"], input_name=o["input_name"], layout=o["layout"], preprocess=o["preprocess"],
                       mean=_floats(o["mean"], "--mean"), std=_floats(o["std"], "--std"), size=parse_size(o["size"]),
                       crop=o["crop"], baseline=not o["no_baseline"], tf32=o["tf32"], sample_rate=o["sample_rate"])


def _execution(o: dict, **more):
    """The :class:`~srop_onnx.config.settings.Execution` of a command's options."""
    from ..config.options import parse_bytes, parse_shard
    from ..config.settings import Execution

    return Execution(provider=o["provider"], batch_size=o["batch_size"], limit=o["limit"], strict=o["strict"],
                     shard=parse_shard(o["shard"]), max_memory=parse_bytes(o["max_memory"], "--max-memory"),
                     record_run=o["record_run"], **more)


def _notes(quiet: bool):
    """One-line notes on stderr; with ``-q`` only warnings about skipped inputs still show."""
    from ..show.report import safe

    err = _console(stderr=True)
    if quiet:
        return lambda msg: err.print("warning: " + safe(msg)) if msg.startswith("skipped") else None
    return lambda msg: err.print(safe(msg), style="dim")


def _hooks(o: dict, progress=None):
    """The :class:`~srop_onnx.config.settings.Hooks` of a command: progress, notes, and with ``-v`` details."""
    from ..config.settings import Hooks

    notify = _notes(o["quiet"])
    return Hooks(progress, notify, notify if o["verbose"] and not o["quiet"] else None)


@main.command(short_help="Analyse a model over images or arrays; print a layer report.")
@click.argument("model", type=click.Path(path_type=str))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=str))
@_tap_options
@_options(_MEASURE_OPTIONS)
@_options(_RUN_OPTIONS)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the profile (JSON, docs/format.md).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write one row per layer (CSV).")
@click.option("--kernels", "kernels_path", type=click.Path(dir_okay=False), help="Write per-map roll-off bins (NPZ).")
@click.option("--check", "golden", type=click.Path(dir_okay=False), help="Check the result against a golden profile (exit 1 on drift).")
@click.option("--tol", "tol", multiple=True, metavar="X|LAYER=X", callback=_tolerances,
              help="Tolerance for --check. Repeat for per-layer ones: --tol 0.02 --tol layer4=0.05 (a name or shell pattern).  [default: 0.02]")
@click.option("--metric", type=click.Choice(["mean", "median", "w1"]), default="mean", show_default=True, help="Metric for --check.")
@click.option("--match", type=click.Choice(["name", "position"]), default="name", show_default=True,
              help="For --check: pair layers by name only, or also by position (listed).")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="With --check: write a JUnit XML report.")
@click.option("--labels", "labels", metavar="folders|FILE.csv|npz:KEY",
              help="Record each sample's class: folders (the first folder under INPUTS, the ImageFolder layout), a "
                   "CSV with columns path,label, or npz:KEY (an array of labels in each .npz). See docs/datasets.md.")
@click.option("--vs-random", is_flag=True, help="Also analyse the randomized twin (docs/baseline-and-twin.md) and compare.")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed of the randomized twin (>= 0).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write a self-contained HTML report.")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False), help="Save running statistics here; rerunning resumes.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=10, show_default=True, metavar="K", help="Batches between checkpoints.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True, help="ray: shards as Ray tasks, merged.")
@click.option("--shards", type=click.IntRange(min=1, max=4096), help="--engine ray: number of shards [default: the cluster's CPUs/GPUs].")
@click.option("--ray-address", metavar="ADDR", help="--engine ray: an existing cluster (else RAY_ADDRESS, else a local Ray).")
@click.option("--parts", "parts", metavar="DIR|URL/",
              help="--engine ray: keep each shard's partial profile here (a folder every node sees, or a bucket "
                   "prefix); rerunning runs only the shards not done.")
@click.pass_context
def analyze(ctx, model, inputs, **o):
    """Analyse MODEL over INPUTS (images, .npy/.npz arrays, folders, @lists of them, "val/*/*.jpg" patterns) and print a layer report.

    \b
    Examples:
      srop-onnx analyze model.onnx images/ --json profile.json
      srop-onnx analyze model.onnx "val/*/*.jpg" --labels folders   # a pattern, in any shell
      srop-onnx analyze model.onnx @val.csv --labels val.csv   # a split listed in a file
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
    if o["parts"] and o["engine"] != "ray":
        raise UsageError("--parts keeps the shards of --engine ray; add --engine ray (one machine resumes with "
                         "--checkpoint instead)")
    if o["vs_random"] and (o["shard"] or o["checkpoint_path"] or o["engine"] == "ray"):
        raise UsageError("--vs-random runs both models locally in one go; drop --shard/--checkpoint/--engine ray")
    if o["kernels_path"] and (o["shard"] or o["engine"] == "ray"):
        raise UsageError("--kernels keeps per-map bins of one local run; they are not merged across shards")
    from ..files.writes import guard_outputs, to_stdout

    outputs = {"--json": o["json_path"], "--csv": o["csv_path"], "--kernels": o["kernels_path"],
               "--report": o["report_path"], "--junit": o["junit_path"], "--checkpoint": o["checkpoint_path"]}
    table = o["labels"] if o["labels"] and o["labels"] != "folders" and not o["labels"].startswith("npz:") else None
    guard_outputs(outputs, model=model, inputs=inputs, protected={"the golden profile": o["golden"],
                                                                  "the label table": table})
    if to_stdout(o["kernels_path"]) or to_stdout(o["checkpoint_path"]):
        raise UsageError("--kernels and --checkpoint write binary or state files; give a file path instead of '-'")
    if sum(to_stdout(v) for v in outputs.values()) > 1:
        raise UsageError("only one output can go to standard output ('-')")
    quiet_table = o["quiet"] or any(to_stdout(v) for v in outputs.values())  # stdout carries the file
    measure = _measurement(o)
    how = _execution(o, keep_bins=bool(o["kernels_path"]), checkpoint=o["checkpoint_path"],
                     checkpoint_every=o["checkpoint_every"], labels=o["labels"])
    golden_profile, refusal = _load_golden(o["golden"]) if o["golden"] else (None, None)
    mode = _Mode(engine=o["engine"], vs_random=o["vs_random"], seed=o["seed"], shards=o["shards"],
                 ray_address=o["ray_address"], quiet=o["quiet"], parts=o["parts"])
    profile, verdict = _run_analysis(model, list(inputs), measure, how, mode, _hooks(o))
    _after_analysis(ctx, profile, verdict, units=o["units"], quiet=quiet_table,
                    outputs={"profile": o["json_path"], "CSV": o["csv_path"], "kernels": o["kernels_path"],
                             "report": o["report_path"]})
    if o["golden"]:
        _run_check(ctx, profile, golden_profile,
                   _CheckOptions(o["tol"], o["metric"], None, o["junit_path"], o["match"],
                                 (o["json_path"] or "(this run)", o["golden"])),
                   _console(stderr=quiet_table), refusal)


class _Mode(NamedTuple):
    """Which analysis ``analyze`` runs: local, with the twin (``vs_random``), or on Ray."""

    engine: str
    vs_random: bool
    seed: int
    shards: int | None
    ray_address: str | None
    quiet: bool
    parts: str | None = None


def _run_analysis(model, inputs, measure, how, mode: _Mode, hooks):
    """``(profile, verdict or None)`` of one ``analyze`` command, with a progress bar on stderr."""
    from dataclasses import replace

    from ..run.analysis import run_analysis, vs_random as run_vs_random
    from ..show.report import ProgressHook

    bar = ProgressHook(None if mode.quiet else _console(stderr=True), "shards" if mode.engine == "ray" else "inputs")
    hooks = replace(hooks, progress=bar)
    try:
        if mode.engine == "ray":
            from ..run.distributed import ray_analysis

            profile = ray_analysis(model, inputs, measure, how, hooks, shards=mode.shards, address=mode.ray_address,
                                   parts=mode.parts)
            return profile, None
        if mode.vs_random:
            profile, _twin, verdict = run_vs_random(model, inputs, measure, how, hooks, seed=mode.seed)
            return profile, verdict
        return run_analysis(model, inputs, measure, how, hooks), None
    finally:
        bar.stop()


def _after_analysis(ctx, profile, verdict, *, units, quiet, outputs: dict) -> None:
    """Print the report and write the requested files."""
    from ..show.report import render_profile, render_verdict

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
@click.argument("model", type=click.Path(path_type=str))
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
    from ..show.report import ProgressHook, render_sweep
    from ..results.sweepresult import profile_paths
    from ..run.sweeps import Noise, SweepPlan, parse_levels, run_sweep
    from ..files.writes import guard_outputs

    if (o["blend"] is None) == (o["noise"] is None):
        raise UsageError("sweep needs exactly one of --blend IMAGE or --noise gaussian|uniform")
    plan = SweepPlan(Noise(o["noise"], o["seed"]) if o["noise"] else o["blend"], parse_levels(o["levels"]),
                     o["output_name"], o["change"])
    outputs = {"-o": o["json_path"], "--plot": o["plot_path"], "--report": o["report_path"]}
    if o["profiles_dir"]:
        outputs.update({f"--profiles {path}": path for path in profile_paths(o["profiles_dir"], plan.levels)})
    if o["plot_path"]:
        from ..show.plots import figure_format

        figure_format(o["plot_path"], "--plot")  # before the sweep, not after it
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
    from ..show.htmlreport import sweep_report
    from ..files.writes import atomic_write_text
    from ..show.plots import plot_sweep, save_figure

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


@main.command(short_help="Analyse the shipped example model (or copy it with --copy DIR).")
@click.option("--copy", "copy_to", type=click.Path(file_okay=False), default=None,
              help="Copy the example model and its images into this folder instead, to try the other commands.")
@click.pass_context
def example(ctx, copy_to):
    """Analyse the example shipped with srop-onnx: a small CNN trained on synthetic shapes, over its
    eight images (the same as 'srop-onnx analyze example.onnx images/').

    \b
    Examples:
      srop-onnx example
      srop-onnx example --copy try/ && srop-onnx analyze try/example.onnx try/images --vs-random
    """
    import shutil
    from pathlib import Path

    from ..files.example import example_files

    model, images = example_files()
    if copy_to is None:
        with analyze.make_context("analyze", [str(model), str(images)], parent=ctx) as sub:
            analyze.invoke(sub)
        return
    dest = Path(copy_to)
    if dest.exists() and any(dest.iterdir()):
        raise UsageError(f"--copy {dest}: the folder is not empty; give a new or empty folder")
    try:
        (dest / "images").mkdir(parents=True, exist_ok=True)
        shutil.copy2(model, dest / "example.onnx")
        for png in sorted(images.glob("*.png")):
            shutil.copy2(png, dest / "images" / png.name)
    except OSError as exc:
        raise UsageError(f"--copy {dest}: cannot write there ({exc.strerror or exc}); choose another folder") from None
    click.echo(f"wrote {dest / 'example.onnx'} and {len(list(images.glob('*.png')))} images in {dest / 'images'}; "
               f"try: srop-onnx analyze {dest / 'example.onnx'} {dest / 'images'}")


@main.command(short_help="List the layers that would be tapped, without running.")
@click.argument("model", type=click.Path(path_type=str))
@_tap_options
@click.option("--input", "input_name", metavar="NAME", help="Model input, when it has several (for layouts).")
@click.option("--layout", type=click.Choice(["NCHW", "NHWC", "NCL", "NLC", "NHW", "NL", "NCDHW"], case_sensitive=False),
              help="Override the input layout read from the graph and the shape (NHW: a one-channel image).")
def layers(model, ops, all_tensors, layers, input_name, layout):
    """List the layers MODEL would be analysed at (without running it), and what cannot be tapped."""
    from ..show.report import render_taps, safe, shape_text
    from ..config.settings import Measurement
    from ..run.stages import load_stage, plan_model

    measure = Measurement(ops=_ops(ops), all_tensors=all_tensors, layers=layers, input_name=input_name, layout=layout)
    loaded = load_stage(model)
    plan, choices, measure = _layers_plan(loaded, measure)
    console = _console()
    spec = plan.spec
    shape = shape_text(spec.shape)  # a fixed batch shows as its number (CRAFT: 1x3x...)
    console.print(f"input {safe(spec.name)} ({shape}, {spec.dtype}) read as {spec.layout}"
                  + (" (a one-channel image)" if spec.layout == "NHW" else ""))
    if len(choices) > 1:
        console.print(f"the model has {len(choices)} inputs analyze could feed ({safe(', '.join(choices))}): analyze "
                      "feeds the one --input NAME names (or an .npz's arrays name); the layers are listed for "
                      f"{safe(spec.name)}")
    for note in plan.notes:
        console.print(safe(note))
    if plan.taps:
        render_taps(plan.taps, console)
        _say_unknown_shapes(plan.taps, console)
    for s in plan.skipped_taps:
        console.print(f"skipped {safe(s.get('name') or s['tensor'])} ({safe(s['op'])}): {safe(s['reason'])}")
    if not plan.taps:  # the reasons are listed above; the error says what to try
        plan_model(loaded, measure)


def _say_unknown_shapes(taps, console) -> None:
    """One line where ONNX's shape inference left a layer's channels unknown and ONNX Runtime's
    symbolic inference, which would follow the shape arithmetic, lacks a package here."""
    from ..model.graph import channels_unknown, symbolic_inference_missing

    if not any(channels_unknown(t.shape_hint) for t in taps):
        return
    missing = symbolic_inference_missing()
    if missing:
        console.print(f"shapes shown as ?: ONNX Runtime's symbolic shape inference would work them out, but it needs "
                      f"{missing} (pip install {missing}); analyze reads shapes from the tensors and does not need it")


def _layers_plan(loaded, measure):
    """The plan ``layers`` lists, and the inputs analyze could feed: it feeds nothing, so a model with
    several candidates is listed for the first of them, with a line saying how analyze chooses."""
    from dataclasses import replace

    from ..inputs.inputspec import feed_candidates
    from ..run.stages import plan_model

    choices = feed_candidates(loaded.proto) if measure.input_name is None else [measure.input_name]
    if len(choices) > 1:
        measure = replace(measure, input_name=choices[0])
    return plan_model(loaded, measure, require_taps=False), choices, measure


__all__ = ["analyze", "sweep", "layers", "example"]
