"""The scheduler daemon and what feeds it: schedules, triggers, backfills and recovery.

``execution`` drives one run; this package decides when runs start. User code never runs
in the daemon's process: pipeline files are read in a subprocess, and each run is executed
by a child process of its own.
"""
