//! What only the PostgreSQL backend has: a server to reach, TLS, a URL
//! with a password that is never shown.

use super::*;

#[test]
fn an_unreachable_server_is_named_without_its_password() {
    // Port 1 on loopback: nothing listens there.
    let location = Location::parse(std::ffi::OsStr::new(
        "postgresql://tenure:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2",
    ))
    .unwrap();
    let error = Store::open(&location, JUHE).expect_err("nothing listens on port 1");
    assert!(matches!(error, StoreError::Unreachable { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!format!("{error:?}").contains("hunter2"));
}

/// With `sslmode=require` the session is encrypted (the local server has
/// `ssl = on`; a server without it refuses, as libpq does).
#[test]
fn sslmode_require_connects_over_tls() {
    let Some(f) = Fixture::postgres("sslmode_require_connects_over_tls") else {
        return;
    };
    let Location::Postgres(url) = &f.location else {
        unreachable!("a PostgreSQL fixture");
    };
    let mut url = url.clone();
    url.ssl = SslMode::Require;
    let backend = backend::postgres::Postgres::new(&url).unwrap();
    let mut client = backend.client().expect("the server accepts TLS");
    let encrypted: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(encrypted, "the session is encrypted");
    // The whole store works over it.
    let location = Location::Postgres(url);
    let store = Store::open_with(&location, JUHE, quick()).unwrap();
    let run = store.join(spec(None), pace()).unwrap();
    run.put(number("13800138000"), &tenure(), None).unwrap();
    run.finish().unwrap();
    assert!(location.to_string().contains("sslmode=require"));
    assert_eq!(
        store.get_many(&[number("13800138000")], DAY).unwrap()[0]
            .as_ref()
            .map(|s| s.answer.clone()),
        Some(tenure())
    );
}

/// `verify-full` checks the certificate: the local server's is self-signed,
/// so with the system's roots the handshake is refused.
#[test]
fn sslmode_verify_full_refuses_an_unverified_certificate() {
    let Some(f) = Fixture::postgres("sslmode_verify_full_refuses_an_unverified_certificate") else {
        return;
    };
    let Location::Postgres(url) = &f.location else {
        unreachable!("a PostgreSQL fixture");
    };
    let mut url = url.clone();
    url.ssl = SslMode::VerifyFull;
    let error = Store::open(&Location::Postgres(url), JUHE).expect_err("unverified");
    assert!(matches!(error, StoreError::Unreachable { .. }), "{error:?}");
}
