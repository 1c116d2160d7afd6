"""Adapters: the ports implemented with real technology (memory, SQLAlchemy, aiohttp, the system clock)."""
