"""One scenario per module; each is a PettingZoo env module (`env`, `parallel_env`)."""
