//! What to do about common Entra ID errors, so messages say more than the code.

/// A sentence of advice for an OAuth error and its first AADSTS code.
pub(crate) fn for_error(error: &str, code: Option<i64>) -> String {
    let advice = match code {
        Some(7000215) => {
            "Check the client secret: use the secret's value (not its ID) and make \
                          sure it has not expired"
        }
        Some(7000222) => "The client secret has expired; create a new one for the app",
        Some(700016) => {
            "Check the client id and the tenant: no application with this id is \
                         registered in the tenant, or it was not consented to there"
        }
        Some(90002) | Some(900023) => "Check the tenant id: no such tenant exists",
        Some(70011) | Some(1002012) => {
            "Check the scope: a client credential needs one \
                                        resource scope ending in /.default, e.g. \
                                        https://management.azure.com/.default"
        }
        Some(500011) => "The resource is not registered in the tenant; check the scope",
        Some(50126) => "Check the user name and password",
        Some(50076) | Some(50079) => {
            "Multi-factor authentication is required; use an \
                                      interactive credential"
        }
        Some(700024) => "The client assertion is outside its validity window; check the clock",
        Some(700027) => {
            "The client assertion's signature did not verify; check the \
                         certificate registered for the app"
        }
        Some(50049) => {
            "The authority is not known to Microsoft Entra ID; set \
                        disable_instance_discovery for private clouds and emulators"
        }
        Some(code) => {
            return format!(
                "Look up AADSTS{code} at https://login.microsoftonline.com/error?code={code}"
            );
        }
        None if error == "invalid_instance" => {
            "The authority is not known; set \
                                                disable_instance_discovery for private clouds"
        }
        None => "Check the credential's configuration",
    };
    advice.to_owned()
}
