"""Applications: one file per task, wiring reader, sampler, network, loss and outputs per action."""
