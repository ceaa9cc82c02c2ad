"""Typer + Rich only: parse options, load the run file, call a pipeline, print."""
