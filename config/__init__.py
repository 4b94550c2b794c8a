"""Settings, the instrument catalog and risk parameters. Imports nothing of ours."""
