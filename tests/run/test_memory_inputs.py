"""Inputs held in memory as lists, as a notebook has them: PIL images (preprocessed as image files
are) and arrays or tensors (each a sample or a batch)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import srop_onnx
from conftest import EXAMPLE, EXAMPLE_IMAGES
from srop_onnx import InputDataError, UsageError

FILES = sorted(EXAMPLE_IMAGES.glob("*.png"))


def _layers(profile) -> list:
    return profile.to_dict()["layers"]


def _analyze(inputs, **options):
    return srop_onnx.analyze(EXAMPLE, inputs, progress=False, **options)


@pytest.fixture(scope="module")
def from_files():
    return _analyze(FILES)


def test_pil_images_measure_what_their_files_measure(from_files):
    images = [Image.open(f) for f in FILES]
    prof = _analyze(images)
    assert _layers(prof) == _layers(from_files)
    assert prof.settings == from_files.settings  # the same preprocessing, recorded
    assert prof.sources == [f"image[{i}]" for i in range(len(FILES))]
    one = _analyze(Image.open(FILES[3]))  # one image, as one path is one file
    assert _layers(one) == _layers(_analyze(FILES[3]))


def test_an_image_is_turned_upright_by_its_exif_orientation_as_a_file_is(rng, tmp_path):
    pixels = rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)
    tagged = Image.fromarray(pixels)
    exif = tagged.getexif()
    exif[0x0112] = 6  # stored lying on its side: shown turned 90 degrees clockwise
    tagged.save(tmp_path / "tagged.png", exif=exif)
    upright = Image.fromarray(np.rot90(pixels, k=-1).copy())  # what a viewer shows: 80 x 48
    assert _layers(_analyze([Image.open(tmp_path / "tagged.png")])) == _layers(_analyze([upright]))
    assert _layers(_analyze(tmp_path / "tagged.png")) == _layers(_analyze([upright]))
    assert _layers(_analyze([Image.fromarray(pixels)])) != _layers(_analyze([upright]))


def test_a_list_of_arrays_is_its_samples_and_batches_in_order(rng):
    x = rng.standard_normal((5, 3, 64, 64)).astype(np.float32)
    whole = _analyze(x)
    assert _layers(_analyze(list(x))) == _layers(whole)
    assert _layers(_analyze([x[:2], x[2], x[3:]])) == _layers(whole)
    assert _analyze([x[:2], x[2], x[3:]]).sources == [f"array[{i}]" for i in range(5)]
    torch = pytest.importorskip("torch", reason="needs PyTorch: pip install torch")
    assert _layers(_analyze([torch.from_numpy(r) for r in x])) == _layers(whole)


def test_path_label_pairs_are_the_paths_labelled_one_per_file(from_files):
    """A list of (path, label) pairs (ImageFolder.samples, list(zip(paths, labels))) or a data set of
    them is the paths, labelled by place: as analyze(paths, labels=[...]); labels= wins, with a note."""
    classes = [f.stem.split("_")[0] for f in FILES]
    expected = _analyze(FILES, labels=classes)
    prof = _analyze(list(zip(FILES, classes)))
    assert _layers(prof) == _layers(from_files) and prof.sources == from_files.sources and prof.labels == classes
    assert prof.labels == expected.labels

    class Samples:  # a map-style data set of (path, class index), as torchvision's ImageFolder gives them
        def __len__(self):
            return len(FILES)

        def __getitem__(self, i):
            return str(FILES[i]), np.int64(sorted(set(classes)).index(classes[i]))

    indexed = _analyze(Samples())
    assert indexed.labels == [str(sorted(set(classes)).index(c)) for c in classes] and _layers(indexed) == _layers(prof)
    assert _analyze(list(zip(FILES, classes)), shard=(2, 2)).labels == classes[4:]
    notes = []
    assert _analyze(list(zip(FILES, classes)), labels=["x"] * 8, notify=notes.append).labels == ["x"] * 8
    assert notes[0] == "note: labels= given: the labels of the (path, label) pairs are not used"
    assert _analyze(list(zip(FILES, classes)), limit=3).labels == classes[:3]


def test_a_data_loader_of_path_label_pairs_gives_its_files_and_labels():
    """PyTorch's DataLoader collates (path, class) pairs into a tuple of paths and a tensor of classes."""
    torch = pytest.importorskip("torch", reason="needs the frameworks: pip install torch==2.13.0 -e '.[frameworks]'")
    classes = [i % 3 for i in range(len(FILES))]

    class Files(torch.utils.data.Dataset):
        def __len__(self):
            return len(FILES)

        def __getitem__(self, i):
            return str(FILES[i]), classes[i]

    loader = torch.utils.data.DataLoader(Files(), batch_size=3)
    prof = _analyze(loader)
    assert prof.labels == [str(c) for c in classes] and prof.to_dict()["layers"] == _analyze(FILES).to_dict()["layers"]
    assert _analyze(loader, limit=4).labels == [str(c) for c in classes[:4]]


