"""Command runners: where the `provision` / `deprovision` commands of a `codebuild` bundle run.

`base` defines the interface (`RunnerBackend`, `RunSpec`, `RunHandle`, `RunState`) that every backend
implements; `local` runs the commands as processes on the worker's host; `capture` copies a run's output
into the `run_logs` table. Invariants: a backend never blocks until the commands finish; everything a
caller needs to find a run again after a crash is in its `RunHandle`, which serialises to JSON.
"""
