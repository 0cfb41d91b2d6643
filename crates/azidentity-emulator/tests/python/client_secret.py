"""Acquire tokens from the azidentity emulator with Microsoft's own azure-identity.

Run by tests/python_interop.rs. Everything comes from the environment the test passes:
AZURE_AUTHORITY_HOST, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, plus
REQUESTS_CA_BUNDLE (sync stack, requests) and SSL_CERT_FILE (async stack, aiohttp), which
both name the emulator's throw-away CA.

Usage: client_secret.py MODE [SCOPE]
  MODE is "sync" (MSAL path), "async" (AadClient path) or "both".

Prints one JSON object per line, one per stack tried:
  {"stack": "sync", "ok": true, "token": "...", "expires_on": 123}
  {"stack": "sync", "ok": false, "error_type": "ClientAuthenticationError", "message": "..."}
The exit code is 0 whenever the script itself ran; the Rust test judges the results.
"""

import asyncio
import json
import os
import sys

from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential

DEFAULT_SCOPE = "https://management.azure.com/.default"


def settings():
    return {
        "tenant_id": os.environ["AZURE_TENANT_ID"],
        "client_id": os.environ["AZURE_CLIENT_ID"],
        "client_secret": os.environ["AZURE_CLIENT_SECRET"],
        "authority": os.environ["AZURE_AUTHORITY_HOST"],
    }


def report(stack, token=None, error=None):
    if error is None:
        result = {"stack": stack, "ok": True, "token": token.token, "expires_on": token.expires_on}
    else:
        result = {
            "stack": stack,
            "ok": False,
            "error_type": type(error).__name__,
            "is_client_authentication_error": isinstance(error, ClientAuthenticationError),
            "message": str(error),
        }
    print(json.dumps(result), flush=True)


def run_sync(scope):
    # MSAL would ask login.microsoftonline.com whether the emulator is a known cloud;
    # the emulator is not, and the test must stay on loopback.
    credential = ClientSecretCredential(disable_instance_discovery=True, **settings())
    try:
        report("sync", token=credential.get_token(scope))
    except Exception as error:  # the test wants to see every failure, typed
        report("sync", error=error)
    finally:
        credential.close()


async def run_async(scope):
    credential = AsyncClientSecretCredential(**settings())
    try:
        report("async", token=await credential.get_token(scope))
    except Exception as error:
        report("async", error=error)
    finally:
        await credential.close()


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "both"
    scope = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_SCOPE
    if mode in ("sync", "both"):
        run_sync(scope)
    if mode in ("async", "both"):
        asyncio.run(run_async(scope))
    if mode not in ("sync", "async", "both"):
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
