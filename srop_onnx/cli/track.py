"""Command line: ``srop-onnx track``, SROP profiles of a model's training checkpoints (a face over
:mod:`srop_onnx.run.tracking`)."""

from __future__ import annotations

import click

from .common import _console, main
from .models import _execution, _hooks, _measurement, _options, _MEASURE_OPTIONS, _RUN_OPTIONS, _SHARD_OPTION, _tap_options
from ..errors import UsageError

__all__ = ["track"]


def _steps(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(s) for s in text.replace(" ", "").split(",") if s != ""]
    except ValueError:
        raise UsageError(f"--steps {text!r}: give whole numbers separated by commas (0,1,5,...)") from None


def _example(text: str | None):
    """``--example-shape N,C,H,W`` as a zero batch (float32; a torch tensor when PyTorch exports it)."""
    if text is None:
        return None
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        shape = ()
    if not shape or any(d < 1 or d > 65536 for d in shape) or len(shape) > 6:
        raise UsageError(f"--example-shape {text!r}: give the input's dimensions, batch first (e.g. 1,3,224,224)")
    try:
        import torch
    except ImportError:
        raise UsageError("--example-shape: PyTorch is not installed; it is what reads and exports .pt/.ckpt "
                         "checkpoints (pip install torch)") from None
    return torch.zeros(shape)


def _guard_folder(out: str, given: list[str]) -> None:
    """The track folder is never one of the user's input or checkpoint folders, nor inside one."""
    from pathlib import Path

    from ..files.remote import is_url

    if is_url(out):  # a prefix in a bucket: never at or under an input prefix
        for g in (g for g in given if is_url(g)):
            if (out.rstrip("/") + "/").startswith(g.rstrip("/") + "/") and not g.lower().endswith(".onnx"):
                raise UsageError(f"-o {out}: is inside {g}, which holds your inputs or checkpoints; write the track "
                                 "to another prefix")
        return
    target = Path(out).resolve()
    for g in (g for g in given if not is_url(g)):
        p = Path(g).resolve()
        if p.is_dir() and (target == p or p in target.parents):
            raise UsageError(f"-o {out}: is inside {g}, which holds your inputs or checkpoints; write the track "
                             "to another folder")


@main.command(short_help="Profile a model's training checkpoints into a track folder.")
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--inputs", "inputs", multiple=True, required=True, type=click.Path(path_type=str),
              help="Images, arrays or folders to analyse every checkpoint on (repeatable); decoded once.")
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False, path_type=str),
              help="The track folder: profiles/ and track.json (running again adds new steps).")
@click.option("--steps", metavar="S,S,...", help="The step of each checkpoint [default: the last number in its name].")
@click.option("--tensorboard", metavar="LOGDIR", type=click.Path(file_okay=False, path_type=str),
              help="Also write TensorBoard events (scalars and exact histograms) here.")
@click.option("--name", metavar="TEXT", help="Name the run (the report's title); a track has one name.")
@click.option("--model-factory", metavar="MODULE:FUNCTION",
              help="For PyTorch .pt/.pth/Lightning .ckpt checkpoints: the function (or class) that builds the network "
                   "their weights go into (.keras files need none).")
@click.option("--example-shape", metavar="N,C,H,W",
              help="For PyTorch checkpoints: the shape of the example input they are exported from (zeros).")
@_tap_options
@_options(_MEASURE_OPTIONS)
@_options([o for o in _RUN_OPTIONS if o is not _SHARD_OPTION])  # a track step is one whole run
def track(checkpoints, inputs, out, steps, tensorboard, name, model_factory, example_shape, **o):
    """Analyse every CHECKPOINT (ONNX files, or folders of them; also a framework's own: .keras, and
    PyTorch .pt/.pth or Lightning .ckpt with --model-factory) on the same inputs and write a track:
    one profile per step and track.json. Steps already in OUT are skipped.

    \b
    Examples:
      srop-onnx track checkpoints/ --inputs val/ -o track/
      srop-onnx track e0.onnx e5.onnx e10.onnx --inputs val/ -o track/ --tensorboard runs/srop
      srop-onnx track ckpts/ --model-factory mynets:make_net --example-shape 1,1,32,32 --inputs val/ -o track/
      srop-onnx plot track/track.json --kind heatmap -o heatmap.png
    """
    from dataclasses import replace

    from ..run.tracking import track as run_track
    from ..show.report import ProgressHook
    from ..show.trackview import render_track

    o["shard"] = None
    _guard_folder(out, list(inputs) + list(checkpoints))
    measure, how = _measurement(o), _execution(o)
    hooks = _hooks(o)
    bar = ProgressHook(None if o["quiet"] else _console(stderr=True))
    hooks = replace(hooks, progress=bar)
    options = {**{k: getattr(measure, k) for k in measure.__dataclass_fields__},
               **{k: getattr(how, k) for k in how.__dataclass_fields__},
               "progress": bar, "notify": hooks.notify, "detail": hooks.detail}
    try:
        result = run_track(list(checkpoints), list(inputs), out, steps=_steps(steps), tensorboard=tensorboard,
                           name=name, model_factory=model_factory, example=_example(example_shape), **options)
    finally:
        bar.stop()
    if not o["quiet"]:
        render_track(result, _console(), o["units"])
    _console(stderr=True).print(f"wrote track: {out.rstrip('/')}/track.json ({len(result.steps)} steps)",
                                highlight=False)
