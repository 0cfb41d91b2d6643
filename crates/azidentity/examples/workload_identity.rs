//! Entra Workload ID on Kubernetes: the service account token in AZURE_FEDERATED_TOKEN_FILE is
//! exchanged for an Entra token of the app in AZURE_CLIENT_ID (variables set by the webhook).
//!
//!     cargo run -p azidentity --example workload_identity

use azidentity::{
    TokenCredential, TokenRequestOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let credential = WorkloadIdentityCredential::new(WorkloadIdentityCredentialOptions::default())?;
    let token = credential
        .get_token(
            &["https://management.azure.com/.default"],
            &TokenRequestOptions::default(),
        )
        .await?;
    println!(
        "WorkloadIdentityCredential: token expires {}",
        token.expires_on()
    );
    Ok(())
}
