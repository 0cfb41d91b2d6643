"""Acquire tokens from the azidentity emulator with Microsoft's own azure-identity 1.27.0.

Run by the *_interop.rs tests. Everything comes from the environment the test passes:
AZURE_AUTHORITY_HOST, REQUESTS_CA_BUNDLE (sync stack) and SSL_CERT_FILE (async stack) name
the emulator and its throw-away CA; AZID_* variables describe the credential.

Usage: grants.py KIND STACKS
  KIND: certificate | assertion | obo | password | environment
  STACKS: sync, async or both (password is sync only, as in Python)

Prints one JSON object per stack tried:
  {"stack": "sync", "ok": true, "token": "...", "expires_on": 123}
  {"stack": "sync", "ok": false, "error_type": "...", "message": "..."}
"""

import asyncio
import json
import os
import sys

import azure.identity as sync_identity
import azure.identity.aio as async_identity

env = os.environ.get
# Each stack's credential takes the next assertion: the emulator refuses a replayed jti.
ASSERTIONS = iter(env("AZID_ASSERTIONS", "").split())


def common():
    # MSAL would ask login.microsoftonline.com whether the emulator is a known cloud; the
    # tests must stay on loopback, so instance discovery is off (ignored by the async stack).
    return {"authority": env("AZURE_AUTHORITY_HOST"), "disable_instance_discovery": True}


def certificate_kwargs():
    kwargs = {"certificate_path": env("AZID_CERT_PATH")}
    if env("AZID_CERT_PASSWORD"):
        kwargs["password"] = env("AZID_CERT_PASSWORD")
    return kwargs


def build(identity, kind):
    tenant, client = env("AZID_TENANT"), env("AZID_CLIENT_ID")
    if kind == "certificate":
        return identity.CertificateCredential(tenant, client, **certificate_kwargs(), **common())
    if kind == "assertion":
        return identity.ClientAssertionCredential(
            tenant, client, lambda: next(ASSERTIONS), **common()
        )
    if kind == "obo":
        return identity.OnBehalfOfCredential(
            tenant,
            client,
            client_secret=env("AZID_CLIENT_SECRET"),
            user_assertion=env("AZID_USER_ASSERTION"),
            **common(),
        )
    if kind == "password" or (kind == "environment" and env("AZURE_USERNAME")):
        if env("AZID_SKIP_USER_REALM"):
            # MSAL asks https://{host}/common/userrealm/... on port 443 whatever the
            # authority's port; when the emulator cannot listen there, use MSAL's own list of
            # hosts without user realm discovery.
            import msal.authority

            msal.authority.Authority._domains_without_user_realm_discovery.add("127.0.0.1")
    if kind == "password":
        return identity.UsernamePasswordCredential(
            client, env("AZID_USERNAME"), env("AZID_PASSWORD"), **common()
        )
    if kind == "environment":
        return identity.EnvironmentCredential(**common())
    raise ValueError(f"unknown kind {kind!r}")


def report(stack, token=None, error=None):
    if error is None:
        result = {"stack": stack, "ok": True, "token": token.token, "expires_on": token.expires_on}
    else:
        result = {
            "stack": stack,
            "ok": False,
            "error_type": type(error).__name__,
            "message": str(error),
        }
    print(json.dumps(result), flush=True)


def run_sync(kind, scope):
    credential = build(sync_identity, kind)
    try:
        report("sync", token=credential.get_token(scope))
    except Exception as error:  # the test wants every failure, typed
        report("sync", error=error)
    finally:
        credential.close()


async def run_async(kind, scope):
    credential = build(async_identity, kind)
    try:
        report("async", token=await credential.get_token(scope))
    except Exception as error:
        report("async", error=error)
    finally:
        await credential.close()


def main():
    kind, stacks = sys.argv[1], sys.argv[2]
    scope = env("AZID_SCOPE", "https://management.azure.com/.default")
    if stacks in ("sync", "both"):
        run_sync(kind, scope)
    if stacks in ("async", "both"):
        asyncio.run(run_async(kind, scope))
    return 0


if __name__ == "__main__":
    sys.exit(main())
