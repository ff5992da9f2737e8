"""The README's promises that code can check: the code table, the settings, the two
commands, CI."""

from alpr.config import PROJECT_ROOT
from alpr.status import markdown_table

README = (PROJECT_ROOT / "README.md").read_text()


def test_code_table_is_the_one_in_alpr_status():
    assert markdown_table() in README


def test_ci_runs_the_readme_test_command():
    assert "make test" in README and "make run" in README
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_the_readme_links_the_full_configuration_reference():
    assert "docs/configuration.md" in README and "`ALPR_SEARCH`" in README
