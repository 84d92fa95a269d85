"""Small helpers every layer may use: lazy exports, atomic writes, progress, process checks,
plan-field checks and which extra provides an optional package. Nothing here imports a stage."""
