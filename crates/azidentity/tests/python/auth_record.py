"""azure-identity's AuthenticationRecord on records azidentity wrote. stdin: one JSON document
per line, {"serialized": "..."} to deserialize or {"fields": {...}} to build and serialize.
stdout: one JSON line per input."""
import json
import sys

from azure.identity import AuthenticationRecord

for line in sys.stdin:
    request = json.loads(line)
    try:
        if "serialized" in request:
            record = AuthenticationRecord.deserialize(request["serialized"])
        else:
            record = AuthenticationRecord(**request["fields"])
        print(json.dumps({
            "serialized": record.serialize(),
            "fields": {
                "tenant_id": record.tenant_id, "client_id": record.client_id,
                "authority": record.authority, "home_account_id": record.home_account_id,
                "username": record.username,
            },
        }))
    except Exception as error:  # the type and text are what the test compares
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
