"""Meta-learning (`arena meta`)."""