def test_path_label_pairs_go_to_sweeps_trackers_and_the_twin(tmp_path):
    classes = [f.stem.split("_")[0] for f in FILES[:4]]
    pairs = list(zip(FILES[:4], classes))
    a = srop_onnx.sweep(EXAMPLE, pairs, levels="0,1", noise="gaussian", progress=False)
    b = srop_onnx.sweep(EXAMPLE, FILES[:4], levels="0,1", noise="gaussian", progress=False)
    assert [_layers(p.profile) for p in a.points] == [_layers(p.profile) for p in b.points]
    trained, _twin, _verdict = srop_onnx.analyze_vs_random(EXAMPLE, pairs, progress=False)
    assert trained.labels == classes and _layers(trained) == _layers(_analyze(FILES[:4]))
    import onnx

    tracker = srop_onnx.Tracker(tmp_path / "track", pairs, progress=False)
    tracker.add(0, onnx.load(EXAMPLE))
    assert srop_onnx.Track.load(tmp_path / "track").profiles[0].labels == classes


@pytest.mark.parametrize("inputs, message", [
    (None, r"inputs: None is not something to analyse; give image/array files"),
    (5, r"inputs: a value of type int is not something to analyse"),
    ({"image": np.zeros((1, 3, 64, 64))}, r"inputs: a value of type dict is not"),
    ([1, 2], r"inputs\[0\]: a value of type int is not something to analyse"),
    ([np.zeros((3, 64, 64)), "a.png"], r"a list of arrays with paths in it \(inputs\[1\]: a value of type str\); "
                                       r"give one kind: paths, PIL images or arrays"),
    (["a.png", Image.new("RGB", (8, 8))], r"a list of paths with PIL images in it \(inputs\[1\]: a value of type Image\)"),
])
def test_what_cannot_be_an_input_is_refused_in_one_line(inputs, message):
    with pytest.raises(UsageError, match=message):
        _analyze(inputs)


def test_a_data_loader_s_batches_with_targets_are_inputs_labelled_by_their_targets(rng):
    x = rng.standard_normal((6, 3, 64, 64)).astype(np.float32)
    y = np.array([0, 1, 0, 1, 2, 2])
    by_hand = _analyze(list(x), labels=y)
    pairs = [(x[:4], y[:4]), (x[4:], y[4:])]  # what a DataLoader over (input, target) yields
    prof = _analyze(pairs)
    assert prof.labels == ["0", "1", "0", "1", "2", "2"] == by_hand.labels
    assert _layers(prof) == _layers(_analyze(x)) and prof.sources == by_hand.sources
    samples = [(x[i], int(y[i])) for i in range(6)]  # what a map-style data set yields, item by item
    assert _analyze(samples).labels == by_hand.labels
    given = _analyze(pairs, labels=list("abcdef"))  # labels= given wins over the targets
    assert given.labels == list("abcdef")
    keras = _analyze((x, y))  # Keras' validation_data=(x_val, y_val): one batch and its targets
    assert keras.labels == by_hand.labels and _layers(keras) == _layers(by_hand)
    two = _analyze((x[:3], x[3:]))  # a tuple of two batches stays two batches
    assert two.labels is None and _layers(two) == _layers(by_hand)


