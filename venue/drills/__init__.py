"""Load and fault drills (`make drills`, `venue drill <name> --json`): a real venue process, real
clients, real services; each drill prints one JSON object of figures. Not tests: they take minutes
and some stop the machine's services."""
