"""ml4p.grading.checks and plugin: per-part scores and reports from check results."""
import textwrap
import time

import pytest
from nbformat.v4 import new_code_cell
from nbgrader.utils import determine_grade

from ml4p.grading.checks import ChecksProcess, PartReport, part_reports, parts_with_checks, run_checks
from ml4p.grading.plugin import CheckResult


def result(part, points, passed, name="a check", message=""):
    return CheckResult(part=part, name=name, points=points, passed=passed, message=message)


def graded_cell(report: PartReport):
    cell = new_code_cell(source="hidden", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "points": report.max_points, "grade_id": report.part}})
    cell.outputs = report.outputs()
    return cell


@pytest.mark.parametrize("passed, expected", [((True, True), 3.0), ((True, False), 1.0), ((False, False), 0.0)])
def test_cell_points_are_shared_by_weight(passed, expected):
    """Does nbgrader read the cell's points shared among the checks by their weights?"""
    rep = PartReport("energy", 3.0, [result("energy", 1, passed[0]), result("energy", 2, passed[1])])
    assert rep.score == expected
    score, max_score = determine_grade(graded_cell(rep))
    assert (score, max_score) == (expected, 3.0)


def test_report_names_checks_and_messages():
    """Does the report list each check with its points and the failure message?"""
    rep = PartReport("forces", 2.0, [result("forces", 1, True, "matches the reference"),
                                     result("forces", 1, False, "is a gradient", "relative error 1e-1")])
    text = rep.text()
    assert "Hidden checks for `forces`: 1 / 2 points" in text
    assert "✓ matches the reference  [1/1]" in text
    assert "✗ is a gradient  [0/1]" in text and "relative error 1e-1" in text


def test_part_without_results_scores_zero_with_the_reason():
    """Does a part whose checks never ran get 0 and say why?"""
    reports = part_reports({"energy": 3.0, "forces": 2.0}, [result("energy", 1, True)], "kernel died")
    assert reports["energy"].score == 3.0
    assert reports["forces"].score == 0.0 and "kernel died" in reports["forces"].text()
    assert determine_grade(graded_cell(reports["forces"]))[0] == 0.0


def write_checks(tmp_path, body):
    folder = tmp_path / "checks" / "toy"
    folder.mkdir(parents=True)
    (tmp_path / "checks" / "conftest.py").write_text('pytest_plugins = ["ml4p.grading.plugin"]\n')
    (folder / "test_part.py").write_text(textwrap.dedent(body))
    return tmp_path / "checks"


def test_run_checks_records_points_names_and_messages_but_no_source(tmp_path):
    """Do the plugin's records carry docstring names, points and messages, and never the check's source?"""
    checks = write_checks(tmp_path, '''
        import pytest
        from ml4p.grading.numerics import fail

        @pytest.mark.points(2)
        def test_good():
            """a check that passes"""

        @pytest.mark.points(1)
        def test_bad():
            """a check that fails"""
            secret_expected_value = 42
            fail("the answer is off")

        @pytest.mark.points(1)
        def test_bare_assert():
            secret_expected_value = 42
            assert secret_expected_value == 41
    ''')
    assert parts_with_checks(checks, "toy") == {"part"}
    results, error = run_checks(checks, "toy", None)
    assert error == ""
    by_name = {r.name: r for r in results}
    assert by_name["a check that passes"].passed and by_name["a check that passes"].points == 2
    assert by_name["a check that fails"].message == "the answer is off"
    assert not by_name["test_bare_assert"].passed
    assert all("secret_expected_value" not in r.message and "42" not in r.message for r in results)


def test_run_checks_says_when_the_checks_cannot_run(tmp_path):
    """Does a check module that cannot even be imported give a reason instead of a score?"""
    checks = write_checks(tmp_path, "import no_such_module_here\n")
    results, error = run_checks(checks, "toy", None)
    assert results == [] and "could not run" in error


def test_checks_process_collects_before_it_has_a_kernel(tmp_path):
    """Does the checks' process import and collect the checks while there is no kernel yet, run them
    only once it is given one, and run nothing when it is closed without one?"""
    marker = tmp_path / "imported"
    ran = tmp_path / "ran"
    checks = write_checks(tmp_path, f'''
        import os
        import pytest
        from pathlib import Path
        Path({str(marker)!r}).write_text("")

        @pytest.mark.points(1)
        def test_connection():
            """sees the kernel's connection file"""
            Path({str(ran)!r}).write_text(os.environ["ML4P_KERNEL_CONNECTION"])
    ''')
    with ChecksProcess(checks, "toy") as waiting:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists()
        time.sleep(0.5)
        assert not ran.exists()
        results, error = waiting.run("/nowhere/kernel.json", timeout=60)
    assert error == "" and [r.passed for r in results] == [True]
    assert ran.read_text() == "/nowhere/kernel.json"
    ran.unlink()
    with ChecksProcess(checks, "toy") as unused:
        process = unused._proc
    assert process.poll() is not None and not ran.exists()


