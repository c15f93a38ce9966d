"""Population-based training (`arena train SCENARIO --population N`, Jaderberg et al. 2017).

config.py      the settings, checked in one place, and the population checkpoint file
space.py       the searched hyper-parameters: ranges, the first draw, explore (x0.8/x1.2, resample)
exploit.py     truncation selection: who copies whom
member.py      one member: its learners and worlds, and what the driver asks of it
ladder.py      two-team scenarios: members play each other, openskill rates them
hosts.py       where members live: here in turn, or one Ray actor each (`--ray`)
population.py  the driver: intervals, scores, exploit and explore, lineage, checkpoints
plots.py       the PNG: scores and hyper-parameters per member, coloured by lineage
summary.py     the summary and its table
command.py     the command-line options and the thin layer over `Population`
"""
