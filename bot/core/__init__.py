"""The pure core: the rules and models every adapter shares.

- ``criteria``: the question tree (config/criteria.toml) and its evaluation, with sources.
- ``conversation``: the one conversation engine (start, answer, back, restart, help, finished).
- ``lifecycle``: a case's milestones, their order, and the deadlines they meet and add.
- ``dates``: the one date parser (ASCII digits, a bounded year range).
- ``text``: plain-text tables and date formatting.
- ``nhs``: the NHS number's modulus-11 check.
- ``referral`` / ``referral_errors``: what a referral form says, and why one was refused.

Nothing here imports SQL, chat, mail or HTTP libraries, nor anything from ``store/``,
``handlers/`` or the services in ``bot/``: the ``.importlinter`` contract, checked in CI, keeps
it so. Working-day arithmetic lives in ``scheduler/calendar.py``, ``timescales.py`` and
``deadlines.py``, which are pure too and which the core may use.
"""
