"""azure-identity 1.27.0's DeviceCodeCredential with the persistent cache (plain file), against
the emulator. Driven by tests/device_code_python.rs; prints one JSON line.

  authenticate AUTHORITY CLIENT_ID SCOPE   sign in (the emulator approves the code), print the record
  silent AUTHORITY RECORD SCOPE            get_token from the record only, never prompting
"""
import json
import sys
import warnings

warnings.simplefilter("ignore")

from azure.identity import (  # noqa: E402
    AuthenticationRecord,
    DeviceCodeCredential,
    TokenCachePersistenceOptions,
)

PERSISTENCE = TokenCachePersistenceOptions(allow_unencrypted_storage=True)


def main():
    mode, authority = sys.argv[1], sys.argv[2]
    if mode == "authenticate":
        client_id, scope = sys.argv[3], sys.argv[4]
        credential = DeviceCodeCredential(
            client_id=client_id,
            authority=authority,
            disable_instance_discovery=True,
            cache_persistence_options=PERSISTENCE,
            prompt_callback=lambda uri, code, expires_on: None,
        )
        record = credential.authenticate(scopes=[scope])
        print(json.dumps({"record": record.serialize()}))
    elif mode == "silent":
        record, scope = AuthenticationRecord.deserialize(sys.argv[3]), sys.argv[4]
        # The record names the authority (passing it too is an error in Python).
        credential = DeviceCodeCredential(
            authentication_record=record,
            disable_automatic_authentication=True,
            disable_instance_discovery=True,
            cache_persistence_options=PERSISTENCE,
        )
        token = credential.get_token(scope)
        print(json.dumps({"token": token.token, "expires_on": token.expires_on}))
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
