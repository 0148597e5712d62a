"""The runtime verifier: run a program under monitors and measure each rule's effect.

Static findings and runtime observations meet at (file, statement line). The linter
side (this package, minus ``child`` and ``monitors``) never imports torch; only the
child process that runs the program does (see ``runner``).

- ``statements``: which statement a line belongs to and what object it is about (stdlib ``ast``).
- ``monitors`` / ``child``: hooks installed in the child process, and its entry point.
- ``observations``: the child's measurements, indexed by (file, line), in the parent.
- ``effects``: one effect predicate per rule code: the only place a rule's runtime effect is defined.
- ``runner``: subprocess launch, timeout, JSON result exchange.
- ``fixtures`` / ``program``: ``gradlint verify`` over the fixtures, and ``--run SCRIPT``.
- ``report``: the table and JSON output.
"""

CONFIRMED = "confirmed"
NOT_REPRODUCED = "not reproduced"
NOT_REACHED = "not reached"
EFFECT_ABSENT = "effect absent"
NOT_SCANNED = "not scanned"
NOT_VERIFIED = "not verified"
