"""Plans: what would change, computed as an immutable value and rendered apart from computing it.

``model`` holds the value types, ``diff`` pairs baseline and target and decides actions,
``risk`` classifies each change, ``changelog`` says what a moved strategy pin changes (from the
versions ``engine.changelog`` read in git), ``groups`` shows the same change to many bots once, and
``text`` / ``jsonfmt`` / ``markdown`` render a plan.
"""
