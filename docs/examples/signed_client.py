#!/usr/bin/env python3
"""Signs AI Nutrition-Pro requests (RFC 9421 + RFC 9530) and checks signed receipts.

Uses a maintained, independent implementation of HTTP Message Signatures
(https://pypi.org/project/http-message-signatures/) — nothing of the service's own code:

    pip install http-message-signatures==3.0.0 requests

1. Make a key pair; keep the private key, register the public one for your API key
   (admin page, Keys, "Signing key", or PUT /admin/tenants/{id}/keys/{keyId}/signing-key):

    python signed_client.py keygen --out client-key.pem
      -> {"algorithm": "ed25519", "public_key": "<base64url>"}

2. Send signed requests (every request gets a new nonce and the current time):

    python signed_client.py send --base-url https://api.example.com \\
        --api-key "$NUTRIPRO_API_KEY" --private-key client-key.pem \\
        POST /v1/samples --json '{"dietitian_id": "dr-smith", ...}'

Query parameters must be sent sorted by name (then value), percent-encoded except
A-Z a-z 0-9 - . _ ~ : the gateway hands the service parsed parameters, and that is the
one form both sides rebuild (`send` builds URLs that way from `--param NAME=VALUE`).

`send` prints {"status", "headers", "body", "receipt"}; with `--verify-receipt` the
response's signature (the service's receipt, bound to this request's signature) is
checked against the key published at /.well-known/nutripro-receipt-keys.
"""

import argparse
import base64
import datetime
import json
import secrets
import sys
import urllib.parse

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)

COVERED = ("@method", "@path", "@query")
LABEL = "sig1"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def keygen(args):
    if args.algorithm == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        raw = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with open(args.out, "wb") as out:
        out.write(pem)
    print(json.dumps({"algorithm": args.algorithm, "public_key": b64url(raw)}))


class OneKey(HTTPSignatureKeyResolver):
    def __init__(self, private=None, public=None):
        self.private, self.public = private, public

    def resolve_private_key(self, key_id):
        return self.private

    def resolve_public_key(self, key_id):
        return self.public


class KeySet(HTTPSignatureKeyResolver):
    def __init__(self, keys):
        self.keys = keys

    def resolve_public_key(self, key_id):
        if key_id not in self.keys:
            raise KeyError(f"no published receipt key {key_id!r}")
        return self.keys[key_id]

    def resolve_private_key(self, key_id):
        raise NotImplementedError


def algorithm_of(key):
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return algorithms.ED25519
    return algorithms.ECDSA_P256_SHA256


def sorted_query(params):
    pairs = sorted(tuple(p.split("=", 1)) for p in params)
    return "&".join(
        f"{urllib.parse.quote(k, safe='')}={urllib.parse.quote(v, safe='')}" for k, v in pairs
    )


def receipt_keys(base_url):
    jwks = requests.get(f"{base_url}/.well-known/nutripro-receipt-keys", timeout=10).json()
    keys = {}
    for jwk in jwks["keys"]:
        point = b"\x04" + base64.urlsafe_b64decode(jwk["x"] + "==") + base64.urlsafe_b64decode(
            jwk["y"] + "=="
        )
        keys[jwk["kid"]] = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    return keys


def send(args):
    with open(args.private_key, "rb") as handle:
        private = serialization.load_pem_private_key(handle.read(), password=None)
    key_id = args.api_key.split("_")[1]
    query = sorted_query(args.param)
    url = f"{args.base_url}{args.path}" + (f"?{query}" if query else "")
    body = args.json.encode() if args.json is not None else None
    headers = {"Authorization": f"Bearer {args.api_key}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    prepared = requests.Request(args.method, url, data=body, headers=headers).prepare()
    signer = HTTPMessageSigner(
        signature_algorithm=algorithm_of(private), key_resolver=OneKey(private=private)
    )
    created = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
        seconds=args.created_offset
    )
    signer.sign(
        prepared,
        key_id=key_id,
        label=LABEL,
        created=created,
        nonce=args.nonce or secrets.token_urlsafe(18),
        covered_component_ids=COVERED,
        body=body,
    )
    if args.tamper_body is not None:
        prepared.body = args.tamper_body.encode()
        prepared.headers["Content-Length"] = str(len(prepared.body))
    session = requests.Session()
    results = []
    for _ in range(args.repeat):
        response = session.send(prepared, timeout=60)
        result = {
            "status": response.status_code,
            "headers": {k.lower(): v for k, v in response.headers.items()},
            "body": response.text,
            "receipt": None,
        }
        if args.verify_receipt and "signature" in response.headers:
            response.request = prepared
            # The receipt's keyid names a key of the published set.
            verifier = HTTPMessageVerifier(
                signature_algorithm=algorithms.ECDSA_P256_SHA256,
                key_resolver=KeySet(receipt_keys(args.base_url)),
            )
            body = response.content
            if args.tamper_response:
                body = body.replace(b"dr-smith", b"dr-jones", 1)
            try:
                verified = verifier.verify(
                    response,
                    max_age=datetime.timedelta(minutes=5),
                    # What the answer says, and that it answers this signed request.
                    require_components=(
                        "@status",
                        "content-digest",
                        "x-request-id",
                        f'"signature";req;key="{LABEL}"',
                    ),
                    body=body,
                )
                result["receipt"] = [
                    {"label": v.label, "covered": list(v.covered_components)} for v in verified
                ]
            except Exception as error:  # noqa: BLE001 - reported, not raised
                result["receipt_error"] = f"{type(error).__name__}: {error}"
        results.append(result)
    print(json.dumps(results if args.repeat > 1 else results[0]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("keygen", help="make a key pair, print the public key")
    gen.add_argument("--out", required=True)
    gen.add_argument("--algorithm", choices=["ed25519", "ecdsa-p256-sha256"], default="ed25519")
    gen.set_defaults(run=keygen)
    sig = commands.add_parser("send", help="send one signed request")
    sig.add_argument("--base-url", required=True)
    sig.add_argument("--api-key", required=True)
    sig.add_argument("--private-key", required=True)
    sig.add_argument("--json", help="the JSON body")
    sig.add_argument("--param", action="append", default=[], help="NAME=VALUE query parameter")
    sig.add_argument("--nonce", help="default: 18 random bytes")
    sig.add_argument("--verify-receipt", action="store_true")
    # For tests of the service's refusals: a clock off by this many seconds, the same
    # signed request sent more than once, a body changed after signing; and of the
    # receipt check: the answer's body changed before it is checked.
    sig.add_argument("--created-offset", type=int, default=0, help=argparse.SUPPRESS)
    sig.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    sig.add_argument("--tamper-body", help=argparse.SUPPRESS)
    sig.add_argument("--tamper-response", action="store_true", help=argparse.SUPPRESS)
    sig.add_argument("method")
    sig.add_argument("path")
    sig.set_defaults(run=send)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
