"""`venue demo`: a day at the venue, compressed into a couple of minutes (see script.py)."""
