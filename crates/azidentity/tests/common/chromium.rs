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

/// Waits (up to 10 s) until the process `pid` has gone; a browser that was only signalled may
/// still be writing to its profile for a moment.
pub fn wait_until_gone(pid: u32) {
    let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
    for _ in 0..100 {
        let zombie = std::fs::read_to_string(proc.join("stat"))
            .map(|stat| {
                stat.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if zombie {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Removes a browser profile directory once its helper processes have let go of it: removing
/// while one still writes fails (a directory not empty) and would leave the profile behind in
/// the temporary directory. Tries for up to 10 s.
pub fn remove_profile(dir: &std::path::Path) {
    for _ in 0..100 {
        if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() {
            // A helper that was still exiting may have written one last file.
            std::thread::sleep(std::time::Duration::from_millis(200));
            if !dir.exists() {
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