def test_a_torch_data_set_and_loader_are_read_as_a_training_loop_reads_them(rng):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.from_numpy(rng.standard_normal((10, 3, 64, 64)).astype(np.float32))
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    by_hand = _analyze(x.numpy(), labels=y.numpy())
    for inputs in (DataLoader(TensorDataset(x, y), batch_size=4), TensorDataset(x, y)):  # a Dataset has no __iter__
        prof = _analyze(inputs)
        assert _layers(prof) == _layers(by_hand) and prof.labels == by_hand.labels
    alone = _analyze(DataLoader(TensorDataset(x), batch_size=4))  # inputs alone: [batch] lists, no targets
    assert _layers(alone) == _layers(by_hand) and alone.labels is None


def test_a_data_loader_is_read_once_a_call_and_only_as_far_as_the_limit(rng, tmp_path):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, Dataset

    x = rng.standard_normal((40, 3, 64, 64)).astype(np.float32)
    reads = []

    class Counted(Dataset):
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            reads.append(i)
            return torch.from_numpy(x[i]), i % 3

    prof = _analyze(Counted(), limit=5)  # by index: exactly the first 5
    assert reads == [0, 1, 2, 3, 4] and _layers(prof) == _layers(_analyze(x[:5]))
    reads.clear()
    prof = _analyze(DataLoader(Counted(), batch_size=8), limit=10)  # whole batches, until 10 samples are in
    assert reads == list(range(16)) and prof.labels == [str(i % 3) for i in range(10)]
    reads.clear()

    class Alone(Counted):  # inputs without targets: the loader's batch_size tells a batch's count
        def __getitem__(self, i):
            return super().__getitem__(i)[0]

    prof = _analyze(DataLoader(Alone(), batch_size=4), limit=6)
    assert reads == list(range(8)) and _layers(prof) == _layers(_analyze(x[:6]))  # was all 40, a batch counted as one
    reads.clear()
    prof = _analyze(DataLoader(Alone(), batch_size=None), limit=3)  # a loader of samples: each counts one
    assert reads == [0, 1, 2] and _layers(prof) == _layers(_analyze(x[:3]))
    reads.clear()
    shuffled = DataLoader(Counted(), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0))
    trained, twin, _ = srop_onnx.analyze_vs_random(EXAMPLE, shuffled, limit=8, progress=False)
    assert len(reads) == 8 and trained.labels == twin.labels  # one read: both models see the same samples
    reads.clear()
    tracker = srop_onnx.Tracker(tmp_path / "track", DataLoader(Counted(), batch_size=4), limit=8, progress=False)
    for step in range(3):
        tracker.add(step, EXAMPLE)
    assert len(reads) == 8 and list(tracker.track().steps) == [0, 1, 2]


def test_a_loader_of_batches_alone_that_does_not_say_so_is_read_by_the_model_s_sample_rank(rng, tmp_path):
    """A ``tf.data`` pipeline (or a generator) of image batches without targets says neither that it
    yields batches nor how many rows each holds: each batch counted as one sample, so ``limit=8`` read
    eight batches of 4 (and ``limit=512`` 512 batches of 32). A batch has one axis more than a sample
    of the model's input, as the run reads it; samples still count one each."""
    x = rng.standard_normal((40, 3, 64, 64)).astype(np.float32)
    yielded = []

    def batches(size=4):
        for i in range(0, len(x), size):
            yielded.append(i)
            yield x[i:i + size]

    prof = _analyze(batches(), limit=8)
    assert yielded == [0, 4] and prof.analyzed == 8 and _layers(prof) == _layers(_analyze(x[:8]))
    yielded.clear()
    prof = _analyze(batches(3), limit=5)  # whole batches until 5 are in: 6 read, 5 analysed
    assert yielded == [0, 3] and prof.analyzed == 5
    yielded.clear()

    def samples():
        for i in range(len(x)):
            yielded.append(i)
            yield x[i]

    prof = _analyze(samples(), limit=3)
    assert yielded == [0, 1, 2] and _layers(prof) == _layers(_analyze(x[:3]))
    yielded.clear()
    trained, twin, _ = srop_onnx.analyze_vs_random(EXAMPLE, batches(), limit=8, progress=False)
    assert yielded == [0, 4] and trained.analyzed == twin.analyzed == 8
    yielded.clear()
    sw = srop_onnx.sweep(EXAMPLE, batches(), levels="0,1", noise="gaussian", limit=8, progress=False)
    assert yielded == [0, 4] and sw.points[-1].profile.analyzed == 8


