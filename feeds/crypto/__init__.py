"""**Hazardous.** The only code that holds member private keys.

Generation, passphrase-protected storage, signing and (later) HPKE sealing
and opening live here and nowhere else; the hub never imports this package
(an import-linter contract and a runtime test keep it so). Use the safe
entry points: :class:`feeds.crypto.keystore.Keystore` for keys, never the
raw seeds.
"""

__all__: list[str] = []
