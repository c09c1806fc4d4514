"""Command lines: `shiftlane` (run, crd, plan) and the `kubectl shiftlane` plugin."""
