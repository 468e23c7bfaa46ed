"""Query side: the projector (only writer of the read model) and the HTTP replicas."""
