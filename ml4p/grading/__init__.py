"""The grading engine: a sandboxed kernel per submission, hidden checks in a trusted process.

Which process runs what (the threat model, with the test that shows each promise, is
``THREAT_MODEL.md`` beside this file):

| process | modules |
| --- | --- |
| TA's grader (trusted) | ``autograde``, ``batch``, ``execute``, ``files``, ``sandbox``, ``capped_client`` |
| checks process (trusted) | ``checks``, ``_checks_process``, ``plugin``, ``proxy`` (client side), ``numerics`` |
| sandbox launcher (trusted until it execs) | ``_limits`` |
| student's kernel (untrusted) | ``_kernel``, ``proxy._KERNEL_SOURCE``, ``cell`` |
"""