class _Pipeline:
    """A loader of batches alone that can be read again (as a ``tf.data`` pipeline can) and says
    neither that it yields batches nor how many rows each holds; ``yielded``: each batch's first row."""

    def __init__(self, x, size: int = 4):
        self.x, self.size, self.yielded = x, size, []

    def __iter__(self):
        for i in range(0, len(self.x), self.size):
            self.yielded.append(i)
            yield self.x[i:i + self.size]


def test_a_tracker_reads_a_loader_of_batches_alone_as_far_as_the_first_model_s_samples(rng, tmp_path):
    """A Tracker has no model when it is made: a loader of batches alone with ``limit=8`` was read as
    eight batches (with ``limit=512`` of a pipeline of 32-image batches, 16,384 images, refused by the
    memory guard). It is read at the first step, once, as that model's samples say."""
    x = rng.standard_normal((40, 3, 64, 64)).astype(np.float32)
    data = _Pipeline(x)
    tracker = srop_onnx.Tracker(tmp_path / "track", data, limit=8, progress=False)
    assert data.yielded == [0]  # its first item alone: a batch or a sample, only a model can tell
    first = tracker.add(0, EXAMPLE)
    tracker.add(1, EXAMPLE)
    assert data.yielded == [0, 0, 4]  # read again at the first step, as far as 8 samples; not at the second
    assert first.analyzed == 8 and _layers(first) == _layers(_analyze(x[:8]))
    once = (b for b in [x[:4], x[4:8], x[8:12]])  # a generator cannot be read again: read whole now, as before
    assert srop_onnx.Tracker(None, once, limit=8, progress=False).add(0, EXAMPLE).analyzed == 8


def test_a_framework_model_says_what_one_of_its_samples_is_before_it_is_exported(rng):
    """A Keras model's input, or a torch module's example batch, tells a loader's batches from its
    samples, as an ONNX model's input does (before, a loader of batches alone was read as far as
    ``limit`` batches for them)."""
    keras = pytest.importorskip("keras")
    x = rng.standard_normal((40, 16, 16, 3)).astype(np.float32)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3), keras.layers.MaxPooling2D()])
    data = _Pipeline(x)
    prof = srop_onnx.analyze(model, data, limit=6, progress=False)
    assert data.yielded == [0, 4] and prof.analyzed == 6
    data = _Pipeline(x)
    tracker = srop_onnx.Tracker(None, data, limit=6, progress=False)
    assert tracker.add(0, model).analyzed == 6 and data.yielded == [0, 0, 4]
    from srop_onnx.run.stages import rank_before_export

    assert rank_before_export(model, "keras") == 3
    assert rank_before_export(keras.Sequential([keras.layers.Dense(2)]), "keras") is None  # never built
    assert rank_before_export(object(), "torch", np.zeros((1, 3, 8, 8))) == 3
    assert rank_before_export(object(), "torch") is None


