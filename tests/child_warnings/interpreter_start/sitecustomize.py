"""Install the warning filters a test passed in ``TOPODIST_TEST_WARNING_FILTERS`` (see tests.child_warnings).

Runs when an interpreter starts with this directory on ``PYTHONPATH``; an
interpreter without the variable keeps Python's default filters.
"""

import base64
import os
import pickle
import warnings

_encoded = os.environ.get("TOPODIST_TEST_WARNING_FILTERS")
if _encoded:
    warnings.filters[:] = pickle.loads(base64.b64decode(_encoded))
