"""The two services of FSI intake (the intake, the router) and the layer they share."""
