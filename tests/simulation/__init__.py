"""Deterministic simulation: months of a portal's life from one seed.

`world.simulate(seed, …)` installs the real app into an emulated portal
(real HTTP both ways) and plays a story the seed decides: staff log, edit,
re-date and delete time, tasks are added, moved between companies and
workgroups and deleted, tariffs change, months close, Monday reports go
out; meanwhile events are dropped, repeated, held back and shuffled, 5 % of
REST calls fail (503/500) and some time out, tokens expire, jobs are killed
part-way and the app restarts. The clock of the app and of the portal jump
forward together (ledger/clock.py), so three months take a second or two.

After a final sync every check of `world.check` must hold. A failing seed
is replayed with `python -m tests.simulation --seed N -v` (add `--pg` for
PostgreSQL): the same story, the same fault draws.
"""
