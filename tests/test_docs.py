"""The examples in public docstrings stay true."""

from __future__ import annotations

import doctest

import pytest

import srop_onnx.spectral
import srop_onnx.stats


@pytest.mark.parametrize("module", [srop_onnx.spectral, srop_onnx.stats], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if module is srop_onnx.spectral:
        assert result.attempted >= 5
