"""The README tables of every module and environment are what tfdocs.py generates from the HCL.

A README whose generated section differs fails with the diff and the command that rewrites it.
The rest pins the generator's output on small modules written here.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from tfhcl import ENVS, ENVS_DIR, MODULES, MODULES_DIR, REPO

from tools import tfdocs
from tools.tfdocs import BEGIN, END, REGENERATE, TfDocsError

DOC_DIRS = tfdocs.doc_dirs()


def _id(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_every_module_and_env_is_documented():
    expected = {MODULES_DIR / m for m in MODULES} | {ENVS_DIR / e for e in ENVS}
    assert expected <= set(DOC_DIRS)


@pytest.mark.parametrize("directory", DOC_DIRS, ids=_id)
def test_readme_tables_match_the_code(directory):
    diff = tfdocs.stale(directory)
    assert diff is None, (
        f"{_id(directory)}/README.md: the Inputs/Outputs tables differ from its .tf files;"
        f" run {REGENERATE}\n{diff}"
    )


@pytest.mark.parametrize("directory", DOC_DIRS, ids=_id)
def test_readme_keeps_prose_outside_the_generated_section(directory):
    text = (directory / "README.md").read_text(encoding="utf-8")
    before = text[: text.index(BEGIN)]
    assert before.startswith("# ") and len(before.splitlines()) > 3, "README needs its prose"
    assert "```" in before, "README needs a usage or deploy block"


# ----------------------------------------------------------------------------- the generator
VARIABLES = r"""
variable "name" {
  description = "Name prefix (e.g. \"etl-dev\"); builds <prefix>-x | `a|b` stays code."
  type        = string
}

variable "settings" {
  description = <<-EOT
    First line.
    Second line.
  EOT
  type = object({
    size = optional(number, 3) # MB
  })
  default = { size = 3, "b-key" = ["x", true, null, 1.5] }
}

variable "untyped" {
  default = null
}

variable "empty" {
  description = ""
  type        = list(string)
  default     = []
}
"""

OUTPUTS = """
output "url" {
  description = "Where it is."
  value       = "x"
}
"""

EXPECTED = """\
## Inputs

| Name | Description | Type | Default | Required |
| ---- | ----------- | ---- | ------- | :------: |
| <a name="input_empty"></a> [empty](#input_empty) | n/a | `list(string)` | `[]` | no |
| <a name="input_name"></a> [name](#input_name) | Name prefix (e.g. "etl-dev"); builds &lt;prefix&gt;-x \\| `a\\|b` stays code. | `string` | n/a | yes |
| <a name="input_settings"></a> [settings](#input_settings) | First line.<br/>Second line. | <pre>object({<br/>    size = optional(number, 3) # MB<br/>  })</pre> | <pre>{<br/>  "b-key": [<br/>    "x",<br/>    true,<br/>    null,<br/>    1.5<br/>  ],<br/>  "size": 3<br/>}</pre> | no |
| <a name="input_untyped"></a> [untyped](#input_untyped) | n/a | `any` | `null` | no |

## Outputs

| Name | Description |
| ---- | ----------- |
| <a name="output_url"></a> [url](#output_url) | Where it is. |"""


def _module(tmp_path: Path, variables: str = VARIABLES, outputs: str = OUTPUTS) -> Path:
    directory = tmp_path / "modules" / "demo"
    directory.mkdir(parents=True)
    (directory / "variables.tf").write_text(textwrap.dedent(variables), encoding="utf-8")
    (directory / "outputs.tf").write_text(textwrap.dedent(outputs), encoding="utf-8")
    return directory


def test_renders_terraform_docs_tables(tmp_path):
    assert tfdocs.generated_section(_module(tmp_path)) == EXPECTED


def test_no_inputs_and_no_outputs(tmp_path):
    directory = _module(tmp_path, variables="", outputs="")
    assert (
        tfdocs.generated_section(directory)
        == "## Inputs\n\nNo inputs.\n\n## Outputs\n\nNo outputs."
    )


def test_write_replaces_only_the_section_and_check_then_passes(tmp_path, capsys):
    directory = _module(tmp_path)
    prose = '# demo\n\nWhat it creates.\n\n```hcl\nmodule "demo" {}\n```\n\n'
    readme = directory / "README.md"
    readme.write_text(f"{prose}{BEGIN}\n## Inputs\n\nstale\n{END}\n\nFooter.\n", encoding="utf-8")

    assert tfdocs.main([str(directory)]) == 1
    captured = capsys.readouterr()
    assert "-stale" in captured.out and "+## Outputs" in captured.out
    assert f"1 README(s) out of date; run {REGENERATE}" in captured.err

    assert tfdocs.main(["--write", str(directory)]) == 0
    assert readme.read_text(encoding="utf-8") == f"{prose}{BEGIN}\n{EXPECTED}\n{END}\n\nFooter.\n"
    assert tfdocs.main([str(directory)]) == 0
    assert tfdocs.main(["--write", str(directory)]) == 0  # idempotent


def test_a_new_variable_makes_the_readme_stale(tmp_path):
    directory = _module(tmp_path)
    (directory / "README.md").write_text(f"# demo\n{BEGIN}\n{END}\n", encoding="utf-8")
    tfdocs.write(directory)
    assert tfdocs.stale(directory) is None
    with (directory / "variables.tf").open("a", encoding="utf-8") as fh:
        fh.write('variable "added" {\n  description = "New."\n  type        = bool\n}\n')
    diff = tfdocs.stale(directory)
    assert diff is not None
    assert (
        '+| <a name="input_added"></a> [added](#input_added) | New. | `bool` | n/a | yes |' in diff
    )


@pytest.mark.parametrize(
    ("readme", "message"),
    [
        ("# demo\n", "must contain <!-- BEGIN_TF_DOCS --> and <!-- END_TF_DOCS --> once each"),
        (f"# demo\n{BEGIN}\n{END}\n{BEGIN}\n", "(found 2 and 1)"),
        (f"# demo\n{END}\n{BEGIN}\n", "<!-- END_TF_DOCS --> comes before <!-- BEGIN_TF_DOCS -->"),
    ],
)
def test_bad_markers_are_named(tmp_path, readme, message):
    directory = _module(tmp_path)
    (directory / "README.md").write_text(readme, encoding="utf-8")
    with pytest.raises(TfDocsError, match="README.md") as err:
        tfdocs.write(directory)
    assert message in str(err.value)


def test_missing_readme_says_what_to_write(tmp_path, capsys):
    directory = _module(tmp_path)
    assert tfdocs.main([str(directory)]) == 2
    err = capsys.readouterr().err
    assert "README.md is missing: write one (what the directory creates, a usage block)" in err
    assert REGENERATE in err


def test_non_literal_default_is_refused(tmp_path):
    directory = _module(
        tmp_path,
        variables='variable "x" {\n  type    = string\n  default = "${upper("a")}"\n}\n',
    )
    with pytest.raises(TfDocsError, match=r"variable 'x' default uses a template"):
        tfdocs.generated_section(directory)
