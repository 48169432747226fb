//! The `fieldcrm` binary as an operator runs it.

use std::process::Command;

fn fieldcrm(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldcrm"));
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("PORT")
        .env("FIELDCRM_LOG_LEVEL", "warn");
    cmd
}

#[test]
fn a_database_url_of_another_kind_stops_start_up_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    for (command, url) in [
        ("serve", "mysql://root@localhost/crm"),
        ("migrate", "fieldcrm.db"),
        ("serve", "postgress://typo@localhost/crm"),
    ] {
        let output = fieldcrm(dir.path())
            .arg(command)
            .env("DATABASE_URL", url)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{command} {url}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("DATABASE_URL must start with postgres://"),
            "{stderr}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "no stray database file: {left:?}");
}

#[test]
fn a_malformed_setting_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = fieldcrm(dir.path())
        .env("FIELDCRM_MAX_BODY_BYTES", "a lot")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("FIELDCRM_MAX_BODY_BYTES"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn migrate_creates_the_sqlite_database_where_the_url_says() {
    let dir = tempfile::tempdir().unwrap();
    let output = fieldcrm(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", "sqlite://state/crm.db")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("state/crm.db").is_file());
}

#[test]
fn openapi_writes_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let output = fieldcrm(dir.path())
        .args(["openapi", "--output", "spec.yaml"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let written = std::fs::read_to_string(dir.path().join("spec.yaml")).unwrap();
    assert_eq!(written, fieldcrm::openapi::yaml());
}

#[test]
fn help_explains_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let output = fieldcrm(dir.path()).arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for command in ["serve", "migrate", "openapi"] {
        assert!(help.contains(command), "{help}");
    }
}
