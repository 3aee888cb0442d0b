"""How a report lists the taps it skipped: one line each, or one line for a reason many share."""

from __future__ import annotations

from srop_onnx.show.report import _skipped_lines


def _tap(name, reason, op="Conv"):
    return {"tensor": f"{name}.tmp_0", "op": op, "name": name, "reason": reason}


def test_a_reason_many_layers_share_is_one_line_naming_them_in_order():
    small = "too small for a spectrum (1x1 per channel)"
    skipped = [_tap("se_1", small), _tap("head", "rank 5 tensor (3-D convolution): not supported"),
               _tap("se_2", small), _tap("se_3", small), _tap("pool", "never produced", "MaxPool")]
    assert _skipped_lines(skipped) == [  # the group stands where its first layer does
        f"{small}: 3 layers: se_1, se_2, se_3",
        "head (Conv): rank 5 tensor (3-D convolution): not supported",
        "pool (MaxPool): never produced",
    ]


def test_a_few_layers_keep_a_line_each():
    skipped = [_tap("a", "never produced"), _tap("b", "never produced")]
    assert _skipped_lines(skipped) == ["a (Conv): never produced", "b (Conv): never produced"]
