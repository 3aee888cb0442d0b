"""A PyTorch module or a Keras model given to the Python facades is exported to ONNX in memory and
measured as its .onnx file would be; ONNX objects in memory reach the randomized twin too."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import srop_onnx
from conftest import EXAMPLE, EXAMPLE_IMAGES, assert_matches_reference
from srop_onnx import UsageError

torch = pytest.importorskip("torch", reason="needs the frameworks: pip install torch==2.13.0 -e '.[frameworks]'")


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Conv2d(8, 8, 3, padding=1))


def test_a_torch_module_is_measured_as_its_export_is(rng, tmp_path):
    net = _net()
    x = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
    prof = srop_onnx.analyze(net, x, progress=False)
    assert [lay.name for lay in prof.layers] == ["0", "2", "3"]  # the module's own names
    assert prof.model["path"].endswith("Sequential.onnx")
    path = tmp_path / "net.onnx"  # exported here, independently, to read the activations from
    torch.onnx.export(net.eval(), (torch.from_numpy(x[:1]),), str(path), dynamo=False, input_names=["input"],
                      dynamic_axes={"input": {0: "batch"}})
    assert_matches_reference(prof, path, x, "input")
    assert srop_onnx.analyze(net, torch.from_numpy(x), progress=False).to_dict()["layers"] == prof.to_dict()["layers"]
    net.train()  # exported in eval mode, and given back as it was
    srop_onnx.analyze(net, x, progress=False)
    assert net.training  # left as it was


def test_a_float64_batch_exports_the_module_in_its_weights_type(rng):
    """NumPy's default float64 is fed to a float32 module as float32, as ONNX Runtime is then fed."""
    net = _net()
    x = rng.standard_normal((3, 3, 16, 16))
    prof = srop_onnx.analyze(net, x, progress=False)
    assert prof.to_dict()["layers"] == srop_onnx.analyze(net, x.astype(np.float32), progress=False).to_dict()["layers"]


def test_a_module_over_images_needs_an_example_batch():
    net = _net()
    images = [Image.open(p) for p in sorted(EXAMPLE_IMAGES.glob("*.png"))[:2]]
    with pytest.raises(UsageError, match=r"a torch.nn.Module is exported to ONNX from an example batch: give "
                                         r"example= \(e.g. torch.zeros\(1, 3, 224, 224\)\), or inputs as an array batch"):
        srop_onnx.analyze(net, images, progress=False)
    prof = srop_onnx.analyze(net, images, example=torch.zeros(1, 3, 64, 64), progress=False)
    assert prof.layers[0].shape == [8, 64, 64] and len(prof.sources) == 2


def test_a_module_over_a_data_loader_is_exported_from_its_first_sample(rng):
    from torch.utils.data import DataLoader, TensorDataset

    net = _net()
    x = torch.from_numpy(rng.standard_normal((6, 3, 32, 32)).astype(np.float32))
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    whole = srop_onnx.analyze(net, x.numpy(), labels=y.numpy(), progress=False)
    for inputs in (DataLoader(TensorDataset(x, y), batch_size=4), TensorDataset(x, y), list(x.numpy()[:, None])):
        prof = srop_onnx.analyze(net, inputs, progress=False)  # batches, samples with targets, batches of one
        assert prof.to_dict()["layers"] == whole.to_dict()["layers"]
    assert srop_onnx.analyze(net, TensorDataset(x, y), progress=False).labels == whole.labels
    with pytest.raises(UsageError, match=r"exported to ONNX from an example batch: give example="):
        srop_onnx.analyze(net, list(x.numpy()), progress=False)  # 3-D items: samples of images, or 1-D batches?


def test_a_tracker_exports_a_module_from_its_inputs_first_sample(rng, tmp_path):
    from torch.utils.data import DataLoader, TensorDataset

    net = _net()
    x = rng.standard_normal((4, 3, 32, 32))  # float64, as NumPy makes it: fed in the weights' type
    by_hand = srop_onnx.Tracker(None, x, progress=False)
    by_hand.add(0, net, example=torch.zeros(1, 3, 32, 32))
    for inputs in (x, DataLoader(TensorDataset(torch.from_numpy(x).float(), torch.zeros(4)), batch_size=2)):
        tracker = srop_onnx.Tracker(None, inputs, progress=False)
        tracker.add(0, net)  # no example=
        assert tracker.track().profiles[0].to_dict()["layers"] == by_hand.track().profiles[0].to_dict()["layers"]
    with pytest.raises(UsageError, match=r"a torch.nn.Module needs an example input to export"):
        srop_onnx.Tracker(None, EXAMPLE_IMAGES, progress=False).add(0, net)  # images: preprocessed for a model


def test_sweeps_and_the_twin_take_modules_and_onnx_objects(rng):
    import onnx

    net = _net()
    x = rng.standard_normal((3, 3, 32, 32)).astype(np.float32)
    sweep = srop_onnx.sweep(net, x, levels="0,1", noise="gaussian", progress=False)
    assert sweep.points[0].profile.to_dict()["layers"] == srop_onnx.analyze(net, x, progress=False).to_dict()["layers"]
    trained, twin, verdict = srop_onnx.analyze_vs_random(net, x, progress=False)
    assert verdict["reinitialised"]["changed"] == 2
    from_proto = srop_onnx.analyze_vs_random(onnx.load(EXAMPLE), EXAMPLE_IMAGES, progress=False)
    from_path = srop_onnx.analyze_vs_random(EXAMPLE, EXAMPLE_IMAGES, progress=False)
    assert from_proto[1].to_dict()["layers"] == from_path[1].to_dict()["layers"]  # the same twin


def test_what_is_not_a_model_says_what_is():
    class Net:
        pass

    with pytest.raises(UsageError, match=r"model: a path, ONNX bytes, an onnx.ModelProto, a torch.nn.Module or a "
                                         r"Keras 3 model, got .*Net"):
        srop_onnx.analyze(Net(), np.zeros((1, 3, 8, 8), np.float32))
