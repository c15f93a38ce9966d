"""Where worlds and agents meet: rollouts, training loops, the viewer and the command line."""
