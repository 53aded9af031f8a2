"""The pure core shared by the lnx server and client: stdlib and ``cryptography`` only.

No web framework, database or HTTP client is imported here, so every module can be used by a
verifier offline. Transparency-log modules:

- ``merkle``: RFC 9162 §2.1 hashing, compact ranges, proof plans, proof verification.
- ``tiles``: C2SP tlog-tiles paths, tile contents and entry bundles.
- ``note``: C2SP signed-note (Ed25519) and the signer/verifier abstraction.
- ``checkpoint``: C2SP tlog-checkpoint note text.
- ``cosignature``: C2SP tlog-cosignature (timestamped Ed25519 witness cosignatures).
- ``tlogproof``: C2SP tlog-proof, the offline proof of inclusion.
- ``entry``: the ``lnx-entry/v1`` leaf data (contract §6).
"""
