//! The fuzz targets' seed corpus and every crash reproducer (`fuzz/corpus/<target>/`,
//! `fuzz/regressions/<target>/`) replayed on stable through the same entry points the fuzzer
//! calls, so what fuzzing found once stays fixed without a nightly toolchain.

use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("redact", azidentity::fuzzing::redact),
    ("retry_after", azidentity::fuzzing::retry_after),
    ("token_response", azidentity::fuzzing::token_response),
    (
        "managed_identity_response",
        azidentity::fuzzing::managed_identity_response,
    ),
    ("cli_output", azidentity::fuzzing::cli_output),
    ("local_time", azidentity::fuzzing::local_time),
    ("redirect_request", azidentity::fuzzing::redirect_request),
    ("certificate", azidentity::fuzzing::certificate),
    ("cache_document", azidentity::fuzzing::cache_document),
    ("auth_record", azidentity::fuzzing::auth_record),
    ("entra_exchange", azidentity::fuzzing::entra_exchange),
    (
        "managed_identity_exchange",
        azidentity::fuzzing::managed_identity_exchange,
    ),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    !p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn every_target_has_an_entry_point_a_binary_and_seeds() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for (name, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
        assert!(
            !files(&fuzz_dir().join("corpus").join(name)).is_empty(),
            "fuzz/corpus/{name} has no seed"
        );
    }
    for dir in ["corpus", "regressions"] {
        for path in files(&fuzz_dir().join(dir)) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                TARGETS.iter().any(|(t, _)| *t == name),
                "fuzz/{dir}/{name} belongs to no target"
            );
        }
    }
}

#[test]
fn the_corpus_and_crash_reproducers_run_clean() {
    let mut ran = 0;
    for (name, target) in TARGETS {
        for dir in ["corpus", "regressions"] {
            for input in files(&fuzz_dir().join(dir).join(name)) {
                let data = std::fs::read(&input).unwrap();
                let outcome = std::panic::catch_unwind(|| target(&data));
                assert!(outcome.is_ok(), "{} panicked", input.display());
                ran += 1;
            }
        }
    }
    assert!(ran >= TARGETS.len(), "only {ran} inputs ran");
}
