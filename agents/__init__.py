"""Grid Arena's minds: every controller of a seat and the rule by which it learns."""
