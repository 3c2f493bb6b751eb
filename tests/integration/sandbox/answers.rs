//! The answers themselves: deterministic on both endpoints by GET and POST,
//! the key, the number and the ciphertext checked as the API checks them,
//! and every OpenSSL vector decrypted by the sandbox's own code.

use tenure::crypto::Cipher;
use tenure::sandbox::{DEFAULT_KEY, DEFAULT_OPENID, Sandbox, SandboxConfig};
use tenure::secret::Secret;

use super::{
    QUERY, QUERY_ENCRY, Served, client, error_body, error_code, expected_encrypted, expected_plain,
    json, orderid_of, with_query,
};

#[test]
fn answers_deterministically_on_both_endpoints_by_get_and_post() {
    let served = Served::start(&[]);
    let number = "13800138000";
    let cipher = Cipher::new(&Secret::new(DEFAULT_OPENID.to_owned()));
    let ciphertext = cipher.encrypt(number);

    let plain = [
        served.post(QUERY, &[("key", DEFAULT_KEY), ("mobile", number)]),
        served.get(QUERY, &[("key", DEFAULT_KEY), ("mobile", number)]),
        // Either parameter may come from either place.
        served
            .client
            .post(with_query(
                &format!("{}{QUERY}", served.url()),
                &[("mobile", number)],
            ))
            .form(&[("key", DEFAULT_KEY)])
            .send(),
    ];
    for answer in plain {
        assert_eq!(json(answer), expected_plain(number));
    }
    let encrypted = [
        served.post(
            QUERY_ENCRY,
            &[("key", DEFAULT_KEY), ("mobile", &ciphertext)],
        ),
        served.get(
            QUERY_ENCRY,
            &[("key", DEFAULT_KEY), ("mobile", &ciphertext)],
        ),
    ];
    let mut orderids = Vec::new();
    for answer in encrypted {
        let answer = json(answer);
        let orderid = orderid_of(&answer);
        assert_eq!(answer, expected_encrypted(number, &orderid));
        orderids.push(orderid);
    }
    assert_ne!(
        orderids[0], orderids[1],
        "each billed query has its own orderid"
    );
    // A number without a record.
    assert_eq!(served.ask("13800000041"), error_body(224801));

    let stats = served.stats();
    assert_eq!(stats.requests, 6);
    assert_eq!(stats.billed, 5, "224801 is free");
    assert_eq!(stats.numbers[number].requests, 5);
    assert_eq!(stats.numbers[number].billed, 5);
    assert_eq!(stats.numbers["13800000041"].billed, 0);
    assert_eq!((stats.methods["GET"], stats.methods["POST"]), (2, 4));
    assert_eq!((stats.codes["0"], stats.codes["224801"]), (5, 1));
    assert_eq!(stats.arrivals_us.len(), 6);
    assert!(stats.arrivals_us.is_sorted(), "{:?}", stats.arrivals_us);
    // POSTed parameters stay out of the targets; GET's are in them.
    assert!(stats.targets.contains(QUERY));
    let with_key: Vec<_> = stats
        .targets
        .iter()
        .filter(|t| t.contains(DEFAULT_KEY))
        .collect();
    assert_eq!(
        with_key.len(),
        2,
        "only the two GETs carry the key: {:?}",
        stats.targets
    );
    assert_eq!(stats.plaintext_on_encrypted, 0);
    assert_eq!(
        stats.orderids,
        [(number.to_owned(), orderids)].into(),
        "the stats list the orderids given, and only queryEncry's"
    );
}