def test_a_torch_module_without_an_example_reads_batches_alone_as_far_as_the_limit(rng, tmp_path):
    """A torch module given no ``example=`` is exported from the loader's first row, where its first
    item has the axes of a batch (N, C, H, W): so the items are batches, and the reading stops once
    ``limit`` samples are in (before, each item counted as one sample: ``limit=6`` read six batches)."""
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.MaxPool2d(2)).eval()
    x = rng.standard_normal((40, 3, 16, 16)).astype(np.float32)
    data = _Pipeline(torch.from_numpy(x))
    prof = srop_onnx.analyze(net, data, limit=6, progress=False)
    assert data.yielded == [0, 4] and prof.analyzed == 6
    assert _layers(prof) == _layers(srop_onnx.analyze(net, x[:6], progress=False))
    yielded = []

    def batches():
        for i in range(0, len(x), 4):
            yielded.append(i)
            yield x[i:i + 4]

    assert srop_onnx.analyze(net, batches(), limit=5, progress=False).analyzed == 5 and yielded == [0, 4]
    data = _Pipeline(x)
    tracker = srop_onnx.Tracker(tmp_path / "track", data, limit=6, progress=False)
    assert tracker.add(0, net).analyzed == 6 and tracker.add(1, net).analyzed == 6
    assert data.yielded == [0, 0, 4]  # its first item when made, then once as far as 6 samples
    from srop_onnx.inputs.memory import rank_by_shape

    assert rank_by_shape(x[:4]) == 3 and rank_by_shape(x[0]) is None and rank_by_shape([1, 2]) is None
    signals = rng.standard_normal((40, 2, 64)).astype(np.float32)  # batches of 1-D signals: not a batch by shape
    net1d = torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3), torch.nn.MaxPool1d(2)).eval()
    data = _Pipeline(signals)
    with pytest.raises(UsageError, match=r"^a torch.nn.Module is exported to ONNX from an example batch: give example="):
        srop_onnx.analyze(net1d, data, limit=8, progress=False)
    assert data.yielded == [0]  # refused at its first item, not after reading 8
    assert srop_onnx.analyze(net1d, _Pipeline(signals), limit=8, example=signals[:1], progress=False).analyzed == 8
    data = _Pipeline(signals)
    tracker = srop_onnx.Tracker(None, data, limit=8, progress=False)
    with pytest.raises(UsageError, match=r"needs an example input to export: Tracker.add\(step, model, example=batch\)"):
        tracker.add(0, net1d)
    assert data.yielded == [0, 0]  # its first item when made, then its first item again, and no further


def test_a_data_loader_larger_than_half_the_free_memory_is_refused_while_it_is_read(rng, tmp_path, monkeypatch):
    """A loader is held in memory while it is measured: ImageNet's validation split through a DataLoader
    is 30 GB of float32. Reading stops, in one line that says to give limit=, once what it gave takes
    over half the memory free (not after the machine starts to swap or the process is killed)."""
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    from srop_onnx.run import runtime

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 4000 kB\nMemAvailable: 1000 kB\n")  # 1000 kB free: 500 kB for the inputs
    monkeypatch.setattr(runtime, "MEMINFO", str(meminfo))
    x = torch.from_numpy(rng.standard_normal((400, 3, 64, 64)).astype(np.float32))  # 48 kB a sample
    seen = []

    class Seen(TensorDataset):
        def __getitem__(self, i):
            seen.append(i)
            return super().__getitem__(i)

    said = (r"^inputs: the first 16 samples read from the DataLoader already take 0\.8 MiB, over half the memory "
            r"free here; what is read is held while it is measured: give limit \(e\.g\. limit=8\), or the image or "
            r"array files themselves")
    with pytest.raises(srop_onnx.UsageError, match=said):
        _analyze(DataLoader(Seen(x), batch_size=8))
    assert len(seen) == 16  # two batches read, not the 400 samples
    with pytest.raises(srop_onnx.UsageError, match=said):
        srop_onnx.Tracker(tmp_path / "track", DataLoader(Seen(x), batch_size=8), progress=False)
    prof = _analyze(DataLoader(Seen(x), batch_size=8), limit=8)  # what it says to do
    assert prof.analyzed == 8
    assert _analyze([x[:16].numpy()]).analyzed == 16  # a list is the caller's, held already: not counted


def test_reading_a_loader_tells_its_progress_and_ends_it():
    from srop_onnx.inputs.memory import take

    heard = []
    batches = [np.zeros((2, 3, 8, 8), np.float32)] * 3
    assert len(take(iter(batches), None, None, lambda *a: heard.append(a))) == 3
    assert heard == [(1, None), (2, None), (3, None), (3, 3)]  # one sample a batch: the iterator does not say
    heard.clear()
    assert len(take(iter(batches), 2, None, lambda *a: heard.append(a))) == 2
    assert heard == [(1, 2), (2, 2)]
    heard.clear()
    assert take(batches, 2, None, lambda *a: heard.append(a)) == batches and heard == []  # a list: held, not read


