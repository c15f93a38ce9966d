"""Meta-learning over a family of tasks (`arena meta train`, `arena meta eval`): Reptile, the
multi-task baseline and the few-shot evaluation protocol on held-out tasks (docs/meta.md)."""
