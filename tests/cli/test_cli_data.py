"""``layerlab data``: the human report, the SPEC JSON object, and the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from app.cli import main
from tests.engine.test_data_scan import MESSY_COUNTS, MESSY_SKIPPED, make_messy_folder


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_human_report_on_a_messy_folder(capsys, tmp_path):
    root = make_messy_folder(tmp_path / "pets")
    code, out, err = run(capsys, "data", str(root))
    assert code == 0 and err == ""
    assert "23 images in 3 classes" in out
    for name, count in MESSY_COUNTS.items():
        assert any(line.split()[:2] == [name, str(count)] for line in out.splitlines()), name
    for path, kind in MESSY_SKIPPED.items():
        assert any(path in line and kind in line for line in out.splitlines()), path
    assert "Colour modes:" in out and "CMYK" in out and "16-bit grayscale" in out and "palette" in out
    assert "Image sizes:" in out and "32×32" in out
    assert "Class imbalance: 'dog' has 13 images, 'bird' 2 (ratio 6.5:1)" in out
    assert "label conflict" in out and "exact duplicate" in out
    assert "3 hidden or system files ignored" in out


def test_json_report(capsys, tmp_path):
    root = make_messy_folder(tmp_path / "pets")
    code, out, _ = run(capsys, "data", str(root), "--json")
    obj = json.loads(out)
    assert code == 0
    assert obj["root"] == str(root) and obj["images"] == 23
    assert obj["classes"] == [{"name": n, "count": c} for n, c in sorted(MESSY_COUNTS.items())]
    assert {s["path"]: s["kind"] for s in obj["skipped"]} == MESSY_SKIPPED
    assert all(isinstance(s["reason"], str) and s["reason"] for s in obj["skipped"])
    assert all(isinstance(w, str) for w in obj["warnings"]) and len(obj["warnings"]) >= 4


def test_missing_and_imageless_folders_exit_2_with_one_line(capsys, tmp_path):
    code, out, err = run(capsys, "data", str(tmp_path / "nope"))
    assert code == 2 and out == "" and err.count("\n") == 1 and str(tmp_path / "nope") in err
    (tmp_path / "junk" / "a").mkdir(parents=True)
    (tmp_path / "junk" / "a" / "x.png").write_bytes(b"not a png at all")
    code, out, err = run(capsys, "data", str(tmp_path / "junk"), "--json")
    assert code == 2 and json.loads(out)["images"] == 0
    assert err.count("\n") == 1 and "no usable images" in err and str(tmp_path / "junk") in err
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "y.txt").write_text("hello")
    code, _, err = run(capsys, "data", str(tmp_path / "flat"))
    assert code == 2 and "one subfolder per class" in err


def test_sample_digits_as_dir(capsys):
    code, out, _ = run(capsys, "data", "sample:digits", "--json")
    obj = json.loads(out)
    assert code == 0 and obj["images"] == 1797 and len(obj["classes"]) == 10 and obj["source"] == "sample:digits"
    assert obj["skipped"] == [] and obj["sizes"]["most_common"][0]["size"] == [28, 28]


def test_console_process(tmp_path):
    root = make_messy_folder(tmp_path / "pets")
    r = subprocess.run([sys.executable, "-m", "app", "data", str(root), "--json"], capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0 and json.loads(r.stdout)["images"] == 23 and "Traceback" not in r.stderr
