"""A local exchange for offline trading: enough of Binance spot's public REST API for unmodified
``freqtrade trade`` in dry-run to run its whole loop here (test and benchmark support only).

``prices`` is the seeded random walk (candles computed, not stored); ``server`` the Starlette
app; ``runner`` starts it in a thread or a subprocess. Run it by hand with
``python -m tests.market --host 0.0.0.0 --port 9100 --seed 7``.
"""
