"""Make the pictures of the README and docs from models a user can obtain.

    python docs/make_figures.py [--cache DIR]

1. ``docs/depth.png``: a real trained model against its randomized twin. The model is PaddleOCR's
   text-direction classifier (``ch_ppocr_mobile_v2.0_cls_infer.onnx``, a MobileNetV3 trained on
   text lines), shipped inside the ``rapidocr-onnxruntime`` package on PyPI: the script downloads
   that wheel with pip (no install) and takes the model out of it. Its inputs are 32 text lines
   rendered here (48 x 192, black words on white, as the model reads them).
2. ``docs/sweep.png``: the shipped example model over its 8 images with Gaussian noise.

Each figure's numbers (the verdict, the means) are printed for the captions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WHEEL = "rapidocr-onnxruntime==1.4.4"
MEMBER = "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"
WORDS = ("spectral roll off point feature map energy frequency convolution layer trained random model input "
         "noise blend image kernel channel depth sample ring band baseline pooling network weight").split()


#: the figures' size in the docs: 8 x 4.6 inches at 100 dpi (and the legend beside it) stays under 1,000 px wide, shown at about 830 px
README_SIZE = {"width": 8.0, "height": 4.6, "dpi": 100}


def fetch_model(cache: Path) -> Path:
    """The classifier from the rapidocr-onnxruntime wheel (downloaded once into ``cache``)."""
    model = cache / Path(MEMBER).name
    if model.exists():
        return model
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache), WHEEL],
                   check=True)
    wheel = next(cache.glob("rapidocr_onnxruntime-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        model.write_bytes(z.read(MEMBER))
    return model


def text_lines(folder: Path, count: int = 32) -> Path:
    """``count`` text lines of 48 x 192 pixels, as the classifier reads them."""
    from PIL import Image, ImageDraw, ImageFont

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    font = ImageFont.load_default(size=22)
    for i in range(count):
        img = Image.new("RGB", (192, 48), (255, 255, 255))
        words = " ".join(rng.choice(WORDS, 3))
        ImageDraw.Draw(img).text((int(rng.integers(2, 12)), int(rng.integers(8, 16))), words, fill=(0, 0, 0),
                                 font=font)
        img.save(folder / f"line_{i:02d}.png")
    return folder


def depth_figure(cache: Path) -> None:
    import srop_onnx

    model = fetch_model(cache)
    with tempfile.TemporaryDirectory() as tmp:
        lines = text_lines(Path(tmp) / "lines")
        trained, twin, verdict = srop_onnx.analyze_vs_random(model, lines, size=(48, 192), preprocess="symmetric",
                                                             seed=0)
    # drawn at the size the README shows it (about 830 px wide on GitHub), so its text stays readable
    fig = srop_onnx.plot.depth([trained, twin], units="input",
                               labels=["trained", "randomized twin"], size=README_SIZE)
    srop_onnx.plot.save_figure(fig, HERE / "depth.png")
    deep = [r for r in verdict["layers"] if r["deep"]]
    print(f"docs/depth.png: {len(trained.layers)} layers, {trained.analyzed} text lines")
    print(f"  verdict: {verdict['verdict']} - {verdict['summary']}")
    print(f"  deep layers: trained mean {np.mean([r['trained_mean'] for r in deep]):.3f}, "
          f"twin {np.mean([r['random_mean'] for r in deep]):.3f} (band units)")


def sweep_figure() -> None:
    import srop_onnx

    sw = srop_onnx.sweep(REPO / "models" / "example.onnx", REPO / "models" / "images", levels="0,0.25,...,2",
                         noise="gaussian", seed=0, change="top1")
    srop_onnx.plot.save_figure(srop_onnx.plot.sweep([sw], size=README_SIZE), HERE / "sweep.png")
    print(f"docs/sweep.png: {sw.to_dict()['verdict']['summary']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "srop-onnx-figures")
    args = ap.parse_args()
    depth_figure(args.cache)
    sweep_figure()


if __name__ == "__main__":
    main()
