"""Files: where the package touches the file system for writing, and what a file's name says.

- :mod:`.filetypes`: the suffixes of images, arrays and audio;
- :mod:`.writes`: every file the package writes, atomically (a temporary file, then a rename), with
  the guards against overwriting inputs, links and special files.

May import: srop_onnx.errors.
"""