#[test]
fn checks_the_key_the_number_and_the_ciphertext() {
    let served = Served::start(&["--key", "k-123", "--openid", "o-456"]);
    let number = "18912345678";
    let ours = Cipher::new(&Secret::new("o-456".to_owned())).encrypt(number);
    let default = Cipher::new(&Secret::new(DEFAULT_OPENID.to_owned())).encrypt(number);
    let ask = |path: &str, form: &[(&str, &str)]| json(served.post(path, form));

    let wrong_key = ask(QUERY, &[("key", DEFAULT_KEY), ("mobile", number)]);
    assert_eq!(
        wrong_key,
        serde_json::json!({"reason": "错误的请求KEY", "result": null, "error_code": 10001, "resultcode": "101"})
    );
    assert_eq!(
        error_code(&ask(QUERY, &[("mobile", number)])),
        10001,
        "no key"
    );
    assert_eq!(
        error_code(&ask(QUERY_ENCRY, &[("key", "k-123 "), ("mobile", &ours)])),
        10001
    );

    let answer = ask(QUERY_ENCRY, &[("key", "k-123"), ("mobile", &ours)]);
    assert_eq!(answer, expected_encrypted(number, &orderid_of(&answer)));
    let refused = [
        ask(QUERY_ENCRY, &[("key", "k-123"), ("mobile", &default)]), // another openid's key
        ask(
            QUERY_ENCRY,
            &[("key", "k-123"), ("mobile", "bm90IGEgbnVtYmVy")],
        ), // not a ciphertext
        ask(QUERY_ENCRY, &[("key", "k-123"), ("mobile", number)]),   // the number in clear
        ask(QUERY_ENCRY, &[("key", "k-123")]),                       // no number
        ask(QUERY, &[("key", "k-123"), ("mobile", "1891234567")]),   // 10 digits
        ask(QUERY, &[("key", "k-123"), ("mobile", "+8618912345678")]), // the API does not normalise
    ];
    for answer in &refused {
        assert_eq!(answer, &error_body(224804));
    }
    // A raw `+` in a hand-built URL reads as a space: such a ciphertext fails.
    let cipher = Cipher::new(&Secret::new("o-456".to_owned()));
    let with_plus = (0..)
        .map(|i| cipher.encrypt(&format!("1891234{i:04}")))
        .find(|ciphertext| ciphertext.contains('+'))
        .expect("some ciphertext has a '+'");
    let raw = format!("{}{QUERY_ENCRY}?key=k-123&mobile={with_plus}", served.url());
    assert_eq!(json(served.client.get(raw).send()), error_body(224804));

    let stats = served.stats();
    assert_eq!(stats.billed, 1);
    assert_eq!(stats.plaintext_on_encrypted, 1);
    assert_eq!(stats.codes["10001"], 3);
    assert_eq!(
        stats.numbers.keys().collect::<Vec<_>>(),
        [number],
        "refused numbers are not counted"
    );
}

/// Issue 9 point 5: the sandbox decrypts with its own code, and each row of
/// the OpenSSL vectors (`fixtures/vectors/encrypt.csv`) reaches it, as
/// Base64 form-encoded by the client library and as the vectors' own
/// percent-encoding in a hand-written body, and is answered for its number.
#[test]
fn decrypts_every_openssl_vector() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors/encrypt.csv");
    let mut reader = csv::Reader::from_path(path).expect("the vectors fixture is committed");
    let client = client();
    let mut rows = 0;
    for row in reader.records() {
        let row = row.expect("the vectors file is valid CSV");
        let (openid, number, base64, urlencoded) = (&row[0], &row[1], &row[3], &row[4]);
        let config = SandboxConfig {
            openid: openid.to_owned(),
            ..SandboxConfig::default()
        };
        let running = Sandbox::start(config, "127.0.0.1:0".parse().expect("an address"))
            .expect("port 0 binds");
        let url = format!("{}{QUERY_ENCRY}", running.url());
        let by_form = json(
            client
                .post(&url)
                .form(&[("key", DEFAULT_KEY), ("mobile", base64)])
                .send(),
        );
        assert_eq!(
            by_form,
            expected_encrypted(number, &orderid_of(&by_form)),
            "{openid}"
        );
        let by_hand = json(
            client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("key={DEFAULT_KEY}&mobile={urlencoded}"))
                .send(),
        );
        assert_eq!(
            by_hand,
            expected_encrypted(number, &orderid_of(&by_hand)),
            "{openid}"
        );
        assert_eq!(running.stats().billed, 2, "{openid}");
        rows += 1;
    }
    assert_eq!(rows, 8, "every vector was read");
}
