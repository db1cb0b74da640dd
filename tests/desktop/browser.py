#!/usr/bin/env python3
"""The "system browser" of the desktop end-to-end test ($BROWSER): opens the consent page
the app hands it and follows the fake Google's redirect back to the app's loopback
listener, as a user who clicks "Allow" would."""
import os
import sys
import urllib.request

url = sys.argv[1]
# The test can make the user slow: then it finishes the consent itself, from the address the
# window shows.
if os.path.exists(os.environ.get("LEADORCH_E2E_SLOW_USER", "/nonexistent")):
    sys.exit(0)
with urllib.request.urlopen(url, timeout=30) as page:
    page.read()
