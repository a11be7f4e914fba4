"""Each module's own Terraform tests (`modules/<m>/tests/*.tftest.hcl`) run, and keep up.

`terraform test` runs in the session's temporary copy of the module with the mocked
hashicorp/aws (`mock_provider`, values in `modules/<m>/tests/mocks/`), so it needs no
account and no network. Every run block must pass; and every `validation` block in a
module's variables.tf must have a run that expects it to fail (`expect_failures`), so a
validation added later without a test fails here with the name of the variable.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from tfhcl import ENVS, ENVS_DIR, MODULES_DIR, blocks, expr, load, unquote, variables_of
from tfrun import MODULES, provider_text

pytest_plugins = ["tfplugin"]
SUMMARY = re.compile(r"(Success|Failure)! (\d+) passed, (\d+) failed(?:, (\d+) skipped)?\.")


def tftest_files(module: str) -> list[Path]:
    return sorted((MODULES_DIR / module / "tests").glob("*.tftest.hcl"))


def run_blocks(module: str) -> list[tuple[str, dict]]:
    return [
        (name, body) for path in tftest_files(module) for name, body in blocks(load(path), "run")
    ]


def validation_counts(module: str) -> Counter:
    """{variable name: number of validation blocks} from the module's variables."""
    return Counter(
        {
            name: len(body.get("validation", []))
            for name, body in variables_of(MODULES_DIR / module).items()
            if body.get("validation")
        }
    )


def expected_failure_counts(module: str) -> Counter:
    """{variable name: number of runs expecting its validation to fail}."""
    counts: Counter = Counter()
    for _, body in run_blocks(module):
        for target in body.get("expect_failures", []):
            found = re.fullmatch(r"var\.(\w+)", expr(target))
            if found:
                counts[found.group(1)] += 1
    return counts


@pytest.mark.parametrize("module", MODULES)
def test_module_has_terraform_tests_with_a_mocked_provider(module):
    files = tftest_files(module)
    assert files, f"modules/{module}/tests/ has no *.tftest.hcl"
    for path in files:
        parsed = load(path)
        providers = [unquote(name) for entry in parsed.get("mock_provider", []) for name in entry]
        assert providers == ["aws"], f"{path.name}: every test file mocks hashicorp/aws"
        (mock,) = [body for entry in parsed["mock_provider"] for body in entry.values()]
        # One set of mocked values for every module (modules/tests/mocks).
        assert unquote(mock["source"]) == "../tests/mocks", path.name
    assert list((MODULES_DIR / "tests" / "mocks").glob("*.tfmock.hcl"))


@pytest.mark.parametrize("module", MODULES)
def test_every_validation_block_has_an_expect_failures_run(module):
    validations = validation_counts(module)
    assert validations, f"modules/{module}/variables.tf has no validation blocks to cover"
    expected = expected_failure_counts(module)
    missing = {
        name: f"{count} validation block(s), {expected[name]} run(s)"
        for name, count in sorted(validations.items())
        if expected[name] < count
    }
    assert not missing, (
        f"modules/{module}: add a run with `expect_failures = [var.<name>]` to "
        f"modules/{module}/tests/validation.tftest.hcl for each validation block of: {missing}"
    )
    unknown = set(expected) - set(validations)
    assert not unknown, f"modules/{module}: runs expect failures of unvalidated {sorted(unknown)}"


@pytest.mark.tftest
@pytest.mark.parametrize("module", MODULES)
def test_terraform_test_passes(module, module_tests):
    proc = module_tests[module].result()
    output = proc.stdout + proc.stderr
    summary = SUMMARY.search(output)
    assert proc.returncode == 0 and summary, (
        f"`terraform test` in modules/{module} failed with {provider_text()}:\n{output}"
    )
    passed, failed, skipped = (int(g or 0) for g in summary.groups()[1:])
    assert (passed, failed, skipped) == (len(run_blocks(module)), 0, 0), output
    assert "Warning:" not in output, f"modules/{module} warns with {provider_text()}:\n{output}"


@pytest.mark.parametrize("env", ENVS)
def test_envs_leave_every_validation_to_modules_pipeline(env):
    """An env's variables only carry its defaults: a validation there would be a second copy
    of modules/pipeline's (covered above by its validation.tftest.hcl)."""
    validated = {n for n, b in variables_of(ENVS_DIR / env).items() if b.get("validation")}
    assert not validated, (
        f"envs/{env}: move the validation of {sorted(validated)} to modules/pipeline"
    )
