"""Entry point: ``python -m autograder {release,grade,check}``."""

import sys

# jsonschema (imported by nbformat) loads the optional ``rfc3987_syntax`` package, which builds
# a parser grammar on import: 4-7 s of CPU in this environment, for an "iri" format check that
# notebooks never use. Blocking it here keeps every command fast; it only affects this process
# and the grading workers forked from it, never a kernel.
sys.modules.setdefault("rfc3987_syntax", None)

from autograder.cli import main  # noqa: E402

sys.exit(main())
