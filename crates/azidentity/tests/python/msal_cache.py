"""Microsoft's MSAL Python and msal-extensions on the caches azidentity writes, and writing
caches for azidentity to read. Driven by tests/persistent_cache*.rs; prints one JSON line.

Modes:
  add                                  stdin: JSON list of cache events -> the serialized cache
  silent CACHE AUTHORITY CLIENT SCOPE  get_accounts + acquire_token_silent (cache written back)
  auth-code CACHE AUTHORITY CLIENT CODE REDIRECT SCOPE  redeem a code, write the cache
                                       (not the password flow: MSAL's user realm discovery
                                       drops the authority's port)
  ext-add CACHE COUNT PREFIX           msal-extensions PersistedTokenCache.add, COUNT app tokens
  ext-watch CACHE SCOPE                a long-lived PersistedTokenCache: search, then wait for
                                       a line on stdin, search again (mtime reload)
  libsecret-read NAME SIGNAL           msal-extensions LibsecretPersistence.load
  libsecret-write NAME SIGNAL          stdin: the JSON to save with LibsecretPersistence
HTTPS goes only to the emulator (AZ_CA names its CA); instance discovery is off.
"""
import json
import os
import sys
import time
import warnings

warnings.simplefilter("ignore")

import msal  # noqa: E402


def out(value):
    print(json.dumps(value))
    sys.stdout.flush()


def load_cache(path):
    cache = msal.SerializableTokenCache()
    if os.path.exists(path):
        with open(path) as f:
            cache.deserialize(f.read())
    return cache


def save_cache(cache, path):
    if cache.has_state_changed:
        with open(path, "w") as f:
            f.write(cache.serialize())


def app(cache, authority, client_id):
    return msal.PublicClientApplication(
        client_id,
        authority=authority,
        token_cache=cache,
        verify=os.environ["AZ_CA"],
        instance_discovery=False,
    )


def account_view(account):
    return {k: account.get(k) for k in ("home_account_id", "environment", "username", "realm", "local_account_id", "authority_type")}


def main():
    mode = sys.argv[1]
    if mode == "add":
        cache = msal.SerializableTokenCache()
        for event in json.load(sys.stdin):
            now = event.pop("now")
            cache.add(event, now=now)
        print(cache.serialize())
    elif mode == "silent":
        path, authority, client_id, scope = sys.argv[2:6]
        cache = load_cache(path)
        application = app(cache, authority, client_id)
        accounts = application.get_accounts()
        result = None
        if accounts:
            result = application.acquire_token_silent_with_error([scope], account=accounts[0])
        save_cache(cache, path)
        view = None
        if result is not None:
            view = {k: result.get(k) for k in ("access_token", "token_source", "error", "error_description")}
        out({"accounts": [account_view(a) for a in accounts], "result": view})
    elif mode == "auth-code":
        path, authority, client_id, code, redirect_uri, scope = sys.argv[2:8]
        cache = load_cache(path)
        result = app(cache, authority, client_id).acquire_token_by_authorization_code(
            code, scopes=[scope], redirect_uri=redirect_uri)
        save_cache(cache, path)
        out({k: result.get(k) for k in ("access_token", "refresh_token", "error", "error_description")})
    elif mode in ("ext-add", "ext-watch"):
        from msal_extensions import FilePersistence, PersistedTokenCache
        cache = PersistedTokenCache(FilePersistence(sys.argv[2]))
        if mode == "ext-add":
            count, prefix = int(sys.argv[3]), sys.argv[4]
            for i in range(count):
                cache.add({
                    "client_id": "python-writer",
                    "scope": ["https://%s-%d/.default" % (prefix, i)],
                    "token_endpoint": "https://login.microsoftonline.com/tenant/oauth2/v2.0/token",
                    "environment": "login.microsoftonline.com",
                    "response": {"access_token": "at-%s-%d" % (prefix, i), "expires_in": 3600},
                })
            out({"added": count})
        else:
            scope = sys.argv[3]
            def secrets():
                return sorted(at["secret"] for at in cache.search(
                    msal.TokenCache.CredentialType.ACCESS_TOKEN, target=[scope]))
            out({"before": secrets()})
            sys.stdin.readline()
            out({"after": secrets()})
    elif mode in ("libsecret-read", "libsecret-write"):
        from msal_extensions import LibsecretPersistence
        name, signal = sys.argv[2:4]
        persistence = LibsecretPersistence(
            signal, schema_name=name,
            attributes={"MsalClientID": "Microsoft.Developer.IdentityService"},
            label="MSALCache")
        if mode == "libsecret-read":
            out({"data": persistence.load(), "mtime": persistence.time_last_modified()})
        else:
            persistence.save(sys.stdin.read())
            out({"saved": True})
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