def test_ahead_work_is_done_before_the_kernel_and_its_errors_reach_the_check(tmp_path):
    """Does the checks' process compute what a check marks `ahead` while it waits for the kernel (once,
    before it is given one), and does an error there fail the check that needs it, with its message?"""
    computed = tmp_path / "computed"
    checks = write_checks(tmp_path, f'''
        import pytest
        from pathlib import Path
        from ml4p.grading.plugin import ahead

        @ahead
        def reference():
            with open({str(computed)!r}, "a") as f:
                f.write("x")
            return 42

        @ahead
        def broken():
            raise ValueError("the oracle could not run")

        @pytest.fixture(scope="module")
        def value():
            return reference()

        @pytest.mark.points(1)
        def test_uses_it(value):
            """uses the value computed ahead"""
            assert value == 42 and reference() == 42

        @pytest.mark.points(1)
        def test_uses_the_broken_one():
            """uses the broken value"""
            broken()
    ''')
    with ChecksProcess(checks, "toy") as waiting:
        deadline = time.monotonic() + 60
        while not computed.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert computed.read_text() == "x"  # before any kernel was offered
        results, error = waiting.run("/nowhere/kernel.json", timeout=60)
    assert computed.read_text() == "x"  # and only once
    by_name = {r.name: r for r in results}
    assert error == "" and by_name["uses the value computed ahead"].passed
    broken = by_name["uses the broken value"]
    assert not broken.passed and "the oracle could not run" in broken.message


def test_checks_process_reports_a_run_that_outlives_its_timeout(tmp_path):
    """Does a pre-started run past its time limit keep what finished, and say why the rest is missing?"""
    checks = write_checks(tmp_path, '''
        import time
        import pytest

        @pytest.mark.points(1)
        def test_quick():
            """quick"""

        @pytest.mark.points(1)
        def test_stuck():
            """stuck"""
            time.sleep(60)
    ''')
    start = time.monotonic()
    with ChecksProcess(checks, "toy") as checks_process:
        results, error = checks_process.run(None, timeout=3)
    assert time.monotonic() - start < 30
    assert "did not finish within 3 s" in error
    by_name = {r.name: r for r in results}
    assert by_name["quick"].passed and not by_name["stuck"].passed and "not run" in by_name["stuck"].message


def test_given_counts_a_check_only_with_the_checks_it_names():
    """Does an invariance that holds count only when the correctness check it is given with passes?"""
    def checks(correct):
        return [CheckResult("energy", "matches the reference [float64]", 1, correct, test="test_matches",
                            title="matches the reference"),
                CheckResult("energy", "matches the reference [float32]", 1, True, test="test_matches"),
                CheckResult("energy", "is invariant", 1, True, test="test_invariant", given=["test_matches"])]
    right = part_reports({"energy": 3.0}, checks(True))["energy"]
    assert right.score == 3.0
    constant = part_reports({"energy": 3.0}, checks(False))["energy"]
    assert constant.score == 1.0  # the float32 match alone: the invariance does not count
    invariant = constant.checks[2]
    assert not invariant.passed and "“matches the reference”" in invariant.message


def write_parts(tmp_path, modules: dict[str, str]):
    folder = tmp_path / "checks" / "toy"
    folder.mkdir(parents=True)
    (tmp_path / "checks" / "conftest.py").write_text('pytest_plugins = ["ml4p.grading.plugin"]\n')
    for part, body in modules.items():
        (folder / f"test_{part}.py").write_text(textwrap.dedent(body))
    return tmp_path / "checks"


SHIPS = '''
import pytest
from ml4p.grading.plugin import OrderedStudent


class Proxy:  # stands in for the kernel: records what would be sent
    last_output = ""

    def call(self, name, *args, uses=None, timeout=None, **kwargs):
        return 0


@pytest.mark.points(1)
def test_ships(request):
    """ships {what}"""
    OrderedStudent(Proxy(), request.config).call("f", uses={uses})
'''


@pytest.mark.parametrize("order, refused", [(["first", "second"], set()), (["second", "first"], {"second"}),
                                            ([], set())])
