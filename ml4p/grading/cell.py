"""What a hidden-check cell runs in the student's own kernel.

The checks themselves never run there: the ml4p grader executes the notebook,
skips these cells, runs the hidden checks in its own trusted process, and
writes their report and score into the cell. When a student runs the cell, it
only says so. When plain nbgrader runs it (a course whose nbgrader_config.py
lacks ml4p's grader), it fails, so that no one gets points nobody checked.

Under nbgrader's own Validate (the button in Jupyter, ``nbgrader validate``), which by
default reports only the graded cells, and a notebook's graded code cells are these, the
cell fails when a cell since the previous hidden-check cell raised: a visible test, a
function still raising ``NotImplementedError``. Validate then names the part instead of
passing a notebook whose functions are not written. A help for the student, not a check:
nothing of a grade depends on it (``ml4p validate`` reports the failing cells themselves).
"""
import os
import sys


class NotGradedByMl4p(RuntimeError):
    """nbgrader executed a hidden-check cell without ml4p's grader."""


class PartNotReady(RuntimeError):
    """Under validation: a cell of this part (or before it) raised, so its hidden checks would fail."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows: the message alone (the stand-in's own lines would only hide it)."""
        first, *rest = str(self).splitlines() or [""]
        return [f"{type(self).__name__}: {first}", *rest]


def _raised_since_last_call() -> BaseException | None:
    """The exception IPython last showed (``sys.last_value``), forgotten once read."""
    raised = getattr(sys, "last_value", None)
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            setattr(sys, name, None)
    return None if isinstance(raised, PartNotReady) else raised  # the stand-in's own failure is no news


def hidden_checks(part: str) -> None:
    """Stand-in for the hidden checks of ``part`` in the student's kernel."""
    execution = os.environ.get("NBGRADER_EXECUTION")
    if execution == "autograde":
        raise NotGradedByMl4p(
            f"the hidden checks for {part!r} run only in ml4p's grader: add ml4p's "
            "preprocessors to the course's nbgrader_config.py (`ml4p.course.create_course` "
            "writes a course's nbgrader_config.py with them)"
        )
    raised = _raised_since_last_call()
    if execution == "validate" and raised is not None:
        what = type(raised).__name__ + (f": {str(raised)[:300]}" if str(raised) else "")
        raise PartNotReady(f"a cell above this one raised {what}\n"
                           f"The hidden checks of `{part}` call the same functions: fix that cell first.")
    print(f"The hidden checks for `{part}` run when your notebook is graded; "
          "`ml4p validate` runs the visible tests now.")
