"""The README's Python example runs as printed."""

import contextlib
import io
import os
import shutil

from conftest import DATA, ROOT


def test_the_readme_python_example_runs(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text.index("## Using it from Python")
    start = text.index("```python\n", section) + len("```python\n")
    code = text[start:text.index("```", start)]
    shutil.copy(DATA / "customers.csv", tmp_path / "customers.csv")
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("7 deal ") and "version" in lines[0]
    assert lines[1:] == ["1", "{'count': 1}"]
    assert (tmp_path / "crm.db").is_file()
