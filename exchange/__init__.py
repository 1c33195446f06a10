"""``exchange``: the Trend Exchange hub, a TAXII 2.1 server (FastAPI, SQLModel, Alembic).

The hub stores ciphertext and never decrypts. This module deliberately imports
nothing, so that importing one subpackage (say :mod:`exchange.protocol`, the
published contract member-side code may use) never drags in the rest of the
hub. Import what you need from its subpackages.
"""

__all__: list[str] = []
