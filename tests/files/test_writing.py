"""Outputs that cannot be written are refused before the run, not after it (a long analysis must
never end in "cannot write"); devices and pipes given as outputs are written into."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE, EXAMPLE_IMAGES, mounted
from srop_onnx.cli import main
from srop_onnx.errors import OutputError
from srop_onnx.files.writes import guard_outputs

TABLE = "Per resolution"  # printed after an analysis ran


def _analyze(*extra):
    return CliRunner().invoke(main, ["analyze", str(EXAMPLE), str(EXAMPLE_IMAGES), *map(str, extra)])


def test_a_file_where_a_folder_of_the_output_path_should_be_is_refused(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"x")
    with pytest.raises(OutputError, match=r"^--json .*model.onnx/sub/p.json: a folder on this path \(.*model.onnx\) "
                                          r"is a broken symbolic link or a file; fix it"):
        guard_outputs({"--json": str(tmp_path / "model.onnx" / "sub" / "p.json")})
    assert (tmp_path / "model.onnx").read_bytes() == b"x"


@pytest.mark.skipif(os.name != "posix", reason="symbolic links need privileges on Windows")
def test_broken_symbolic_links_on_the_output_path_are_refused(tmp_path):
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match=r"^--csv .*gone/x.csv: a folder on this path \(.*gone\) is a broken"):
        guard_outputs({"--csv": str(tmp_path / "gone" / "x.csv")})
    (tmp_path / "p.json").symlink_to(tmp_path / "missing" / "p.json")
    with pytest.raises(OutputError, match=r"^--json .*p.json: is a symbolic link to .*missing/p.json, whose folder"):
        guard_outputs({"--json": str(tmp_path / "p.json")})


def test_writable_paths_pass_and_nothing_is_created_by_the_check(tmp_path):
    guard_outputs({"--json": str(tmp_path / "new" / "deeper" / "p.json"), "--csv": None, "--report": "-"})
    assert list(tmp_path.iterdir()) == []  # the folders are made when the file is written


def test_an_analysis_into_a_read_only_disk_is_refused_before_it_runs(tmp_path):
    with mounted(tmp_path / "ro", "ro,size=64k") as ro:
        res = _analyze("--json", tmp_path / "p.json", "--csv", ro / "out" / "layers.csv")
        assert res.exit_code == 2, res.output
        assert f"--csv {ro / 'out' / 'layers.csv'}: cannot write in {ro} (read-only file system)" in res.output
        assert res.output.count("error:") == 1 and TABLE not in res.output
        assert not (tmp_path / "p.json").exists()  # nothing half-done either


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permissions: root writes anywhere")
def test_a_folder_without_write_permission_is_refused_before_the_run(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        res = _analyze("--report", locked / "r.html")
        assert res.exit_code == 2 and "cannot write in" in res.output and "(permission denied)" in res.output
        assert TABLE not in res.output
    finally:
        locked.chmod(0o755)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="as root only: the test above runs as the user itself")
def test_a_folder_without_write_permission_is_refused_as_another_user_sees_it():
    """Under root (CI's containers) the test above cannot fail; here the command runs as ``nobody``
    (setpriv), for whom the folder is read-only, in a folder that user may reach."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="srop-onnx-perm-"))
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)
        env = {**os.environ, "HOME": str(base), "MPLCONFIGDIR": str(base / "mpl"), "PYTHONDONTWRITEBYTECODE": "1"}
        (base / "mpl").mkdir(mode=0o777)
        (base / "mpl").chmod(0o777)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
        probe = subprocess.run([*nobody, "-c", "import srop_onnx.cli"], capture_output=True, text=True, env=env,
                               cwd=base, timeout=120)
        if probe.returncode != 0:  # a checkout or interpreter only root may read
            pytest.skip(f"user nobody cannot run this checkout: {probe.stderr.strip()[-200:]}")
        res = subprocess.run([*nobody, "-m", "srop_onnx", "analyze", str(EXAMPLE), str(EXAMPLE_IMAGES), "--report",
                              str(locked / "r.html")], capture_output=True, text=True, env=env, cwd=base, timeout=300)
        assert res.returncode == 2, res.stderr
        assert f"cannot write in {locked} (permission denied)" in res.stderr and "Traceback" not in res.stderr
        assert not (locked / "r.html").exists() and TABLE not in res.stdout
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("command", ["plot", "report"])
def test_commands_that_read_profiles_refuse_an_unwritable_output_before_reading(tmp_path, command):
    (tmp_path / "f").write_text("a file")
    res = CliRunner().invoke(main, [command, str(tmp_path / "missing.json"), "-o", str(tmp_path / "f" / "out.png")])
    assert res.exit_code == 2 and "-o " in res.output and "a folder on this path" in res.output, res.output
    assert "missing.json" not in res.output  # refused before the profile is even looked at


@pytest.mark.skipif(os.name != "posix", reason="/dev/stdout")
def test_dev_stdout_into_a_pipe_is_written_into(tmp_path):
    # /dev/stdout of a piped process resolves to /proc/PID/fd/pipe:[N], which names no file
    proc = subprocess.run([sys.executable, "-m", "srop_onnx", "analyze", str(EXAMPLE), str(EXAMPLE_IMAGES), "-q",
                           "--json", "/dev/stdout"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["layers"]) == 8


@pytest.mark.skipif(os.name != "nt", reason="drive letters")
def test_an_output_on_a_drive_that_is_not_there_is_refused():
    import string

    free = next(d for d in reversed(string.ascii_uppercase) if not os.path.exists(f"{d}:\\"))
    with pytest.raises(OutputError, match=rf"^--json {free}:\\out\\p.json: {free}:\\ does not exist"):
        guard_outputs({"--json": f"{free}:\\out\\p.json"})


def test_outputs_in_one_bucket_are_looked_up_once(monkeypatch):
    from srop_onnx.files import bucket_writes

    asked = []
    monkeypatch.setattr(bucket_writes, "check_output_url", asked.append)
    bucket_writes.check_output_urls({f"--profiles {k}": f"s3://data/levels/level-{k}.json" for k in range(50)}
                                    | {"--json": "s3://other/p.json", "--csv": "/tmp/local.csv", "--report": None})
    assert asked == ["s3://data/levels/level-0.json", "s3://other/p.json"]
