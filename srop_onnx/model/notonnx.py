"""What to say when the model given is not an ONNX file: a framework's own file (a PyTorch
checkpoint, a Keras or TFLite file, a TensorFlow or Paddle model) or a folder (a SavedModel, a
folder holding the .onnx file, a folder of inputs given where the model goes). Each says how to
get the .onnx file srop-onnx reads, in one clause for the end of an error line."""

from __future__ import annotations

import os
from pathlib import Path

from ..files.filetypes import INPUT_SUFFIXES

__all__ = ["file_hint", "folder_hint"]

_TF2ONNX = "python -m tf2onnx.convert"
#: a suffix of a framework's file, and how to make an ONNX model of it ({path}: the file)
_FRAMEWORK_FILES = {
    (".pt", ".pth", ".ckpt", ".bin", ".safetensors"):
        "a PyTorch file; export the network to ONNX first: torch.onnx.export(model, (example,), 'model.onnx') "
        "(a folder of training checkpoints: srop-onnx track --model-factory)",
    (".keras", ".h5", ".hdf5"): "a Keras file; convert it to ONNX first with tf2onnx (tf2onnx.convert.from_keras "
                                "in Python)",
    (".tflite",): f"a TensorFlow Lite file; convert it to ONNX first: {_TF2ONNX} --tflite {{path}} --output "
                  "model.onnx",
    (".pb",): f"a TensorFlow graph; convert it to ONNX first: {_TF2ONNX} --saved-model FOLDER (or --graphdef "
              "{path} with --inputs and --outputs) --output model.onnx",
    (".pdmodel", ".pdiparams"): "a Paddle model; convert it to ONNX first: paddle2onnx --model_dir {folder} "
                                "--model_filename inference.pdmodel --params_filename inference.pdiparams "
                                "--save_file model.onnx",
    (".mlmodel",): "a Core ML model; convert it to ONNX first (onnxmltools.convert_coreml)",
}


def file_hint(path) -> str | None:
    """How to make an ONNX model of ``path`` when its suffix is a framework's (else None)."""
    p = Path(str(path))
    for suffixes, hint in _FRAMEWORK_FILES.items():
        if p.suffix.lower() in suffixes:
            return hint.format(path=p, folder=p.parent)
    return None


def folder_hint(folder: Path, limit: int = 2000) -> str:
    """What ``folder``, given where a model file goes, is, and what to give instead: the .onnx file
    inside it, a SavedModel or Paddle model converted first, or, for a folder of inputs, the
    model first. Looks at ``limit`` entries at most."""
    if (folder / "saved_model.pb").is_file():
        return (f"is a TensorFlow SavedModel, not an ONNX model; convert it first: {_TF2ONNX} --saved-model "
                f"{folder} --output model.onnx")
    onnx, inputs, paddle = [], 0, False
    try:
        with os.scandir(folder) as entries:
            for n, entry in enumerate(entries):
                if n >= limit:
                    break
                suffix = os.path.splitext(entry.name)[1].lower()
                if suffix == ".onnx":
                    onnx.append(entry.name)
                inputs += suffix in INPUT_SUFFIXES
                paddle = paddle or suffix == ".pdmodel"
    except OSError:
        pass
    if onnx:
        return f"is a folder; give the .onnx file inside it ({', '.join(str(folder / n) for n in sorted(onnx)[:3])})"
    if paddle:
        return "is a folder: " + file_hint(folder / "inference.pdmodel")
    if inputs:
        return "is a folder of inputs; the model comes first, then the inputs"
    return "is a folder; give the path of an .onnx model file"
