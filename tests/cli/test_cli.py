"""The command line: output, JSON objects and exit codes of SPEC.md."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.cli import main
from app.core.project import load_project
from app.core.templates import template_names
from app.paths import models_dir

TEMPLATES = {"mnist-cnn", "mlp", "lenet5", "vgg-mini", "resnet-mini", "unet-mini"}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_templates_json_lists_every_template(capsys):
    code, out, _ = run(capsys, "templates", "--json")
    items = json.loads(out)
    assert code == 0 and TEMPLATES <= {t["name"] for t in items}
    mnist = next(t for t in items if t["name"] == "mnist-cnn")
    assert mnist["input_shape"] == [28, 28, 1] and mnist["task"] == "classification" and mnist["description"]
    code, out, _ = run(capsys, "templates")
    assert code == 0 and "mnist-cnn" in out and "unet-mini" in out


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_passes_check(capsys, tmp_path, name):
    target = tmp_path / f"{name}.layerlab"
    code, _, _ = run(capsys, "new", name, "-o", str(target))
    assert code == 0 and load_project(target).graph.nodes
    code, out, _ = run(capsys, "check", str(target), "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["errors"] == [], report["errors"]
    assert report["total_params"] == sum(layer["params"] for layer in report["layers"]) > 0


def test_check_reports_the_seed_error_with_its_fix(capsys, tmp_path):
    p = load_project(models_dir() / "mnist-cnn.layerlab")
    flatten = next(n for n in p.graph if n.class_name == "Flatten")
    src = p.graph.predecessors(flatten.id)[0]
    dst = p.graph.successors(flatten.id)[0]
    p.graph.remove_node(flatten.id)
    p.graph.connect(src, dst)
    path = p.save(tmp_path / "seed.layerlab")
    code, out, _ = run(capsys, "check", str(path), "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    err = report["errors"][0]
    assert err["layer"] and "Flatten" in err["fix"] and err["message"]
    code, out, _ = run(capsys, "check", str(path))
    assert code == 1 and "fix: Insert Flatten" in out and "FAILED" in out


def test_new_refuses_to_overwrite_and_unknown_template(capsys, tmp_path):
    target = tmp_path / "a.layerlab"
    assert run(capsys, "new", "mlp", "-o", str(target))[0] == 0
    code, _, err = run(capsys, "new", "mlp", "-o", str(target))
    assert code == 2 and str(target) in err and "exists" in err
    code, _, err = run(capsys, "new", "nope", "-o", str(tmp_path / "b.layerlab"))
    assert code == 2 and "unknown template 'nope'" in err and "mnist-cnn" in err


@pytest.mark.parametrize("content", [b"", b"{\"format\": \"layerlab-project\", \"vers", b"\x00\xff\x10binary",
                                     b'{"format": "layerlab-project", "version": 99, "graph": {}}', b'{"a": 1}'])
def test_bad_project_files_exit_2_with_one_line(capsys, tmp_path, content):
    path = tmp_path / "bad.layerlab"
    path.write_bytes(content)
    code, out, err = run(capsys, "check", str(path))
    assert code == 2 and err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check"])
    assert info.value.code == 2
    assert template_names()


def test_console_process_has_no_traceback_and_python_m_app_is_the_same(tmp_path):
    bad = tmp_path / "bad.layerlab"
    bad.write_text("{ truncated")
    r = subprocess.run([sys.executable, "-m", "app", "check", str(bad)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and str(bad) in r.stderr
    r = subprocess.run([sys.executable, "-m", "app", "templates"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "mnist-cnn" in r.stdout


def test_no_cli_module_imports_the_cli_package_back():
    """Each command imports only app.cli.common, never app.cli itself: no circle, function-local imports counted."""
    import grimp

    graph = grimp.build_graph("app")
    commands = sorted(graph.find_descendants("app.cli") - {"app.cli.__main__"})  # the entry runs the package
    assert "app.cli.common" in commands and "app.cli.train" in commands
    back = {m: graph.find_shortest_chain(importer=m, imported="app.cli") for m in commands}
    assert not {m: chain for m, chain in back.items() if chain}, "these modules import app.cli back"
    assert graph.find_modules_that_directly_import("app.cli.common") >= {"app.cli", "app.cli.train"}
