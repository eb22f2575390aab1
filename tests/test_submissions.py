"""Known submissions (solution, blank, mistakes) and how their grades are judged."""
import ast

import pytest

from ml4p.check import judge
from ml4p.course import create_course, materials_root
from ml4p.grading.autograde import GradeRow
from ml4p.grading.submissions import SOLUTION_MARKERS, Mistake, known_submissions, load_mistakes, with_mistake
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


def test_each_mistake_lands_in_the_cells_that_define_its_functions(course):
    """Does each function of a mistake land in the solution cell that defines it, and nowhere else?"""
    subs = known_submissions(course, "coulomb_gas")
    reference = subs["reference"][0]
    for m in load_mistakes(course / "autograder", "coulomb_gas"):
        nb = subs[m.student][0]
        changed = [i for i, (a, b) in enumerate(zip(nb.cells, reference.cells)) if a.source != b.source]
        functions = [n.name for n in ast.parse(m.source).body if isinstance(n, ast.FunctionDef)]
        assert changed, m.name
        for i in changed:
            added = nb.cells[i].source[len(reference.cells[i].source):]
            assert any(f"def {f}(" in reference.cells[i].source and f"def {f}(" in added for f in functions), m.name
        if len(changed) == 1:
            assert nb.cells[changed[0]].source.rstrip().endswith(m.source.strip())


def test_a_mistake_may_answer_several_cells(course):
    """Does a mistake defining two cells' functions change both cells, each with its own function?"""
    source = ('"""Zeros everywhere."""\nLOSES = ("energy", "forces")\nDEGENERATE = True\n\n\n'
              'def _zeros(x):\n    return tf.zeros_like(x)\n\n\n'
              'def forces(x):\n    return _zeros(x)\n\n\n'
              'def energy(x):\n    return tf.reduce_sum(_zeros(x), axis=(-2, -1))\n')
    mistake = Mistake("zeros", ("energy", "forces"), source, "_zeros", ("energy", "forces"))
    reference = known_submissions(course, "coulomb_gas")["reference"][0]
    nb = with_mistake(reference, mistake)
    changed = [i for i, (a, b) in enumerate(zip(nb.cells, reference.cells)) if a.source != b.source]
    assert len(changed) == 2
    energy_cell, forces_cell = (nb.cells[i].source for i in changed)
    assert "return tf.reduce_sum(_zeros(x)" in energy_cell and "def _zeros(" in energy_cell  # helpers go first
    assert "return _zeros(x)" in forces_cell and "tf.reduce_sum(_zeros" not in forces_cell.split("# A known mistake")[1]


def test_degenerate_must_be_some_of_loses(tmp_path):
    """Is DEGENERATE naming a part outside LOSES refused, and True read as all of LOSES?"""
    folder = tmp_path / "a" / "mistakes"
    folder.mkdir(parents=True)
    (folder / "all.py").write_text('"""Zero."""\nLOSES = ("energy",)\nDEGENERATE = True\ndef energy(x):\n    return 0\n')
    assert load_mistakes(tmp_path, "a")[0].degenerate == ("energy",)
    (folder / "oops.py").write_text('"""Zero."""\nLOSES = ("energy",)\nDEGENERATE = ("forces",)\n'
                                    'def energy(x):\n    return 0\n')
    with pytest.raises(ValueError, match="oops.py"):
        load_mistakes(tmp_path, "a")


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


@pytest.mark.parametrize("score, ok", [(0, True), (0.3, True), (0.31, False), (1, False)])
def test_judge_degenerate(score, ok):
    """May a degenerate answer keep at most 10 % of the part's points?"""
    verdict = judge("s", "a", ("e",), row(e=(score, 3), f=(2, 2)), {"e", "f"}, degenerate=("e",))
    assert verdict.ok is ok, verdict.problems
