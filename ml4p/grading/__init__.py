"""The grading engine: a sandboxed kernel per submission, hidden checks in a trusted process.

Which process runs what: the TA's grader is ``ml4p autograde`` or nbgrader's own autograde,
the checks process the pytest run it starts per notebook (the threat model, with the test
that shows each promise, is ``THREAT_MODEL.md`` beside this file):

| process | modules |
| --- | --- |
| TA's grader (trusted) | `autograde`, `batch`, `cache`, `execute`, `restore`, `files`, `sandbox`, `cgroups`, |
| | `capped_client`, `kernel_client`, `checks` (starts the checks process), `submissions` (`ml4p check`) |
| checks process (trusted) | `_checks_process`, `plugin`, `proxy`, `kernel_client`, `numerics`, `source` |
| sandbox launcher (trusted until it execs) | `_limits` |
| student's kernel (untrusted) | `_kernel`, `_in_kernel` (read as text, sent with each proxy call), `cell` |
"""
