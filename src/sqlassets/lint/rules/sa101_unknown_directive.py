"""A header directive whose key sqlassets does not know.

An unknown key would otherwise be ignored silently; the finding suggests the
closest valid key.

Anti-pattern::

    -- @materialised: table

Fix::

    -- @materialized: table
"""

from sqlassets.codes import Code
from sqlassets.lint.rule import Rule, reported

RULE = Rule(Code.UNKNOWN_DIRECTIVE, "unknown-directive", __doc__, reported(Code.UNKNOWN_DIRECTIVE))
