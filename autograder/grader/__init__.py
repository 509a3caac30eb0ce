"""The library grader: sandboxed children run student code, the parent judges their arrays.

Modules, one concept each: ``cases`` (hidden inputs and reference outputs), ``workspace``
(what a child gets), ``sandbox`` / ``launcher`` / ``runner`` (the child process),
``compare`` and ``diagnose`` (checks, partial credit, likely mistakes), ``grade`` (one
submission), ``report`` (records, feedback, CSV), ``cli`` (``nnlib-grade``), ``submission``
(folders and zips) and ``corpus`` (the sample submissions).
"""
