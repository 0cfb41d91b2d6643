//! Names of the environment variables the library reads, as Python's `EnvironmentVariables`.

/// Environment variable names (Python: `azure.identity._constants.EnvironmentVariables`).
#[derive(Debug, Clone, Copy)]
pub struct EnvironmentVariables;

#[allow(missing_docs)]
impl EnvironmentVariables {
    pub const AZURE_CLIENT_ID: &'static str = "AZURE_CLIENT_ID";
    pub const AZURE_CLIENT_SECRET: &'static str = "AZURE_CLIENT_SECRET";
    pub const AZURE_TENANT_ID: &'static str = "AZURE_TENANT_ID";
    pub const CLIENT_SECRET_VARS: [&'static str; 3] = [
        Self::AZURE_CLIENT_ID,
        Self::AZURE_CLIENT_SECRET,
        Self::AZURE_TENANT_ID,
    ];

    pub const AZURE_CLIENT_CERTIFICATE_PATH: &'static str = "AZURE_CLIENT_CERTIFICATE_PATH";
    pub const AZURE_CLIENT_CERTIFICATE_PASSWORD: &'static str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
    pub const AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: &'static str =
        "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN";
    pub const CERT_VARS: [&'static str; 3] = [
        Self::AZURE_CLIENT_ID,
        Self::AZURE_CLIENT_CERTIFICATE_PATH,
        Self::AZURE_TENANT_ID,
    ];

    pub const AZURE_USERNAME: &'static str = "AZURE_USERNAME";
    pub const AZURE_PASSWORD: &'static str = "AZURE_PASSWORD";
    pub const USERNAME_PASSWORD_VARS: [&'static str; 3] = [
        Self::AZURE_CLIENT_ID,
        Self::AZURE_USERNAME,
        Self::AZURE_PASSWORD,
    ];

    pub const AZURE_AUTHORITY_HOST: &'static str = "AZURE_AUTHORITY_HOST";
    pub const AZURE_IDENTITY_DISABLE_MULTITENANTAUTH: &'static str =
        "AZURE_IDENTITY_DISABLE_MULTITENANTAUTH";
    pub const AZURE_REGIONAL_AUTHORITY_NAME: &'static str = "AZURE_REGIONAL_AUTHORITY_NAME";
    pub const AZURE_TOKEN_CREDENTIALS: &'static str = "AZURE_TOKEN_CREDENTIALS";

    pub const AZURE_FEDERATED_TOKEN_FILE: &'static str = "AZURE_FEDERATED_TOKEN_FILE";
    pub const AZURE_KUBERNETES_TOKEN_PROXY: &'static str = "AZURE_KUBERNETES_TOKEN_PROXY";
    pub const AZURE_KUBERNETES_SNI_NAME: &'static str = "AZURE_KUBERNETES_SNI_NAME";
    pub const AZURE_KUBERNETES_CA_FILE: &'static str = "AZURE_KUBERNETES_CA_FILE";
    pub const AZURE_KUBERNETES_CA_DATA: &'static str = "AZURE_KUBERNETES_CA_DATA";

    pub const AZURE_POD_IDENTITY_AUTHORITY_HOST: &'static str = "AZURE_POD_IDENTITY_AUTHORITY_HOST";
    pub const IDENTITY_ENDPOINT: &'static str = "IDENTITY_ENDPOINT";
    pub const IDENTITY_HEADER: &'static str = "IDENTITY_HEADER";
    pub const IDENTITY_SERVER_THUMBPRINT: &'static str = "IDENTITY_SERVER_THUMBPRINT";
    pub const IMDS_ENDPOINT: &'static str = "IMDS_ENDPOINT";
    pub const MSI_ENDPOINT: &'static str = "MSI_ENDPOINT";
    pub const MSI_SECRET: &'static str = "MSI_SECRET";

    pub const SYSTEM_OIDCREQUESTURI: &'static str = "SYSTEM_OIDCREQUESTURI";
    pub const AZURE_HTTP_USER_AGENT: &'static str = "AZURE_HTTP_USER_AGENT";
}
