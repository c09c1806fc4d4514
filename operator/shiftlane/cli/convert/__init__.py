"""`kubectl shiftlane convert`: a Deployment, an Argo Rollouts Rollout or a Flagger Canary as a Shiftlane
Rollout, with a note for everything that could not be carried over."""
