"""Leagues: players (any controller a seat takes) meet in matches, the results go into a
SQLite ladder and ratings with uncertainty (openskill's Plackett-Luce) rank them.

    db.py        the ladder file: schema, migrations, players, matches, ratings
    schedule.py  who meets whom: round-robin, Swiss, matchmaking; seeds and match keys
    play.py      many matches of one lineup at once in batch worlds; outcomes per team
    ratings.py   openskill updates, the ladder table and head-to-head win rates
    pfsp.py      prioritized fictitious self-play: opponent weights and decayed win rates
    plots.py     the head-to-head matrix and rating-over-time PNGs
    human.py     a game played in the viewer, recorded into the ladder
    cli.py       `arena league` and `arena ladder`
"""