def test_a_reference_is_shipped_only_after_its_part_is_graded(tmp_path, order, refused):
    """Do the checks run in the given part order, and is a check that would send the reference of a part
    graded later (a `uses` key, or a driver defining `_reference_<part>`) refused as a grader error?"""
    checks = write_parts(tmp_path, {
        "first": SHIPS.format(what="nothing", uses="{}"),
        "second": SHIPS.format(what="a driver with the first part's reference",
                               uses='{"_ml4p_driver": "def _reference_first(x):\\n    return x\\n"}'),
    })
    results, error = run_checks(checks, "toy", None, order=order)
    assert error == ""
    assert [r.part for r in results] == (order or ["first", "second"])
    failed = {r.part for r in results if not r.passed}
    assert failed == refused
    for r in results:
        if not r.passed:
            assert r.message.startswith("grader error:") and "`first`" in r.message


def test_given_must_name_a_check_of_the_part(tmp_path):
    """Is a `given` that names no check of its part a grader error (not a silent zero)?"""
    checks = write_checks(tmp_path, '''
        import pytest

        @pytest.mark.points(1, given="test_typo")
        def test_invariant():
            """holds"""
    ''')
    results, error = run_checks(checks, "toy", None)
    assert error == "" and len(results) == 1
    assert not results[0].passed and "grader error" in results[0].message and "test_typo" in results[0].message


def test_part_order_is_the_instructors_notebook_order(tmp_path):
    """Are the parts graded in the order of the source notebook's hidden-check cells (the instructor's,
    never the submission's), with parts it lacks after them in file order?"""
    import nbformat
    from nbformat.v4 import new_notebook

    from ml4p.grading.cache import checks_fingerprint
    from ml4p.grading.checks import part_order

    checks = write_parts(tmp_path, {p: "" for p in ("alpha", "beta", "gamma")})
    assert part_order(checks, "toy") == ["alpha", "beta", "gamma"]  # no source notebook: file order
    before = checks_fingerprint(checks, "toy", None)
    source = tmp_path / "source" / "toy"
    source.mkdir(parents=True)
    cells = [new_code_cell("hidden_checks('gamma')", metadata={"nbgrader": {"grade": True, "grade_id": "gamma"}}),
             new_code_cell("x = 1", metadata={"nbgrader": {"solution": True, "grade_id": "other"}}),
             new_code_cell("hidden_checks('alpha')", metadata={"nbgrader": {"grade": True, "grade_id": "alpha"}})]
    nbformat.write(new_notebook(cells=cells), source / "toy.ipynb")
    assert part_order(checks, "toy") == ["gamma", "alpha", "beta"]
    assert checks_fingerprint(checks, "toy", None) != before  # cached executions graded in another order are stale


@pytest.mark.parametrize("config, expected", [
    ({}, 300),
    ({"Execute": {"timeout": 12}}, 12),
    ({"Execute": {"timeout": 12}, "SandboxedExecute": {"timeout": 7}}, 7),
    ({"SandboxedExecute": {"timeout": 7}}, 7),
])
def test_cell_timeout_honours_nbgraders_execute_timeout(config, expected):
    """Does `c.Execute.timeout` / `--Execute.timeout=N` set the cell timeout, unless SandboxedExecute's is set?"""
    from traitlets.config import Config

    from ml4p.grading.execute import SandboxedExecute

    assert SandboxedExecute(config=Config(config)).cell_timeout() == expected


def test_cell_timeout_from_nbgraders_command_line(tmp_path):
    """Does `--Execute.timeout=N` on nbgrader's command line override the course's config file (traitlets
    puts the command line over the files)?"""
    from nbgrader.apps import AutogradeApp
    from toy import write_materials

    from ml4p.course import create_course, load_config
    from ml4p.grading.execute import SandboxedExecute

    course = create_course(tmp_path / "course", materials=write_materials(tmp_path / "materials"), assignments=["toy"])
    config = load_config(course)
    assert SandboxedExecute(config=config).cell_timeout() == 300  # the course's file
    app = AutogradeApp()
    app.parse_command_line(["--Execute.timeout=9"])
    config.merge(app.cli_config)
    assert SandboxedExecute(config=config).cell_timeout() == 9


def test_nbgraders_variables_reach_the_kernel(monkeypatch):
    """Does the kernel get NBGRADER_EXECUTION (autograde when ml4p grades on its own) and NBGRADER_VALIDATING?"""
    from ml4p.grading.execute import nbgrader_variables

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("NBGRADER_VALIDATING", raising=False)
    assert nbgrader_variables() == {"NBGRADER_EXECUTION": "autograde"}
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    monkeypatch.setenv("NBGRADER_VALIDATING", "1")
    assert nbgrader_variables() == {"NBGRADER_EXECUTION": "validate", "NBGRADER_VALIDATING": "1"}
