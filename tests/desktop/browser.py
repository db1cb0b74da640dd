#!/usr/bin/env python3
"""The "system browser" of the desktop end-to-end test ($BROWSER): opens the consent page
the app hands it and follows the fake Google's redirect back to the app's loopback
listener, as a user who clicks "Allow" would."""
import sys
import urllib.request

url = sys.argv[1]
with urllib.request.urlopen(url, timeout=30) as page:
    page.read()
