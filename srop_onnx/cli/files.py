"""Commands over files srop-onnx wrote: check, compare, merge, plot, report, and randomize.

They parse options and call library functions, nothing more (see :mod:`srop_onnx.cli.common`).
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import _tolerances, _CheckOptions, _SEED, _console, _load_golden, _load_profile, _run_check, _write_report, main
from ..errors import UsageError
from .datasets import class_options, compare_by_class

@main.command(short_help="Compare two profiles side by side, or a dataset with a benchmark class by class.")
@click.argument("profile_a", type=click.Path(dir_okay=False))
@click.argument("profile_b", type=click.Path(dir_okay=False))
@click.option("--units", type=click.Choice(["band", "input"]), help="Units of mean/median/IQR [default: A's].")
@class_options
@click.pass_context
def compare(ctx, profile_a, profile_b, units, **o):
    """Compare two profiles layer by layer (matched by tensor, module name, then position, listed).
    Differences are B - A (the second file minus the first: new minus golden).

    With --by class, PROFILE_A is the benchmark and PROFILE_B the custom set, both labelled (analyze
    --labels): per layer and class, W1 between the per-sample SROPs and a seeded permutation test,
    Holm-corrected over layers and classes; missing classes and peaks are listed. Exit 0 when the
    sets look the same to the model, 1 when they differ (docs/datasets.md)."""
    from ..results.comparison import compare as run_compare
    from ..show.report import render_comparison

    if o["by"] == "class":
        compare_by_class(ctx, profile_a, profile_b, o)
        return
    given = [f"--{k.replace('_', '-')}" for k in ("alpha", "min_effect", "permutations", "seed", "layers")
             if ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT]
    given += [flag for flag, key in (("--all", "show_all"), ("--junit", "junit_path")) if o[key]]
    if given:
        raise UsageError(f"{'/'.join(given)} go(es) with --by class; add --by class or drop it")

    a, b = _load_profile(profile_a), _load_profile(profile_b)
    comp = run_compare(a, b, names=(profile_a, profile_b))
    render_comparison(comp, _console(), units or a.units)


@main.command(short_help="Merge the partial profiles (or sweeps) of all shards.")
@click.argument("parts", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Merged profile or sweep (JSON).")
def merge(parts, output):
    """Merge the partial profiles (analyze --shard I/N) or sweeps (sweep --shard I/N) of all shards into one.

    PARTS are files, or folders (bucket prefixes ending in /) whose .json files are all parts, such
    as the --parts folder of an --engine ray run."""
    from ..results.merge import merge_profiles
    from ..run.sweeps import Sweep, load_result, merge_sweeps

    from ..files.reading import json_files
    from ..files.writes import guard_outputs

    parts = json_files(parts)
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
@click.option("--tol", "tol", multiple=True, metavar="X|LAYER=X", callback=_tolerances,
              help="Largest allowed difference. Repeat for per-layer ones: --tol 0.02 --tol layer4=0.05 (a name or shell pattern).  [default: 0.02]")
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
    from ..files.writes import guard_outputs, to_stdout

    guard_outputs({"--junit": junit_path}, protected={f"the profile {profile}": profile, f"the golden {golden}": golden})
    checked = _load_profile(profile)
    reference, refusal = _load_golden(golden)
    _run_check(ctx, checked, reference, _CheckOptions(tol, metric, units, junit_path, match, (str(profile), str(golden))),
               _console(stderr=to_stdout(junit_path)), refusal)


@main.command(short_help="Plot profiles, sweeps or tracks: by depth, boxes, KDEs, heatmaps, curves.")
@click.argument("profiles", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Image file: .png, .svg or .pdf.")
@click.option("--kind", type=click.Choice(["depth", "box", "kde", "kernels", "classes", "sweep", "heatmap", "thirds",
                                           "channels", "std"]), default=None,
              help="[default: depth for profiles, sweep for sweeps, heatmap for a track (track.json)]")
@click.option("--change", is_flag=True, help="Tracks, --kind heatmap: the change from the first step.")
@click.option("--layer", metavar="NAME", help="Tracks, --kind channels: the layer to draw.")
@click.option("--units", type=click.Choice(["band", "input"]), help="[default: input for depth, band otherwise]")
@click.option("--layers", metavar="REGEX", help="Layers to draw, by name: kde draws up to 12 of them (default: 12 spread over depth), depth, box "
                   "and kernels every one, where it sits in the model.")
@click.option("--label", "labels", multiple=True, help="Legend label per profile, in order (repeatable).")
@click.option("--level", "levels", metavar="W[,W...]", help="Sweeps: the level(s) to draw (kde: one curve each).")
@click.option("--by", type=click.Choice(["third", "layer", "class"]), default=None,
              help="--kind sweep: one line per depth third (default) or per layer; --kind kde: class, one curve "
                   "per class of labelled profiles (analyze --labels).")
def plot(profiles, output, kind, units, layers, labels, levels, by, change, layer):
    """Draw PROFILES (files, or folders of them such as sweep --profiles writes; or sweeps, or a track): SROP by depth, per-layer boxes, per-sample KDEs (per class
    with --by class), channel heatmap, the class x layer map of a labelled profile (--kind classes), the mean SROP against a sweep's level with the model's output change (--kind sweep), or a
    track's layers x steps heatmap, depth thirds, one layer's channels or each layer's std over
    training (--kind heatmap|thirds|channels|std)."""
    from ..show.classplots import plot_profiles as make_plot
    from ..show.plots import figure_format, plot_sweep, plot_sweep_kde, save_figure
    from ..run.sweeps import Sweep, load_result, parse_levels

    from ..files.writes import guard_outputs

    figure_format(output, "-o")
    guard_outputs({"-o": output}, protected={f"the input {p}": p for p in profiles})
    if _is_a_track(profiles):  # looked up once: in a bucket, a request
        for given, what in ((layers, "--layers"), (levels, "--level"), (by, "--by"), (labels, "--label")):
            if given:
                raise UsageError(f"{what} draws profiles or sweeps; {profiles[0]} is a track (--layer NAME picks its "
                                 "layer)")
        return _plot_track(profiles, output, kind, units, change, layer)
    for given, what in ((change, "--change"), (layer, "--layer")):
        if given:
            raise UsageError(f"{what} draws a track (--kind heatmap or channels); {profiles[0]} is not a track")
    if kind in _TRACK_KINDS:
        raise UsageError(f"--kind {kind} draws a track (srop-onnx track -o DIR: give DIR/track.json)")
    profiles = _profile_files(profiles)
    if labels and len(labels) != len(profiles):
        raise UsageError(f"--label: {len(labels)} given for {len(profiles)} files; give one per file, in order")
    loaded = [load_result(p) for p in profiles]
    wanted = parse_levels(levels) if levels else None
    sweeps = [x for x in loaded if isinstance(x, Sweep)]
    kind = kind or ("sweep" if sweeps else "depth")
    if sweeps and len(sweeps) != len(loaded):
        raise UsageError("plot takes only profiles or only sweeps, not both")
    if levels and not sweeps:
        raise UsageError(f"--level picks levels of a sweep (srop-onnx sweep -o FILE); {profiles[0]} is a profile")
    if kind == "sweep" and not sweeps:
        raise UsageError("--kind sweep draws sweep files (srop-onnx sweep -o FILE), not profiles")
    if by == "class" and (sweeps or kind not in ("kde", "classes")):
        raise UsageError("--by class draws labelled profiles with --kind kde (or --kind classes)")
    if not labels and not sweeps:
        labels = _file_labels(profiles, loaded)
    if kind == "sweep":
        fig = plot_sweep(sweeps, units or "band", list(labels) or None, by or "third")
    elif kind == "kde" and sweeps:
        fig = plot_sweep_kde(sweeps[0], wanted, units or "band", layers)
    else:
        if sweeps:
            if not wanted or len(wanted) != 1:
                raise UsageError(f"--kind {kind} of a sweep draws one level: add --level W")
            loaded = [sw.profile(wanted[0]) for sw in sweeps]
        fig = make_plot(loaded, kind, units=units, labels=list(labels) or None, layers=layers,
                        by="class" if by == "class" else None)
    save_figure(fig, output)
    _console(stderr=True).print(f"wrote {kind} plot: {output}", highlight=False)


_TRACK_KINDS = ("heatmap", "thirds", "channels", "std")


def _file_labels(paths, loaded) -> tuple:
    """Profiles of one model (a sweep's levels, runs over other inputs) named by their files, not
    by the model they share; none where the models' names tell them apart."""
    models = [str(x.model.get("path", "")).replace("\\", "/").rsplit("/", 1)[-1] for x in loaded]
    if len(set(models)) == len(models):
        return ()
    return tuple(str(p).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].removesuffix(".json") for p in paths)


