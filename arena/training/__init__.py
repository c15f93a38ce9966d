"""`arena train`: the command line (command.py) over a run (run.py), its loop over batch worlds
(loop.py), logs and progress (logbook.py), plots, run files (runfile.py), curricula
(curriculum.py) and self-play (selfplay.py)."""
