"""The examples in public docstrings stay true."""

from __future__ import annotations

import doctest

import pytest

import srop_onnx.core.spectral
import srop_onnx.core.stats


@pytest.mark.parametrize("module", [srop_onnx.core.spectral, srop_onnx.core.stats], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if module is srop_onnx.core.spectral:
        assert result.attempted >= 5
