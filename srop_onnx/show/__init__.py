"""What people and CI see: terminal tables, figures, HTML, notebook display, JUnit and annotations.

- :mod:`.report`: the terminal tables (rich);
- :mod:`.plots`: matplotlib figures (``srop_onnx.plot`` is their public face);
- :mod:`.htmlreport`: the self-contained HTML reports;
- :mod:`.notebook`: the HTML that results show in a notebook;
- :mod:`.cireport`: JUnit XML and CI annotations of a check.

May import: srop_onnx.errors, files, core, model, config, inputs, results (never run).
"""