def test_a_keras_py_dataset_of_inputs_alone_is_read_only_as_far_as_the_limit(rng):
    """Keras' PyDataset yields batches (its items have no targets here): counted by their rows, as
    PyTorch's batches are, not one a batch."""
    keras = pytest.importorskip("keras")
    x = rng.standard_normal((40, 3, 64, 64)).astype(np.float32)
    reads = []

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            reads.append(i)
            return x[4 * i:4 * i + 4]

    prof = _analyze(Batches(), limit=6)
    assert reads == [0, 1] and _layers(prof) == _layers(_analyze(x[:6]))


def test_a_tf_data_set_of_batches_with_targets_is_read_as_keras_fit_reads_it(rng):
    tf = pytest.importorskip("tensorflow")
    x = rng.standard_normal((10, 3, 64, 64)).astype(np.float32)
    y = np.arange(10) % 3
    prof = _analyze(tf.data.Dataset.from_tensor_slices((x, y)).batch(4))
    by_hand = _analyze(x, labels=y)
    assert _layers(prof) == _layers(by_hand) and prof.labels == by_hand.labels


def test_rows_of_a_data_set_with_an_image_and_a_label_are_labelled_images():
    rows = [{"image": Image.open(f), "label": f.stem.split("_")[0]} for f in FILES]  # a Hugging Face dataset's rows
    prof = _analyze(rows)
    by_hand = _analyze(FILES, labels=[r["label"] for r in rows])
    assert _layers(prof) == _layers(by_hand) and prof.labels == by_hand.labels == [f.stem.split("_")[0] for f in FILES]
    batch = {"pixel_values": np.zeros((2, 3, 64, 64), np.float32), "labels": np.array([3, 4])}  # a collated batch
    assert _analyze([batch]).labels == ["3", "4"]


def test_targets_that_are_not_one_class_per_sample_are_left_out_with_a_note(rng):
    x = rng.standard_normal((4, 3, 64, 64)).astype(np.float32)
    notes = []
    one_hot = np.eye(3)[[0, 1, 2, 0]]
    prof = _analyze([(x, one_hot)], notify=notes.append)
    assert prof.labels is None and _layers(prof) == _layers(_analyze(x))
    assert any("targets are not one class per sample (shape (4, 3) for 4 sample(s))" in n for n in notes)
    notes.clear()
    rows = [{"x": x[0], "y": 1}, {"x": x[1]}]  # a row without a target
    assert _analyze(rows, notify=notes.append).labels is None and any("without a target" in n for n in notes)


def test_a_target_s_followers_keras_sample_weights_or_an_index_are_not_used(rng):
    """Keras reads ``(x, y, sample_weight)`` from a data set or as ``validation_data``, and a data set
    may yield ``(image, label, index)``: the input and its target are the first two, as in a pair."""
    x = rng.standard_normal((4, 3, 64, 64)).astype(np.float32)
    y = np.array([0, 1, 1, 0])
    pairs = _analyze([(x[:2], y[:2]), (x[2:], y[2:])])
    assert pairs.labels == ["0", "1", "1", "0"]
    for inputs in ([(x[:2], y[:2], np.ones(2)), (x[2:], y[2:], np.ones(2))],  # tf.data / PyDataset batches
                   [(x[i], int(y[i]), i) for i in range(4)],  # a data set's (image, label, index)
                   (x, y, np.full(4, 0.5))):  # validation_data=(x_val, y_val, val_sample_weights)
        prof = _analyze(inputs)
        assert prof.labels == pairs.labels and _layers(prof) == _layers(pairs)
    paths = _analyze([(FILES[0], "a", 7), (FILES[1], "b", 8)])
    assert paths.labels == ["a", "b"] and paths.analyzed == 2


