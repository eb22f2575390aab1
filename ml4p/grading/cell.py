"""What a hidden-check cell runs in the student's own kernel.

The checks themselves never run there: the ml4p grader executes the notebook,
skips these cells, runs the hidden checks in its own trusted process, and
writes their report and score into the cell. When a student runs the cell, it
only says so. When plain nbgrader runs it (a course whose nbgrader_config.py
lacks ml4p's grader), it fails, so that no one gets points nobody checked.
"""
import os


class NotGradedByMl4p(RuntimeError):
    """nbgrader executed a hidden-check cell without ml4p's grader."""


def hidden_checks(part: str) -> None:
    """Stand-in for the hidden checks of ``part`` in the student's kernel."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        raise NotGradedByMl4p(
            f"the hidden checks for {part!r} run only in ml4p's grader: add ml4p's "
            "preprocessors to the course's nbgrader_config.py (`ml4p.course.create_course` "
            "writes a course's nbgrader_config.py with them)"
        )
    print(f"The hidden checks for `{part}` run when your notebook is graded; "
          "`ml4p validate` runs the visible tests now.")
