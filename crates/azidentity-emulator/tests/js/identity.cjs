// Get tokens from the azidentity emulator with Microsoft's own JavaScript @azure/identity,
// unmodified. Run by tests/js_interop.rs, with NODE_PATH naming the node_modules directory
// scripts/azure-identity-js installs.
//
// Usage: node identity.cjs CASES_JSON_FILE
//
// The file holds {"cases": [{"name", "credential", "scopes", "options", "args", "env"}]}; one
// credential gets a token for each scope in turn (so a reused client assertion is exercised).
// Each case's `env`
// is laid over the process environment while its credential is built and used (the process
// environment itself is what `azid emulator` printed: the authority, NODE_EXTRA_CA_CERTS, a
// managed identity host's variables). Cases run one after the other; each prints one JSON line:
//   {"name": "...", "ok": true, "tokens": [{"token": "...", "expiresOnTimestamp": 123, ...}]}
//   {"name": "...", "ok": false, "error": "...", "errorName": "..."}
// The exit code is 0 whenever the script itself ran; the Rust test judges the results.

"use strict";

const fs = require("node:fs");
const identity = require("@azure/identity");

// Instance discovery would ask login.microsoftonline.com whether the emulator is a known
// cloud: it is not, and the tests stay on loopback.
const common = { disableInstanceDiscovery: true };

async function controlPost(path, body) {
  const response = await fetch(`${process.env.AZURE_AUTHORITY_HOST}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`${path}: ${response.status} ${await response.text()}`);
  }
}

function build(kind, args) {
  const env = process.env;
  switch (kind) {
    case "secret":
      return new identity.ClientSecretCredential(
        env.AZURE_TENANT_ID,
        env.AZURE_CLIENT_ID,
        env.AZURE_CLIENT_SECRET,
        common,
      );
    case "certificate":
      return new identity.ClientCertificateCredential(
        args.tenantId,
        args.clientId,
        { certificatePath: args.certificatePath },
        { ...common, sendCertificateChain: Boolean(args.sendCertificateChain) },
      );
    case "assertion": {
      const file = args.assertionFile;
      return new identity.ClientAssertionCredential(
        args.tenantId,
        args.clientId,
        async () => fs.readFileSync(file, "utf8").trim(),
        common,
      );
    }
    case "username-password":
      return new identity.UsernamePasswordCredential(
        args.tenantId,
        args.clientId,
        args.username,
        args.password,
        common,
      );
    case "device-code":
      return new identity.DeviceCodeCredential({
        ...common,
        tenantId: args.tenantId,
        clientId: args.clientId,
        // The user signs in on another device; here, through the emulator's control API.
        userPromptCallback: async (info) => {
          await controlPost("/_emulator/device_codes", {
            user_code: info.userCode,
            username: args.username,
          });
        },
      });
    case "on-behalf-of":
      return new identity.OnBehalfOfCredential({
        ...common,
        tenantId: args.tenantId,
        clientId: args.clientId,
        clientSecret: args.clientSecret,
        userAssertionToken: args.userAssertionToken,
      });
    case "managed-identity":
      return new identity.ManagedIdentityCredential(args.id || {});
    case "workload-identity":
      return new identity.WorkloadIdentityCredential(common);
    case "azure-pipelines":
      return new identity.AzurePipelinesCredential(
        env.AZURESUBSCRIPTION_TENANT_ID,
        env.AZURESUBSCRIPTION_CLIENT_ID,
        env.AZURESUBSCRIPTION_SERVICE_CONNECTION_ID,
        env.SYSTEM_ACCESSTOKEN,
        common,
      );
    case "default":
      return new identity.DefaultAzureCredential(common);
    default:
      throw new Error(`unknown credential kind ${kind}`);
  }
}

async function run(testCase) {
  const saved = {};
  for (const [name, value] of Object.entries(testCase.env || {})) {
    saved[name] = process.env[name];
    if (value === null) {
      delete process.env[name];
    } else {
      process.env[name] = value;
    }
  }
  try {
    const credential = build(testCase.credential, testCase.args || {});
    const tokens = [];
    for (const scope of testCase.scopes) {
      const token = await credential.getToken(scope, testCase.options || {});
      tokens.push({
        token: token.token,
        expiresOnTimestamp: token.expiresOnTimestamp,
        refreshAfterTimestamp: token.refreshAfterTimestamp ?? null,
      });
    }
    return { name: testCase.name, ok: true, tokens };
  } catch (error) {
    return {
      name: testCase.name,
      ok: false,
      errorName: error && error.name,
      error: String((error && error.stack) || error),
    };
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) {
        delete process.env[name];
      } else {
        process.env[name] = value;
      }
    }
  }
}

async function main() {
  const { cases } = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  for (const testCase of cases) {
    process.stdout.write(`${JSON.stringify(await run(testCase))}\n`);
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(2);
});