@pytest.mark.parametrize("inputs, message", [
    ([(EXAMPLE_IMAGES, "shapes")], r"inputs\[0\]: \('.*images', \.\.\.\) names a folder; a \(path, label\) pair names "
                                   r"one file: give one pair per file, or the folder itself with labels='folders'"),
    ([(FILES[0], 0), ("@split.txt", 1)], r"inputs\[1\]: \('@split.txt', \.\.\.\) names a list;"),
    ([(np.zeros((3, 64, 64)), 0), ()], r"inputs\[1\]: an empty tuple; give samples or batches, or the \(input, "
                                       r"target\) pairs a data loader yields"),
    ([{"features": np.zeros(3)}], r"inputs\[0\]: a dict with keys features, none of them an input \(pixel_values, "
                                  r"image,"),
])
def test_pairs_that_cannot_be_read_are_refused_in_one_line(inputs, message):
    with pytest.raises(UsageError, match=message):
        _analyze(inputs)


def test_a_batch_of_pixels_says_how_to_have_it_preprocessed(rng):
    pixels = rng.integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)  # np.stack of np.asarray(image)
    with pytest.raises(InputDataError, match=r"give arrays already shaped for the model input \(pixels, H x W x "
                                             r"channels\? images are preprocessed when given as image files, or as PIL "
                                             r"images from Python\)"):
        _analyze(pixels)
    prof = _analyze([Image.fromarray(a) for a in pixels])
    assert prof.sources == ["image[0]", "image[1]"]


def test_a_bad_array_in_the_list_is_named_by_its_place(rng):
    with pytest.raises(InputDataError, match=r"inputs\[1\]: array of shape \(3, 5, 5\) does not fit input 'image' "
                                             r"\(Nx3x64x64, NCHW\); give arrays already shaped"):
        _analyze([np.zeros((3, 64, 64), np.float32), np.zeros((3, 5, 5), np.float32)])


def test_an_image_that_cannot_be_read_is_named_by_its_place(tmp_path):
    cut = tmp_path / "cut.png"
    cut.write_bytes(FILES[0].read_bytes()[:200])  # the header is there, the pixels are not
    images = [Image.open(FILES[1]), Image.open(cut)]
    with pytest.raises(InputDataError, match=r"^image\[1\]: cannot read image \(OSError: "):
        _analyze(images)


def test_images_take_labels_per_row_and_shard_like_arrays(from_files):
    images = [Image.open(f) for f in FILES]
    classes = [f.stem.split("_")[0] for f in FILES]
    prof = _analyze(images, labels=classes)
    assert prof.labels == classes and _layers(prof) == _layers(from_files)
    with pytest.raises(UsageError, match=r"labels: 3 given for 8 images; give one label per row"):
        _analyze(images, labels=classes[:3])
    halves = [_analyze(images, shard=(i, 2)) for i in (1, 2)]
    assert [p.sources for p in halves] == [[f"image[{i}]" for i in range(4)], [f"image[{i}]" for i in range(4, 8)]]
    assert _layers(srop_onnx.merge_profiles(halves)) == _layers(from_files)


@pytest.mark.parametrize("kind", ["images", "arrays"])
def test_a_checkpoint_resumes_over_the_same_inputs_in_memory_only(kind, rng, tmp_path):
    inputs = ([Image.open(f) for f in FILES] if kind == "images"
              else list(rng.standard_normal((4, 3, 64, 64)).astype(np.float32)))
    ckpt = tmp_path / "run.ckpt"
    first = _analyze(inputs, checkpoint=ckpt)
    notes: list[str] = []
    again = _analyze(inputs, checkpoint=ckpt, notify=notes.append)
    assert _layers(again) == _layers(first) and any("resuming from" in n for n in notes)
    with pytest.raises(UsageError, match=r"saved by a run with other arguments \(model, settings or inputs\)"):
        _analyze(inputs[::-1], checkpoint=ckpt)  # the same number of other samples: not the same run


def test_dynamic_spatial_dims_say_the_python_spelling_of_the_size(fixtures, rng):
    img = Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    with pytest.raises(UsageError, match=r"dynamic spatial dims; pass size=\(H, W\) to feed images \(image\[0\] is "
                                         r"40x30: size=\(40, 30\) feeds images at that size, crop=1.0 without "
                                         r"cutting their borders\)"):
        srop_onnx.analyze(fixtures["unnamed"], [img], progress=False)
    prof = srop_onnx.analyze(fixtures["unnamed"], [img], size=(20, 28), progress=False)
    assert prof.layers[0].shape == [4, 20, 28]


