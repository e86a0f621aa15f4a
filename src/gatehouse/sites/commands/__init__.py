"""The `gatehouse sites ...` commands: run, score, certify, promotion and the README certificate table."""
