//! Regional token endpoints (ESTS-R), as MSAL picks them: a configured region, or one detected
//! from `REGION_NAME` or the VM's instance metadata, for the client credentials grant only.

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::authority::Authority;
use crate::platform::Env;
use crate::{ClientOptions, EnvironmentVariables, Error, Platform};

const IMDS: &str = "http://169.254.169.254";
const COMPUTE_METADATA: &str = "/metadata/instance/compute?api-version=2021-02-01";
/// Outside Azure nothing answers at the IMDS address; don't wait for it long.
const IMDS_TIMEOUT: Duration = Duration::from_secs(2);
/// The hosts MSAL maps to `{region}.login.microsoft.com`.
const PUBLIC_CLOUD_HOSTS: [&str; 4] = [
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Setting {
    Fixed(String),
    Detect,
}

/// The region a credential sends client credentials requests to.
#[derive(Debug)]
pub(crate) struct Region {
    setting: Setting,
    detected: OnceCell<Option<String>>,
    env: Env,
    platform: Platform,
}

/// MSAL's rule for region names: a DNS label.
fn valid_region(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[bytes.len() - 1] != b'-'
}

impl Region {
    /// The region from the option, else `AZURE_REGIONAL_AUTHORITY_NAME`; `None` when neither is
    /// set (or it is `false`). An invalid name is a configuration error, as in MSAL.
    pub(crate) fn from_options(
        credential: &'static str,
        options: &ClientOptions,
    ) -> Result<Option<Self>, Error> {
        let env = options.platform.env();
        let value = options
            .regional_authority
            .clone()
            .or_else(|| env.non_empty(EnvironmentVariables::AZURE_REGIONAL_AUTHORITY_NAME));
        let Some(value) = value.map(|v| v.trim().to_ascii_lowercase()) else {
            return Ok(None);
        };
        let setting = match value.as_str() {
            "" | "false" => return Ok(None),
            "tryautodetect" | "true" => Setting::Detect,
            name if valid_region(name) => Setting::Fixed(name.to_owned()),
            _ => {
                return Err(Error::config(
                    credential,
                    format!(
                        "the regional authority {value:?} is not a region name: use a name \
                         such as westus2 (letters, digits and hyphens) or tryautodetect"
                    ),
                ));
            }
        };
        Ok(Some(Region {
            setting,
            detected: OnceCell::new(),
            env: env.clone(),
            platform: options.platform.clone(),
        }))
    }

    /// The region to use, detecting it on first use; `None` when detection found nothing.
    pub(crate) async fn name(&self) -> Option<&str> {
        match &self.setting {
            Setting::Fixed(name) => Some(name),
            Setting::Detect => self.detected.get_or_init(|| self.detect()).await.as_deref(),
        }
    }

    async fn detect(&self) -> Option<String> {
        if let Some(name) = self.env.non_empty("REGION_NAME") {
            let name = name.trim().to_ascii_lowercase();
            return valid_region(&name).then_some(name);
        }
        let base = self
            .env
            .non_empty(EnvironmentVariables::AZURE_POD_IDENTITY_AUTHORITY_HOST)
            .unwrap_or_else(|| IMDS.to_owned());
        let url = format!("{}{COMPUTE_METADATA}", base.trim_end_matches('/'));
        let location = self.imds_location(&url).await;
        match &location {
            Some(region) => tracing::info!(region, "detected the Azure region from IMDS"),
            None => tracing::info!(
                "no Azure region was detected; token requests go to the global endpoint"
            ),
        }
        location
    }

    async fn imds_location(&self, url: &str) -> Option<String> {
        let http = self.platform.plain_http_client(IMDS_TIMEOUT).ok()?;
        let request = http::Request::builder()
            .method(http::Method::GET)
            .uri(url)
            .header("Metadata", "true")
            .body(Bytes::new())
            .ok()?;
        let response = tokio::time::timeout(IMDS_TIMEOUT, http.send(request))
            .await
            .ok()?
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body: Value = serde_json::from_slice(response.body()).ok()?;
        let location = body.get("location")?.as_str()?.trim().to_ascii_lowercase();
        valid_region(&location).then_some(location)
    }
}

/// `https://{regional host}[:port]`: `{region}.login.microsoft.com` for the public cloud's
/// hosts, `{region}.{host}` for the others (MSAL's rule; the port is kept for local hosts).
pub(crate) fn regional_base(authority: &Authority, region: &str) -> String {
    let host_and_port = authority.host_and_port();
    let (host, port) = match host_and_port.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => (host, Some(port)),
        _ => (host_and_port, None),
    };
    let regional = if PUBLIC_CLOUD_HOSTS.contains(&host) {
        format!("{region}.login.microsoft.com")
    } else {
        format!("{region}.{host}")
    };
    match port {
        Some(port) => format!("https://{regional}:{port}"),
        None => format!("https://{regional}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(authority: &str, region: &str) -> String {
        regional_base(&Authority::parse("X", authority).unwrap(), region)
    }

    #[test]
    fn msal_regional_hosts() {
        for public in PUBLIC_CLOUD_HOSTS {
            assert_eq!(
                base(public, "westus2"),
                "https://westus2.login.microsoft.com"
            );
        }
        assert_eq!(
            base("login.microsoftonline.us", "usgovvirginia"),
            "https://usgovvirginia.login.microsoftonline.us"
        );
        assert_eq!(
            base("login.chinacloudapi.cn", "chinaeast2"),
            "https://chinaeast2.login.chinacloudapi.cn"
        );
        assert_eq!(
            base("https://login.emulator.test:8443", "eastus"),
            "https://eastus.login.emulator.test:8443"
        );
    }

    #[test]
    fn region_names() {
        for good in ["westus2", "eastus", "usgov-virginia", "a"] {
            assert!(valid_region(good), "{good}");
        }
        for bad in [
            "",
            "WestUS",
            "west us",
            "-west",
            "west-",
            "west.us",
            &"a".repeat(64),
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn settings() {
        let options = |value: Option<&str>, env: &[(&str, &str)]| ClientOptions {
            regional_authority: value.map(str::to_owned),
            platform: Platform::system().with_env(Env::from_pairs(env.iter().copied())),
            ..Default::default()
        };
        let setting = |o: &ClientOptions| Region::from_options("X", o).unwrap().map(|r| r.setting);
        assert_eq!(setting(&options(None, &[])), None);
        assert_eq!(
            setting(&options(
                None,
                &[("AZURE_REGIONAL_AUTHORITY_NAME", "TryAutoDetect")]
            )),
            Some(Setting::Detect)
        );
        assert_eq!(
            setting(&options(
                Some("westus2"),
                &[("AZURE_REGIONAL_AUTHORITY_NAME", "eastus")]
            )),
            Some(Setting::Fixed("westus2".into()))
        );
        assert_eq!(setting(&options(Some("false"), &[])), None);
        assert!(Region::from_options("X", &options(Some("west us"), &[])).is_err());
    }
}
