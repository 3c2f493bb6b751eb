//! The output as operators receive it: `--excel` (a BOM, CRLF, codes kept
//! as text) and a file mode that follows the umask, or the replaced file's.

use std::path::Path;

use tenure::sandbox::{SandboxConfig, answer_for};

use crate::common::*;

/// A number the sandbox answers with tenure code `code`.
fn number_with_code(code: &str) -> String {
    distinct_numbers(2000)
        .into_iter()
        .find(|n| answer_for(n).is_ok_and(|answer| answer.code == code))
        .expect("the sandbox gives every code")
}

/// A number the sandbox answers 224801.
fn number_without_record() -> String {
    distinct_numbers(2000)
        .into_iter()
        .find(|n| answer_for(n) == Err(224801))
        .expect("the sandbox answers 224801 to 2% of numbers")
}

#[test]
fn excel_output_has_a_bom_crlf_and_codes_kept_as_text() {
    // Issue 14, point 4: Excel showed `03` (0–3 months) as `3` (24+).
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let fresh = number_with_code("03");
    let missing = number_without_record();
    let input = write(
        dir.path(),
        "in.csv",
        format!("id,mobile\n007,{fresh}\n008,{missing}\n009,abc\n"),
    );
    let out = dir.path().join("out.csv");
    ran_with(&mut enrich(&sandbox, &input, &out, &["--excel"]), 0);
    let bytes = std::fs::read(&out).expect("the output exists");
    assert!(bytes.starts_with(UTF8_BOM), "a BOM");
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    assert_eq!(text.matches("\r\n").count(), 4, "{text:?}");
    assert_eq!(text.matches('\n').count(), 4, "every line ends in CRLF");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(
        lines[1].starts_with(&format!("007,{fresh},\"=\"\"03\"\"\",\"(0,3]\",")),
        "the user's `007` as it was, the code as a text formula: {}",
        lines[1]
    );
    assert!(
        lines[2].contains(",\"=\"\"224801\"\"\","),
        "a numeric error code as text: {}",
        lines[2]
    );
    assert!(lines[3].contains(",invalid_number,"), "{}", lines[3]);

    // Without --excel the bytes stay as programs expect them.
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    let bytes = std::fs::read(&out).expect("the output exists");
    assert!(!bytes.starts_with(UTF8_BOM));
    let text = String::from_utf8(bytes).expect("UTF-8");
    assert!(!text.contains('\r'));
    assert!(
        text.contains(&format!("007,{fresh},03,\"(0,3]\",")),
        "{text}"
    );
    assert!(text.contains(",224801,"), "{text}");

    // On standard output too.
    let ran = ran_with(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &["--excel"])
            .write_stdin(format!("mobile\n{fresh}\n")),
        0,
    );
    assert!(ran.stdout_bytes.starts_with(UTF8_BOM));
    let text = String::from_utf8_lossy(&ran.stdout_bytes[3..]).into_owned();
    assert!(
        text.contains("\"=\"\"03\"\"\"") && text.ends_with("\r\n"),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn a_new_output_follows_the_umask_and_a_replaced_one_keeps_its_mode() {
    // Issue 14, point 6: the output was always 0600.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    write(dir.path(), "in.csv", "mobile\n13800138000\n");
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .expect("the file exists")
            .permissions()
            .mode()
            & 0o777
    };
    let tenure_bin = env!("CARGO_BIN_EXE_tenure");
    let under_umask = |umask: &str, out: &str| {
        let mut command = std::process::Command::new("sh");
        isolate(&mut command);
        let status = command
            .current_dir(dir.path())
            .args([
                "-c",
                &format!("umask {umask} && exec \"$0\" enrich in.csv -o {out} --sandbox -q"),
                tenure_bin,
            ])
            .status()
            .expect("sh runs");
        assert!(status.success(), "umask {umask}");
    };
    under_umask("027", "new.csv");
    assert_eq!(mode(&dir.path().join("new.csv")), 0o640);
    under_umask("022", "other.csv");
    assert_eq!(mode(&dir.path().join("other.csv")), 0o644);

    let old = dir.path().join("old.csv");
    std::fs::write(&old, "old").expect("writable");
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o664)).expect("chmod");
    under_umask("077", "old.csv");
    assert_eq!(mode(&old), 0o664, "an existing output keeps its mode");
    assert_eq!(read_csv(&old).len(), 2, "and is replaced");
    // The store stays private whatever the umask.
    assert_eq!(mode(&default_store()), 0o600);
}
