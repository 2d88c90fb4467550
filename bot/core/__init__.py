"""The pure core: rules and models that every adapter shares.

Nothing in this package imports SQL, chat, mail or HTTP libraries, nor anything from ``store/``
or ``handlers/``; an import-linter contract (``.importlinter``) keeps it so. Adapters parse their
input, call a service in ``bot/`` that uses these rules, and render the answer.
"""
