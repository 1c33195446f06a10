"""``policies``: the signed sharing-policy language of Trend Exchange, and its evaluation.

A feed owner signs a policy saying who may receive which reports; the hub and
the members evaluate it, deny by default. The package is pure: no I/O, no
HTTP, no database, and it imports nothing else from this project.

It is still empty. It will export ``parse_policy``, ``verify_policy``,
``evaluate``, ``Decision`` and the ``PolicyError`` tree.
"""

__all__: list[str] = []
