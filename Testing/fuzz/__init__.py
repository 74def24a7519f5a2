"""The bad-input campaign of issue 13: ``cases`` generates the cases, ``runner`` runs and judges
one, ``python -m fuzz`` (``make fuzz``) runs them all and writes ``docs/FUZZ.md``."""
