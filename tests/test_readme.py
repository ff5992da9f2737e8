"""The README's promises that code can check: the code table, the settings, the two
commands, CI."""
import re

from alpr.config import PROJECT_ROOT
from alpr.status import markdown_table

README = (PROJECT_ROOT / "README.md").read_text()


def test_code_table_is_the_one_in_alpr_status():
    assert markdown_table() in README


def test_ci_runs_the_readme_test_command():
    assert "make test" in README and "make run" in README
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_every_setting_the_service_reads_is_documented():
    names = set(re.findall(r"ALPR_[A-Z0-9_]+", (PROJECT_ROOT / "alpr" / "config.py").read_text()))
    assert names and not {n for n in names if f"`{n}`" not in README}