def test_sweeps_and_the_tracker_take_images_in_memory(tmp_path):
    import onnx

    images = [Image.open(f) for f in FILES[:4]]
    a = srop_onnx.sweep(EXAMPLE, images, levels="0,1", noise="gaussian", progress=False)
    b = srop_onnx.sweep(EXAMPLE, FILES[:4], levels="0,1", noise="gaussian", progress=False)
    assert _layers(a.points[0].profile) == _layers(b.points[0].profile)  # level 0: the images as they are
    again = srop_onnx.sweep(EXAMPLE, images, levels="0,1", noise="gaussian", progress=False)
    assert _layers(again.points[1].profile) == _layers(a.points[1].profile)  # noise seeded by image[i]
    assert _layers(a.points[1].profile) != _layers(a.points[0].profile)
    tracker = srop_onnx.Tracker(tmp_path / "track", images)
    assert repr(tracker) == f"<Tracker {tmp_path / 'track'}: 0 steps>" and tracker._repr_html_() is None
    tracker.add(0, onnx.load(EXAMPLE))
    assert repr(tracker) == f"<Tracker {tmp_path / 'track'}: 1 step, last 0>"
    assert tracker._repr_html_() == tracker.track()._repr_html_() and "<table" in tracker._repr_html_()
    track = srop_onnx.Track.load(tmp_path / "track")
    assert track.steps == [0] and _layers(track.profiles[0]) == _layers(_analyze(FILES[:4]))


def test_labels_one_per_file_go_by_place_when_files_share_a_name(tmp_path):
    """a/1.png and b/1.png are both known as 1.png: each still gets its own label, whole and by shard,
    and from a checkpoint."""
    import shutil

    for folder, src in (("a", FILES[0]), ("b", FILES[1]), ("c", FILES[2])):
        (tmp_path / folder).mkdir()
        shutil.copy(src, tmp_path / folder / "1.png")
    paths = [tmp_path / f / "1.png" for f in "abc"]
    prof = _analyze(paths, labels=["cat", "dog", "cat"])
    assert prof.sources == ["1.png"] * 3 and prof.labels == ["cat", "dog", "cat"]
    assert _analyze(paths, labels=["cat", "dog", "cat"], shard=(2, 2)).labels == ["dog", "cat"]
    ckpt = tmp_path / "run.ckpt"
    assert _analyze(paths, labels=["cat", "dog", "cat"], checkpoint=ckpt, batch_size=1).labels == ["cat", "dog", "cat"]
    again = _analyze(paths, labels=["cat", "dog", "cat"], checkpoint=ckpt, batch_size=1)  # from the checkpoint
    assert again.labels == ["cat", "dog", "cat"]
    with pytest.raises(UsageError, match="saved by a run with other arguments"):  # other labels: another run
        _analyze(paths, labels=["dog", "dog", "cat"], checkpoint=ckpt, batch_size=1)


def test_paths_in_a_series_or_an_array_of_strings_are_paths(from_files):
    pd = pytest.importorskip("pandas", reason="needs pandas: pip install 'srop-onnx[pandas]'")
    table = pd.DataFrame({"path": [str(f) for f in FILES], "label": [f.stem.split("_")[0] for f in FILES]})
    prof = _analyze(table["path"], labels=table["label"])
    assert _layers(prof) == _layers(from_files) and prof.sources == from_files.sources
    assert prof.labels == list(table["label"])  # one label per file, in the order given
    assert _analyze(np.array([str(f) for f in FILES[:2]])).sources == from_files.sources[:2]
    second = _analyze(table["path"], labels=table["label"], shard=(2, 2))
    assert second.labels == list(table["label"])[4:]
    with pytest.raises(UsageError, match=r"labels: 3 given for 8 input files; give one label per file, in the order "
                                         r"of the inputs"):
        _analyze(table["path"], labels=table["label"][:3])
    assert _analyze(EXAMPLE_IMAGES, labels=list(table["label"])).labels == list(table["label"])  # sorted by path
