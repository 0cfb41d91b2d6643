//! Finding our [`Error`] inside another library's error: an Azure SDK client reports a credential
//! failure as its own error ("non-transport error occurred which will not be retried"), with ours
//! one or more `source()` levels down.

use crate::Error;

impl Error {
    /// Our error inside `error`'s chain (`error` itself or any of its `source()`s), if there is
    /// one: what Entra answered, the AADSTS code, which credential, and what to do are then at
    /// hand instead of the outer library's generic message.
    ///
    /// ```
    /// # fn demo(sdk_error: &(dyn std::error::Error + 'static)) {
    /// match azidentity::Error::find_in(sdk_error) {
    ///     Some(ours) => eprintln!("authentication failed: {ours}"),
    ///     None => eprintln!("{sdk_error}"),
    /// }
    /// # }
    /// ```
    ///
    /// With an `azure_core::Error` (or an `anyhow::Error`, a `Box<dyn Error>`), pass a reference
    /// to it: `Error::find_in(&sdk_error)`.
    pub fn find_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
        let mut next = Some(error);
        // A chain that loops back on itself would never end: bounded, far beyond real chains.
        for _ in 0..64 {
            let current = next?;
            if let Some(ours) = current.downcast_ref::<Error>() {
                return Some(ours);
            }
            next = current.source();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use crate::{Error, ErrorKind};

    #[derive(Debug)]
    struct Wrapper(Box<dyn std::error::Error + Send + Sync>);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("non-transport error occurred which will not be retried")
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.0)
        }
    }

    fn ours() -> Error {
        Error::new(
            ErrorKind::AuthenticationFailed,
            "ClientSecretCredential",
            "AADSTS7000215: Invalid client secret provided.",
        )
    }

    #[test]
    fn found_two_levels_down() {
        let outer = Wrapper(Box::new(Wrapper(Box::new(ours()))));
        let found = Error::find_in(&outer).expect("our error is in the chain");
        assert_eq!(found.credential(), "ClientSecretCredential");
        assert!(found.message().contains("AADSTS7000215"));
    }

    #[test]
    fn found_at_the_top_and_absent_elsewhere() {
        let top = ours();
        assert!(Error::find_in(&top).is_some());
        let io = std::io::Error::other("refused");
        assert!(Error::find_in(&Wrapper(Box::new(io))).is_none());
    }
}
