"""azure-identity 1.27.0's ClientSecretCredential with a named persistent token cache (the plain
file, as allow_unencrypted_storage permits without a keyring), against the emulator. Driven by
crates/azid/tests/token_cache.rs; prints one JSON line.

  app_cache.py NAME SCOPE

The service principal and the emulator come from the environment: AZURE_TENANT_ID,
AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST, REQUESTS_CA_BUNDLE; HOME decides
where the cache is (~/.IdentityService/NAME.nocae).
"""
import json
import os
import sys
import warnings

warnings.simplefilter("ignore")

from azure.identity import ClientSecretCredential, TokenCachePersistenceOptions  # noqa: E402


def main():
    name, scope = sys.argv[1], sys.argv[2]
    env = os.environ
    credential = ClientSecretCredential(
        env["AZURE_TENANT_ID"],
        env["AZURE_CLIENT_ID"],
        env["AZURE_CLIENT_SECRET"],
        authority=env["AZURE_AUTHORITY_HOST"],
        # MSAL would ask login.microsoftonline.com whether the emulator is a known cloud.
        disable_instance_discovery=True,
        cache_persistence_options=TokenCachePersistenceOptions(
            name=name, allow_unencrypted_storage=True
        ),
    )
    token = credential.get_token(scope)
    print(json.dumps({"token": token.token, "expires_on": token.expires_on}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
