#!/usr/bin/env python3
"""Attenuates a Latchkey access token with biscuit-python, an implementation independent of Latchkey's.

Usage: attenuate.py JWKS_FILE 'check if …' [more checks…] < token > attenuated_token

JWKS_FILE is the JSON served at GET /oidc/jwks. The token is verified offline first: its biscuit root_key_id is
matched to a kid by recomputing the first four bytes (big-endian) of SHA-256(kid), as docs/tokens.md describes.
Install the library with: pip install biscuit-python
"""

import base64
import hashlib
import json
import sys

from biscuit_auth import Algorithm, Biscuit, BlockBuilder, PublicKey


def root_key_id(kid: str) -> int:
    return int.from_bytes(hashlib.sha256(kid.encode("utf-8")).digest()[:4], "big")


def load_keys(jwks_path: str) -> dict:
    with open(jwks_path, encoding="utf-8") as jwks_file:
        jwks = json.load(jwks_file)
    keys = {}
    for jwk in jwks["keys"]:
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        keys[root_key_id(jwk["kid"])] = PublicKey.from_bytes(raw, Algorithm.Ed25519)
    return keys


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    keys = load_keys(sys.argv[1])

    def choose(key_id):
        if key_id not in keys:
            raise ValueError(f"no key in the JWKS for root key id {key_id}")
        return keys[key_id]

    token = Biscuit.from_base64(sys.stdin.read().strip(), choose)
    block = BlockBuilder("")
    for check in sys.argv[2:]:
        block.add_code(check.rstrip(";") + ";")
    print(token.append(block).to_base64())
    return 0


if __name__ == "__main__":
    sys.exit(main())
