"""Commands over labelled profiles (``analyze --labels``): classes, outliers, and the class-by-class
check that ``compare --by class`` runs. They parse options and call library functions (docs/datasets.md)."""

from __future__ import annotations

import click

from .common import EXIT_USAGE, _SEED, _Finite, _console, _load_profile, _report_to_ci, main


@main.command(short_help="Per-class SROPs of a labelled profile, and the classes that make each peak.")
@click.argument("profile", type=click.Path(dir_okay=False))
@click.option("--layers", metavar="REGEX", help="Only layers whose name matches.")
@click.option("--units", type=click.Choice(["band", "input"]), help="Units of the means [default: the profile's].")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write one row per layer and class (CSV).")
@click.option("--no-peaks", is_flag=True, help="Leave out the peaks and their classes.")
def classes(profile, layers, units, csv_path, no_peaks):
    """Print the mean per-sample SROP of every class in every layer (with counts) and the peaks of
    each layer's distribution with the classes that make them (e.g. "peak at 0.83: 893 of '1', 41
    others"). PROFILE was written by 'analyze --labels ... --json'."""
    from ..files.writes import guard_outputs
    from ..show.classview import render_classes

    guard_outputs({"--csv": csv_path}, protected={f"the profile {profile}": profile})
    stats = _load_profile(profile).by_class(units, layers=layers)
    render_classes(stats, _console(), peaks=not no_peaks)
    if csv_path:
        _write_frame_csv(stats.to_dataframe(), csv_path)


@main.command(short_help="Samples far from their own class (mislabelled, corrupt or out of distribution).")
@click.argument("profile", type=click.Path(dir_okay=False))
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True, help="How many samples to list.")
@click.option("--layers", metavar="REGEX", help="Only score these layers (a regex on layer names).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the listed samples (CSV).")
def outliers(profile, top, layers, csv_path):
    """List the samples whose per-layer SROPs are farthest from their own class's (a robust z-score
    per layer, median and MAD of the class, combined over layers), with the layers that make them odd."""
    from ..files.writes import guard_outputs
    from ..show.classview import render_outliers

    guard_outputs({"--csv": csv_path}, protected={f"the profile {profile}": profile})
    found = _load_profile(profile).outliers(top, layers=layers)
    render_outliers(found, _console())
    if csv_path:
        _write_frame_csv(found.to_dataframe(), csv_path)


def _write_frame_csv(frame, path) -> None:
    from ..files.writes import atomic_write_text
    from ..results.frames import spreadsheet_safe

    atomic_write_text(path, spreadsheet_safe(frame).to_csv(index=False, lineterminator="\n"))
    _console(stderr=True).print(f"wrote CSV: {path}", highlight=False)



def class_options(f):
    """``compare``'s options for ``--by class``."""
    for option in reversed([
        click.option("--by", type=click.Choice(["layer", "class"]), default="layer", show_default=True,
                     help="class: a dataset against a benchmark, class by class (labelled profiles; exit 1 when "
                          "they differ)."),
        click.option("--alpha", type=_Finite(0, 1, low_open=True), default=0.01, show_default=True,
                     help="--by class: the corrected p-value under which a class differs."),
        click.option("--min-effect", type=_Finite(0, None), default=0.01, show_default=True,
                     help="--by class: the smallest W1 (band units) that counts as a difference."),
        click.option("--permutations", type=click.IntRange(min=1), default=9999, show_default=True,
                     help="--by class: random splits of the permutation test."),
        click.option("--seed", type=_SEED, default=0, show_default=True, help="--by class: seed of the splits."),
        click.option("--layers", metavar="REGEX", help="--by class: only these layers."),
        click.option("--all", "show_all", is_flag=True, help="--by class: list every layer x class test."),
        click.option("--junit", "junit_path", type=click.Path(dir_okay=False),
                     help="--by class: write a JUnit XML report (a test case per class)."),
    ]):
        f = option(f)
    return f


def compare_by_class(ctx, a: str, b: str, o: dict) -> None:
    """``compare A B --by class``: print, write the JUnit file and job summary; exit 1 when they differ."""
    from ..files.writes import guard_outputs
    from ..results.classcompare import compare_classes
    from ..show.classview import class_annotations, class_junit, class_summary, render_class_comparison

    guard_outputs({"--junit": o["junit_path"]}, protected={f"the profile {a}": a, f"the profile {b}": b})
    result = compare_classes(_load_profile(a), _load_profile(b), alpha=o["alpha"], min_effect=o["min_effect"],
                             permutations=o["permutations"], seed=o["seed"], layers=o["layers"], names=(a, b))
    render_class_comparison(result, _console(), show_all=o["show_all"])
    _report_to_ci(ctx, result.passed or not result.decided, o["junit_path"], lambda: class_junit(result),
                  lambda: class_annotations(result), class_summary(result))
    if not result.decided:  # nothing differs only because nothing could: not a pass CI should trust
        click.echo(f"error: {a} vs {b}: no test could show a difference, which is not a pass (CANNOT TELL above)",
                   err=True)
        ctx.exit(EXIT_USAGE)
