//! How every test starts headless Chromium (the library's browser test and azid's login test):
//! no background traffic, and a resolver that knows loopback only, so that the browser can
//! never reach a real host whatever a page links to.

/// The flags, before the profile directory and the URL.
pub const HEADLESS_CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--no-default-browser-check",
    // Every name but loopback's fails to resolve: the emulator is at 127.0.0.1, the redirect
    // server at localhost.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    // The emulator's CA is made at start; trusting it system-wide is not an option for a test.
    "--ignore-certificate-errors",
];
