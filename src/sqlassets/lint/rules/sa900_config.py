"""An invalid target in ``[tool.sqlassets.targets.<name>]``.

Targets are checked when the project loads, so CI catches a typo before a
run selects the target. (A target that reads an unset ``env:`` variable is
checked when it is selected.)

Anti-pattern::

    [tool.sqlassets.targets.prod]
    engine = "bigquery"
    projet = "my-project"

Fix: correct the setting (``project``).
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(Code.CONFIG, "invalid-target", __doc__, reported(Code.CONFIG))
