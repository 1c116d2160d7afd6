"""Periodic jobs: use cases run every so often by whichever worker holds each job's lease."""