def _profile_files(paths) -> tuple:
    """The paths with each local folder as the ``.json`` files directly in it (a sweep's
    ``--profiles`` folder), numbers in their names by value: ``level-0.25`` before ``level-0.5``."""
    import re

    def natural(path: Path) -> list:
        return [(0, float(t), "") if re.fullmatch(r"\d+(?:\.\d+)?", t) else (1, 0.0, t)
                for t in re.split(r"(\d+(?:\.\d+)?)", path.name) if t]

    out: list = []
    for given in paths:
        if "://" in str(given) or not Path(given).is_dir():
            out.append(given)
            continue
        found = sorted((f for f in Path(given).glob("*.json") if f.is_file()), key=natural)
        if not found:
            raise UsageError(f"{given}: a folder with no .json profile in it; give profile, sweep or track files "
                             "(or a folder of profiles, as sweep --profiles writes)")
        out.extend(str(f) for f in found)
    return tuple(out)


def _is_a_track(paths) -> bool:
    from ..results.track import is_track

    return any(is_track(p) for p in paths)


def _plot_track(paths, output, kind, units, change, layer) -> None:
    """Draw the track PATHS names (one folder or track.json)."""
    from ..results.track import Track

    if len(paths) != 1:
        raise UsageError("plot takes one track (its track.json), not several files")
    kind = kind or "heatmap"
    if kind not in _TRACK_KINDS:
        raise UsageError(f"--kind {kind} does not draw a track; use heatmap, thirds, channels or std")
    from ..show.plots import save_figure
    from ..show.trackview import plot_track

    save_figure(plot_track(Track.load(paths[0]), kind, units=units, layer=layer, change=change), output)
    _console(stderr=True).print(f"wrote {kind} plot: {output}", highlight=False)


