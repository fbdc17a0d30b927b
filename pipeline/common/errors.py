"""The project's one error type: what is wrong, and what to do about it.

Every command prints ``error: <problem>`` and, on the next line, ``  fix: <fix>``. Stages subclass
it where a caller needs to tell one failure from another (a schema that cannot be applied, a
package that cannot be built); the CLI catches the base class.
"""

from __future__ import annotations


class WorkbenchError(RuntimeError):
    """A problem the user can fix: says what is wrong and what to do."""

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  fix: {fix}" if fix else problem)
