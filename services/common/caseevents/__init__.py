"""Case events from the units: the model, the store and the deadline figures."""
