"""The FIX 4.4 acceptor (quickfix): sessions, auth, translation between FIX and commands/events."""