@main.command(short_help="Write a self-contained HTML report.")
@click.argument("profiles", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="HTML file to write.")
@click.option("--units", type=click.Choice(["band", "input"]), help="[default: the first profile's]")
def report(profiles, output, units):
    """Write a self-contained HTML report of one profile, two side by side, one sweep or one track."""
    from ..run.sweeps import Sweep, load_result
    from ..files.writes import guard_outputs
    from ..results.track import Track, is_track

    guard_outputs({"-o": output}, protected={f"the input {p}": p for p in profiles})
    tracks = [p for p in profiles if is_track(p)]  # looked up once: in a bucket, a request
    if tracks and len(profiles) > 1:
        raise UsageError(f"{tracks[0]} is a track: a report shows one track alone (srop-onnx report {tracks[0]} -o "
                         f"{output}), one sweep, or one profile or two side by side")
    if tracks:
        from ..files.writes import atomic_write_text
        from ..show.trackview import track_report

        atomic_write_text(output, track_report(Track.load(profiles[0]), units=units))
        _console(stderr=True).print(f"wrote report: {output}", highlight=False)
        return
    loaded = [load_result(p) for p in profiles]
    if any(isinstance(x, Sweep) for x in loaded):
        if len(loaded) != 1:
            sweep = next(p for p, x in zip(profiles, loaded) if isinstance(x, Sweep))
            raise UsageError(f"{sweep} is a sweep: a report shows one sweep alone (srop-onnx report {sweep} -o "
                             f"{output}), one track, or one profile or two side by side")
        from ..show.htmlreport import sweep_report
        from ..files.writes import atomic_write_text

        atomic_write_text(output, sweep_report(loaded[0], units=units or "band"))
    elif len(profiles) > 2:
        raise UsageError(f"{len(profiles)} profiles given: a report shows one profile, or two side by side; "
                         "for more, srop-onnx plot draws several profiles in one figure")
    else:
        _write_report(loaded, output, units)
    _console(stderr=True).print(f"wrote report: {output}", highlight=False)


@main.command(short_help="Write the randomized twin of a model (docs/baseline-and-twin.md).")
@click.argument("model", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write the twin (.onnx).")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed of the generator (>= 0).")
def randomize(model, output, seed):
    """Write the randomized twin of MODEL (docs/baseline-and-twin.md); MODEL itself is untouched."""
    from ..model.modelio import load_model_with_weights, save_model
    from ..show.report import safe
    from ..model.twin import randomize as make_twin
    from ..model.twin import require_changed

    from ..files.writes import guard_outputs

    guard_outputs({"-o": output}, model=model)
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
