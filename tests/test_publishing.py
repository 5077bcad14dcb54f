"""Publishing: the GitHub Pages workflow builds with the README's command, and a fork points the
whole book at its own repository with one command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def readme_build_command() -> str:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    lines = [line for block in blocks for line in block.splitlines()]
    commands = [line for line in lines if "jupyter-book build" in line]
    assert len(commands) == 1, commands
    return commands[0].strip()


def test_the_pages_workflow_builds_with_the_readme_command_and_deploys_the_html():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    runs = [step["run"].strip() for step in steps if "run" in step]
    assert readme_build_command() in runs
    upload = next(step for step in steps if "upload-pages-artifact" in step.get("uses", ""))
    assert upload["with"]["path"] == "_build/html"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert any("deploy-pages" in step.get("uses", "") for step in deploy["steps"])
    assert workflow["permissions"]["pages"] == "write"


def test_a_fork_points_the_book_at_itself_with_one_command(tmp_path):
    fork = tmp_path / "fork"
    (fork / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "tools" / "set_repository.py", fork / "tools")
    shutil.copy(ROOT / "_config.yml", fork)
    (fork / "roiattn").mkdir()
    shutil.copy(ROOT / "roiattn" / "__init__.py", fork / "roiattn")
    shutil.copytree(ROOT / "notebooks", fork / "notebooks")
    url = "https://github.com/someone/roiattn-fork"
    done = subprocess.run([sys.executable, "tools/set_repository.py", url], cwd=fork,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((fork / "_config.yml").read_text())["repository"]["url"] == url
    for notebook in sorted((fork / "notebooks").glob("*.ipynb")):
        text = notebook.read_text()
        assert f'REPOSITORY = \\"{url}\\"' in text, notebook.name
        assert "colab.research.google.com/github/someone/roiattn-fork/blob/" in text
        assert text.count("[![Open In Colab]") == 1, notebook.name
    # a second run (as after a version change) changes nothing more
    first = {p.name: p.read_text() for p in (fork / "notebooks").glob("*.ipynb")}
    subprocess.run([sys.executable, "tools/set_repository.py"], cwd=fork, check=True,
                   capture_output=True)  # fmt: skip
    assert first == {p.name: p.read_text() for p in (fork / "notebooks").glob("*.ipynb")}
    # everything else in the configuration is untouched
    before = yaml.safe_load((ROOT / "_config.yml").read_text())
    after = yaml.safe_load((fork / "_config.yml").read_text())
    before["repository"].pop("url"), after["repository"].pop("url")
    assert before == after
    bad = subprocess.run([sys.executable, "tools/set_repository.py", "not-a-url"], cwd=fork,
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2
