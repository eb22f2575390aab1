"""Known submissions (solution, blank, mistakes) and how their grades are judged."""
import pytest

from ml4p.check import judge
from ml4p.course import create_course, materials_root
from ml4p.grading.autograde import GradeRow
from ml4p.grading.submissions import SOLUTION_MARKERS, known_submissions, load_mistakes
from ml4p.release import release

ROOT = materials_root()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = create_course(tmp_path_factory.mktemp("course"), materials=ROOT, assignments=["coulomb_gas"])
    release("coulomb_gas", course=root)
    return root


def solution_cells(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]


def test_reference_answers_every_solution_cell_without_markers(course):
    """Is the reference the release with the source's solutions, markers removed?"""
    subs = known_submissions(course, "coulomb_gas")
    reference, blank = subs["reference"][0], subs["blank"][0]
    assert len(reference.cells) == len(blank.cells)
    for cell in solution_cells(reference):
        assert "NotImplementedError" not in cell.source and "YOUR ANSWER HERE" not in cell.source
        assert not any(SOLUTION_MARKERS.match(line) for line in cell.source.splitlines())
    assert any("NotImplementedError" in c.source for c in solution_cells(blank))


def test_each_mistake_changes_one_solution_cell(course):
    """Does a mistake land in the solution cell that defines its function, and nowhere else?"""
    subs = known_submissions(course, "coulomb_gas")
    reference = subs["reference"][0]
    for m in load_mistakes(course / "autograder", "coulomb_gas"):
        nb = subs[m.student][0]
        changed = [i for i, (a, b) in enumerate(zip(nb.cells, reference.cells)) if a.source != b.source]
        assert len(changed) == 1, m.name
        assert f"def {m.function}(" in nb.cells[changed[0]].source
        assert nb.cells[changed[0]].source.endswith(m.source)


def test_a_mistake_must_say_what_it_loses(tmp_path):
    """Is a mistake file without LOSES refused with its path?"""
    folder = tmp_path / "a" / "mistakes"
    folder.mkdir(parents=True)
    (folder / "oops.py").write_text('"""No LOSES."""\ndef energy(x):\n    return x\n')
    with pytest.raises(ValueError, match="oops.py"):
        load_mistakes(tmp_path, "a")


def row(**parts):
    return GradeRow("s", "a", sum(p[0] for p in parts.values()), sum(p[1] for p in parts.values()), parts)


@pytest.mark.parametrize("loses, parts, ok", [
    ((), {"e": (3, 3), "f": (2, 2)}, True),
    ((), {"e": (2.5, 3), "f": (2, 2)}, False),
    (None, {"e": (0, 3), "f": (0, 2)}, True),
    (None, {"e": (0, 3), "f": (0.5, 2)}, False),
    (("e",), {"e": (1, 3), "f": (2, 2)}, True),
    (("e",), {"e": (3, 3), "f": (2, 2)}, False),  # the mistake went unnoticed
    (("e",), {"e": (1, 3), "f": (1, 2)}, False),  # it cost points elsewhere too
])
def test_judge(loses, parts, ok):
    """Are full marks, zero, and 'loses exactly its parts' each judged right?"""
    assert judge("s", "a", loses, row(**parts), {"e", "f"}).ok is ok
