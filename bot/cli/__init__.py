"""Command line: argument parsing and wiring only."""
